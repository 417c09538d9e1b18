"""Packets without running them: misuse is a CompileError at the user's line; the layouts the
compiler uses match the kernel's BTF; header classes and address literals in user space read
what BPF code reads; the code is as small as hand-written C's."""

from __future__ import annotations

import ipaddress
import socket
import struct

import pytest

from bpfimport import CompileError
from bpfimport.compiler import compile_source
from bpfimport.compiler.uapi import ACCESS, CONTEXT_STRUCTS, HOOK_ACCESS
from bpfimport.headers import HEADERS, PACKET_CONSTANTS
from bpfimport.kinds import PROGRAM_KINDS
from tests.elfread import exec_sections
from tests.packets.build import MAC_A, MAC_B, eth, ipv4, ipv6, tcp, udp

HEAD = ("from bpfimport.lang import *\n"
        "out = ArrayMap(key=u32, value=u64, max_entries=4)\n")


def build(body: str, decorator: str = "@xdp") -> bytes:
    src = HEAD + f"{decorator}\ndef p(ctx) -> int:\n" + body + "\nLICENSE = 'GPL'\n"
    return compile_source(src, "/virtual/p.bpf.py", "p_bpf").object


def error(body: str, decorator: str = "@xdp") -> CompileError:
    with pytest.raises(CompileError) as info:
        build(body, decorator)
    assert "internal compiler error" not in str(info.value)
    return info.value


def line_of(body: str, text: str) -> int:
    """The line of ``text`` in the module ``build`` writes (HEAD, decorator, def, then body)."""
    return HEAD.count("\n") + 2 + next(i for i, ln in enumerate(body.splitlines(), 1) if text in ln)


ETH = "    eth = ctx.header(EthHdr, 0)\n"

# body, what the error says, the line it points at (a piece of that line)
ERRORS = [
    (ETH + "    return eth.h_proto\n", "'eth' may be None here", "return eth.h_proto",
     "if eth is None: return XDP_PASS"),
    ("    return ctx.header(EthHdr, 0).h_proto\n", "may be None here", "return ctx",
     "assign it to a name"),
    (ETH + "    if eth is None:\n        pass\n    return eth.h_proto\n", "may be None", "return eth",
     None),
    (ETH + "    if eth is not None:\n        out[0] = 1\n    return eth.h_proto\n", "may be None",
     "return eth", None),
    (ETH + "    if eth is None or eth.h_proto == 1:\n        return 1\n"
     "    for i in range(2):\n        eth = ctx.header(EthHdr, i)\n    return eth.h_proto\n",
     "may be None", "return eth", None),
    (ETH + "    if eth is None:\n        return 1\n    eth = None\n    return eth.h_proto\n",
     "may be None", "return eth", None),
    (ETH + "    if eth is None and eth.h_proto == 1:\n        return 1\n    return 0\n", "may be None",
     "if eth is None and", None),
    (ETH + "    if eth is None:\n        return 1\n    eth = ctx.header(IpHdr, 14)\n    return 0\n",
     "holds a reference to a EthHdr", "eth = ctx.header(IpHdr", "another name"),
    ("    h = ctx.header(u32, 0)\n    return 0\n", "is not a packet header", "h = ctx",
     "EthHdr, VlanHdr, IpHdr"),
    ("    h = ctx.header(EthHdr, 70000)\n    return 0\n", "outside any packet", "h = ctx", None),
    ("    h = ctx.header(EthHdr, -1)\n    return 0\n", "outside any packet", "h = ctx", None),
    ("    h = ctx.header()\n    return 0\n", "takes a header class and a byte offset", "h = ctx",
     None),
    (ETH + "    if eth is None:\n        return 1\n    return eth.h_protocol\n",
     "EthHdr has no field 'h_protocol'", "return eth", "h_dest, h_source, h_proto"),
    ("    return ctx.egress_ifindex\n", "ctx.egress_ifindex is not available to @xdp programs",
     "return ctx", None),
    ("    return ctx.protocoll\n", "struct xdp_md (the context of @xdp programs) has no field",
     "return ctx", "data, data_end"),
    ("    ctx.data = 0\n    return 0\n", "ctx.data is read-only in @xdp programs", "ctx.data =",
     None),
    ("    ctx.rx_queue_index += 1\n    return 0\n", "read-only", "ctx.rx", None),
    ("    ip = ctx.header(IpHdr, 14)\n    if ip is None:\n        return 1\n    ip.ihl = 16\n"
     "    return 0\n", "16 does not fit in the 4-bit field 'ihl'", "ip.ihl = 16", "0..15"),
    ("    ip = ctx.header(IpHdr, 14)\n    if ip is None:\n        return 1\n    ip.ttl = 256\n"
     "    return 0\n", "256 does not fit in u8", "ip.ttl", None),
    (ETH + "    if eth is None:\n        return 1\n    eth.h_dest = b'abc'\n    return 0\n",
     "is 6 bytes; this value has 3", "eth.h_dest =", None),
    ("    return ip4('10.0.0')\n", "not an IPv4 address", "return ip4", None),
    ("    x = 'a'\n    return ip4(x)\n", "takes one string literal", "return ip4", None),
    (ETH + "    if eth is None:\n        return 1\n    if eth.h_dest == mac('aa:bb'):\n"
     "        return 1\n    return 0\n", "not a MAC address", "if eth.h_dest", None),
    (ETH + "    if eth is None:\n        return 1\n    if eth.h_dest == b'abc':\n"
     "        return 1\n    return 0\n", "comparing 6 bytes with a constant of 3 bytes",
     "if eth.h_dest", None),
]


