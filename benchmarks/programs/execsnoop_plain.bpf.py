"""execsnoop without kernel types: the baseline of the kernel-data compile benchmark.

The same maps, event, programs and statements as examples/execsnoop.bpf.py, written
with the work-arounds a program without kernel types needs: the syscall record copied
into a @struct that mirrors the tracefs format, the parent's tgid read at offsets copied
from `bpftool btf dump` (1280 and 1268 on the 6.18 kernel this was written on; wrong on
others, which is what CO-RE fixes), one-field structs to read a pointer from user memory.
benchmarks/core_bench.py compiles it in a fresh process next to the CO-RE example.
"""

from bpfimport.lang import (
    Annotated,
    HashMap,
    PerCpuArrayMap,
    RingBuffer,
    comm,
    get_current_task,
    i32,
    i64,
    probe_read_kernel,
    probe_read_user,
    probe_read_user_str,
    struct,
    tgid,
    tid,
    tracepoint,
    u32,
    u64,
)

MAXARGS = 8
ARGSIZE = 64
REAL_PARENT = 1280  # offsetof(struct task_struct, real_parent) on one kernel
TGID = 1268  # offsetof(struct task_struct, tgid) on one kernel


@struct
class Event:
    pid: u32
    ppid: u32
    retval: i32
    args_count: u32
    comm: Annotated[bytes, 16]
    filename: Annotated[bytes, 128]
    argv: Annotated[list[Annotated[bytes, 64]], 8]


@struct
class SysEnter:  # the tracefs format of syscalls/sys_enter_*
    common: u64
    nr: i64
    args: Annotated[list[u64], 6]


@struct
class SysExit:  # the tracefs format of syscalls/sys_exit_*
    common: u64
    nr: i64
    ret: i64


@struct
class Word:  # one pointer read from kernel or user memory
    value: u64


heap = PerCpuArrayMap(key=u32, value=Event, max_entries=1)
execs = HashMap(key=u32, value=Event, max_entries=10240)
events = RingBuffer(max_entries=256 * 1024)


@tracepoint("syscalls/sys_enter_execve")
def execve_enter(ctx) -> int:
    e = heap.lookup(0)
    if not e:
        return 0
    rec = SysEnter()
    probe_read_kernel(rec, 64, ctx)
    parent = Word()
    probe_read_kernel(parent, 8, get_current_task() + REAL_PARENT)
    ppid = Word()
    probe_read_kernel(ppid, 4, parent.value + TGID)
    e.pid = tgid()
    e.ppid = u32(ppid.value)
    e.retval = 0
    e.args_count = 0
    probe_read_user_str(e.filename, rec.args[0])
    arg = Word()
    for i in range(MAXARGS):
        probe_read_user(arg, 8, rec.args[1] + i * 8)
        if arg.value == 0:
            break
        probe_read_user_str(e.argv[i], arg.value)
        e.args_count += 1
    execs[tid()] = e
    return 0


@tracepoint("syscalls/sys_exit_execve")
def execve_exit(ctx) -> int:
    t = tid()
    e = execs.lookup(t)
    if not e:
        return 0
    rec = SysExit()
    probe_read_kernel(rec, 24, ctx)
    e.retval = i32(rec.ret)
    comm(e.comm)
    events.output(e)
    del execs[t]
    return 0


LICENSE = "GPL"
