"""syscount's kernel side: system calls counted by syscall number, or by process (-P).

raw_syscalls/sys_enter counts each call as it starts; when only failed calls (-x, -e)
or latencies (-L) are wanted, it notes the start time and raw_syscalls/sys_exit counts
the call when it returns, with its duration. The options are Final globals, so the
verifier drops the branches a run does not use.
"""

from typing import Final

from bpfimport.lang import (
    Annotated,
    HashMap,
    comm,
    i64,
    ktime,
    struct,
    tgid,
    tid,
    tracepoint,
    u32,
    u64,
)

TARGET_PID: Final[u32] = 0  # -p PID (0: all)
TARGET_TID: Final[u32] = 0  # -t TID (0: all)
TARGET_SYSCALL: Final[i64] = -1  # --syscall NR (-1: all)
BY_PROCESS: Final[bool] = False  # -P: key by process, not by syscall
AT_EXIT: Final[bool] = False  # count on exit: -x, -e or -L
FAILED_ONLY: Final[bool] = False  # -x
ERRNO: Final[i64] = 0  # -e ERRNO (0: any)
LATENCY: Final[bool] = False  # -L


@struct
class Data:
    count: u64 = 0
    total_ns: u64 = 0
    comm: Annotated[bytes, 16] = b""  # -P: the process's name when first seen


data = HashMap(key=u32, value=Data, max_entries=10240)
starts = HashMap(key=u32, value=u64, max_entries=10240)


def wanted(nr: i64) -> bool:
    if TARGET_PID != 0 and tgid() != TARGET_PID:
        return False
    if TARGET_TID != 0 and tid() != TARGET_TID:
        return False
    if TARGET_SYSCALL >= 0 and nr != TARGET_SYSCALL:
        return False
    return True


def count(nr: i64, ns: u64) -> int:
    key = u32(nr)
    if BY_PROCESS:
        key = tgid()
    v = data.lookup(key)
    if not v:
        fresh = Data()
        comm(fresh.comm)
        data.update(key, fresh, 1)  # BPF_NOEXIST: another CPU may have made it
        v = data.lookup(key)
        if not v:
            return 0
    v.count += 1
    v.total_ns += ns
    return 0


@tracepoint("raw_syscalls/sys_enter")
def sys_enter(ctx) -> int:
    nr = ctx.id
    if not wanted(nr):
        return 0
    if not AT_EXIT:
        count(nr, 0)
    elif LATENCY:
        starts[tid()] = ktime()
    return 0


@tracepoint("raw_syscalls/sys_exit")
def sys_exit(ctx) -> int:
    if not AT_EXIT:
        return 0
    nr = ctx.id
    if not wanted(nr):
        return 0
    ret = ctx.ret
    if FAILED_ONLY and ret >= 0:
        return 0
    if ERRNO != 0 and ret != -ERRNO:
        return 0
    ns: u64 = 0
    if LATENCY:
        t = tid()
        start = starts.lookup(t)
        if not start:
            return 0
        ns = ktime() - start
        del starts[t]
    count(nr, ns)
    return 0


LICENSE = "GPL"
