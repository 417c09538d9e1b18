# Seed example (pythonbpf syntax): a message per clone(); the app splits the trace fields.
from ctypes import c_int64, c_void_p

from pythonbpf import bpf, bpfglobal, compile, section


@bpf
@section("tracepoint/syscalls/sys_enter_clone")
def on_clone(ctx: c_void_p) -> c_int64:
    print("Hello, World!")
    return c_int64(0)


@bpf
@bpfglobal
def LICENSE() -> str:
    return "GPL"


compile()
