"""Drop IPv4 packets from a source past LIMIT per second (the app: xdp_ratelimit.py).

One fixed one-second window per source address, in an LRU map: a flood of new
sources evicts the oldest windows instead of filling the map.
"""

from bpfimport.lang import (
    ETH_HLEN,
    ETH_P_IP,
    XDP_DROP,
    XDP_PASS,
    EthHdr,
    Final,
    IpHdr,
    LruHashMap,
    ktime,
    struct,
    u32,
    u64,
    xdp,
)

LIMIT: Final[u64] = 100  # packets per source per second; the app sets it before loading
WINDOW_NS = 1_000_000_000


@struct
class Window:
    start: u64 = 0  # when the current window began (ktime, ns)
    packets: u64 = 0  # packets seen in it
    passed: u64 = 0  # totals, for the app
    dropped: u64 = 0


windows = LruHashMap(key=u32, value=Window, max_entries=16384)  # by source address


@xdp
def ratelimit(ctx) -> int:
    eth = ctx.header(EthHdr, 0)
    if eth is None or eth.h_proto != ETH_P_IP:
        return XDP_PASS
    ip = ctx.header(IpHdr, ETH_HLEN)
    if ip is None:
        return XDP_PASS
    now = ktime()
    w = windows.lookup(ip.saddr)
    if w is None:
        windows[ip.saddr] = Window(start=now, packets=1, passed=1)
        return XDP_PASS
    if now - w.start >= WINDOW_NS:
        w.start = now
        w.packets = 0
    w.packets += 1
    if w.packets > LIMIT:
        w.dropped += 1
        return XDP_DROP
    w.passed += 1
    return XDP_PASS


LICENSE = "GPL"
