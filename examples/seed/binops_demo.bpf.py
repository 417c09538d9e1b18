# Seed example (pythonbpf syntax): a HashMap remembers the last execve() time;
# a second program on execve() exit does constant integer arithmetic.
from ctypes import c_int64, c_uint64, c_void_p

from pythonbpf import bpf, bpfglobal, compile, map, section
from pythonbpf.helper import ktime
from pythonbpf.maps import HashMap


@bpf
@map
def last() -> HashMap:
    return HashMap(key=c_uint64, value=c_uint64, max_entries=3)


@bpf
@section("tracepoint/syscalls/sys_enter_execve")
def on_execve(ctx: c_void_p) -> c_int64:
    key = 0
    tsp = last.lookup(key)
    if tsp:
        now = ktime()
        delta = now - tsp
        if delta < 1000000000:
            ms = delta // 1000000
            print(f"execve again after {ms} ms")
        last.delete(key)
    else:
        now = ktime()
        last.update(key, now)
    return c_int64(0)


@bpf
@section("tracepoint/syscalls/sys_exit_execve")
def on_execve_exit(ctx: c_void_p) -> c_int64:
    base = 8
    x = 5 ^ base
    y = 6 & 3
    total = x + y
    print(f"binops result {total}")
    return c_int64(0)


@bpf
@bpfglobal
def LICENSE() -> str:
    return "GPL"


compile()
