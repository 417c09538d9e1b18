"""Kernel data through CO-RE: the running task, raw tracepoint arguments, tracepoint records.

tests/compiler/test_kernel_data_kernel.py runs these and checks every value against what
the test knows independently (os.getpid(), its thread id, /proc, the child it starts).
"""

from bpfimport.lang import *


@struct
class Task:
    task: u64  # get_current_task(): the address ctx.prev is given in the typed run
    pid: u32
    tgid: u32
    ppid: u32
    reset_on_fork: u32  # a bitfield
    arg_start: u64  # through a second pointer (mm) and an anonymous struct
    vruntime: u64  # an embedded struct's field (se.vruntime)
    comm: c_char * 16  # a char array copied out
    comm0: u8  # a constant element
    comm_i: u8  # a variable element
    prev_pid: u32  # raw tracepoint arguments by name
    next_tgid: u32
    prev_state: u32
    preempt: u32
    arg1: u64  # ctx.args[1]
    pid_nr: u32  # thread_pid->numbers[0].nr: a struct element of a flexible array
    rcu_special: u32  # a union's member


seen = ArrayMap(key=u32, value=Task, max_entries=1)
INDEX: Final[u32] = 3


@raw_tracepoint("sched_switch")
def read_task(ctx) -> int:
    s = seen.lookup(0)
    if s is None:
        return 0
    t = current_task()
    s.task = get_current_task()
    s.pid = t.pid
    s.tgid = t.tgid
    s.ppid = t.real_parent.tgid
    s.reset_on_fork = t.sched_reset_on_fork
    s.arg_start = t.mm.arg_start
    s.vruntime = t.se.vruntime
    s.comm = t.comm
    s.comm0 = t.comm[0]
    i = INDEX
    s.comm_i = t.comm[i]
    s.arg1 = ctx.args[1]
    s.pid_nr = t.thread_pid.numbers[0].nr
    s.rcu_special = t.rcu_read_unlock_special.s | t.rcu_read_unlock_special.b.blocked
    if ctx.args[1] != 0:
        s.prev_pid = ctx.prev.pid
        s.next_tgid = ctx.next.tgid
        s.prev_state = ctx.prev_state
        s.preempt = ctx.preempt
    return 0


@struct
class Event:
    kind: u32  # 1 exec, 2 fork, 3 openat enter, 4 openat exit, 5 exit
    pid: u32
    other: i64  # old_pid, child_pid, ret
    ppid: u32  # the parent, through current_task()
    flags: i32
    name: c_char * 64


events = RingBuffer(max_entries=256 * 1024)
WATCH: Final[u32] = 0  # the test's process: only its events are sent


@tracepoint("sched/sched_process_exec")
def on_exec(ctx) -> int:
    parent = current_task().real_parent.tgid
    if parent != WATCH:
        return 0
    e = Event(kind=1, pid=ctx.pid, other=ctx.old_pid, ppid=parent)
    e.name = ctx.filename
    events.output(e)
    return 0


@tracepoint("sched/sched_process_fork")
def on_fork(ctx) -> int:
    if ctx.parent_pid != WATCH:
        return 0
    events.output(Event(kind=2, pid=ctx.parent_pid, other=ctx.child_pid, name=ctx.parent_comm))
    return 0


@tracepoint("sched/sched_process_exit")
def on_exit(ctx) -> int:
    if current_task().real_parent.tgid != WATCH:
        return 0
    e = Event(kind=5, pid=ctx.pid)
    e.name = ctx.comm  # a char[16] of the record: copied from the context
    events.output(e)
    return 0


@tracepoint("syscalls/sys_enter_openat")
def on_open(ctx) -> int:
    if tgid() != WATCH:
        return 0
    e = Event(kind=3, pid=tgid(), flags=ctx.flags, ppid=current_task().real_parent.tgid)
    probe_read_user_str(e.name, ctx.filename)
    events.output(e)
    return 0


@tracepoint("syscalls/sys_exit_openat")
def on_open_exit(ctx) -> int:
    if tgid() != WATCH:
        return 0
    events.output(Event(kind=4, pid=tgid(), other=ctx.ret))
    return 0


LICENSE = "GPL"