@pytest.mark.parametrize("index", range(len(ERRORS)))
def test_misuse_is_a_compile_error_at_the_users_line(index: int) -> None:
    body, message, where, hint = ERRORS[index]
    e = error(body)
    assert message in str(e)
    assert e.lineno == line_of(body, where)
    if hint is not None:
        assert hint in str(e)


PROGRAM_ERRORS = [
    ("@cgroup_skb('ingress')", "    ip = ctx.header(IpHdr, 0)\n    if ip is None:\n        return 1\n"
     "    ip.ttl = 1\n    return 1\n", "the packet is read-only in @cgroup_skb programs", "ip.ttl"),
    ("@cgroup_skb('ingress')", "    ip = ctx.header(IpHdr, 0)\n    if ip is None:\n        return 1\n"
     "    ip.saddr, ip.daddr = ip.daddr, ip.saddr\n    return 1\n", "read-only", "ip.saddr"),
    ("@socket_filter", "    ip = ctx.header(IpHdr, 0)\n    if ip is None:\n        return 0\n"
     "    ip.ttl = 1\n    return 0\n", "sees a copy of the packet", "ip.ttl"),
    ("@socket_filter", "    return ctx.data\n", "ctx.data is not available to @socket_filter",
     "return ctx"),
    ("@socket_filter", "    ctx.mark = 1\n    return 0\n", "ctx.mark is read-only in @socket_filter",
     "ctx.mark"),
    ("@tc", "    ctx.len = 1\n    return 0\n", "ctx.len is read-only in @tc programs", "ctx.len"),
    ("@cgroup_skb('egress')", "    ctx.remote_ip6[0] = 1\n    return 1\n",
     "ctx.remote_ip6 is read-only in @cgroup_skb programs", "ctx.remote_ip6"),
    ("@cgroup_skb('egress')", "    ctx.cb[0] = 1\n    ctx.mark = 2\n    ctx.len = 3\n    return 1\n",
     "ctx.len is read-only", "ctx.len"),
    ("@tc", "    return ctx.remote_ip4\n", "not available to @tc programs", "return ctx"),
    ("@tc", "    return ctx.sk\n", "not available to @tc", "return ctx"),
    ("@tc", "    for i in range(5):\n        ctx.cb[i] = 0\n    return 0\n",
     "an array in the context takes constant indices only", "ctx.cb[i]"),
    ("@tc", "    i = ctx.len & 3\n    return ctx.cb[i]\n", "constant indices only", "return ctx"),
    ('@section("xdp.frags")', "    return ctx.mark\n",
     'struct xdp_md (the context of @section("xdp.frags") programs) has no field', "return ctx"),
    ('@section("tcx/egress")', "    ctx.len = 1\n    return 0\n",
     'ctx.len is read-only in @section("tcx/egress") programs', "ctx.len"),
    ("@tracepoint('syscalls/sys_enter_getpid')",
     "    h = ctx.header(EthHdr, 0)\n    return 0\n", "only @xdp, @tc, @cgroup_skb and @socket_filter",
     "h = ctx"),
    # cgroup socket programs: the hook decides (sock_addr_is_valid_access, sock_filter_...)
    ('@cgroup_sock_addr("connect4")', "    return ctx.user_prot\n",
     'struct bpf_sock_addr (the context of @cgroup_sock_addr("connect4") programs) has no field '
     "'user_prot'", "return ctx"),
    ('@cgroup_sock_addr("connect4")', "    ctx.user_port = 1\n    ctx.family = 2\n    return 1\n",
     'ctx.family is read-only in @cgroup_sock_addr("connect4") programs', "ctx.family"),
    ('@cgroup_sock_addr("bind4")', "    ctx.user_family += 1\n    return 1\n",
     "ctx.user_family is read-only", "ctx.user_family"),
    ('@cgroup_sock_addr("connect4")', "    return ctx.user_ip6[0]\n",
     'ctx.user_ip6 is not available to @cgroup_sock_addr("connect4")', "return ctx"),
    ('@cgroup_sock_addr("connect6")', "    ctx.user_ip6[0] = 1\n    ctx.user_ip4 = 1\n    return 1\n",
     "ctx.user_ip4 is not available", "ctx.user_ip4 ="),
    ('@cgroup_sock_addr("connect6")', "    return ctx.msg_src_ip6[0]\n",
     "ctx.msg_src_ip6 is not available", "return ctx"),
    ('@cgroup_sock_addr("recvmsg4")', "    ctx.msg_src_ip4 = 1\n    return 1\n",
     "ctx.msg_src_ip4 is not available", "ctx.msg_src_ip4"),
    ('@cgroup_sock_addr("connect4")', "    ctx.user_port = 65536\n    return 1\n",
     "65536 does not fit in u16", "ctx.user_port"),
    ('@cgroup_sock_addr("connect4")', "    h = ctx.header(IpHdr, 0)\n    return 1\n",
     '@cgroup_sock_addr("connect4") programs see a socket, not a packet', "h = ctx"),
    ('@cgroup_sock_addr("connect4")', "    return ctx.len\n", "has no field 'len'", "return ctx"),
    ('@cgroup_sock_addr("connect4")', "    return ctx.sk\n", "ctx.sk is a pointer to a kernel object",
     "return ctx"),
    ('@section("cgroup/sendmsg4")', "    ctx.msg_src_ip4 = 1\n    ctx.type = 1\n    return 1\n",
     'ctx.type is read-only in @section("cgroup/sendmsg4") programs', "ctx.type"),
    ('@cgroup_sock("post_bind4")', "    return ctx.mark\n",
     'ctx.mark is not available to @cgroup_sock("post_bind4")', "return ctx"),
    ('@cgroup_sock("sock_create")', "    ctx.mark = 1\n    return ctx.src_port\n",
     "ctx.src_port is not available", "return ctx"),
    ('@cgroup_sock("post_bind6")', "    return ctx.src_ip4\n", "ctx.src_ip4 is not available",
     "return ctx"),
    ('@cgroup_sock("sock_release")', "    ctx.dst_port = 1\n    return 1\n",
     "ctx.dst_port is read-only", "ctx.dst_port"),
    # what the verifier lets them return (check_return_code)
    ('@cgroup_sock_addr("connect6")', "    if ctx.user_port == 1:\n        return 0\n    return 2\n",
     'programs return 0..1, not 2', "return 2"),
    ('@cgroup_sock_addr("getpeername4")', "    return 0\n",
     '@cgroup_sock_addr("getpeername4") programs return 1, not 0', "return 0"),
    ('@cgroup_sock_addr("recvmsg6")', "    return 0\n", "can only change the address", "return 0"),
    ('@cgroup_sock_addr("bind4")', "    if ctx.user_port == 1:\n        return 3\n    return 4\n",
     "return 0..3, not 4", "return 4"),
    ('@cgroup_sock("sock_create")', "    return -1\n", "return 0..1, not -1", "return -1"),
]


