"""runqlat, runqlen, biolatency, biosnoop, profile, offcputime without the kernel: help, bad
options, compiling, and how the stack tools print stacks."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from bpfimport.tools import _stacks
from tests.tools.cli_support import check_compileall, check_real_help, in_process

TOOLS = ("runqlat", "runqlen", "biolatency", "biosnoop", "profile", "offcputime")


run_cli = in_process


def test_help_as_users_run_it() -> None:
    check_real_help(TOOLS[0])

@pytest.mark.parametrize("name", TOOLS)
def test_help_reads_well(name: str) -> None:
    done = run_cli(name, "-h")
    assert done.returncode == 0 and not done.stderr
    assert done.stdout.startswith(f"usage: python -m bpfimport.tools.{name}")
    assert "examples:\n" in done.stdout and f"    ./{name} " in done.stdout


@pytest.mark.parametrize(("name", "args"), [
    ("runqlat", ["-P", "-L"]), ("runqlat", ["-p", "0"]), ("runqlat", ["0"]), ("runqlat", ["1", "0"]),
    ("runqlen", ["x"]), ("biolatency", ["1", "-3"]), ("biosnoop", ["--duration", "0"]),
    ("profile", ["-U", "-K"]), ("profile", ["-F", "0"]), ("profile", ["-1"]),
    ("offcputime", ["-p", "x"]), ("offcputime", ["-m", "x"]),
])
def test_bad_options_are_usage_errors(name: str, args: list[str]) -> None:
    done = run_cli(name, *args)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "error:" in done.stderr.splitlines()[-1]


def test_the_tools_compile(tmp_path: Path) -> None:
    check_compileall(TOOLS, tmp_path)


KERNEL = {0x10: "bpf_prog_abc_on_switch", 0x11: "__traceiter_sched_switch", 0x20: "__schedule",
          0x21: "schedule", 0x22: "do_nanosleep"}
USER = {0x100: "clock_nanosleep", 0x101: "main", 0x102: "main"}


def key(pid: int, user: int, kernel: int, comm: bytes = b"sleeper") -> SimpleNamespace:
    return SimpleNamespace(pid=pid, user_stack=user, kernel_stack=kernel, comm=comm + b"\0junk")


@pytest.fixture
def named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_stacks, "ksym", lambda addr: KERNEL[addr])
    monkeypatch.setattr(_stacks, "usym", lambda addr, pid: USER[addr])


STACKS = {1: [0x10, 0x11, 0x20, 0x21, 0x22], 2: [0x100, 0x101], 3: [0x100, 0x102]}
# stacks 2 and 3 differ only in an address inside main: they print as one (3 + 4)
ROWS = [(key(7, 2, 1), 3), (key(7, 3, 1), 4), (key(8, -14, 1, b"kworker/0:1"), 2)]
COUNTS = SimpleNamespace(items=lambda: ROWS)  # a counts map handle: items() as (key, value)


def test_folded_lines_for_flame_graphs(named: None) -> None:
    lines: list[str] = []
    _stacks.print_stacks(STACKS, COUNTS, folded=True, emit=lines.append)
    assert lines == [
        "kworker/0:1;do_nanosleep_[k];schedule_[k];__schedule_[k] 2",
        "sleeper;main;clock_nanosleep;do_nanosleep_[k];schedule_[k];__schedule_[k] 7",
    ]
    lines.clear()
    _stacks.print_stacks(STACKS, COUNTS, folded=True, delimited=True, emit=lines.append)
    assert lines[1] == "sleeper;main;clock_nanosleep;-;do_nanosleep_[k];schedule_[k];__schedule_[k] 7"


def test_frame_lists_as_bcc_prints_them(named: None) -> None:
    lines: list[str] = []
    _stacks.print_stacks(STACKS, COUNTS, folded=False, delimited=True, emit=lines.append)
    assert "\n".join(lines) == (
        "    __schedule\n    schedule\n    do_nanosleep\n"
        "    -                kworker/0:1 (8)\n        2\n\n"
        "    __schedule\n    schedule\n    do_nanosleep\n    --\n    clock_nanosleep\n    main\n"
        "    -                sleeper (7)\n        7\n"
    )


def test_folded_names_hold_no_separators(named: None) -> None:
    rows = [(key(9, 2, -14, b"my app;x\n"), 5)]
    lines: list[str] = []
    _stacks.print_stacks(STACKS, SimpleNamespace(items=lambda: rows), folded=True, emit=lines.append)
    assert lines == ["my_app_x_;main;clock_nanosleep 5"]
