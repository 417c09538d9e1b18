"""The runtime behind real imports: .bpf.py → compiler → cache → handles → kernel."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

import bpfimport  # noqa: F401 - installs the import hook
from bpfimport.errors import VerifierError
from tests.conftest import need

COUNT = """\
from bpfimport.lang import *

counts = HashMap(key=u32, value=u64, max_entries=1024)
arr = ArrayMap(key=u32, value=u64, max_entries=4)
pc = PerCpuArrayMap(key=u32, value=u64, max_entries=2)

TARGET: Final[u32] = 7
hits: u64 = 0

@tracepoint("syscalls/sys_enter_getppid")
def on_getppid(ctx) -> int:
    global hits
    hits += 1
    counts[tgid()] += 1
    return 0

@raw_tracepoint("sys_enter")
def on_enter(ctx) -> int:
    global hits
    hits += 1
    return 0

@syscall
def bump(ctx) -> int:
    arr[1] += TARGET
    pc[0] += 1
    return TARGET

LICENSE = "GPL"
"""

# A map value used without a presence test.  (If the compiler ever guards this
# itself, pick another program the verifier rejects quickly.)
BROKEN = """\
from bpfimport.lang import *

counts = HashMap(key=u32, value=u64, max_entries=16)

@syscall
def fine(ctx) -> int:
    return 0

@syscall
def unchecked(ctx) -> int:
    k: u32 = 1
    v = counts.lookup(k)
    return v + 1

LICENSE = "GPL"
"""


def imported(bpf_dir: Path, name: str, source: str):  # type: ignore[no-untyped-def]
    (bpf_dir / f"{name}.bpf.py").write_text(source)
    return importlib.import_module(f"{name}_bpf")


def test_handles_of_an_imported_module(kernel: None, bpf_dir: Path) -> None:
    m = imported(bpf_dir, "rt_count", COUNT)
    assert not m.__bpf_object__.loaded  # importing touched no kernel
    assert m.bump.type == "syscall" and m.on_getppid.type == "tracepoint"
    assert m.TARGET.value == 7
    m.TARGET.value = 9  # Final: set before load, seen by the program
    r = m.bump.test_run()
    assert r.retval == 9
    assert m.arr.items() == [(0, 0), (1, 9), (2, 0), (3, 0)]
    assert sum(m.pc[0]) == 1
    with pytest.raises(AttributeError):
        m.TARGET.value = 10
    m.close()
    assert not m.__bpf_object__.loaded


def test_attach_through_an_import(tracing: None, bpf_dir: Path) -> None:
    need(os.path.isdir("/sys/kernel/tracing/events/syscalls/sys_enter_getppid"),
         "syscall tracepoints (CONFIG_FTRACE_SYSCALLS) are not available")
    m = imported(bpf_dir, "rt_count2", COUNT)
    with m:
        with m.on_getppid.attach():
            for _ in range(5):
                os.getppid()
        assert m.counts[os.getpid()] >= 5
        assert m.hits.value >= 5
        m.on_enter.attach()  # left attached: close() detaches it
        before = m.hits.value
        os.getppid()
        assert m.hits.value > before
    assert m.__bpf_object__.links == []


def test_verifier_error_names_the_python_line(kernel: None, bpf_dir: Path) -> None:
    m = imported(bpf_dir, "rt_broken", BROKEN)
    with pytest.raises(VerifierError) as info:
        m.fine.test_run()
    e = info.value
    assert e.program == "unchecked"
    header, where, complaint, hint = str(e).splitlines()
    assert header == "program 'unchecked' rejected by the verifier:"
    line = BROKEN.splitlines().index("    return v + 1") + 1  # the line that reads v untested
    assert where == f"  rt_broken.bpf.py:{line}: return v + 1"
    # the complaint is the kernel's own words: the last verifier line before its summary
    log = [x.strip() for x in e.log.splitlines() if x.strip()]
    summary = next(i for i, x in enumerate(log) if x.startswith("processed "))
    assert complaint == "  " + log[summary - 1] and "map_value_or_null" in complaint
    assert hint.startswith("  hint: ") and "`if v:`" in hint and "m.get(k, 0)" in hint  # the documented fixes
    assert "call bpf_map_lookup_elem" in e.log