def test_a_cgroup_hook_must_be_one_of_its_decorators() -> None:
    e = error("    return 1\n", '@cgroup_sock_addr("connect")')
    assert "'connect' is not a hook of @cgroup_sock_addr programs" in str(e)
    assert "connect4, connect6" in str(e) and e.lineno == HEAD.count("\n") + 1
    e = error("    return 1\n", '@cgroup_sock("connect4")')
    assert "'connect4' is not a hook of @cgroup_sock programs" in str(e)


def test_socket_address_fields_swap_to_network_byte_order() -> None:
    """``ctx.user_port = 8080`` stores htons(8080) as a u32, ``ctx.user_ip4 = ip4(...)`` the
    address's bytes in order: the constants the compiler folds, read back from the object."""
    obj = build("    ctx.user_port = 8080\n    ctx.user_ip4 = ip4('10.1.2.3')\n    return 1\n",
                '@cgroup_sock_addr("connect4")')
    code = exec_sections(obj)["cgroup/connect4"]
    imms = {int.from_bytes(code[i + 4:i + 8], "little", signed=True) for i in range(0, len(code), 8)}
    assert socket.htons(8080) in imms
    assert struct.unpack("<i", socket.inet_aton("10.1.2.3"))[0] in imms


@pytest.mark.parametrize("index", range(len(PROGRAM_ERRORS)))
def test_what_each_program_type_may_not_do(index: int) -> None:
    decorator, body, message, where = PROGRAM_ERRORS[index]
    e = error(body, decorator)
    assert message in str(e)
    assert e.lineno == line_of(body, where)


