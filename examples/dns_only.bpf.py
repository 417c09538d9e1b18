"""A socket filter that keeps DNS (UDP port 53, IPv4) and drops everything else (the app: dns_only.py).

Attached to a packet socket (AF_PACKET), whose packets start with the Ethernet header.
A socket filter returns how many bytes of the packet to keep: 0 drops it.
"""

from bpfimport.lang import (
    ETH_HLEN,
    ETH_P_IP,
    IPPROTO_UDP,
    EthHdr,
    IpHdr,
    UdpHdr,
    socket_filter,
)

DNS_PORT = 53


@socket_filter
def dns_only(ctx) -> int:
    eth = ctx.header(EthHdr, 0)
    if eth is None or eth.h_proto != ETH_P_IP:
        return 0
    ip = ctx.header(IpHdr, ETH_HLEN)
    if ip is None or ip.protocol != IPPROTO_UDP:
        return 0
    udp = ctx.header(UdpHdr, ETH_HLEN + ip.ihl * 4)
    if udp is None or (udp.dest != DNS_PORT and udp.source != DNS_PORT):
        return 0
    return ctx.len


LICENSE = "GPL"
