# Seed example (pythonbpf syntax): count clone() calls per pid in a HashMap
# (pythonbpf's clone_plot; the app prints a text histogram instead of a plot).
from ctypes import c_int32, c_int64, c_uint64, c_void_p

from pythonbpf import bpf, bpfglobal, compile, map, section
from pythonbpf.helper import pid
from pythonbpf.maps import HashMap


@bpf
@map
def hist() -> HashMap:
    return HashMap(key=c_int32, value=c_uint64, max_entries=4096)


@bpf
@section("tracepoint/syscalls/sys_enter_clone")
def on_clone(ctx: c_void_p) -> c_int64:
    p = pid()
    one = 1
    prev = hist.lookup(p)
    if prev:
        n = prev + 1
        hist.update(p, n)
        return c_int64(0)
    else:
        hist.update(p, one)
    return c_int64(0)


@bpf
@bpfglobal
def LICENSE() -> str:
    return "GPL"


compile()
