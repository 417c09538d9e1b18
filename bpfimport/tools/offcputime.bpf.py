"""offcputime's kernel side: time tasks spend off CPU, by the stacks where they blocked.

At sched_switch (a raw tracepoint: the current task is still `prev`) the task going off CPU
has its stacks taken and the time stamped, keyed by its thread id; when a later sched_switch
puts that thread back on a CPU, the time it was off is added to the total of {pid, stacks,
comm}, as libbpf-tools' offcputime does. Blocks shorter than MIN_US or longer than MAX_US
are not counted.
"""

from typing import Final

from bpfimport.lang import (
    BPF_F_USER_STACK,
    Annotated,
    HashMap,
    StackTraceMap,
    i32,
    ktime,
    raw_tracepoint,
    struct,
    u32,
    u64,
)

TARGET_TGID: Final[u32] = 0  # -p PID (0: every process)
USER_STACKS: Final[bool] = True  # off with -K
KERNEL_STACKS: Final[bool] = True  # off with -U
MIN_US: Final[u64] = 1  # -m
MAX_US: Final[u64] = 0xFFFFFFFFFFFFFFFF  # -M


@struct
class Key:
    pid: u32 = 0
    tid: u32 = 0
    user_stack: i32 = 0
    kernel_stack: i32 = 0
    comm: Annotated[bytes, 16] = b""


@struct
class Start:
    ts: u64 = 0
    key: Key = Key()


stacks = StackTraceMap(max_entries=16384)
starts = HashMap(key=u32, value=Start, max_entries=10240)  # thread id -> when and where it left
counts = HashMap(key=Key, value=u64, max_entries=16384)  # microseconds off CPU


@raw_tracepoint("sched_switch")
def on_switch(ctx) -> int:
    prev = ctx.prev
    prev_tgid: u32 = prev.tgid
    prev_pid: u32 = prev.pid
    if prev_pid != 0 and (TARGET_TGID == 0 or prev_tgid == TARGET_TGID):
        s = Start(ts=ktime())
        s.key.user_stack = -1  # not taken
        s.key.kernel_stack = -1
        s.key.pid = prev_tgid
        s.key.tid = prev_pid
        s.key.comm = prev.comm
        if USER_STACKS:
            s.key.user_stack = stacks.get_stackid(ctx, BPF_F_USER_STACK)
        if KERNEL_STACKS:
            s.key.kernel_stack = stacks.get_stackid(ctx, 0)
        starts[prev_pid] = s
    nxt = ctx.next
    pid: u32 = nxt.pid
    s2 = starts.lookup(pid)
    if s2 is None:
        return 0
    delta = (ktime() - s2.ts) // 1000
    if delta >= MIN_US and delta <= MAX_US:
        counts[s2.key] += delta
    del starts[pid]
    return 0


LICENSE = "GPL"
