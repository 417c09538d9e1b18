"""Reading user and kernel memory through pointers, in the kernel (issue 8, items 4 and 5).

* a syscall program, run with BPF_PROG_TEST_RUN in this thread, reads this process's memory
  with read_user / UserPtr (a variable index, struct fields, a fault reading 0, an argv-like
  array of strings) and its own context with read_kernel;
* a real execve of a child with a known argv, read by a syscalls/sys_enter_execve tracepoint
  through the argv pointer (the typed ``ctx.argv``, and a pointer read at the offset the
  tracefs format file gives), one probe_read_user_str per argument;
* a kprobe with arguments loads and attaches where the kernel has kprobes, and elsewhere
  fails with the error that says so.
"""

from __future__ import annotations

import ctypes
import os
import re
import struct
import subprocess
import uuid

import pytest

import bpfimport  # noqa: F401 - installs the import hook
from tests.conftest import TRACEFS, kernel_has_kprobes

READS = '''
from bpfimport.lang import *


@struct
class Args:
    values: u64      # the address of a u64[4] in the caller
    strings: u64     # the address of a NULL-terminated char *[]
    rec: u64         # the address of a Rec
    bad: u64         # an address nothing is mapped at


@struct
class Rec:
    tag: u16
    flag: bool
    n: i32
    big: u64


@struct
class Text:
    data: c_char * 32


out = ArrayMap(key=u32, value=u64, max_entries=16)
texts = ArrayMap(key=u32, value=Text, max_entries=8)
lens = ArrayMap(key=u32, value=i64, max_entries=8)


@syscall
def reads(ctx) -> int:
    a = read_kernel(Args, ctx)             # the context is kernel memory: a copy of it
    values = UserPtr[u64](a.values)
    for i in range(4):
        out[i] = values[i]                 # a variable index
    r = UserPtr[Rec](a.rec)
    out[4] = r.tag
    out[5] = r.flag
    out[6] = r.n
    out[7] = read_user(Rec, a.rec).big
    out[8] = read_user(u64, a.bad) + 7     # a fault reads 0
    out[9] = read_kernel(u64, ctx + 8)     # one field of the context, by its offset
    argv = UserPtr[c_char_p](a.strings)
    out[10] = argv                         # a pointer stores as its address
    n = 0
    for i in range(8):
        s = argv[i]
        if not s:
            break
        t = Text()
        lens[i] = probe_read_user_str(t.data, s)
        texts[i] = t
        n += 1
    out[11] = n
    return 0
'''


def test_user_memory_reads_by_type_index_field_and_string(kernel, bpf_dir) -> None:
    (bpf_dir / "reads.bpf.py").write_text(READS)
    import reads_bpf as mod

    values = (ctypes.c_uint64 * 4)(1, 2**63 + 5, 0xDEADBEEF, 42)
    rec = ctypes.create_string_buffer(struct.pack("<HBxiQ", 0xBEEF, 2, -5, 2**64 - 2), 16)
    words = [b"one", b"", b"three four", b"x" * 40]
    argv = (ctypes.c_char_p * 5)(*words, None)
    args = struct.pack("<4Q", ctypes.addressof(values), ctypes.addressof(argv),
                       ctypes.addressof(rec), 8)
    with mod:
        mod.reads.test_run(ctx=args)
        out = [mod.out[i] for i in range(12)]
        assert out[:4] == list(values)
        assert out[4:8] == [0xBEEF, 1, 2**64 - 5, 2**64 - 2]  # flag byte 2 is True; n = -5 widened
        assert out[8] == 7
        assert out[9] == out[10] == ctypes.addressof(argv)
        assert out[11] == len(words)
        assert [mod.texts[i].data for i in range(4)] == [b"one", b"", b"three four", b"x" * 31]
        assert [mod.lens[i] for i in range(4)] == [4, 1, 11, 32]  # the helper counts the NUL


