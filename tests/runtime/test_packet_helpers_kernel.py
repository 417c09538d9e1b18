"""Packet helpers in the kernel (BPF_PROG_TEST_RUN): packets resized and rewritten byte by
byte, checksums checked against Python's, redirect verdicts, FIB lookups; user space fills
DevMap / DevMapHash / CpuMap slots. And every (helper, program type) pair the registry
allows is one the kernel's verifier accepts."""

from __future__ import annotations

import struct

import pytest

import bpfimport  # noqa: F401 - installs the import hook
from bpfimport.compiler.helpers import PACKET_HELPERS
from tests.conftest import program_module

XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = range(5)
TC_ACT_OK = 0
EINVAL = 22
LOOPBACK = 1  # the ifindex of lo, in every network namespace
PACKET = bytes(range(64))


@pytest.fixture(scope="module")
def mod(kernel_session, tmp_path_factory):
    with program_module(tmp_path_factory.mktemp("pkt"), "packet_helpers.bpf.py") as m:
        yield m


def signed(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


def test_adjust_head_grows_the_packet_at_its_front(mod) -> None:
    mod.cfg[0] = 0xDDCCBBAA
    r = mod.xdp_grow_head.test_run(data=PACKET)
    assert (r.retval, mod.out[0]) == (XDP_PASS, 0)
    assert r.data == bytes([0xAA, 0xBB, 0xCC, 0xDD]) + PACKET  # 4 new bytes, then the packet


def test_adjust_head_shrinks_the_packet_at_its_front(mod) -> None:
    r = mod.xdp_strip_head.test_run(data=PACKET)
    assert (r.retval, mod.out[0]) == (XDP_PASS, 0)
    assert r.data == PACKET[14:]


@pytest.mark.parametrize("delta", [-4, -40, 8])
def test_adjust_tail_moves_the_end_in_xdp(mod, delta: int) -> None:
    mod.cfg[0] = delta & 0xFFFFFFFF
    r = mod.xdp_tail.test_run(data=PACKET)
    assert (r.retval, mod.out[0]) == (XDP_PASS, 0)
    assert len(r.data) == len(PACKET) + delta
    assert r.data[:min(len(PACKET), len(r.data))] == PACKET[:len(PACKET) + min(delta, 0)]


def test_adjust_tail_refuses_to_cut_the_packet_below_its_header(mod) -> None:
    mod.cfg[0] = -100 & 0xFFFFFFFF
    r = mod.xdp_tail.test_run(data=PACKET)
    assert signed(mod.out[0]) == -EINVAL and r.data == PACKET


@pytest.mark.parametrize("delta", [6, -10])
def test_adjust_tail_in_tc_changes_the_length_by_delta(mod, delta: int) -> None:
    mod.cfg[0] = delta & 0xFFFFFFFF
    r = mod.tc_tail.test_run(data=PACKET)
    assert (r.retval, mod.out[0]) == (TC_ACT_OK, 0)
    assert len(r.data) == len(PACKET) + delta
    assert r.data[:len(PACKET) + min(delta, 0)] == PACKET[:len(PACKET) + min(delta, 0)]
    assert r.data[len(PACKET):] == bytes(max(delta, 0))  # skb_change_tail zeroes what it adds


def test_load_bytes_and_store_bytes_in_xdp(mod) -> None:
    mod.cfg[0] = 0x11223344
    r = mod.xdp_load_store.test_run(data=PACKET)
    assert (mod.out[1], mod.out[2]) == (0, 0)
    assert mod.out[0] == int.from_bytes(PACKET[2:6], "little")
    assert r.data == PACKET[:6] + (0x11223344).to_bytes(4, "little") + PACKET[10:]


def test_skb_load_bytes_in_a_socket_filter_reads_from_the_network_header(mod) -> None:
    mod.sock_load.test_run(data=PACKET)
    assert mod.out[1] == 0
    assert mod.out[0] == int.from_bytes(PACKET[14:18], "little")  # skb data starts after Ethernet


def ones_complement_sum(words: list[int]) -> int:
    """The one's complement sum of 32-bit words, modulo 0xffff (what every fold of it keeps)."""
    return sum(words) % 0xFFFF


@pytest.mark.parametrize("seed", [0, 0x1234, 0xFFFFFFFF])
def test_csum_diff_is_the_ones_complement_difference(mod, seed: int) -> None:
    packet = bytes((7 * i + 3) & 0xFF for i in range(64))
    mod.cfg[0] = seed
    mod.xdp_csum_diff.test_run(data=packet)
    old = list(struct.unpack("<2I", packet[0:8]))
    new = list(struct.unpack("<2I", packet[8:16]))
    expected = ones_complement_sum([seed] + [~w & 0xFFFFFFFF for w in old] + new)
    assert mod.out[0] % 0xFFFF == expected
    assert mod.out[1] % 0xFFFF == ones_complement_sum(new)  # from None: nothing removed


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_packet(src: bytes, dst: bytes, payload: bytes) -> bytes:
    udp_len = 8 + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 1, 0, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    pseudo = src + dst + struct.pack("!BBH", 0, 17, udp_len)
    udp = struct.pack("!HHHH", 1234, 53, udp_len, 0) + payload
    udp = udp[:6] + struct.pack("!H", checksum(pseudo + udp) or 0xFFFF) + udp[8:]
    eth = bytes(6) + bytes(6) + b"\x08\x00"
    return eth + ip + udp


def test_store_bytes_and_csum_replace_keep_ip_and_udp_checksums_right(mod) -> None:
    src, dst, new = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), bytes([192, 168, 7, 9])
    packet = udp_packet(src, dst, b"hello, packet helpers")
    ip, udp = packet[14:34], packet[34:]
    assert checksum(ip) == 0 and checksum(src + dst + struct.pack("!BBH", 0, 17, len(udp)) + udp) == 0
    mod.cfg[0] = int.from_bytes(new, "little")  # the address as its bytes lie on the wire
    r = mod.tc_rewrite_daddr.test_run(data=packet)
    assert r.retval == TC_ACT_OK and [mod.out[i] for i in range(3)] == [0, 0, 0]
    out_ip, out_udp = r.data[14:34], r.data[34:]
    assert out_ip[16:20] == new
    assert out_ip[:10] + out_ip[12:16] == ip[:10] + ip[12:16]  # nothing else changed
    assert out_udp[:6] + out_udp[8:] == udp[:6] + udp[8:]
    assert checksum(out_ip) == 0  # the header checksum l3_csum_replace fixed
    pseudo = src + new + struct.pack("!BBH", 0, 17, len(out_udp))
    assert checksum(pseudo + out_udp) == 0  # the UDP checksum, over the new pseudo-header


