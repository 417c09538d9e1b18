"""BPF objects for the runtime tests, built from IR with irkit (no compiler needed).

Each builder returns ``(object bytes, ModuleSpec)`` and is cached: llvmlite
compiles each object once per test session.
"""

from __future__ import annotations

import ctypes
import functools

from bpfimport.runtime.module import BpfModule, bind_module
from bpfimport.spec import ModuleSpec
from tests.irkit import Module

SOURCE = """\
from bpfimport.lang import *
counts = HashMap(key=u32, value=u64, max_entries=1024)
TARGET: Final[u32] = 7
hits: u64 = 0
scale: u32 = 3
@syscall
def put(ctx):
    a = ctx.key
    counts[a] = ctx.value
    ctx.out = TARGET
    hits += 1
    return scale
@raw_tracepoint("sys_enter")
def rawtp(ctx):
    hits += 1
    return ctx.args[0]
"""

# syscall program `put`: ctx = struct PutArgs {u32 key; u32 out; u64 value}
PUT = """
  %k = alloca i32, align 4
  %v = alloca i64, align 8
  %key = load i32, ptr %ctx, align 4, {loc:8}
  store i32 %key, ptr %k, align 4, {loc:8}
  %vp = getelementptr i8, ptr %ctx, i64 8
  %val = load i64, ptr %vp, align 8, {loc:9}
  store i64 %val, ptr %v, align 8, {loc:9}
  %r = call i64 {helper:2}(ptr @counts, ptr %k, ptr %v, i64 0), {loc:9}
  %t = load volatile i32, ptr @TARGET, align 4, {loc:10}
  %op = getelementptr i8, ptr %ctx, i64 4
  store i32 %t, ptr %op, align 4, {loc:10}
  %h = load i64, ptr @hits, align 8, {loc:11}
  %h2 = add i64 %h, 1, {loc:11}
  store i64 %h2, ptr @hits, align 8, {loc:11}
  %s = load i32, ptr @scale, align 4, {loc:12}
  ret i32 %s, {loc:12}
"""

# raw_tracepoint: count, return the low 32 bits of args[0]
RAWTP = """
  %h = atomicrmw add ptr @hits, i64 1 seq_cst, {loc:15}
  %a = load i64, ptr %ctx, align 8, {loc:16}
  %t = trunc i64 %a to i32, {loc:16}
  ret i32 %t, {loc:16}
"""

TP = """
  %h = atomicrmw add ptr @tp_hits, i64 1 seq_cst, {loc:15}
  ret i32 0, {loc:15}
"""

# syscall program `emit`: copy 32 bytes of ctx into the ring buffer
EMIT = """
  %buf = alloca [32 x i8], align 8
  call void @llvm.memcpy.p0.p0.i64(ptr align 8 %buf, ptr align 8 %ctx, i64 32, i1 false), {loc:5}
  %r = call i64 {helper:130}(ptr @rb, ptr %buf, i64 32, i64 0), {loc:5}
  %t = trunc i64 %r to i32
  ret i32 %t, {loc:5}
"""
MEMCPY = "declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1) #0"

# raw_tracepoint `perf_out`: the 4 u64 args (32 bytes) into the perf event array
PERF_OUT = """
  %buf = alloca [32 x i8], align 8
  call void @llvm.memcpy.p0.p0.i64(ptr align 8 %buf, ptr align 8 %ctx, i64 32, i1 false), {loc:5}
  %r = call i64 {helper:25}(ptr %ctx, ptr @pe, i64 4294967295, ptr %buf, i64 32), {loc:5}
  %t = trunc i64 %r to i32
  ret i32 %t, {loc:5}
"""

XDP = """
  ret i32 2, {loc:3}
"""

NOOP = """
  ret i32 0, {loc:3}
"""


