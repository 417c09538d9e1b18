"""Trace exec(): pid, parent pid, file, arguments and result, in the kernel (the app: execsnoop.py).

sys_enter_execve builds the event in a per-CPU scratch slot (it is too big for the
512-byte BPF stack) and parks it in a hash map under the thread id; sys_exit_execve adds
the return value and the new program's name and sends it through a ring buffer. The
parent's pid is read from the kernel's task_struct with CO-RE, so the object loads on
any kernel whatever its layout; the tracepoints' fields are read by name.
"""

from bpfimport.lang import (
    Annotated,
    HashMap,
    PerCpuArrayMap,
    RingBuffer,
    comm,
    current_task,
    i32,
    probe_read_user_str,
    struct,
    tgid,
    tid,
    tracepoint,
    u32,
)

MAXARGS = 8  # arguments recorded per exec
ARGSIZE = 64  # bytes per argument, NUL included


@struct
class Event:
    pid: u32
    ppid: u32
    retval: i32
    args_count: u32
    comm: Annotated[bytes, 16]
    filename: Annotated[bytes, 128]
    argv: Annotated[list[Annotated[bytes, 64]], 8]


heap = PerCpuArrayMap(key=u32, value=Event, max_entries=1)
execs = HashMap(key=u32, value=Event, max_entries=10240)
events = RingBuffer(max_entries=256 * 1024)


@tracepoint("syscalls/sys_enter_execve")
def execve_enter(ctx) -> int:
    e = heap.lookup(0)
    if not e:
        return 0
    e.pid = tgid()
    e.ppid = current_task().real_parent.tgid
    e.retval = 0
    e.args_count = 0
    probe_read_user_str(e.filename, ctx.filename)
    for i in range(MAXARGS):
        arg = ctx.argv[i]  # the i-th pointer of the user's argv array
        if not arg:
            break
        probe_read_user_str(e.argv[i], arg)
        e.args_count += 1
    execs[tid()] = e
    return 0


@tracepoint("syscalls/sys_exit_execve")
def execve_exit(ctx) -> int:
    t = tid()
    e = execs.lookup(t)
    if not e:
        return 0
    e.retval = ctx.ret
    comm(e.comm)  # after a successful exec: the new program's name
    events.output(e)
    del execs[t]
    return 0


LICENSE = "GPL"
