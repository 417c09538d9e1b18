"""Probe arguments, pointers that know their memory, reads of one value, and a packed struct:
the spellings of docs/language.md, type-checked by mypy and pyright (tests/test_type_checkers.py)
and compiled by tests/compiler/test_pointers.py."""

from ctypes import c_char_p, c_void_p

from bpfimport.lang import (
    Annotated,
    Final,
    HashMap,
    KernelPtr,
    RingBuffer,
    UserPtr,
    i32,
    i64,
    kretprobe,
    probe_read_kernel_str,
    probe_read_user_str,
    read_kernel,
    read_user,
    struct,
    tgid,
    tracepoint,
    u8,
    u16,
    u32,
    u64,
    uprobe,
    uretprobe,
)


@struct
class Seen:
    tgid: u32
    index: u32
    text: Annotated[bytes, 64]


@struct(packed=True)
class Record:
    kind: u8
    length: u32
    stamp: u64


@struct
class Pair:
    a: u32
    b: u64


CHILD: Final[u32] = 0
ARGV: Final[u32] = 24  # sys_enter_execve's argv in its record (the tracefs format file)
events = RingBuffer(max_entries=64 * 1024)
records = HashMap(key=u32, value=Record, max_entries=16)
totals = HashMap(key=u32, value=u64, max_entries=16)


@uprobe("libc.so.6", "getenv")
def on_getenv(ctx: c_void_p, name: c_char_p) -> int:
    if tgid() != CHILD:
        return 0
    e = events.reserve(Seen)
    if e:
        e.tgid = tgid()
        e.index = 0
        probe_read_user_str(e.text, name)
        events.submit(e)
    return 0


@uretprobe("libc.so.6", "getenv")
def on_getenv_return(ctx: c_void_p, value: c_char_p) -> int:
    if value:
        totals[1] = read_user(u8, value)  # the value's first byte
    return 0


@kretprobe("do_sys_openat2")
def on_open_return(ctx: c_void_p, fd: i64) -> int:
    totals[2] = fd
    return 0


@tracepoint("syscalls/sys_enter_execve")
def on_exec(ctx) -> int:
    argv = read_kernel(UserPtr[c_char_p], ctx + ARGV)
    for i in range(8):
        arg = argv[i]
        if not arg:
            break
        e = events.reserve(Seen)
        if e:
            e.tgid = tgid()
            e.index = i
            probe_read_user_str(e.text, arg)
            events.submit(e)
    first: u16 = read_user(u16, argv[0])
    pair = UserPtr[Pair](4096)
    totals[3] = first + pair[1].b + pair.a + read_user(Pair, 8192).b
    r = Record(kind=1, length=read_user(u32, 4096), stamp=read_kernel(u64, ctx + 8))
    r.stamp += u64(pair)  # a pointer's address
    records[0] = r
    task = KernelPtr[u64](4096)
    text: Annotated[bytes, 16] = b""
    probe_read_kernel_str(text, task[2])
    n: i32 = 0
    return n
