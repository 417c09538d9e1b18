"""runqlat's kernel side: how long runnable tasks wait on a run queue before they run.

A task's clock starts when it is woken (sched_wakeup, sched_wakeup_new) or preempted while
still runnable (sched_switch with prev_state TASK_RUNNING) and stops when sched_switch
switches to it. Raw tracepoints give the task_struct pointers typed (CO-RE relocated), where
the sched_wakeup tracepoint's record could only be read from the tracefs format file (root).
The wait goes into a log2 histogram of microseconds (milliseconds with -m), one per process
or thread with -P / -L.
"""

from typing import Final

from bpfimport.lang import HashMap, kernel, ktime, log2, raw_tracepoint, struct, u32, u64

TARGET_TGID: Final[u32] = 0  # -p PID: only this process's threads (0: all)
MILLISECONDS: Final[bool] = False  # -m
PER_PROCESS: Final[bool] = False  # -P: a histogram per process id
PER_THREAD: Final[bool] = False  # -L: a histogram per thread id


@struct
class IdSlot:
    id: u32 = 0  # a process or thread id
    slot: u32 = 0  # the log2 bucket


start = HashMap(key=u32, value=u64, max_entries=10240)  # thread id -> when it became runnable
dist = HashMap(key=u32, value=u64, max_entries=64)  # log2 bucket -> count
dist_by = HashMap(key=IdSlot, value=u64, max_entries=10240)  # -P / -L


def enqueue(tgid: u32, pid: u32) -> int:
    if pid == 0:  # the idle task
        return 0
    if TARGET_TGID != 0 and tgid != TARGET_TGID:
        return 0
    start[pid] = ktime()
    return 0


@raw_tracepoint("sched_wakeup")
def on_wakeup(ctx) -> int:
    p = kernel.task_struct(ctx.args[0])  # the prototype's parameter has no name in BTF
    return enqueue(p.tgid, p.pid)


@raw_tracepoint("sched_wakeup_new")
def on_wakeup_new(ctx) -> int:
    p = kernel.task_struct(ctx.args[0])
    return enqueue(p.tgid, p.pid)


@raw_tracepoint("sched_switch")
def on_switch(ctx) -> int:
    prev = ctx.prev
    if ctx.prev_state == 0:  # TASK_RUNNING: preempted, so it waits again from now
        enqueue(prev.tgid, prev.pid)
    nxt = ctx.next
    pid: u32 = nxt.pid
    t = start.lookup(pid)
    if t is None:
        return 0
    delta = ktime() - t
    del start[pid]
    if MILLISECONDS:
        delta = delta // 1000000
    else:
        delta = delta // 1000
    if PER_PROCESS:
        dist_by[IdSlot(id=nxt.tgid, slot=log2(delta))] += 1
    elif PER_THREAD:
        dist_by[IdSlot(id=pid, slot=log2(delta))] += 1
    else:
        dist[log2(delta)] += 1
    return 0


LICENSE = "GPL"
