"""funclatency's kernel side: a log2 histogram of how long calls of one function take.

The entry program stores the thread's start time, the return program adds the elapsed time
(divided by the unit the user asked for) into its log2 bucket and to the totals. The function
is chosen at run time, so the sections name no target: user space attaches the uprobe pair
with ``attach(binary=..., symbol=...)``, or the kprobe pair with ``attach(symbol=...)`` on
kernels that have kprobes. Uprobe and kprobe programs are the same BPF program type; the
sections differ only in how they attach.
"""

from bpfimport.lang import ArrayMap, Final, HashMap, ktime, log2, section, tgid, tid, u32, u64

TARGET_PID: Final[u32] = 0     # 0: every process
UNIT_NS: Final[u64] = 1        # 1 for nsecs, 1000 for usecs, 1000000 for msecs

starts = HashMap(key=u32, value=u64, max_entries=10240)   # thread -> entry time, ns
dist = ArrayMap(key=u32, value=u64, max_entries=64)        # log2(latency / unit) -> calls
total_ns: u64 = 0
calls: u64 = 0


def enter(unused: u32) -> int:
    if TARGET_PID != 0 and tgid() != TARGET_PID:
        return 0
    starts[tid()] = ktime()
    return 0


def leave(unused: u32) -> int:
    global total_ns, calls
    thread = tid()
    start = starts.lookup(thread)
    if not start:
        return 0      # entered before we attached, or filtered out
    delta = ktime() - start
    del starts[thread]
    dist[log2(delta // UNIT_NS)] += 1
    total_ns += delta
    calls += 1
    return 0


@section("uprobe")
def user_entry(ctx) -> int:
    return enter(0)


@section("uretprobe")
def user_return(ctx) -> int:
    return leave(0)


@section("kprobe")
def kernel_entry(ctx) -> int:
    return enter(0)


@section("kretprobe")
def kernel_return(ctx) -> int:
    return leave(0)


LICENSE = "GPL"
