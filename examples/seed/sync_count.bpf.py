# Seed example (pythonbpf syntax): like sync_timing, plus a running count of sync() calls
# kept in the same map under a second key.
from ctypes import c_int64, c_void_p

from pythonbpf import bpf, bpfglobal, compile, map, section
from pythonbpf.helper import ktime
from pythonbpf.maps import HashMap


@bpf
@map
def last() -> HashMap:
    return HashMap(key=c_int64, value=c_int64, max_entries=2)


@bpf
@section("tracepoint/syscalls/sys_enter_sync")
def on_sync(ctx: c_void_p) -> c_int64:
    ts_key, count_key = 0, 1
    tsp, countp = last.lookup(ts_key), last.lookup(count_key)
    if not countp:
        last.update(count_key, 0)
        countp = last.lookup(count_key)
        if not countp:  # the verifier needs the second lookup tested too
            return c_int64(0)
    if tsp:
        delta = ktime() - tsp
        if delta < 1000000000:
            ms = delta // 1000000
            print(f"{ms} {countp}")
        last.delete(ts_key)
    else:
        last.update(ts_key, ktime())
    last.update(count_key, countp + 1)
    return c_int64(0)


@bpf
@bpfglobal
def LICENSE() -> str:
    return "GPL"


compile()
