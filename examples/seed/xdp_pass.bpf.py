# Seed example (pythonbpf syntax): an XDP program that counts packets in a HashMap
# and lets every packet pass (XDP_PASS is 2).
# pythonbpf's original types ctx as vmlinux's struct_xdp_md; the program never reads
# ctx, so c_void_p keeps it free of vmlinux types.
from ctypes import c_int64, c_void_p

from pythonbpf import bpf, bpfglobal, compile, map, section
from pythonbpf.maps import HashMap


@bpf
@map
def count() -> HashMap:
    return HashMap(key=c_int64, value=c_int64, max_entries=1)


@bpf
@section("xdp")
def xdp_count(ctx: c_void_p) -> c_int64:
    key = 0
    one = 1
    prev = count.lookup(key)
    if prev:
        n = prev + 1
        print(f"count: {n}")
        count.update(key, n)
        return c_int64(2)
    else:
        count.update(key, one)
    return c_int64(2)


@bpf
@bpfglobal
def LICENSE() -> str:
    return "GPL"


compile()
