"""Trace openat(): path, flags and result, in the kernel (the app: opensnoop.py).

sys_enter_openat keeps the path pointer and the flags under the thread id;
sys_exit_openat reads the path (the caller's memory is still there), adds the result
and sends the event through a ring buffer. The tracepoints' fields are read by name.
"""

from bpfimport.lang import (
    Annotated,
    HashMap,
    RingBuffer,
    comm,
    i32,
    probe_read_user_str,
    struct,
    tgid,
    tid,
    tracepoint,
    u32,
    u64,
    uid,
)


@struct
class Args:
    fname: u64  # the user's path pointer, kept as an address
    flags: i32


@struct
class Event:
    pid: u32
    uid: u32
    ret: i32
    flags: i32
    comm: Annotated[bytes, 16]
    fname: Annotated[bytes, 256]


start = HashMap(key=u32, value=Args, max_entries=10240)
events = RingBuffer(max_entries=256 * 1024)


@tracepoint("syscalls/sys_enter_openat")
def openat_enter(ctx) -> int:
    start[tid()] = Args(fname=ctx.filename, flags=ctx.flags)
    return 0


@tracepoint("syscalls/sys_exit_openat")
def openat_exit(ctx) -> int:
    t = tid()
    a = start.lookup(t)
    if not a:
        return 0
    e = events.reserve(Event)
    if e:
        e.pid = tgid()
        e.uid = uid()
        e.ret = ctx.ret
        e.flags = a.flags
        comm(e.comm)
        probe_read_user_str(e.fname, a.fname)
        events.submit(e)
    del start[t]
    return 0


LICENSE = "GPL"
