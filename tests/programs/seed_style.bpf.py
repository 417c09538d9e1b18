# Written the way pythonbpf programs are: every spelling of docs/language.md, "pythonbpf programs".
# Type checkers see a dialect here that is not typed Python: pythonbpf is not installed beside
# bpfimport (nor typed: it has no py.typed), `str(16)` is a call where a type belongs, and
# `last.delete(k)` calls a map method on the @map function itself. Those lines alone carry
# ignores, each naming the one rule it waives; the checkers still read everything else.
from ctypes import c_int32, c_int64, c_uint32, c_uint64, c_void_p

from pythonbpf import bpf, bpfglobal, compile, map, section, struct  # type: ignore[import-not-found]  # pyright: ignore[reportMissingImports]
from pythonbpf.helper import ktime, pid  # type: ignore[import-not-found]  # pyright: ignore[reportMissingImports]
from pythonbpf.helpers import comm  # type: ignore[import-not-found]  # pyright: ignore[reportMissingImports]
from pythonbpf.maps import ArrayMap, HashMap  # type: ignore[import-not-found]  # pyright: ignore[reportMissingImports]


@bpf
@struct
class data_t:
    pid: c_uint64
    ts: c_uint64
    comm: str(16)  # type: ignore[valid-type]  # pyright: ignore[reportInvalidTypeForm]


@bpf
@map
def last() -> HashMap:
    return HashMap(key=c_uint64, value=c_uint64, max_entries=3)


@bpf
@map
def records() -> HashMap:
    return HashMap(key_type=c_uint32, value_type=data_t, max_entries=4)


@bpf
@map
def results() -> ArrayMap:
    return ArrayMap(key=c_uint32, value=c_uint64, max_entries=8)


@bpf
@bpfglobal
def counter() -> c_uint64:
    return c_uint64(5)


@bpf
@section("syscall")
def seeded(ctx: c_void_p) -> c_int64:
    key = 0
    tsp = last().lookup(key)
    if tsp:
        delta = ktime() - tsp
        results().update(1, delta // 1000000000)
        last.delete(key)  # pyright: ignore[reportFunctionMemberAccess]
    else:
        kt = ktime()
        last.update(key, kt)  # pyright: ignore[reportFunctionMemberAccess]
    d = data_t()
    d.pid = pid()
    d.ts = ktime()
    d.comm = comm()
    records.update(c_uint32(1), d)  # pyright: ignore[reportFunctionMemberAccess]
    va = 8
    nm = 5 ^ va
    al = 6 & 3
    results.update(0, nm + al)  # pyright: ignore[reportFunctionMemberAccess]
    return c_int64(0)


@bpf
@section("tracepoint/syscalls/sys_enter_execve")
def traced(ctx: c_void_p) -> c_int32:
    print(f"execve from {pid()}")
    return c_int32(0)


@bpf
@bpfglobal
def LICENSE() -> str:
    return "GPL"


compile()
