from bpfimport.lang import PerfEventArray, RingBuffer, struct, syscall, tracepoint, u64


@struct
class Seq:
    n: u64


ring = RingBuffer(max_entries=1 << 23)
perf = PerfEventArray()
next_n: u64 = 0


@syscall
def burst(ctx) -> int:
    # exactly 1000 events numbered on from next_n: a producer a test can count on
    global next_n
    base = next_n
    for i in range(1000):
        ring.output(Seq(n=base + i))
    next_n = base + 1000
    return 0


@tracepoint("syscalls/sys_enter_getppid")
def ring_flood(ctx) -> int:
    for i in range(64):
        ring.output(Seq(n=i))
    return 0


@tracepoint("syscalls/sys_enter_getppid")
def perf_flood(ctx) -> int:
    for i in range(16):
        perf.output(Seq(n=i))
    return 0
