"""funclatency's kernel side: a log2 histogram of how long calls of one function take.

The entry program stores the thread's start time, the return program adds the elapsed time
(divided by the unit the user asked for) into its log2 bucket and to the totals. The function
is chosen at run time, so the sections name no target: user space opens the probes
(``prepare_uprobe`` for a user function, ``prepare_kprobe`` for a kernel one) and attaches the
pair with ``attach(probe=...)``. Uprobe and kprobe programs are one BPF program type, so one
pair serves both (two pairs took LLVM ~5 ms more to compile).
"""

from bpfimport.lang import ArrayMap, Final, HashMap, ktime, log2, section, tgid, tid, u32, u64

TARGET_PID: Final[u32] = 0     # 0: every process
UNIT_NS: Final[u64] = 1        # 1 for nsecs, 1000 for usecs, 1000000 for msecs

starts = HashMap(key=u32, value=u64, max_entries=10240)   # thread -> entry time, ns
dist = ArrayMap(key=u32, value=u64, max_entries=64)        # log2(latency / unit) -> calls
total_ns: u64 = 0
calls: u64 = 0


@section("uprobe")
def on_entry(ctx) -> int:
    if TARGET_PID != 0 and tgid() != TARGET_PID:
        return 0
    starts[tid()] = ktime()
    return 0


@section("uretprobe")
def on_return(ctx) -> int:
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
