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
    u8,
    u16,
    u32,
    u64,
    xdp,
)

packets = ArrayMap(key=u32, value=u64, max_entries=256)  # by IP protocol number
drop_ports = HashMap(key=u16, value=u8, max_entries=64)  # destination ports to drop, set by the app
dropped = HashMap(key=u16, value=u64, max_entries=64)  # packets dropped per port


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
    if ip.protocol == IPPROTO_UDP:
        udp = ctx.header(UdpHdr, ETH_HLEN + ip.ihl * 4)
        if udp is not None:
            port = udp.dest
    elif ip.protocol == IPPROTO_TCP:
        tcp = ctx.header(TcpHdr, ETH_HLEN + ip.ihl * 4)
        if tcp is not None:
            port = tcp.dest
    if port != 0 and port in drop_ports:
        dropped[port] += 1
        return XDP_DROP
    return XDP_PASS


LICENSE = "GPL"