# ---------------------------------------------------------------- layouts against the kernel


def _kernel_struct(name: str):  # noqa: ANN202 - a bpfimport.btf type
    from bpfimport.btf.kernel import KernelBtfMissing, kernel_btf

    try:
        btf = kernel_btf()
    except KernelBtfMissing:
        pytest.skip("the kernel has no BTF")
    found = btf.find(name)
    assert found, name
    return found[0] if isinstance(found, list) else found


def _type(struct, m):  # noqa: ANN001, ANN202 - bpfimport.btf types
    from bpfimport.btf.types import skip_qualifiers

    return skip_qualifiers(struct._resolve(m.type_id))


def _members(struct) -> dict[str, tuple[int, int]]:  # noqa: ANN001
    """name -> (bit offset, bitfield size or 0), descending into anonymous members and unions."""
    out: dict[str, tuple[int, int]] = {}

    def walk(s, base: int) -> None:  # noqa: ANN001
        for m in s.members:
            t = _type(s, m)
            if not m.name and hasattr(t, "members"):
                walk(t, base + m.bit_offset)
            else:
                out[m.name] = (base + m.bit_offset, m.bitfield_size or 0)

    walk(struct, 0)
    return out


@pytest.mark.parametrize("struct_name", sorted(CONTEXT_STRUCTS))
def test_context_offsets_are_the_kernels(struct_name: str) -> None:
    members = _members(_kernel_struct(struct_name))
    for f in CONTEXT_STRUCTS[struct_name].values():
        assert members[f.name][0] == 8 * f.offset, f.name