def test_csum_replace_with_header_fields_and_htonl(mod) -> None:
    src, dst, new = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), bytes([172, 16, 0, 33])
    packet = udp_packet(src, dst, b"through ctx.header()")
    mod.cfg[0] = int.from_bytes(new, "big")  # what ip.daddr reads as: a host-order number
    r = mod.tc_nat_header.test_run(data=packet)
    assert r.retval == TC_ACT_OK and (mod.out[0], mod.out[1]) == (0, 0)
    out_ip, out_udp = r.data[14:34], r.data[34:]
    assert out_ip[16:20] == new and checksum(out_ip) == 0
    assert checksum(src + new + struct.pack("!BBH", 0, 17, len(out_udp)) + out_udp) == 0
    assert r.data[:30] == packet[:24] + out_ip[10:12] + packet[26:30]  # only the csum and daddr


MACS = bytes(range(0xA0, 0xAC))  # destination and source MAC: bytes that show where they go


def test_skb_change_head_adds_headroom_at_the_front(mod) -> None:
    packet = MACS + udp_packet(bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), b"head")[12:]
    mod.cfg[0] = 4
    r = mod.tc_change_head.test_run(data=packet)
    assert (r.retval, mod.out[0]) == (TC_ACT_OK, 0)
    assert len(r.data) == len(packet) + 4 and r.data[4:] == packet


