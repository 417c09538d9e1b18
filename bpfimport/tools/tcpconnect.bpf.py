"""tcpconnect's kernel side: one event per active TCP connect (IPv4 and IPv6).

A connect shows as the socket's move from CLOSE to SYN_SENT, which the kernel reports through
the ``sock/inet_sock_set_state`` tracepoint in the connecting process's context (inside
``tcp_v4_connect``/``tcp_v6_connect``), so the current task is the one that called connect().
libbpf-tools uses a kprobe or fentry on ``tcp_v4_connect``; this tracepoint exists from Linux 4.16
and needs neither, which matters on kernels without kprobes. The source port is not chosen yet at
SYN_SENT: like bcc's default output, the event does not carry it.
"""

from bpfimport.lang import (
    Annotated,
    Final,
    RingBuffer,
    comm,
    struct,
    tgid,
    tracepoint,
    u8,
    u16,
    u32,
    uid,
)

AF_INET = 2
AF_INET6 = 10
IPPROTO_TCP = 6
TCP_SYN_SENT = 2

TARGET_PID: Final[u32] = 0       # 0: every process
TARGET_UID: Final[u32] = 0xFFFFFFFF  # all ones: every user
TARGET_FAMILY: Final[u16] = 0    # 0: both; AF_INET or AF_INET6
PORTS: Final[Annotated[list[u16], 8]] = []   # destination ports to keep; none set: all
NPORTS: Final[u32] = 0


@struct
class Connect:
    pid: u32 = 0
    uid: u32 = 0
    family: u16 = 0
    dport: u16 = 0
    saddr: Annotated[list[u8], 16] = []
    daddr: Annotated[list[u8], 16] = []
    comm: Annotated[bytes, 16] = b""


events = RingBuffer(max_entries=256 * 1024)


@tracepoint("sock/inet_sock_set_state")
def on_state(ctx) -> int:
    if ctx.newstate != TCP_SYN_SENT or ctx.protocol != IPPROTO_TCP:
        return 0
    family = ctx.family
    if TARGET_FAMILY != 0 and family != TARGET_FAMILY:
        return 0
    pid = tgid()
    if TARGET_PID != 0 and pid != TARGET_PID:
        return 0
    user = uid()
    if TARGET_UID != 0xFFFFFFFF and user != TARGET_UID:
        return 0
    dport = ctx.dport
    if NPORTS != 0:
        found = False
        for i in range(8):
            if i < NPORTS and PORTS[i] == dport:
                found = True
        if not found:
            return 0
    e = events.reserve(Connect)
    if e:
        e.pid = pid
        e.uid = user
        e.family = family
        e.dport = dport
        if family == AF_INET:
            for i in range(4):
                e.saddr[i] = ctx.saddr[i]
                e.daddr[i] = ctx.daddr[i]
        else:
            for i in range(16):
                e.saddr[i] = ctx.saddr_v6[i]
                e.daddr[i] = ctx.daddr_v6[i]
        comm(e.comm)
        events.submit(e)
    return 0


LICENSE = "GPL"
