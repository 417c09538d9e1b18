# Seed example (pythonbpf syntax): announce every sync() system call.
from ctypes import c_int64, c_void_p

from pythonbpf import bpf, bpfglobal, compile, section


@bpf
@section("tracepoint/syscalls/sys_enter_sync")
def on_sync(ctx: c_void_p) -> c_int64:
    print("sys_sync() called")
    return c_int64(0)


@bpf
@bpfglobal
def LICENSE() -> str:
    return "GPL"


compile()
