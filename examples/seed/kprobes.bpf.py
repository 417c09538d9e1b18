# Seed example (pythonbpf syntax): a kprobe and a kretprobe on do_unlinkat.
# Needs a kernel with CONFIG_KPROBES (the app says so when it is missing).
from ctypes import c_int64, c_void_p

from pythonbpf import bpf, bpfglobal, compile, section


@bpf
@section("kretprobe/do_unlinkat")
def unlink_return(ctx: c_void_p) -> c_int64:
    print("do_unlinkat returned")
    return c_int64(0)


@bpf
@section("kprobe/do_unlinkat")
def unlink_entry(ctx: c_void_p) -> c_int64:
    print("do_unlinkat entered")
    return c_int64(0)


@bpf
@bpfglobal
def LICENSE() -> str:
    return "GPL"


compile()