@pytest.mark.parametrize(("mode", "after"), [(0, 14), (1, 34)])  # after the MAC / the IP header
def test_skb_adjust_room_inserts_and_removes_room_after_a_header(mod, mode: int, after: int) -> None:
    packet = MACS + udp_packet(bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), b"room" * 8)[12:]
    mod.cfg[1] = mode
    mod.cfg[0] = 8
    r = mod.tc_adjust_room.test_run(data=packet)
    assert (r.retval, mod.out[0]) == (TC_ACT_OK, 0)
    assert len(r.data) == len(packet) + 8
    assert r.data[:12] == packet[:12] and r.data[after + 8:] == packet[after:]
    mod.cfg[0] = -8 & 0xFFFFFFFF
    r = mod.tc_adjust_room.test_run(data=r.data)
    assert mod.out[0] == 0 and len(r.data) == len(packet)
    assert r.data[:12] == packet[:12] and r.data[after:] == packet[after:]


def test_get_hash_recalc_is_the_flow_hash(mod) -> None:
    hashes = []
    for dst in (2, 2, 3):
        mod.tc_hash.test_run(data=udp_packet(bytes([10, 0, 0, 1]), bytes([10, 0, 0, dst]), b"h"))
        hashes.append(mod.out[0])
        assert mod.out[1] == 0  # skb_change_type
    assert hashes[0] == hashes[1] != hashes[2] and 0 < hashes[0] < 1 << 32


def test_redirect_map_returns_xdp_redirect_for_a_filled_devmap_slot(mod) -> None:
    mod.cfg[0] = 3
    for prog in (mod.xdp_redirect_map, mod.xdp_redirect_method):
        assert prog.test_run(data=PACKET).retval == XDP_PASS  # empty: the flags' verdict
        mod.ports[3] = LOOPBACK
        try:
            assert prog.test_run(data=PACKET).retval == XDP_REDIRECT
        finally:
            del mod.ports[3]
        assert prog.test_run(data=PACKET).retval == XDP_PASS


def test_redirect_map_through_a_devmap_hash_and_a_cpumap(mod) -> None:
    mod.cfg[0] = LOOPBACK
    assert mod.xdp_redirect_hash.test_run(data=PACKET).retval == XDP_PASS
    mod.ports_by_ifindex[LOOPBACK] = LOOPBACK
    assert mod.xdp_redirect_hash.test_run(data=PACKET).retval == XDP_REDIRECT
    assert mod.xdp_redirect_cpu.test_run(data=PACKET).retval == XDP_PASS
    mod.cpus[0] = 192
    assert mod.xdp_redirect_cpu.test_run(data=PACKET).retval == XDP_REDIRECT


def test_redirect_to_an_ifindex(mod) -> None:
    mod.cfg[0] = LOOPBACK
    assert mod.xdp_redirect.test_run(data=PACKET).retval == XDP_REDIRECT


def test_fib_lookup_runs_and_gives_a_lookup_code(mod) -> None:
    mod.cfg[0] = LOOPBACK
    r = mod.xdp_fib.test_run(data=PACKET)
    assert r.retval == XDP_PASS
    assert 0 <= mod.out[0] <= 9  # a BPF_FIB_LKUP_RET_* code, not a negative errno
    assert mod.out[1] != 0  # params.ifindex read back after the call


def test_user_space_fills_and_reads_redirect_maps(mod) -> None:
    ports = mod.ports
    assert ports.kind == "DevMap" and ports.max_entries == 8
    assert len(ports) == 0 and ports.items() == [] and not ports
    ports[2] = LOOPBACK
    ports[5] = LOOPBACK
    assert ports[2] == LOOPBACK and ports.get(4) is None and 5 in ports and 4 not in ports
    assert len(ports) == 2 and ports.keys() == [2, 5] and ports.items() == [(2, 1), (5, 1)]
    del ports[2]
    assert ports.keys() == [5]
    with pytest.raises(KeyError):
        ports[2]
    ports.clear()
    assert len(ports) == 0
    mod.cpus[0] = 256
    assert mod.cpus[0] == 256 and mod.cpus.items() == [(0, 256)]
    mod.ports_by_ifindex[LOOPBACK] = LOOPBACK
    assert mod.ports_by_ifindex.items() == [(LOOPBACK, LOOPBACK)]