def test_every_packet_program_kind_has_its_context_struct() -> None:
    for decorator, access in ACCESS.items():
        assert PROGRAM_KINDS[decorator].context == f"struct {access.struct} *"


def test_every_cgroup_hook_has_its_context_rules() -> None:
    hooks = [(k, h) for k in PROGRAM_KINDS.values() for h in k.hooks]
    assert sorted(h for _, h in hooks) == sorted(HOOK_ACCESS)
    for kind, hook in hooks:
        access = HOOK_ACCESS[hook]
        assert kind.context == f"struct {access.struct} *" and access.packet == "none"
        fields = CONTEXT_STRUCTS[access.struct]
        assert access.hidden <= fields.keys() and access.writable <= fields.keys() - access.hidden


@pytest.mark.parametrize("name", sorted(HEADERS))
def test_header_layouts_are_the_kernels(name: str) -> None:
    """Each field's bits, on this little-endian machine's BTF: a one-byte unit's bitfield at bit
    ``shift`` of it; other fields at their byte offset (union members flattened by name)."""
    layout = HEADERS[name]
    btf = _members(_kernel_struct(layout.c_name))
    # flattened union members: their C path's last name
    aliases = {"id": "id", "sequence": "sequence", "gateway": "gateway", "mtu": "mtu",
               "icmp6_identifier": "identifier", "icmp6_sequence": "sequence",
               "icmp6_mtu": "un_data32", "icmp6_pointer": "un_data32"}
    struct = _kernel_struct(layout.c_name)
    assert struct.size == layout.size
    for f in layout.fields:
        if f.name in btf:
            bit, bits = btf[f.name]
        else:
            assert f.name in aliases, f.name
            bit, bits = _nested(struct, aliases[f.name])
        if f.bits:
            assert f.size == 1 and (bit, bits) == (8 * f.offset + f.shift, f.bits), f.name
        else:
            assert (bit, bits) == (8 * f.offset, 0), f.name


def _nested(struct, name: str) -> tuple[int, int]:  # noqa: ANN001
    """The first member called ``name`` anywhere inside ``struct`` (bit offset, bitfield size)."""
    def walk(s, base: int) -> tuple[int, int] | None:  # noqa: ANN001
        for m in s.members:
            t = _type(s, m)
            if m.name == name:
                return base + m.bit_offset, m.bitfield_size or 0
            if hasattr(t, "members"):
                found = walk(t, base + m.bit_offset)
                if found is not None:
                    return found
        return None

    found = walk(struct, 0)
    assert found is not None, name
    return found


def test_lang_constants_are_the_compilers() -> None:
    import bpfimport.lang as lang

    for name, value in PACKET_CONSTANTS.items():
        assert getattr(lang, name) == value, name
    assert {n for n in lang.__all__ if n in PACKET_CONSTANTS} == set(PACKET_CONSTANTS)
    assert (lang.ETH_P_IP, lang.ETH_P_IPV6, lang.IPPROTO_UDP, lang.IPPROTO_TCP) == (
        0x800, 0x86DD, socket.IPPROTO_UDP, socket.IPPROTO_TCP)


# ---------------------------------------------------------------- user side


