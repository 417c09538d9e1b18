"""Packet programs in the kernel (BPF_PROG_TEST_RUN): header views, the bounds test the
compiler emits, byte order, rewrites.  Packets come from tests/packets/build.py (struct.pack),
and every verdict is compared with what the packet is."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.conftest import program_module
from tests.packets.build import MAC_A, MAC_B, eth, icmp, ipv4, ipv6, tcp, udp, vlan

ETH_P_IP, ETH_P_IPV6, ETH_P_ARP, ETH_P_8021Q = 0x0800, 0x86DD, 0x0806, 0x8100
TCP, UDP, ICMP, ICMPV6 = 6, 17, 1, 58
XDP_PASS, XDP_TX = 2, 3

pytestmark = pytest.mark.usefixtures("kernel")


@pytest.fixture(scope="module")
def pk(kernel_session: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    with program_module(tmp_path_factory.mktemp("packets"), "packets.bpf.py") as mod:
        yield mod


def run(mod: ModuleType, prog: str, data: bytes) -> int:
    return int(getattr(mod, prog).test_run(data=data).retval)


UDP_DNS = eth(ETH_P_IP) + ipv4(UDP, udp(4000, 53, b"q" * 12))
TCP_SYN = eth(ETH_P_IP) + ipv4(TCP, tcp(4000, 80, seq=0xA1B2C3D4, flags=2))

CASES = {
    "arp": (eth(ETH_P_ARP) + bytes(28), 1),
    "udp dns": (UDP_DNS, 53),
    "udp other": (eth(ETH_P_IP) + ipv4(UDP, udp(4000, 54)), 54),
    "tcp syn": (TCP_SYN, 12),
    "tcp syn+ack": (eth(ETH_P_IP) + ipv4(TCP, tcp(1, 2, flags=0x12)), 28),
    "tcp fin": (eth(ETH_P_IP) + ipv4(TCP, tcp(1, 2, flags=1)), 11),
    "tcp rst": (eth(ETH_P_IP) + ipv4(TCP, tcp(1, 2, flags=4)), 14),
    "icmp echo": (eth(ETH_P_IP) + ipv4(ICMP, icmp(8, ident=0x4242)), 60),
    "icmp unreachable": (eth(ETH_P_IP) + ipv4(ICMP, icmp(3, 1)), 61),
    "blocked destination": (eth(ETH_P_IP) + ipv4(UDP, udp(1, 53), dst="10.0.0.1"), 66),
    "ip options, udp dns": (eth(ETH_P_IP) + ipv4(UDP, udp(1, 53), options=b"\x01" * 8), 53),
    "ip options, udp other": (eth(ETH_P_IP) + ipv4(UDP, udp(1, 99), options=b"\x01" * 40), 54),
    "ihl below 5": (eth(ETH_P_IP) + b"\x44" + ipv4(UDP, udp(1, 53))[1:], 2),
    "first fragment (MF)": (eth(ETH_P_IP) + ipv4(UDP, udp(1, 53), frag_off=0x2000), 3),
    "later fragment": (eth(ETH_P_IP) + ipv4(UDP, b"x" * 8, frag_off=0x00B9), 3),
    "don't fragment": (eth(ETH_P_IP) + ipv4(UDP, udp(1, 53), frag_off=0x4000), 53),
    "vlan, udp dns": (eth(ETH_P_8021Q) + vlan(0x0123, ETH_P_IP) + ipv4(UDP, udp(1, 53)), 53),
    "vlan, ipv6 udp": (eth(ETH_P_8021Q) + vlan(7, ETH_P_IPV6) + ipv6(UDP, udp(1, 53)), 72),
    "ipv6 udp dns": (eth(ETH_P_IPV6) + ipv6(UDP, udp(1, 53)), 72),
    "ipv6 udp other": (eth(ETH_P_IPV6) + ipv6(UDP, udp(1, 54)), 73),
    "ipv6 icmp": (eth(ETH_P_IPV6) + ipv6(ICMPV6, icmp(128)), 71),
    "ipv6 to fe80::1": (eth(ETH_P_IPV6) + ipv6(UDP, udp(1, 53), dst="fe80::1"), 79),
    "ipv6 tcp": (eth(ETH_P_IPV6) + ipv6(TCP, tcp(1, 2)), 70),
}


@pytest.mark.parametrize("name", list(CASES))
def test_classify(pk: ModuleType, name: str) -> None:
    data, want = CASES[name]
    assert run(pk, "classify", data) == want


# Truncated at every header boundary (and one byte before it): the header that no longer fits
# gives None, so the verdict says which header was missing.
BOUNDARIES = [
    (eth(ETH_P_IP) + ipv4(UDP, udp(1, 53)), [(14, 2), (33, 2), (34, 4), (41, 4), (42, 53)]),
    (eth(ETH_P_IP) + ipv4(TCP, tcp(1, 2, flags=2)), [(33, 2), (34, 4), (53, 4), (54, 12)]),
    (eth(ETH_P_IP) + ipv4(UDP, udp(1, 53), options=b"\0" * 12),
     [(33, 2), (34, 4), (45, 4), (53, 4), (54, 53)]),  # IpHdr is the fixed 20 bytes
    (eth(ETH_P_8021Q) + vlan(5, ETH_P_IP) + ipv4(UDP, udp(1, 53)),
     [(17, 1), (18, 2), (37, 2), (38, 4), (45, 4), (46, 53)]),
    (eth(ETH_P_IPV6) + ipv6(UDP, udp(1, 53)), [(53, 2), (54, 4), (61, 4), (62, 72)]),
    (eth(ETH_P_IP) + ipv4(ICMP, icmp(8)), [(41, 4), (42, 60)]),
]


@pytest.mark.parametrize("index", range(len(BOUNDARIES)))
def test_truncated_at_every_header_boundary(pk: ModuleType, index: int) -> None:
    packet, cuts = BOUNDARIES[index]
    for length, want in cuts:
        assert run(pk, "classify", packet[:length]) == want, length


def test_field_values_read_in_host_order(pk: ModuleType) -> None:
    data = eth(ETH_P_8021Q) + vlan(0x2ABC, ETH_P_IP) + ipv4(TCP, tcp(1, 2, seq=0xA1B2C3D4, flags=2),
                                                          src="10.1.2.3", options=b"\0" * 4)
    assert run(pk, "classify", data) == 12
    seen = pk.seen
    assert seen[0] == 6  # ihl
    assert seen[1] == 0x0A010203  # saddr, as ip4("10.1.2.3") reads
    assert seen[2] == 24 + 20  # tot_len
    assert seen[3] == 5  # tcp.doff
    assert seen[4] == 0xA1B2C3D4  # tcp.seq
    assert seen[5] == 0xABC  # VLAN id
    run(pk, "classify", eth(ETH_P_IP) + ipv4(ICMP, icmp(8, ident=0x4243)))
    assert seen[8] == 0x4243
    run(pk, "classify", eth(ETH_P_IPV6) + ipv6(ICMPV6, icmp(135)))
    assert seen[7] == 135 and seen[6] == 8
    # no NUL bytes: user space reads a char array as text, up to its first NUL
    mac, addr = bytes.fromhex("aabbccddeeff"), "2001:db8:1111:2222:3333:4444:5555:6666"
    run(pk, "classify", eth(ETH_P_IPV6, src=mac) + ipv6(UDP, udp(4321, 53), dst=addr))
    flow = pk.flows[0]
    assert bytes(flow.src_mac) == mac  # a header's bytes copied into a struct's char array
    assert bytes(flow.dst_ip6) == socket.inet_pton(socket.AF_INET6, addr)
    assert flow.sport == 4321


def test_reflect_rewrites_the_packet_byte_by_byte(pk: ModuleType) -> None:
    data = eth(ETH_P_IP) + ipv4(UDP, udp(4000, 53, b"hello"), src="10.0.0.2", dst="10.0.0.3",
                                ttl=64, options=b"\x01\x01\x01\x00")
    result = pk.reflect.test_run(data=data)
    assert result.retval == XDP_TX
    out = result.data
    assert len(out) == len(data)
    want = bytearray(data)
    want[0:6], want[6:12] = data[6:12], data[0:6]  # MACs swapped
    want[14 + 1] = 0x10  # tos
    want[14 + 8] = 63  # ttl - 1
    want[14 + 12:14 + 16], want[14 + 16:14 + 20] = data[30:34], data[26:30]  # addresses
    want[38:40], want[40:42] = data[40:42], data[38:40]  # ports, after 4 bytes of options
    # the new h_source is MAC_B, not 02:..:01, so the id stays
    assert bytes(out) == bytes(want)
    data2 = eth(ETH_P_IP, dst=MAC_A, src=MAC_B) + ipv4(UDP, udp(1, 2))
    out2 = pk.reflect.test_run(data=data2).data
    assert out2[12 + 2 + 4:12 + 2 + 6] == b"\xbe\xef"  # ip.id = 0xBEEF, big-endian on the wire


def test_reflect_leaves_other_packets_alone(pk: ModuleType) -> None:
    data = eth(ETH_P_IP) + ipv4(TCP, tcp(1, 2))
    result = pk.reflect.test_run(data=data)
    assert result.retval == XDP_PASS and bytes(result.data) == data


@pytest.mark.parametrize("offset, want", [(34, 2), (60, 3), (1000, 1), (0xFFFF, 1), (0xFFF8, 1)])
def test_variable_offset_read_from_the_packet(pk: ModuleType, offset: int, want: int) -> None:
    """ctx.header(UdpHdr, ip.tot_len): any u16 offset; the verifier accepted the program, and
    the header is found exactly where the offset says (XDP_DROP = 1 when it is outside)."""
    packet = bytearray(eth(ETH_P_IP) + ipv4(UDP, b"", tot_len=offset) + bytes(70))
    if offset + 8 <= len(packet):
        packet[offset + 2:offset + 4] = struct.pack("!H", 0x100 + want)
    assert run(pk, "far_header", bytes(packet)) == want


@pytest.mark.parametrize("tags, want", [
    ([], 14), ([ETH_P_8021Q], 18), ([0x88A8, ETH_P_8021Q], 22),
    ([0x88A8, ETH_P_8021Q, ETH_P_8021Q], 26), ([ETH_P_8021Q] * 4, 1)])
def test_a_loop_of_variable_offsets(pk: ModuleType, tags: list[int], want: int) -> None:
    """Stacked VLAN tags walked in a loop: each ctx.header() at the offset the loop grew."""
    first = tags[0] if tags else ETH_P_IP
    inner = [*tags[1:], ETH_P_IP]
    data = eth(first) + b"".join(vlan(i + 1, p) for i, p in enumerate(inner[:len(tags)]))
    data += ipv4(UDP if want != 1 else TCP, udp(1, 53))
    assert run(pk, "vlans", data) == want
    if want > 1:
        assert pk.seen[3] == UDP
        assert run(pk, "vlans", data[:want + 19]) == 0  # one byte short of the IP header


def test_xdp_context_fields(pk: ModuleType) -> None:
    data = UDP_DNS
    assert run(pk, "xdp_fields", data) == XDP_PASS
    assert pk.seen[9] == len(data) == pk.seen[11]
    assert pk.seen[10] == 1  # test_run's ingress device is the loopback (ifindex 1)


SK_BUFF_SIZE = 192  # sizeof(struct __sk_buff): test_run's ctx in and out


def test_tc_writes_packet_and_skb_fields(pk: ModuleType) -> None:
    data = eth(ETH_P_IP) + b"\x00" + ipv4(UDP, udp(1, 53))[1:]  # version and ihl 0
    result = pk.tc_mark.test_run(data=data, ctx=bytes(SK_BUFF_SIZE))
    assert result.retval == 0
    skb = bytes(result.ctx)  # test_run copies mark, priority and cb back out
    assert struct.unpack_from("<I", skb, 8)[0] == 0x42  # mark
    assert struct.unpack_from("<I", skb, 32)[0] == 4  # priority, 3 then += 1
    assert struct.unpack_from("<5I", skb, 48) == (0, 7, 0, 0, 0)  # cb[1]
    want = bytearray(data)
    want[14] = 0x45
    assert bytes(result.data) == bytes(want)
    assert pk.seen[12] == len(data)
    assert pk.seen[13] == ETH_P_IP  # skb->protocol, read in host order
    assert pk.tc_mark.test_run(data=eth(ETH_P_IP) + ipv4(UDP, udp(1, 2), ttl=1)).retval == 2


def test_a_section_program_sees_its_context(pk: ModuleType) -> None:
    data = eth(ETH_P_IPV6) + ipv6(UDP, udp(1, 53))
    assert run(pk, "classifier_sum", data) == len(data) + ETH_P_IPV6


def test_cgroup_skb_sees_the_ip_header(pk: ModuleType) -> None:
    # test_run hands cgroup_skb programs the packet after its Ethernet header, as the stack does
    data = eth(ETH_P_IP) + ipv4(UDP, udp(1, 53), dst="172.16.0.9")
    assert run(pk, "cg_read", data) == 1
    assert pk.seen[14] == 0xAC100009


def test_socket_filter_copies_headers(pk: ModuleType) -> None:
    keep = ipv4(UDP, udp(1, 53)) + b"\0" * 4
    drop = ipv4(UDP, udp(1, 54)) + b"\0" * 4
    # test_run gives a socket filter the packet after its Ethernet header
    assert run(pk, "sock_dns", eth(ETH_P_IP) + keep) == 0xFFFF
    assert pk.seen[15] == 53
    assert run(pk, "sock_dns", eth(ETH_P_IP) + drop) == 0
    assert run(pk, "sock_dns", eth(ETH_P_IP) + ipv4(UDP, b"\0" * 4)) == 0  # too short for UdpHdr


def test_ip4_reads_like_the_header_field(pk: ModuleType) -> None:
    from bpfimport.lang import IpHdr, ip4

    packet = ipv4(UDP, src="10.1.2.3")
    assert IpHdr.parse(packet).saddr == ip4("10.1.2.3") == struct.unpack("!I", socket.inet_aton("10.1.2.3"))[0]


def test_the_docs_packet_examples_run(tmp_path) -> None:  # noqa: ANN001
    """docs/language.md's Packets chapter: its program compiles and loads, and its user-side
    snippet (build a packet with the header classes, test_run, parse) runs as written."""
    import re
    import sys

    from tests.conftest import ROOT

    text = (ROOT / "docs" / "language.md").read_text()
    chapter = text[text.index("\n## Packets\n"):text.index("\n## pythonbpf programs\n")]
    blocks = re.findall(r"```python\n(.*?)```", chapter, re.S)
    program = next(b for b in blocks if "@xdp" in b)
    snippet = next(b for b in blocks if "import drop_dns_bpf" in b)
    with program_module(tmp_path, "drop_dns.bpf.py", program + "\nLICENSE = 'GPL'\n") as mod:
        sys.modules["drop_dns_bpf"] = mod
        try:
            exec(compile(snippet, "docs/language.md", "exec"), {})  # noqa: S102
        finally:
            sys.modules.pop("drop_dns_bpf", None)
        assert mod.drop_dns.test_run(data=eth(ETH_P_IP) + ipv4(UDP, udp(1, 54))).retval == XDP_PASS


# Every length from the Ethernet header to the whole packet: the verdict changes exactly where a
# header stops fitting. (full packet, [(first length at which the verdict is this, verdict)])
SWEEPS = [
    (eth(ETH_P_IP) + ipv4(UDP, udp(1, 53), options=b"\x01" * 8), [(14, 2), (34, 4), (50, 53)]),
    (eth(ETH_P_8021Q) + vlan(9, ETH_P_IPV6) + ipv6(UDP, udp(1, 54)),
     [(14, 1), (18, 2), (58, 4), (66, 73)]),
    (eth(ETH_P_IP) + ipv4(TCP, tcp(1, 2, flags=0x10)), [(14, 2), (34, 4), (54, 26)]),
]


@pytest.mark.parametrize("index", range(len(SWEEPS)))
def test_every_truncation(pk: ModuleType, index: int) -> None:
    packet, steps = SWEEPS[index]
    assert steps[-1][0] == len(packet)
    for length in range(14, len(packet) + 1):
        want = [verdict for start, verdict in steps if start <= length][-1]
        assert run(pk, "classify", packet[:length]) == want, length
