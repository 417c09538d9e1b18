"""Packet helpers in XDP, tc and socket filter programs (tests/runtime/test_packet_helpers_kernel.py).

Results go to ``out``; inputs come from ``cfg`` (set by the test before each run) and from the
packet. Byte offsets assume Ethernet (14 bytes) + IPv4 without options (20) + UDP (8).
"""

from bpfimport.lang import (
    AF_INET,
    BPF_ADJ_ROOM_MAC,
    BPF_ADJ_ROOM_NET,
    BPF_F_PSEUDO_HDR,
    PACKET_OTHERHOST,
    TC_ACT_OK,
    TC_ACT_SHOT,
    XDP_ABORTED,
    XDP_PASS,
    Annotated,
    ArrayMap,
    CpuMap,
    DevMap,
    DevMapHash,
    FibLookup,
    IpHdr,
    adjust_head,
    adjust_tail,
    csum_diff,
    fib_lookup,
    get_hash_recalc,
    htonl,
    i32,
    l3_csum_replace,
    l4_csum_replace,
    load_bytes,
    redirect,
    redirect_map,
    skb_adjust_room,
    skb_change_head,
    skb_change_type,
    skb_load_bytes,
    socket_filter,
    store_bytes,
    tc,
    u32,
    u64,
    xdp,
)

out = ArrayMap(key=u32, value=u64, max_entries=8)
cfg = ArrayMap(key=u32, value=u32, max_entries=4)
ports = DevMap(max_entries=8)
ports_by_ifindex = DevMapHash(max_entries=8)
cpus = CpuMap(max_entries=1)

IP_CSUM = 14 + 10  # the IPv4 header checksum
IP_DADDR = 14 + 16
UDP_CSUM = 14 + 20 + 6


@xdp
def xdp_grow_head(ctx) -> int:
    """4 new bytes at the front, filled with cfg[0]'s bytes."""
    r = adjust_head(ctx, -4)
    if r != 0:
        out[0] = 1000 - r
        return XDP_ABORTED
    store_bytes(ctx, 0, u32(cfg[0]))
    return XDP_PASS


@xdp
def xdp_strip_head(ctx) -> int:
    """The Ethernet header stripped."""
    out[0] = adjust_head(ctx, 14)
    return XDP_PASS


@xdp
def xdp_tail(ctx) -> int:
    """The packet's end moved by cfg[0] (a signed 32-bit delta)."""
    delta: i32 = cfg[0]
    out[0] = adjust_tail(ctx, delta)
    return XDP_PASS


@xdp
def xdp_load_store(ctx) -> int:
    """Bytes 2..5 loaded into out[0]; cfg[0] stored at byte 6."""
    word: Annotated[list[u32], 1] = []
    out[1] = load_bytes(ctx, 2, word)
    out[0] = word[0]
    out[2] = store_bytes(ctx, 6, u32(cfg[0]))
    return XDP_PASS


@xdp
def xdp_csum_diff(ctx) -> int:
    """csum_diff(packet bytes 0..7, packet bytes 8..15, cfg[0]) into out[0]."""
    old: Annotated[list[u32], 2] = []
    new: Annotated[list[u32], 2] = []
    load_bytes(ctx, 0, old)
    load_bytes(ctx, 8, new)
    out[0] = csum_diff(old, new, cfg[0])
    out[1] = csum_diff(None, new, 0)
    return XDP_PASS


@xdp
def xdp_redirect_map(ctx) -> int:
    """To slot cfg[0] of ports; XDP_PASS when the slot is empty."""
    return redirect_map(ports, cfg[0], XDP_PASS)


@xdp
def xdp_redirect_method(ctx) -> int:
    """The method spelling of redirect_map(ports, cfg[0], XDP_PASS)."""
    return ports.redirect(cfg[0], XDP_PASS)


@xdp
def xdp_redirect_hash(ctx) -> int:
    return redirect_map(ports_by_ifindex, cfg[0], XDP_PASS)


@xdp
def xdp_redirect_cpu(ctx) -> int:
    return redirect_map(cpus, 0, XDP_PASS)


@xdp
def xdp_redirect(ctx) -> int:
    return redirect(cfg[0], 0)


@xdp
def xdp_fib(ctx) -> int:
    """Route 127.0.0.1 from interface cfg[0]; the BPF_FIB_LKUP_RET_* code into out[0]."""
    params = FibLookup(family=AF_INET, ifindex=cfg[0], ipv4_dst=0x0100007F, tot_len=64)
    out[0] = fib_lookup(ctx, params, 0)
    out[1] = params.ifindex
    return XDP_PASS


@tc
def tc_rewrite_daddr(ctx) -> int:
    """IPv4 destination := cfg[0] (wire order), with both checksums fixed up by the helpers."""
    old: Annotated[list[u32], 1] = []
    if load_bytes(ctx, IP_DADDR, old) != 0:
        return TC_ACT_SHOT
    new = cfg[0]
    out[0] = l4_csum_replace(ctx, UDP_CSUM, old[0], new, BPF_F_PSEUDO_HDR | 4)
    out[1] = l3_csum_replace(ctx, IP_CSUM, old[0], new, 4)
    out[2] = store_bytes(ctx, IP_DADDR, u32(new))
    return TC_ACT_OK


@tc
def tc_nat_header(ctx) -> int:
    """The same rewrite through ctx.header(): header fields read as host-order numbers, so
    the checksum helpers get them back in wire order with htonl()."""
    ip = ctx.header(IpHdr, 14)
    if ip is None:
        return TC_ACT_SHOT
    old = ip.daddr
    new = cfg[0]  # host order, as ip4("192.168.1.1") gives it
    out[0] = l4_csum_replace(ctx, UDP_CSUM, htonl(old), htonl(new), BPF_F_PSEUDO_HDR | 4)
    out[1] = l3_csum_replace(ctx, IP_CSUM, htonl(old), htonl(new), 4)
    ip = ctx.header(IpHdr, 14)  # the helpers changed the packet: take the header again
    if ip is None:
        return TC_ACT_SHOT
    ip.daddr = new
    return TC_ACT_OK


@tc
def tc_tail(ctx) -> int:
    delta: i32 = cfg[0]
    out[0] = adjust_tail(ctx, delta)
    return TC_ACT_OK


@tc
def tc_change_head(ctx) -> int:
    """cfg[0] bytes of new headroom at the front."""
    out[0] = skb_change_head(ctx, cfg[0])
    return TC_ACT_OK


@tc
def tc_adjust_room(ctx) -> int:
    """cfg[0] bytes of room after the MAC header (cfg[1] == 0) or the IP header (cfg[1] == 1)."""
    delta: i32 = cfg[0]
    if cfg[1] == 0:
        out[0] = skb_adjust_room(ctx, delta, BPF_ADJ_ROOM_MAC)
    else:
        out[0] = skb_adjust_room(ctx, delta, BPF_ADJ_ROOM_NET)
    return TC_ACT_OK


@tc
def tc_hash(ctx) -> int:
    out[0] = get_hash_recalc(ctx)
    out[1] = skb_change_type(ctx, PACKET_OTHERHOST)
    return TC_ACT_OK


@socket_filter
def sock_load(ctx) -> int:
    word: Annotated[list[u32], 1] = []
    out[1] = skb_load_bytes(ctx, 0, word)
    out[0] = word[0]
    return 0


LICENSE = "GPL"
