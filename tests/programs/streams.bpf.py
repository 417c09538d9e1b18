# Event streams at scale (issue 9 item 5): numbered events for exactly-once checks,
# a ring of two struct sizes with discarded records, a ring of plain numbers.

from bpfimport.lang import (
    PerfEventArray,
    RingBuffer,
    ktime,
    struct,
    syscall,
    tgid,
    tracepoint,
    u32,
    u64,
)


@struct
class Seq:
    # 32 bytes: 40-byte ring records and 48-byte perf records, which do not divide the
    # buffers' sizes, so records wrap around their ends
    n: u64 = 0
    pid: u32 = 0
    check: u32 = 0
    ts: u64 = 0
    x: u64 = 0


@struct
class Small:
    a: u32 = 0


@struct
class Big:
    a: u64 = 0
    b: u64 = 0
    c: u64 = 0


ring = RingBuffer(max_entries=1 << 16)
perf = PerfEventArray()
mixed = RingBuffer(max_entries=1 << 12)
numbers = RingBuffer(max_entries=1 << 12)
target: u32 = 0
next_n: u64 = 0
drops: u64 = 0


@tracepoint("syscalls/sys_enter_getppid")
def to_ring(ctx) -> int:
    # one Seq per getppid() of the target process, numbered from 0 (one thread: no race)
    global next_n, drops
    pid = tgid()
    if pid != target:
        return 0
    n = next_n
    next_n = n + 1
    if ring.output(Seq(n=n, pid=pid, check=(n * 7 + 3) & 0xFFFFFFFF, ts=ktime(), x=n * 3)) != 0:
        drops += 1
    return 0


@tracepoint("syscalls/sys_enter_getppid")
def to_perf(ctx) -> int:
    global next_n, drops
    pid = tgid()
    if pid != target:
        return 0
    n = next_n
    next_n = n + 1
    if perf.output(Seq(n=n, pid=pid, check=(n * 7 + 3) & 0xFFFFFFFF, ts=ktime(), x=n * 3)) != 0:
        drops += 1
    return 0


@syscall
def mixed_burst(ctx) -> int:
    for i in range(9):
        if i % 3 == 0:
            mixed.output(Small(a=i))
        else:
            mixed.output(Big(a=i, b=i * 2, c=i * 3))
        d = mixed.reserve(Big)
        if d:
            mixed.discard(d)
        numbers.output(u64(i) * 1000)
    return 0
