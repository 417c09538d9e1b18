"""Packet programs for the live attach tests (tests/runtime/test_attach_kernel.py)."""

from bpfimport.lang import (
    ETH_HLEN,
    ETH_P_IP,
    IPPROTO_UDP,
    TC_ACT_OK,
    XDP_DROP,
    XDP_PASS,
    ArrayMap,
    EthHdr,
    HashMap,
    IpHdr,
    UdpHdr,
    cgroup_skb,
    socket_filter,
    tc,
    u8,
    u16,
    u32,
    u64,
    xdp,
)

counts = ArrayMap(key=u32, value=u64, max_entries=8)
ports = HashMap(key=u16, value=u8, max_entries=8)  # UDP ports the header programs act on

XDP_SEEN = 0
TC_SEEN = 1
CG_IN = 2
CG_OUT = 3
SOCK_SEEN = 4


@xdp
def xdp_count(ctx) -> int:
    counts[XDP_SEEN] += 1
    return XDP_PASS


@xdp
def xdp_drop_all(ctx) -> int:
    counts[XDP_SEEN] += 1
    return XDP_DROP


@tc
def tc_count(ctx) -> int:
    counts[TC_SEEN] += 1
    return TC_ACT_OK


@tc
def tc_pass(ctx) -> int:
    return TC_ACT_OK


@socket_filter
def sock_drop_all(ctx) -> int:
    return 0


@socket_filter
def sock_keep_all(ctx) -> int:
    return 0xFFFF


@socket_filter
def sock_every_other(ctx) -> int:
    """Keeps the first, third, fifth... packet the socket receives (a counter, no headers)."""
    n = counts[SOCK_SEEN]
    counts[SOCK_SEEN] += 1
    if n % 2 == 0:
        return 0xFFFF
    return 0


@xdp
def xdp_drop_ports(ctx) -> int:
    """Drops IPv4 UDP datagrams to a port in ``ports``."""
    eth = ctx.header(EthHdr, 0)
    if eth is None or eth.h_proto != ETH_P_IP:
        return XDP_PASS
    ip = ctx.header(IpHdr, ETH_HLEN)
    if ip is None or ip.protocol != IPPROTO_UDP:
        return XDP_PASS
    udp = ctx.header(UdpHdr, ETH_HLEN + ip.ihl * 4)
    if udp is not None and udp.dest in ports:
        return XDP_DROP
    return XDP_PASS


@socket_filter
def sock_keep_ports(ctx) -> int:
    """On a UDP socket the packet starts at the UDP header: keep datagrams from ``ports``."""
    udp = ctx.header(UdpHdr, 0)
    if udp is not None and udp.source in ports:
        return ctx.len
    return 0


@cgroup_skb("ingress")
def cg_in(ctx) -> int:
    counts[CG_IN] += 1
    return 1


@cgroup_skb("egress")
def cg_out(ctx) -> int:
    counts[CG_OUT] += 1
    return 1


LICENSE = "GPL"
