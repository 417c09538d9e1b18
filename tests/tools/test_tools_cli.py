"""The tools' command lines and formatting, without the kernel: help, bad options, columns."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bpfimport.tools import _common
from bpfimport.tools.exitsnoop import exit_text
from bpfimport.tools.syscount import syscall_names
from tests.conftest import ROOT

TOOLS = ("execsnoop", "opensnoop", "exitsnoop", "syscount")
TOOLS_DIR = ROOT / "bpfimport" / "tools"


def run_tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", f"bpfimport.tools.{name}", *args],
                          capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("name", TOOLS)
def test_help_reads_well(name: str) -> None:
    done = run_tool(name, "-h")
    assert done.returncode == 0 and not done.stderr
    assert done.stdout.startswith(f"usage: python -m bpfimport.tools.{name}")
    assert "examples:\n" in done.stdout and f"./{name} " in done.stdout
    assert "-d SECONDS, --duration SECONDS" in done.stdout


@pytest.mark.parametrize(("name", "args"), [
    ("execsnoop", ["--max-args", "0"]), ("execsnoop", ["-n", "("]), ("opensnoop", ["-p", "0"]),
    ("opensnoop", ["-p", "x"]), ("exitsnoop", ["-d", "-1"]), ("syscount", ["--syscall", "nope"]),
    ("syscount", ["-e", "ENOPE"]), ("syscount", ["-T", "0"]),
])
def test_bad_options_are_usage_errors(name: str, args: list[str]) -> None:
    done = run_tool(name, *args)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "error:" in done.stderr.splitlines()[-1]


def test_every_tool_compiles(tmp_path: Path) -> None:
    """compileall over a copy of the tools' folder: what packagers run to prefill the cache."""
    for name in TOOLS:
        shutil.copy(TOOLS_DIR / f"{name}.bpf.py", tmp_path)
    done = subprocess.run([sys.executable, "-m", "bpfimport", "compileall", str(tmp_path)],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "__pycache__").iterdir())) == len(TOOLS)


def test_exit_text() -> None:
    assert exit_text(0) == "0"
    assert exit_text(7 << 8) == "code 7"
    assert exit_text(9) == "signal 9 (KILL)"
    assert exit_text(11 | 0x80) == "signal 11 (SEGV), core dumped"


def test_columns_align_like_bcc() -> None:
    cols = _common.Columns(("PID", -6), ("FD", 4), ("PATH", 0))
    assert cols.header() == "PID      FD PATH"
    assert cols.format([12, -1, "/a b"]) == "12       -1 /a b"
    assert _common.text(b"abc\0junk") == "abc"


def test_syscall_numbers() -> None:
    names = syscall_names("x86_64")
    assert (names[0], names[2], names[59], names[257]) == ("read", "open", "execve", "openat")
    assert syscall_names("no-such-machine") == {}


def test_set_globals_refuses_unknown_names() -> None:
    mod = _common.tool_module("exitsnoop")
    with pytest.raises(KeyError, match="NOPE"):
        _common.set_globals(mod, NOPE=1)
    _common.set_globals(mod, PER_THREAD=True)
    assert mod.PER_THREAD.value in (1, True)
    _common.set_globals(mod, PER_THREAD=False)