def test_headers_parse_what_struct_pack_built() -> None:
    from bpfimport.lang import EthHdr, IpHdr, Ipv6Hdr, TcpHdr, UdpHdr, ip4, ip6, mac

    packet = eth(0x800) + ipv4(6, tcp(4000, 443, seq=7, flags=0x12), src="10.1.2.3",
                               options=b"\x01" * 4)
    e = EthHdr.parse(packet)
    assert (e.h_dest, e.h_source, e.h_proto) == (MAC_B, MAC_A, 0x800)
    assert e.h_source == mac("02:00:00:00:00:01")
    ip = IpHdr.parse(packet, 14)
    assert (ip.version, ip.ihl, ip.ttl, ip.protocol) == (4, 6, 64, 6)
    assert ip.saddr == ip4("10.1.2.3") == int(ipaddress.IPv4Address("10.1.2.3"))
    t = TcpHdr.parse(packet, 14 + 24)
    assert (t.source, t.dest, t.seq, t.doff, t.syn, t.ack, t.fin) == (4000, 443, 7, 5, 1, 1, 0)
    six = Ipv6Hdr.parse(ipv6(17, udp(1, 53), dst="fe80::1"))
    assert six.daddr == ip6("fe80::1") and (six.version, six.nexthdr) == (6, 17)
    assert bytes(UdpHdr(source=1, dest=53, len=8)) == udp(1, 53)
    rebuilt = IpHdr(version=4, ihl=5, tot_len=20, id=0x1234, ttl=64, protocol=17,
                    saddr=ip4("192.168.1.2"), daddr=ip4("192.168.1.3"))
    assert bytes(rebuilt) == ipv4(17)
    assert IpHdr.parse(bytes(rebuilt)) == rebuilt
    with pytest.raises(ValueError, match="needs 20 bytes"):
        IpHdr.parse(b"\0" * 19)
    with pytest.raises(ValueError, match="4-bit"):
        bytes(IpHdr(ihl=16))
    with pytest.raises(TypeError, match="no field"):
        UdpHdr(port=1)


def test_icmp_union_fields_share_their_bytes_on_the_user_side() -> None:
    """IcmpHdr's id/sequence, gateway and mtu are one C union (as Icmp6Hdr's): building an
    echo request or changing a parsed one keeps what was written, and the other members
    read the same bytes, as in the packet."""
    from bpfimport.lang import Icmp6Hdr, IcmpHdr

    echo = IcmpHdr(type=8, id=1, sequence=2)
    assert bytes(echo) == struct.pack("!BBHHH", 8, 0, 0, 1, 2)
    assert (echo.gateway, echo.mtu) == (0x00010002, 2)
    parsed = IcmpHdr.parse(bytes(echo))
    parsed.sequence = 9
    assert bytes(parsed) == struct.pack("!BBHHH", 8, 0, 0, 1, 9) and parsed.gateway == 0x00010009
    parsed.gateway = 0x0A000001
    assert (parsed.id, parsed.sequence, parsed.mtu) == (0x0A00, 1, 1)
    assert IcmpHdr(gateway=0x0A000001) == IcmpHdr(id=0x0A00, sequence=1)
    six = Icmp6Hdr(icmp6_type=128, icmp6_identifier=7, icmp6_sequence=3)
    assert bytes(six) == struct.pack("!BBHHH", 128, 0, 0, 7, 3)
    assert six.icmp6_mtu == six.icmp6_pointer == 0x00070003
    with pytest.raises(ValueError, match="16-bit"):
        IcmpHdr(id=1 << 16)


@pytest.mark.parametrize("text, want", [("10.0.0.1", 0x0A000001), ("255.255.255.255", 0xFFFFFFFF),
                                        ("0.0.0.0", 0)])
def test_ip4(text: str, want: int) -> None:
    from bpfimport.lang import ip4

    assert ip4(text) == want == struct.unpack("!I", socket.inet_aton(text))[0]


@pytest.mark.parametrize("bad", ["10.0.0", "10.0.0.256", "a.b.c.d", "1.2.3.4.5", "", "١.٢.٣.٤"])
def test_ip4_refuses(bad: str) -> None:
    from bpfimport.lang import ip4

    with pytest.raises(ValueError, match="not an IPv4 address"):
        ip4(bad)


def test_ip6_and_mac() -> None:
    from bpfimport.lang import ip6, mac

    assert ip6("::1") == b"\0" * 15 + b"\x01" == socket.inet_pton(socket.AF_INET6, "::1")
    assert mac("aa:bb:cc:dd:ee:ff") == bytes.fromhex("aabbccddeeff") == mac("AA-BB-CC-DD-EE-FF")
    for bad in ("aa:bb", "gg:00:00:00:00:00", "aaa:bb:cc:dd:ee:ff"):
        with pytest.raises(ValueError, match="not a MAC address"):
            mac(bad)
    with pytest.raises(ValueError, match="not an IPv6 address"):
        ip6("1.2.3.4")


