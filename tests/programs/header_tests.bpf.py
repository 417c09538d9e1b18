"""Where a header reference is tested for None (tests/packets/test_header_tests_kernel.py): right
after it is taken (one pointer comparison), later, twice, or not at all on a path; each
program's verdict says which headers it found, on packets cut at every length."""

from bpfimport.lang import (
    ArrayMap,
    EthHdr,
    IpHdr,
    PacketContext,
    TcpHdr,
    UdpHdr,
    u32,
    u64,
    xdp,
)

knobs = ArrayMap(key=u32, value=u64, max_entries=4)  # all 0: map lookups between the tests


@xdp
def deferred(ctx: PacketContext) -> int:
    eth = ctx.header(EthHdr, 0)
    if eth is None:
        return 1
    ip = ctx.header(IpHdr, 14)
    tcp = ctx.header(TcpHdr, 34)
    if ip is None or tcp is None:
        return 2
    return 1000 + ip.ttl + tcp.dest + eth.h_proto


@xdp
def not_leaving(ctx: PacketContext) -> int:
    port = 0
    udp = ctx.header(UdpHdr, 34)
    if udp is not None:
        port = udp.dest
    ip = ctx.header(IpHdr, 14)
    if ip is None:
        return 1 + port
    return 1000 + port + ip.ttl


@xdp
def tested_twice(ctx: PacketContext) -> int:
    n = 0
    ip = ctx.header(IpHdr, 14)
    if ip is None:
        n = 1
    tcp = ctx.header(TcpHdr, 34)
    if tcp is None:
        return 5 + n
    if ip is None:
        return 7
    return 1000 + ip.ttl + tcp.dest


@xdp
def spilled(ctx: PacketContext) -> int:
    ip = ctx.header(IpHdr, 14)
    if ip is None:
        return 1
    tcp = ctx.header(TcpHdr, 34)
    if tcp is None:
        return 2
    if knobs[0] & 1:
        ip.ttl = knobs[1]
    if knobs[0] & 2:
        tcp.dest = knobs[2]
    if knobs[0] & 4:
        ip.tos = knobs[3]
    return 1000 + ip.ttl + tcp.dest


@xdp
def spilled_twice(ctx: PacketContext) -> int:
    ip = ctx.header(IpHdr, 14)
    if ip is None:
        knobs[3] = 1
    tcp = ctx.header(TcpHdr, 34)
    if tcp is None:
        return 2
    if knobs[0] & 1:
        tcp.dest = knobs[1]
    if ip is None:
        return 3
    if knobs[0] & 2:
        ip.ttl = knobs[2]
    return 1000 + ip.ttl + tcp.dest


@xdp
def nested(ctx: PacketContext) -> int:
    eth = ctx.header(EthHdr, 0)
    if eth is not None and eth.h_proto == 0x0800:
        ip = ctx.header(IpHdr, 14)
        if not ip:
            return 2
        udp = ctx.header(UdpHdr, 14 + ip.ihl * 4)
        if udp is None:
            return 3
        return 1000 + udp.dest + ip.ttl
    return 1


LICENSE = "GPL"
