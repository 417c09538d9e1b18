"""Packet programs for tests/packets: header views, byte order, the None test, rewrites."""

from bpfimport.lang import (
    ETH_P_8021Q,
    ETH_P_IP,
    ETH_P_IPV6,
    IP_MF,
    IP_OFFSET,
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_TCP,
    IPPROTO_UDP,
    TC_ACT_OK,
    TC_ACT_SHOT,
    XDP_DROP,
    XDP_PASS,
    XDP_TX,
    ArrayMap,
    EthHdr,
    Icmp6Hdr,
    IcmpHdr,
    IpHdr,
    Ipv6Hdr,
    PacketContext,
    TcpHdr,
    UdpHdr,
    VlanHdr,
    cgroup_skb,
    ip4,
    ip6,
    mac,
    socket_filter,
    tc,
    u32,
    u64,
    xdp,
)

# what the last run saw: slot -> value (tests read them after test_run)
seen = ArrayMap(key=u32, value=u64, max_entries=16)

DNS_PORT = 53
BLOCKED = ip4("10.0.0.1")


@xdp
def classify(ctx: PacketContext) -> int:
    """Return a code for what the packet is (the tests' oracle is struct.pack):
    1 not IPv4/IPv6 or short Ethernet, 2 short IP, 3 fragment, 4 short L4,
    10 + TCP flags, 53 UDP to DNS, 54 other UDP, 60 ICMP echo, 61 other ICMP,
    66 blocked destination, 70 + IPv6 next header kind."""
    eth = ctx.header(EthHdr, 0)
    if eth is None:
        return 1
    proto = eth.h_proto
    off = 14
    if proto == ETH_P_8021Q:
        vlan = ctx.header(VlanHdr, 14)
        if not vlan:
            return 1
        seen[5] = vlan.h_vlan_TCI & 0xFFF
        proto = vlan.h_vlan_encapsulated_proto
        off = 18
    if proto == ETH_P_IPV6:
        ip6h = ctx.header(Ipv6Hdr, off)
        if ip6h is None:
            return 2
        seen[6] = ip6h.payload_len
        if ip6h.daddr == ip6("fe80::1"):
            return 79
        if ip6h.nexthdr == IPPROTO_ICMPV6:
            icmp6 = ctx.header(Icmp6Hdr, off + 40)
            if icmp6 is None:
                return 4
            seen[7] = icmp6.icmp6_type
            return 71
        if ip6h.nexthdr == IPPROTO_UDP:
            udp6 = ctx.header(UdpHdr, off + 40)
            if udp6 is None:
                return 4
            return 72 if udp6.dest == DNS_PORT else 73
        return 70
    if proto != ETH_P_IP:
        return 1
    ip = ctx.header(IpHdr, off)
    if ip is None or ip.ihl < 5:
        return 2
    seen[0] = ip.ihl
    seen[1] = ip.saddr
    seen[2] = ip.tot_len
    if ip.daddr == BLOCKED:
        return 66
    if ip.frag_off & (IP_MF | IP_OFFSET):
        return 3
    l4 = off + ip.ihl * 4
    if ip.protocol == IPPROTO_TCP:
        tcp = ctx.header(TcpHdr, l4)
        if tcp is None:
            return 4
        seen[3] = tcp.doff
        seen[4] = tcp.seq
        return 10 + (tcp.syn << 1 | tcp.ack << 4 | tcp.fin | tcp.rst << 2)
    if ip.protocol == IPPROTO_UDP:
        udp = ctx.header(UdpHdr, l4)
        if udp is None:
            return 4
        return 53 if udp.dest == DNS_PORT else 54
    if ip.protocol == IPPROTO_ICMP:
        icmp = ctx.header(IcmpHdr, l4)
        if icmp is None:
            return 4
        seen[8] = icmp.id
        return 60 if icmp.type == 8 else 61
    return 0


@xdp
def reflect(ctx: PacketContext) -> int:
    """Swap MACs, IPs and UDP ports, lower the TTL, send it back (XDP_TX)."""
    eth = ctx.header(EthHdr, 0)
    if eth is None or eth.h_proto != ETH_P_IP:
        return XDP_PASS
    ip = ctx.header(IpHdr, 14)
    if ip is None or ip.protocol != IPPROTO_UDP:
        return XDP_PASS
    udp = ctx.header(UdpHdr, 14 + ip.ihl * 4)
    if udp is None:
        return XDP_PASS
    eth.h_dest, eth.h_source = eth.h_source, eth.h_dest
    ip.saddr, ip.daddr = ip.daddr, ip.saddr
    udp.source, udp.dest = udp.dest, udp.source
    ip.ttl -= 1
    ip.tos = 0x10
    if eth.h_source == mac("02:00:00:00:00:01"):
        ip.id = 0xBEEF
    return XDP_TX


@xdp
def far_header(ctx: PacketContext) -> int:
    """A header at an offset read from the packet (u16, unbounded until the compiler's test)."""
    ip = ctx.header(IpHdr, 14)
    if ip is None:
        return XDP_DROP
    udp = ctx.header(UdpHdr, ip.tot_len)
    if udp is None:
        return XDP_DROP
    return udp.dest & 0xFF


@xdp
def xdp_fields(ctx: PacketContext) -> int:
    seen[9] = ctx.len
    seen[10] = ctx.ingress_ifindex
    seen[11] = ctx.data_end - ctx.data
    return XDP_PASS


@tc
def tc_mark(ctx: PacketContext) -> int:
    """Mark DNS packets and set the TOS; drop TTL 1."""
    seen[12] = ctx.len
    seen[13] = ctx.protocol
    eth = ctx.header(EthHdr, 0)
    if not eth:
        return TC_ACT_OK
    ip = ctx.header(IpHdr, 14)
    if not ip:
        return TC_ACT_OK
    if ip.ttl == 1:
        return TC_ACT_SHOT
    ip.version = 4
    ip.ihl = 5
    ctx.mark = 0x42
    ctx.priority = 3
    return TC_ACT_OK


@cgroup_skb("ingress")
def cg_read(ctx: PacketContext) -> int:
    """cgroup_skb: the packet starts at the IP header, read only."""
    ip = ctx.header(IpHdr, 0)
    if ip is None:
        return 1
    seen[14] = ip.daddr
    return 1


@socket_filter
def sock_dns(ctx: PacketContext) -> int:
    """Keep UDP to port 53 (the header is a copy: socket filters read with skb_load_bytes)."""
    ip = ctx.header(IpHdr, 0)
    if ip is None or ip.protocol != IPPROTO_UDP:
        return 0
    udp = ctx.header(UdpHdr, ip.ihl * 4)
    if udp is None:
        return 0
    seen[15] = udp.dest
    return 0xFFFF if udp.dest == DNS_PORT else 0


LICENSE = "GPL"
