"""Strings in the kernel (docs/language.md, "Strings"): char arrays compared with bytes
literals, with run-time globals and by prefix, against the real names of child processes."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import program_module, traced_after_nonce

# out[i] after `literals`: the answer each comparison of tests/programs/strings.bpf.py gives
LITERAL_ANSWERS = {
    0: 1, 1: 0, 2: 0, 3: 0, 4: 1, 5: 1, 6: 0, 7: 1, 8: 0, 9: 1, 10: 0, 11: 1,
    12: 1, 13: 0, 14: 1, 15: 0, 16: 1, 17: 0, 18: 1, 19: 1, 20: 1, 21: 1, 22: 0,
    23: 7, 24: 2,
}


@pytest.fixture
def strings_mod(kernel: None, tmp_path: Path) -> Iterator[ModuleType]:
    with program_module(tmp_path, "strings.bpf.py") as mod:
        yield mod


def test_comparisons_with_literals_and_arrays(strings_mod: ModuleType) -> None:
    strings_mod.literals.test_run()
    got = {i: strings_mod.out[i] for i in LITERAL_ANSWERS}
    assert got == LITERAL_ANSWERS


# A map whose value is a char array: kept out of tests/programs, as `c_char * 8` (the value
# spelling checkers take) is a ctypes array to them, without bytes' == and startswith.
TEXTS = '''\
from bpfimport.lang import *

out = ArrayMap(key=u32, value=u64, max_entries=8)
texts = HashMap(key=u32, value=c_char * 8, max_entries=4)


@syscall
def refs(ctx) -> int:
    texts[1] = b"hi"
    there = texts.lookup(1)  # a reference to a char array map value
    missing = texts.lookup(2)  # None: unequal to any text
    out[0] = there == b"hi"
    out[1] = missing == b"hi"
    out[2] = missing != b"hi"
    out[3] = there.startswith(b"h")
    out[4] = missing.startswith(b"")
    out[5] = texts[1] == b"hi"
    return 0


LICENSE = "GPL"
'''


def test_map_value_references_and_none(kernel: None, tmp_path: Path) -> None:
    with program_module(tmp_path, "strtexts.bpf.py", TEXTS) as mod:
        mod.refs.test_run()
        assert [mod.out[i] for i in range(6)] == [1, 0, 1, 1, 0, 1]


def _copy_true(folder: Path, name: str) -> Path:
    """/bin/true under ``name``: exec'ing it gives the process that name (its comm)."""
    path = folder / name
    shutil.copy(shutil.which("true") or "/bin/true", path)
    path.chmod(0o755)
    return path


def test_exec_names_against_literals_and_run_time_filters(strings_mod: ModuleType,
                                                          tmp_path: Path) -> None:
    match = _copy_true(tmp_path, "bpfstr_match")
    other = _copy_true(tmp_path, "bpfstr_other")  # shares the prefix "bpfstr_" only
    strings_mod.WATCH.value = os.getpid()
    strings_mod.TARGET.value = b"bpfstr_match"
    strings_mod.PREFIX.value = b"bpfstr_m"  # the whole 8-byte array, no NUL
    strings_mod.PATH.value = str(match).encode()
    link = strings_mod.on_exec.attach()
    pids = {}
    for path in (match, other):
        child = subprocess.Popen([str(path)])
        assert child.wait() == 0
        pids[path.name] = child.pid
    link.detach()
    yes, no = strings_mod.seen[pids["bpfstr_match"]], strings_mod.seen[pids["bpfstr_other"]]
    assert yes.name == b"bpfstr_match" and no.name == b"bpfstr_other"
    fields = ("lit_eq", "lit_ne", "lit_prefix", "target_eq", "target_ne", "target_prefix",
              "task_eq", "field_eq", "path_eq", "path_prefix", "branch")
    assert {f: getattr(yes, f) for f in fields} == {
        "lit_eq": 1, "lit_ne": 0, "lit_prefix": 1, "target_eq": 1, "target_ne": 0,
        "target_prefix": 1, "task_eq": 1, "field_eq": 1, "path_eq": 1, "path_prefix": 1,
        "branch": 1}
    assert {f: getattr(no, f) for f in fields} == {
        "lit_eq": 0, "lit_ne": 1, "lit_prefix": 0, "target_eq": 0, "target_ne": 1,
        "target_prefix": 0, "task_eq": 0, "field_eq": 0, "path_eq": 0, "path_prefix": 1,
        "branch": 2}


PRINTER = '''\
from bpfimport.lang import *

WATCH: Final[u32] = 0
TARGET: Final[Annotated[bytes, 16]] = b""


@tracepoint("sched/sched_process_exec")
def on_exec(ctx) -> int:
    if current_task().real_parent.tgid != WATCH:
        return 0
    if comm().startswith(TARGET):
        print(f"bpfstr-print {comm()} is {TARGET} from {ctx.filename}")
    else:
        print(f"bpfstr-print {comm()} is not {TARGET}")
    return 0


LICENSE = "GPL"
'''


def test_print_shows_char_arrays_as_text(tracing: None, tmp_path: Path) -> None:
    match = _copy_true(tmp_path, "bpfstr_prnt")
    other = _copy_true(tmp_path, "bpfstr_else")
    with program_module(tmp_path, "strprint.bpf.py", PRINTER) as mod:
        mod.WATCH.value = os.getpid()
        mod.TARGET.value = b"bpfstr_pr"
        link = mod.on_exec.attach()

        def run() -> None:
            for path in (match, other):
                subprocess.run([str(path)], check=True)

        lines = traced_after_nonce(run, "bpfstr-print", 2)
        link.detach()
    assert len(lines) == 2, lines
    assert lines[0].endswith(f"bpfstr-print bpfstr_prnt is bpfstr_pr from {match}"), lines
    assert lines[1].endswith("bpfstr-print bpfstr_else is not bpfstr_pr"), lines
