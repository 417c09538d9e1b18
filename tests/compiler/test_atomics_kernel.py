"""Shared updates are atomic: the emitted instructions, and exact counts under contention.

docs/language.md promises that ``m[k] += n`` / ``-=`` on a map value, a global or
a field through a reference is one atomic add on every CPU version, and
``|= &= ^=`` atomic from v3; 8/16-bit values are read-modify-write.  The first
tests decode the object's instructions themselves (tests/elfread.py, independent of
the compiler's own ``elf.py``) and count the ``BPF_STX |
BPF_ATOMIC`` instructions by operation.  The kernel test then hammers one
counter from processes pinned to different CPUs and compares exact counts: a
lost update shows as a count below what was sent.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from bpfimport.compiler import CompileOptions, compile_source
from tests.conftest import need
from tests.elfread import exec_sections
from tests.runtime_objects import module_of

# BPF instruction encoding (include/uapi/linux/bpf.h, Documentation/bpf/standardization)
BPF_STX, BPF_ATOMIC = 0x03, 0xC0
SIZE = {0x00: 32, 0x18: 64}  # BPF_W, BPF_DW (atomics exist only at these widths)
OPS = {0x00: "add", 0x40: "or", 0x50: "and", 0xA0: "xor"}
BPF_FETCH = 0x01


def atomics(code: bytes) -> Counter:
    """Count atomic instructions in ``code`` as (operation, bits), e.g. ("add", 64)."""
    found: Counter = Counter()
    for off in range(0, len(code), 8):
        opcode, _regs, _off, imm = struct.unpack_from("<BBhi", code, off)
        if opcode & 0x07 == BPF_STX and opcode & 0xE0 == BPF_ATOMIC:
            op = OPS[imm & ~BPF_FETCH]
            found[(op + ("+fetch" if imm & BPF_FETCH else ""), SIZE[opcode & 0x18])] += 1
    return found


def program_atomics(source: str, cpu: str) -> dict[str, Counter]:
    obj = compile_source(source, "atom.bpf.py", "atom_bpf", CompileOptions(cpu=cpu)).object
    return {name: atomics(code) for name, code in exec_sections(obj).items()}


HEAD = """\
from bpfimport.lang import *

@struct
class Pair:
    a: u64
    b: u32

m64 = HashMap(key=u32, value=u64, max_entries=4)
m32 = ArrayMap(key=u32, value=u32, max_entries=4)
m16 = ArrayMap(key=u32, value=u16, max_entries=4)
m8 = ArrayMap(key=u32, value=u8, max_entries=4)
pairs = HashMap(key=u32, value=Pair, max_entries=4)
g64: u64 = 0
g32: i32 = 0
"""


def one_program(section: str, body: str) -> str:
    return HEAD + f"@section({section!r})\ndef p(ctx) -> int:\n" + textwrap.indent(
        textwrap.dedent(body), "    ") + "    return 0\n"


ALL_CPUS = ["v1", "v2", "v3", "v4"]

# (body, the atomics expected on v1/v2, the atomics expected on v3/v4)
CASES = [
    ("m64[1] += 5\n", {("add", 64): 1}, {("add", 64): 1}),
    ("m64[1] -= 5\n", {("add", 64): 1}, {("add", 64): 1}),  # an add of the negation
    ("m32[1] += 5\n", {("add", 32): 1}, {("add", 32): 1}),
    ("global g64\ng64 += 3\n", {("add", 64): 1}, {("add", 64): 1}),
    ("global g32\ng32 -= 3\n", {("add", 32): 1}, {("add", 32): 1}),
    ("v = pairs.lookup(1)\nif v:\n    v.a += 1\n    v.b += 2\n", {("add", 64): 1, ("add", 32): 1},
     {("add", 64): 1, ("add", 32): 1}),
    ("m64[1] |= 4\n", {}, {("or", 64): 1}),
    ("m64[1] &= 4\n", {}, {("and", 64): 1}),
    ("m64[1] ^= 4\n", {}, {("xor", 64): 1}),
    ("global g32\ng32 |= 1\ng32 &= 3\ng32 ^= 2\n", {}, {("or", 32): 1, ("and", 32): 1, ("xor", 32): 1}),
    ("m16[1] += 1\nm8[1] += 1\n", {}, {}),  # no 8/16-bit atomics in BPF: read-modify-write
    ("m64[1] *= 3\nm64[2] <<= 1\n", {}, {}),  # no atomic multiply or shift
    ("x: u64 = 0\nx += 1\nm64[1] = x\n", {}, {}),  # a local is private: no atomic needed
]


@pytest.mark.parametrize("cpu", ALL_CPUS)
@pytest.mark.parametrize("body, old, new", CASES, ids=[c[0].splitlines()[-1].strip() for c in CASES])
def test_shared_updates_emit_the_documented_atomics(cpu: str, body: str, old: dict, new: dict) -> None:
    got = program_atomics(one_program("syscall", body), cpu)
    want = new if cpu in ("v3", "v4") else old
    assert got["syscall"] == Counter(want), f"cpu {cpu}: {body!r} emitted {dict(got['syscall'])}"


def test_a_subprograms_update_is_atomic_whether_inlined_or_not() -> None:
    """At -O0 the BPF-to-BPF function stays in .text; at -O2 LLVM inlines it at both calls."""
    src = HEAD + "def bump(k: u32) -> u32:\n    m64[k] += 1\n    return 0\n\n" + \
        "@syscall\ndef p(ctx) -> int:\n    bump(1)\n    bump(2)\n    return 0\n"
    for level, want in ((0, {".text": 1, "syscall": 0}), (2, {"syscall": 2})):
        obj = compile_source(src, "a.bpf.py", "a_bpf", CompileOptions(opt_level=level)).object
        got = {name: atomics(code) for name, code in exec_sections(obj).items()}
        assert got == {name: Counter({("add", 64): n} if n else {}) for name, n in want.items()}, level


# ---------------------------------------------------------------- in the kernel, under contention

CONTENDED = """\
from bpfimport.lang import *