@functools.cache
def main() -> tuple[bytes, ModuleSpec]:
    """Maps of every dict-like kind, globals in all three sections, several program types."""
    m = Module(name="main_bpf", filename="main.bpf.py", source=SOURCE)
    m.struct("Event", [("pid", "u32"), ("ts", "u64"), ("comm", "char[16]")])
    m.struct("Key", [("a", "u32"), ("b", "u16")])
    m.map("counts", "HashMap", "u32", "u64", 1024)
    m.map("arr", "ArrayMap", "u32", "u64", 8)
    m.map("pcpu", "PerCpuArrayMap", "u32", "u32", 4)
    m.map("pchash", "PerCpuHashMap", "u32", "u64", 64)
    m.map("events", "HashMap", "u32", "struct Event", 16)
    m.map("pairs", "HashMap", "struct Key", "i32", 16)
    m.map("names", "HashMap", "char[8]", "i64", 16)
    m.map("lru", "LruHashMap", "u64", "u64", 64)
    m.map("arrs", "HashMap", "u32", "u16[4]", 8)
    m.map("queue", "QueueMap", None, "u32", 8)
    m.map("bloom", "BloomFilterMap", None, "u32", 64)
    m.map("rb", "RingBuffer", None, "struct Event", 4096)
    m.map("pe", "PerfEventArray", None, "struct Event", 128)
    m.global_("TARGET", "u32", ".rodata", 0, 7, final=True)
    m.global_("LIMIT", "i64", ".rodata", 8, -5, final=True)
    m.global_("TAG", "char[8]", ".rodata", 16, b"abc", final=True)
    m.global_("hits", "u64", ".bss", 0, 0)
    m.global_("tp_hits", "u64", ".bss", 8, 0)
    m.global_("scale", "u32", ".data", 0, 3)
    m.global_("label", "char[8]", ".data", 4, b"hello")
    m.global_("origin", "struct Key", ".data", 12, bytes([1, 0, 0, 0, 2, 0, 0, 0]))
    m.program("put", "syscall", PUT, line=7, decorator="syscall")
    m.program("rawtp", "raw_tracepoint/sys_enter", RAWTP, line=14, decorator="raw_tracepoint")
    m.program("tp", "tracepoint/syscalls/sys_enter_getppid", TP, line=14, decorator="tracepoint")
    m.declarations.append(MEMCPY)
    m.program("emit", "syscall", EMIT, line=4, decorator="syscall")
    m.program("perf_out", "raw_tracepoint/sys_enter", PERF_OUT, line=4, decorator="raw_tracepoint")
    m.program("xdp_pass", "xdp", XDP, line=2, decorator="xdp")
    m.program("kp", "kprobe/do_nanosleep", NOOP, line=2, decorator="kprobe")
    m.program("sock", "socket", NOOP, line=2, decorator="socket_filter")
    return m.build()


BAD_SOURCE = """\
from bpfimport.lang import *
counts = HashMap(key=u32, value=u64, max_entries=16)
@syscall
def bad(ctx):
    v = counts.lookup(1)
    v.value += 1
    return 0
"""

BAD = """
  %k = alloca i32, align 4
  store i32 1, ptr %k, align 4, {loc:5}
  %v = call ptr {helper:1}(ptr @counts, ptr %k), {loc:5}
  %x = load i64, ptr %v, align 8, {loc:6}
  %y = add i64 %x, 1, {loc:6}
  store i64 %y, ptr %v, align 8, {loc:6}
  ret i32 0, {loc:7}
"""


@functools.cache
def bad() -> tuple[bytes, ModuleSpec]:
    """A program the verifier rejects: a map value used without a NULL check."""
    m = Module(name="bad_bpf", filename="bad.bpf.py", source=BAD_SOURCE)
    m.map("counts", "HashMap", "u32", "u64", 16)
    m.program("good", "syscall", NOOP, line=3, decorator="syscall")
    m.program("bad", "syscall", BAD, line=4, decorator="syscall")
    return m.build()


@functools.cache
def bad_btf() -> tuple[bytes, ModuleSpec]:
    """Objects whose BTF the kernel rejects (unnamed program parameter)."""
    m = Module(name="badbtf_bpf", filename="badbtf.bpf.py", source="x\ny\nz\n")
    m.name_params = False
    m.map("counts", "HashMap", "u32", "u64", 16)
    m.program("prog", "syscall", NOOP, line=2, decorator="syscall")
    return m.build()


@functools.cache
def fentry() -> tuple[bytes, ModuleSpec]:
    """A tracing (fentry) program: refused by kernels in lockdown or without the type."""
    m = Module(name="fentry_bpf", filename="fentry.bpf.py", source="x\ny\nz\n")
    m.program("on_sleep", "fentry/do_nanosleep", NOOP, line=2, decorator="fentry")
    return m.build()


@functools.cache
def big(max_entries: int = 131072) -> tuple[bytes, ModuleSpec]:
    """One large hash map (and a per-CPU one) for bulk reads."""
    m = Module(name="big_bpf", filename="big.bpf.py", source="x\ny\nz\n")
    m.map("big", "HashMap", "u32", "u64", max_entries)
    m.map("pbig", "PerCpuHashMap", "u32", "u32", 4096)
    m.program("noop", "syscall", NOOP, line=2, decorator="syscall")
    return m.build()


class PutArgs(ctypes.Structure):
    """The context of ``main``'s syscall program: store ``value`` under ``key``, report in ``out``."""

    _fields_ = [("key", ctypes.c_uint32), ("out", ctypes.c_uint32), ("value", ctypes.c_uint64)]


def bound(builder) -> BpfModule:  # type: ignore[no-untyped-def]
    """A module bound to one of the objects above, as an import would bind it."""
    data, spec = builder()
    mod = BpfModule(spec.name)
    bind_module(mod, spec, data)
    return mod

