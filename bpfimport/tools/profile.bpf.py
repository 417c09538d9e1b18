"""profile's kernel side: sample stacks on every CPU at a fixed frequency.

A @perf_event program runs at each CPU-clock sample (49 Hz by default, on every online CPU)
and counts the running task's kernel and user stacks: a StackTraceMap holds the stacks, a
hash map counts {pid, stacks, comm}. The idle task is left out, as bcc's profile does.
"""

from typing import Final

from bpfimport.lang import (
    BPF_F_USER_STACK,
    Annotated,
    HashMap,
    StackTraceMap,
    comm,
    i32,
    perf_event,
    struct,
    tgid,
    u32,
    u64,
)

TARGET_TGID: Final[u32] = 0  # -p PID (0: every process)
USER_STACKS: Final[bool] = True  # off with -K
KERNEL_STACKS: Final[bool] = True  # off with -U


@struct
class Key:
    pid: u32 = 0
    user_stack: i32 = 0  # a stack id, or a negative errno (none)
    kernel_stack: i32 = 0
    comm: Annotated[bytes, 16] = b""


stacks = StackTraceMap(max_entries=16384)
counts = HashMap(key=Key, value=u64, max_entries=16384)


@perf_event
def on_sample(ctx) -> int:
    pid = tgid()
    if pid == 0:  # idle
        return 0
    if TARGET_TGID != 0 and pid != TARGET_TGID:
        return 0
    key = Key(pid=pid, user_stack=-1, kernel_stack=-1)  # -1: not taken
    comm(key.comm)
    if USER_STACKS:
        key.user_stack = stacks.get_stackid(ctx, BPF_F_USER_STACK)
    if KERNEL_STACKS:
        key.kernel_stack = stacks.get_stackid(ctx, 0)
    counts[key] += 1
    return 0


LICENSE = "GPL"