# ---------------------------------------------------------------- the code


DNS_FILTER = """\
    eth = ctx.header(EthHdr, 0)
    if eth is None or eth.h_proto != ETH_P_IP:
        return XDP_PASS
    ip = ctx.header(IpHdr, 14)
    if ip is None or ip.protocol != IPPROTO_UDP:
        return XDP_PASS
    udp = ctx.header(UdpHdr, 14 + ip.ihl * 4)
    if udp is None:
        return XDP_PASS
    if udp.dest == 53 or ip.daddr == ip4("10.0.0.1"):
        return XDP_DROP
    return XDP_PASS
"""


def instructions(obj: bytes, section: str = "xdp") -> list[tuple[int, int, int, int]]:
    """(opcode, registers, offset, immediate) of each instruction (ld_imm64 counts as two)."""
    code = exec_sections(obj)[section]
    return [struct.unpack_from("<BBhi", code, at) for at in range(0, len(code), 8)]


def test_a_dns_filter_is_as_small_as_c() -> None:
    """The same filter in C (uapi structs, packed ethhdr, bpf_htons), built with clang -O2
    (Debian clang 14.0.6 on this machine), is 36 instructions; this is 30.  Each header is
    tested right after it is taken, so each test is one compare-and-branch (header_call);
    fields are loaded whole (C reads the packed ethhdr's h_proto a byte at a time) and
    comparisons with constants need no byte swap at run time (the constant is swapped
    instead)."""
    insns = instructions(build(DNS_FILTER))
    assert len(insns) <= 30
    ops = [op for op, *_ in insns]
    assert 0xD4 not in ops and 0xDC not in ops  # BPF_END (be16/be32/le*): no byte swap
    loads = sorted({op for op in ops if op & 0x07 == 0x01})  # BPF_LDX
    assert loads == [0x61, 0x69, 0x71]  # ldxw (ctx, daddr), ldxh (h_proto, dest), ldxb
    jumps = [imm for op, _, _, imm in insns if op & 0x07 in (0x05, 0x06)]  # BPF_JMP, BPF_JMP32
    assert 13568 in jumps and 0x0100000A in jumps  # htons(53), htonl(10.0.0.1): swapped constants


def _outcomes_in_registers(body: str) -> int:
    """How many header tests keep their outcome as a 0/1 register (``w = 1``, ``if ptr > end``,
    ``w = 0``): the count of ``mov32 rX, 1`` in the program."""
    return sum(1 for op, _, _, imm in instructions(build(body)) if op == 0xB4 and imm == 1)


USE_BOTH = "    out[0] = ip.ttl + tcp.dest\n    return 2\n"
HEADER_TESTS = [  # (body, header tests kept in a register)
    # each tested right after it is taken: one compare-and-branch each, as clang's
    ("    ip = ctx.header(IpHdr, 14)\n    if ip is None:\n        return 0\n"
     "    tcp = ctx.header(TcpHdr, 34)\n    if tcp is None:\n        return 0\n" + USE_BOTH, 0),
    ("    ip = ctx.header(IpHdr, 14)\n    if not ip or ip.ttl == 0:\n        return 0\n"
     "    tcp = ctx.header(TcpHdr, 34)\n    if tcp is not None:\n"
     "        out[0] = tcp.dest\n" + USE_BOTH.replace(" + tcp.dest", ""), 0),
    # both taken, then tested: the verifier must follow each outcome
    ("    ip = ctx.header(IpHdr, 14)\n    tcp = ctx.header(TcpHdr, 34)\n"
     "    if ip is None or tcp is None:\n        return 0\n" + USE_BOTH, 2),
    # tested right away, and again after another header: ip's outcome is kept
    ("    ip = ctx.header(IpHdr, 14)\n    if ip is None:\n        out[2] = 3\n"
     "    tcp = ctx.header(TcpHdr, 34)\n    if tcp is None or ip is None:\n        return 0\n"
     + USE_BOTH, 1),
    # assigned twice: not known to be tested right away both times
    ("    ip = ctx.header(IpHdr, 14)\n    if ip is None:\n        return 0\n"
     "    ip = ctx.header(IpHdr, 18)\n    if ip is None:\n        return 0\n"
     "    out[0] = ip.ttl\n    return 2\n", 2),
]