EXECVE = '''
from bpfimport.lang import *

ARGV = {argv_offset}   # where sys_enter_execve's argv lies in its record (the format file)


@struct
class Arg:
    tgid: u32
    index: u32
    length: i64
    text: c_char * 48


args = RingBuffer(max_entries=256 * 1024)


@tracepoint("syscalls/sys_enter_execve")
def on_exec(ctx) -> int:
    argv = {argv}
    for i in range(8):
        a = argv[i]
        if not a:
            break
        e = args.reserve(Arg)
        if e:
            e.tgid = tgid()
            e.index = i
            e.length = probe_read_user_str(e.text, a)
            args.submit(e)
    return 0
'''


def format_offset(event: str, field: str) -> int:
    text = (TRACEFS / "events" / event / "format").read_text()
    m = re.search(rf"field:[^;]*\b{field};\s*offset:(\d+);", text)
    assert m, text
    return int(m.group(1))


@pytest.mark.parametrize("argv", ["ctx.argv", "read_kernel(UserPtr[c_char_p], ctx + ARGV)"],
                         ids=["typed-field", "fixed-offset"])
def test_execve_argv_read_through_the_argv_pointer(tracing, bpf_dir, argv: str) -> None:
    """The record's argv (a user char **) indexed with a variable: as the typed field, and as
    a pointer read at the offset the format file gives."""
    offset = format_offset("syscalls/sys_enter_execve", "argv")
    name = f"execargs_{'typed' if argv == 'ctx.argv' else 'fixed'}"
    (bpf_dir / f"{name}.bpf.py").write_text(EXECVE.format(argv_offset=offset, argv=argv))
    mod = __import__(f"{name}_bpf")

    argv = ["/bin/true", f"alpha-{uuid.uuid4().hex}", "", "two words", "y" * 60]
    got: list[tuple[int, int, int, bytes]] = []
    with mod, mod.on_exec.attach():
        child = subprocess.Popen(argv)
        child.wait(10)
        while mod.args.poll(lambda e: got.append((e.tgid, e.index, e.length, e.text)), timeout_ms=50):
            pass
    mine = [(i, n, t) for pid, i, n, t in got if pid == child.pid]
    want = [(i, min(len(a) + 1, 48), a.encode()[:47]) for i, a in enumerate(argv)]
    assert mine == want, got


KPROBE = '''
from bpfimport.lang import *

ME: Final[u32] = 0
seen = ArrayMap(key=u32, value=c_char * 64, max_entries=1)
flags = ArrayMap(key=u32, value=i64, max_entries=1)


@kprobe("do_sys_openat2")
def on_open(ctx, dfd: i32, filename: UserPtr[c_char], how: c_void_p) -> int:
    if tgid() != ME:
        return 0
    v = seen.lookup(0)
    if v:
        probe_read_user_str(v, filename)
    flags[0] = dfd
    return 0
'''


def test_kprobe_arguments_load_and_attach_or_say_why(kernel, bpf_dir) -> None:
    """Where the kernel has kprobes (conftest's own probe decides) the arguments are read;
    where it has none, attaching fails with the error that says so, as without arguments."""
    from bpfimport import BpfError

    (bpf_dir / "kpargs.bpf.py").write_text(KPROBE)
    import kpargs_bpf as mod

    mod.ME.value = os.getpid()
    path = f"/nonexistent-bpfimport-{uuid.uuid4().hex}"
    with mod:
        if not kernel_has_kprobes():
            with pytest.raises(BpfError) as info:
                mod.on_open.attach()
            assert ("cannot attach program 'on_open' to kprobe/do_sys_openat2: this kernel has no "
                    "kprobes (CONFIG_KPROBES is off)") in str(info.value)
            return
        with mod.on_open.attach():
            with pytest.raises(FileNotFoundError):
                os.open(path, os.O_RDONLY, dir_fd=None)
        assert mod.seen[0] == path.encode()
        assert mod.flags[0] == -100  # AT_FDCWD
