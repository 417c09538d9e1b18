"""opensnoop's kernel side: each openat() with its pid, thread, name, flags, path and result.

sys_enter_openat parks the path's user address and the flags under the thread id;
sys_exit_openat reads the path (the caller's memory is still there), adds the result and
sends the event. The filters are Final globals, constants to the verifier.
"""

from typing import Final

from bpfimport.lang import (
    Annotated,
    HashMap,
    RingBuffer,
    comm,
    i32,
    i64,
    probe_read_user_str,
    struct,
    tgid,
    tid,
    tracepoint,
    u32,
    u64,
    uid,
)

TARGET_PID: Final[u32] = 0  # -p PID (0: all)
TARGET_TID: Final[u32] = 0  # -t TID (0: all)
TARGET_UID: Final[i64] = -1  # -u UID (-1: all)
FAILED_ONLY: Final[bool] = False  # -x


@struct
class Start:
    path: u64 = 0  # the user address of the path
    flags: i32 = 0


@struct
class Event:
    pid: u32 = 0
    tid: u32 = 0
    uid: u32 = 0
    ret: i32 = 0
    flags: i32 = 0
    comm: Annotated[bytes, 16] = b""
    path: Annotated[bytes, 256] = b""


starts = HashMap(key=u32, value=Start, max_entries=10240)
events = RingBuffer(max_entries=1024 * 1024)


@tracepoint("syscalls/sys_enter_openat")
def openat_enter(ctx) -> int:
    if TARGET_PID != 0 and tgid() != TARGET_PID:
        return 0
    if TARGET_TID != 0 and tid() != TARGET_TID:
        return 0
    if TARGET_UID >= 0 and uid() != TARGET_UID:
        return 0
    starts[tid()] = Start(path=u64(ctx.filename), flags=ctx.flags)
    return 0


@tracepoint("syscalls/sys_exit_openat")
def openat_exit(ctx) -> int:
    t = tid()
    s = starts.lookup(t)
    if not s:
        return 0
    ret = ctx.ret
    if FAILED_ONLY and ret >= 0:
        del starts[t]
        return 0
    e = events.reserve(Event)
    if e:
        e.pid = tgid()
        e.tid = t
        e.uid = uid()
        e.ret = ret
        e.flags = s.flags
        comm(e.comm)
        probe_read_user_str(e.path, s.path)
        events.submit(e)
    del starts[t]
    return 0


LICENSE = "GPL"
