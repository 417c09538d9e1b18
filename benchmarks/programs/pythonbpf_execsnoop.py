"""execsnoop as far as pythonbpf 0.2.0 compiles it: the pythonbpf peer of core_bench.py row K1.

It imports the syscall tracepoints' record types from a vmlinux.py generated for the
running kernel (as pythonbpf's kernel-data programs do), reads record fields by name
(`ctx.id`, `ctx.ret`), keeps a value per pid in a hash map from enter to exit and sends
an event through a ring buffer. pythonbpf 0.2.0 has no user-memory read
(probe_read_user_str), no task_struct chains, and failed on `ctx.args[0]` into a local
and on storing a lookup's result into a struct field, so the file name, the argv loop and
the parent pid are left out: this port does much less than the bpfimport and C versions,
which can only flatter pythonbpf's time. `python pythonbpf_execsnoop.py` writes
pythonbpf_execsnoop.o beside it (the trailing compile()); vmlinux.py must be importable.
"""

from ctypes import c_int64, c_uint64

from pythonbpf import bpf, bpfglobal, compile, map, section, struct
from pythonbpf.helper import comm, pid
from pythonbpf.maps import HashMap, RingBuffer
from vmlinux import struct_trace_event_raw_sys_enter, struct_trace_event_raw_sys_exit


@bpf
@struct
class event:
    pid: c_uint64
    filename: c_uint64
    argv: c_uint64
    retval: c_int64
    comm: str(16)


@bpf
@map
def execs() -> HashMap:
    return HashMap(key=c_uint64, value=c_uint64, max_entries=10240)


@bpf
@map
def events() -> RingBuffer:
    return RingBuffer(max_entries=262144)


@bpf
@section("tracepoint/syscalls/sys_enter_execve")
def execve_enter(ctx: struct_trace_event_raw_sys_enter) -> c_int64:
    b = ctx.id
    execs.update(pid(), b)
    return c_int64(0)


@bpf
@section("tracepoint/syscalls/sys_exit_execve")
def execve_exit(ctx: struct_trace_event_raw_sys_exit) -> c_int64:
    e = event()
    e.pid = pid()
    r = ctx.ret
    e.retval = r
    f = execs.lookup(pid())
    if f:
        comm(e.comm)
        events.output(e)
        execs.delete(pid())
    return c_int64(0)


@bpf
@bpfglobal
def LICENSE() -> str:
    return "GPL"


compile()
