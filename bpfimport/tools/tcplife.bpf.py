"""tcplife's kernel side: one event per TCP session that closes, with its bytes and duration.

Everything comes from the ``sock/inet_sock_set_state`` tracepoint, as in libbpf-tools' tcplife:
a socket's first state change records its birth time; SYN_SENT (an active open, in the
connecting process) and LAST_ACK (a passive close, in the closing process) record who owns it,
because the final move to CLOSE often runs in softirq context where the current task is
whoever was interrupted; CLOSE emits the event. The byte counts are the ``tcp_sock``'s own
``bytes_acked`` (sent and acknowledged) and ``bytes_received``, read through CO-RE from the
tracepoint's socket pointer.
"""

from bpfimport.lang import (
    Annotated,
    Final,
    HashMap,
    RingBuffer,
    comm,
    kernel,
    ktime,
    struct,
    tgid,
    tracepoint,
    u8,
    u16,
    u32,
    u64,
)

AF_INET = 2
IPPROTO_TCP = 6
TCP_SYN_SENT = 2
TCP_FIN_WAIT1 = 4
TCP_CLOSE = 7
TCP_LAST_ACK = 9

TARGET_PID: Final[u32] = 0        # 0: every process
TARGET_FAMILY: Final[u16] = 0     # 0: both; AF_INET or AF_INET6
LPORTS: Final[Annotated[list[u16], 8]] = []  # local ports to keep; none set: all
NLPORTS: Final[u32] = 0
DPORTS: Final[Annotated[list[u16], 8]] = []  # remote ports to keep; none set: all
NDPORTS: Final[u32] = 0


@struct
class Ident:
    pid: u32 = 0
    comm: Annotated[bytes, 16] = b""


@struct
class Session:
    span_us: u64 = 0
    rx_bytes: u64 = 0
    tx_bytes: u64 = 0
    ts_us: u64 = 0
    pid: u32 = 0
    family: u16 = 0
    sport: u16 = 0
    dport: u16 = 0
    saddr: Annotated[list[u8], 16] = []
    daddr: Annotated[list[u8], 16] = []
    comm: Annotated[bytes, 16] = b""


births = HashMap(key=u64, value=u64, max_entries=10240)     # socket address -> first change, ns
owners = HashMap(key=u64, value=Ident, max_entries=10240)   # socket address -> its process
events = RingBuffer(max_entries=256 * 1024)


def port_kept(port: u16, n: u32, which: u32) -> bool:
    """Whether ``port`` is one of the first ``n`` of the chosen list (``which``: 0 local, 1 remote)."""
    if n == 0:
        return True
    found = False
    for i in range(8):
        if i < n:
            if which == 0 and LPORTS[i] == port:
                found = True
            if which == 1 and DPORTS[i] == port:
                found = True
    return found


@tracepoint("sock/inet_sock_set_state")
def on_state(ctx) -> int:
    if ctx.protocol != IPPROTO_TCP:
        return 0
    family = ctx.family
    if TARGET_FAMILY != 0 and family != TARGET_FAMILY:
        return 0
    sport = ctx.sport
    dport = ctx.dport
    if not port_kept(sport, NLPORTS, 0) or not port_kept(dport, NDPORTS, 1):
        return 0
    sk = u64(ctx.skaddr)
    newstate = ctx.newstate
    if newstate < TCP_FIN_WAIT1 and sk not in births:
        births[sk] = ktime()
    if newstate == TCP_SYN_SENT or newstate == TCP_LAST_ACK:
        who = Ident(pid=tgid())
        comm(who.comm)
        owners[sk] = who
    if newstate != TCP_CLOSE:
        return 0
    born = births.lookup(sk)
    if not born:
        del owners[sk]
        return 0
    now = ktime()
    e = events.reserve(Session)
    if not e:
        del births[sk]
        del owners[sk]
        return 0
    e.span_us = (now - born) // 1000
    owner = owners.lookup(sk)
    if owner:
        e.pid = owner.pid
        e.comm = owner.comm
    else:
        e.pid = tgid()
        comm(e.comm)
    del births[sk]
    del owners[sk]
    if TARGET_PID != 0 and e.pid != TARGET_PID:
        events.discard(e)
        return 0
    tp = kernel.tcp_sock(ctx.skaddr)
    e.rx_bytes = tp.bytes_received
    e.tx_bytes = tp.bytes_acked
    e.ts_us = now // 1000
    e.family = family
    e.sport = sport
    e.dport = dport
    if family == AF_INET:
        for i in range(4):
            e.saddr[i] = ctx.saddr[i]
            e.daddr[i] = ctx.daddr[i]
    else:
        for i in range(16):
            e.saddr[i] = ctx.saddr_v6[i]
            e.daddr[i] = ctx.daddr_v6[i]
    events.submit(e)
    return 0


LICENSE = "GPL"