workers = HashMap(key=u32, value=u8, max_entries=16)
total = ArrayMap(key=u32, value=u64, max_entries=2)
total32 = ArrayMap(key=u32, value=u32, max_entries=1)
hits: u64 = 0
down: u64 = 0


@tracepoint("syscalls/sys_enter_getppid")
def count(ctx) -> int:
    global hits, down
    if tgid() in workers:
        total[0] += 1
        total[1] += 3
        total32[0] += 1
        hits += 1
        down -= 1
    return 0


LICENSE = "GPL"
"""

# Each worker pins itself to one CPU, waits for "go" on stdin, then makes N getppid
# calls from a C-level loop (no Python bytecode between them: the tightest contention).
WORKER = """\
import collections, itertools, os, sys
os.sched_setaffinity(0, {int(sys.argv[1])})
n = int(sys.argv[2])
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.readline()
collections.deque(itertools.starmap(os.getppid, itertools.repeat((), n)), maxlen=0)
"""


def start_workers(cpus: list[int], calls: int) -> list[subprocess.Popen]:
    procs = []
    for cpu in cpus:
        p = subprocess.Popen([sys.executable, "-c", WORKER, str(cpu), str(calls)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline() == "ready\n"
        procs.append(p)
    return procs


@pytest.mark.parametrize("cpu", ["v1", "v3"])
def test_concurrent_increments_lose_nothing(tracing: None, tmp_path: Path, cpu: str) -> None:
    need(os.path.isdir("/sys/kernel/tracing/events/syscalls/sys_enter_getppid"),
         "syscall tracepoints (CONFIG_FTRACE_SYSCALLS) are not available")
    cpus = sorted(os.sched_getaffinity(0))
    need(len(cpus) >= 2, "contention needs at least two CPUs")

    compiled = compile_source(CONTENDED, str(tmp_path / "contended.bpf.py"), "contended_bpf",
                              CompileOptions(cpu=cpu))
    mod = module_of(compiled.object, compiled.spec)
    calls, per_cpu = 150_000, 2
    procs = start_workers([c for c in cpus[:2] for _ in range(per_cpu)], calls)
    try:
        with mod, mod.count.attach():
            for p in procs:
                mod.workers[p.pid] = 1
            for p in procs:
                p.stdin.write("go\n")
                p.stdin.flush()
            for p in procs:
                assert p.wait(timeout=60) == 0
            sent = calls * len(procs)
            got = (mod.total[0], mod.total[1], mod.total32[0], mod.hits.value, mod.down.value)
    finally:
        for p in procs:
            p.kill()
            p.wait()
    want = (sent, 3 * sent, sent, sent, (-sent) % 2**64)
    assert got == want, f"cpu {cpu}: {len(procs)} workers × {calls} calls: got {got}, want {want}"