# Every program type a packet helper is declared for: the kernel must accept the call there.
DECORATORS = {"xdp": "@xdp", "sched_cls": "@tc", "sched_act": '@section("action")',
              "socket_filter": "@socket_filter", "cgroup_skb": '@cgroup_skb("ingress")'}
ARGUMENT_SPELLINGS = {"ctx": "ctx", "buf": "b", "data": "b", "from_": "b", "to": "b",
                      "params": "p", "map": "ports"}
CASES = [(h.name, ptype) for h in PACKET_HELPERS for ptype in dict(h.program_types)]


def helper_call(name: str) -> str:
    decl = next(h for h in PACKET_HELPERS if h.name == name)
    args = []
    for param, _ in decl.params:
        spelled = ARGUMENT_SPELLINGS.get(param, "0")
        if name in ("l3_csum_replace", "l4_csum_replace") and param in ("from_", "to"):
            spelled = "0"
        args.append(spelled)
    return f"{name}({', '.join(args)})"


@pytest.mark.parametrize(("name", "ptype"), CASES, ids=[f"{n}-{t}" for n, t in CASES])
def test_every_allowed_program_type_passes_the_verifier(kernel, tmp_path, name: str,
                                                        ptype: str) -> None:
    source = (
        "from bpfimport.lang import *\n"
        "out = ArrayMap(key=u32, value=u64, max_entries=1)\n"
        "ports = DevMap(max_entries=1)\n"
        f"{DECORATORS[ptype]}\n"
        "def prog(ctx) -> int:\n"
        "    b: Annotated[list[u32], 16] = []\n"
        "    p = FibLookup(family=AF_INET)\n"
        f"    out[0] = {helper_call(name)}\n"
        "    return 0\n"
        "LICENSE = 'GPL'\n"
    )
    with program_module(tmp_path, "allowed.bpf.py", source) as m:
        m.load()
        assert m.prog.fd >= 0


# Every (helper, program type) with packet access: the helpers of CHANGES_PACKET, and only they,
# leave a header reference taken before the call unusable after it.
HEADER_CASES = [(n, t) for n, t in CASES if t in ("xdp", "sched_cls")]


@pytest.mark.parametrize(("name", "ptype"), HEADER_CASES, ids=[f"{n}-{t}" for n, t in HEADER_CASES])
def test_changes_packet_lists_the_helpers_that_invalidate_packet_pointers(
        kernel, tmp_path, monkeypatch, name: str, ptype: str) -> None:
    """The compiler refuses the old reference after exactly these helpers; and, with that check
    switched off, the kernel refuses the same program after exactly these helpers."""
    from bpfimport import CompileError, VerifierError
    from bpfimport.compiler.codegen import packet
    from bpfimport.compiler.codegen.packet_helpers import CHANGES_PACKET

    decl = next(h for h in PACKET_HELPERS if h.name == name)
    changes = dict(decl.program_types)[ptype] in CHANGES_PACKET
    source = (
        "from bpfimport.lang import *\n"
        "ports = DevMap(max_entries=1)\n"
        f"{DECORATORS[ptype]}\n"
        "def prog(ctx) -> int:\n"
        "    b: Annotated[list[u32], 16] = []\n"
        "    p = FibLookup(family=AF_INET)\n"
        "    ip = ctx.header(IpHdr, 14)\n"
        "    if ip is None:\n"
        "        return 0\n"
        f"    r = {helper_call(name)}\n"
        "    return ip.ttl + r\n"
        "LICENSE = 'GPL'\n"
    )
    if changes:
        with pytest.raises(CompileError, match=rf"'ip' points into the packet as it was before {name}\(\)"):
            with program_module(tmp_path, "refused.bpf.py", source):
                pass
        monkeypatch.setattr(packet, "packet_changed", lambda fb, what: None)  # the kernel's word
    with program_module(tmp_path, "changes.bpf.py", source) as m:
        if changes:
            with pytest.raises(VerifierError, match="invalid mem access"):
                m.load()
        else:
            m.load()
