"""Count packets per IP protocol and drop UDP/TCP packets to listed ports (the app: xdp_protocols.py)."""

from bpfimport.lang import (
    ETH_HLEN,
    ETH_P_IP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    XDP_DROP,
    XDP_PASS,
    ArrayMap,
    EthHdr,
    HashMap,
    IpHdr,
    TcpHdr,
    UdpHdr,
    u16,
    u32,
    u64,
    xdp,
)

packets = ArrayMap(key=u32, value=u64, max_entries=256)  # by IP protocol number
# destination ports to drop (the app puts them in) -> packets dropped so far
drop_ports = HashMap(key=u16, value=u64, max_entries=64)


@xdp
def xdp_filter(ctx) -> int:
    eth = ctx.header(EthHdr, 0)
    if eth is None or eth.h_proto != ETH_P_IP:
        return XDP_PASS
    ip = ctx.header(IpHdr, ETH_HLEN)
    if ip is None:
        return XDP_PASS
    packets[ip.protocol] += 1
    port = 0
    l4 = ETH_HLEN + ip.ihl * 4  # where the UDP or TCP header starts: after any IP options
    if ip.protocol == IPPROTO_UDP:
        udp = ctx.header(UdpHdr, l4)
        if udp is not None:
            port = udp.dest
    elif ip.protocol == IPPROTO_TCP:
        tcp = ctx.header(TcpHdr, l4)
        if tcp is not None:
            port = tcp.dest
    if port != 0:
        dropped = drop_ports.lookup(port)
        if dropped is not None:
            dropped += 1
            return XDP_DROP
    return XDP_PASS


LICENSE = "GPL"