@pytest.mark.parametrize("index", range(len(HEADER_TESTS)))
def test_a_header_tested_right_away_is_one_comparison(index: int) -> None:
    body, kept = HEADER_TESTS[index]
    assert _outcomes_in_registers(body) == kept


def test_a_variable_read_is_swapped_once() -> None:
    insns = instructions(build("    udp = ctx.header(UdpHdr, 34)\n    if udp is None:\n"
                               "        return 0\n    out[0] = udp.dest\n    return 0\n"))
    assert [op for op, *_ in insns].count(0xDC) == 1  # be16 (BPF_END | BPF_TO_BE)


# ---------------------------------------------------------------- packet-changing helpers


@pytest.fixture
def ktime_changes_the_packet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ktime() stand in for a packet-changing helper (adjust_head(), store_bytes()...:
    their lowerings call packet.packet_changed after the call), to test the bookkeeping alone."""
    from bpfimport.compiler.codegen import calls, packet

    generic = calls.GENERIC_HELPERS["u64"]

    def lowered(fb, helper):  # noqa: ANN001, ANN202
        value = generic(fb, helper)
        if helper.name == "ktime":
            packet.packet_changed(fb, "ktime()")
        return value

    monkeypatch.setitem(calls.GENERIC_HELPERS, "u64", lowered)


STALE = ETH + "    if eth is None:\n        return 1\n"


@pytest.mark.parametrize("body, where", [
    (STALE + "    out[0] = ktime()\n    return eth.h_proto\n", "return eth"),
    (STALE + "    if eth.h_proto == 1:\n        out[0] = ktime()\n    return eth.h_proto\n",
     "return eth"),
    (STALE + "    for i in range(2):\n        out[i] = ktime()\n    return eth.h_proto\n",
     "return eth"),
    (STALE + "    out[0] = ktime()\n    if eth is None:\n        return 1\n    return eth.h_proto\n",
     "return eth"),
])
def test_a_reference_taken_before_the_packet_changed_is_refused(
        ktime_changes_the_packet: None, body: str, where: str) -> None:
    e = error(body)
    assert "points into the packet as it was before ktime()" in str(e)
    assert "eth = ctx.header(EthHdr, offset)" in str(e)
    assert e.lineno == line_of(body, where)


@pytest.mark.parametrize("body", [
    STALE + "    out[0] = ktime()\n" + ETH + "    if eth is None:\n        return 1\n"
    "    return eth.h_proto\n",
    STALE + "    if eth.h_proto == 1:\n        out[0] = ktime()\n        return 0\n"
    "    return eth.h_proto\n",
    STALE + "    x = eth.h_proto\n    out[0] = ktime()\n    return x\n",
])
def test_a_reference_taken_again_is_fine(ktime_changes_the_packet: None, body: str) -> None:
    assert build(body)


def test_section_programs_of_packet_types_see_their_context() -> None:
    body = ("    eth = ctx.header(EthHdr, 0)\n    if eth is None:\n        return 1\n"
            "    ctx.cb[0] = eth.h_proto\n    return ctx.len\n")
    assert build(body, '@section("tcx/ingress")') and build(body, '@section("classifier")')
    assert build(body.replace("    ctx.cb[0] = eth.h_proto\n", ""), '@section("xdp.frags")')
