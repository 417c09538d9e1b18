"""Packet programs that need no header access: the live attach tests (tests/runtime/test_attach_kernel.py)."""

from bpfimport.lang import (
    TC_ACT_OK,
    XDP_DROP,
    XDP_PASS,
    ArrayMap,
    cgroup_skb,
    socket_filter,
    tc,
    u32,
    u64,
    xdp,
)

counts = ArrayMap(key=u32, value=u64, max_entries=8)

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


@cgroup_skb("ingress")
def cg_in(ctx) -> int:
    counts[CG_IN] += 1
    return 1


@cgroup_skb("egress")
def cg_out(ctx) -> int:
    counts[CG_OUT] += 1
    return 1


LICENSE = "GPL"
