# Seed example (pythonbpf syntax): a greeting in the trace buffer on every execve().
from ctypes import c_int64, c_void_p

from pythonbpf import bpf, bpfglobal, compile, section


@bpf
@section("tracepoint/syscalls/sys_enter_execve")
def hello_world(ctx: c_void_p) -> c_int64:
    print("Hello, World!")
    return c_int64(0)


@bpf
@bpfglobal
def LICENSE() -> str:
    return "GPL"


compile()
