"""benchmarks/floor.py, the start-up floor tools.py puts beside funclatency: it must open the two
probes it claims to (a floor that opened nothing would flatter every tool), print its line only
then, compile the IR it is given, and exit cleanly on Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import bpfimport.tools
from bpfimport.elf import func_offset
from bpfimport.importer import compile_path
from bpfimport.runtime import libpath
from bpfimport.runtime.probes import uprobe_pmu
from tests.conftest import need

FLOOR = Path(__file__).resolve().parent.parent / "benchmarks" / "floor.py"
TOOLS = Path(bpfimport.tools.__path__[0])  # the installed package's (CI's wheel pass has no tree)
LINE = b"Tracing: both probes open\n"


def perf_event_fds(pid: int) -> int:
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:[perf_event]"
        except OSError:
            continue
    return count


def run_floor(*args: str) -> tuple[int, int, bytes]:
    """Start floor.py, wait for its line, count its perf events, Ctrl-C it: (events, rc, stderr)."""
    proc = subprocess.Popen([sys.executable, str(FLOOR), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        events = perf_event_fds(proc.pid) if line == LINE else -1
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert line == LINE, err
        return events, proc.returncode, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture
def usleep() -> tuple[str, str]:
    need(uprobe_pmu() is not None, "this kernel has no uprobe PMU")
    path = libpath.resolve_binary("libc.so.6")
    offset = func_offset(path, "usleep")
    assert offset is not None
    return path, hex(offset)


def test_floor_opens_both_probes_before_its_line(kernel: None, usleep: tuple[str, str]) -> None:
    events, rc, err = run_floor(*usleep)
    assert (events, rc, err) == (2, 0, b"")


def test_floor_cold_compiles_the_ir_it_is_given(kernel: None, usleep: tuple[str, str],
                                                tmp_path: Path) -> None:
    ir = tmp_path / "funclatency.ll"
    ir.write_text(compile_path(str(TOOLS / "funclatency.bpf.py")).ir)
    events, rc, err = run_floor(*usleep, "--compile", str(ir))
    assert (events, rc, err) == (2, 0, b"")
    ir.write_text("this is not LLVM IR")  # what it compiles is really compiled
    done = subprocess.run([sys.executable, str(FLOOR), *usleep, "--compile", str(ir)],
                          capture_output=True, timeout=60)
    assert done.returncode != 0 and b"LLVM" in done.stderr


def test_floor_refuses_what_it_cannot_open(kernel: None, usleep: tuple[str, str]) -> None:
    size = os.stat(usleep[0]).st_size
    done = subprocess.run([sys.executable, str(FLOOR), usleep[0], hex(size + 4096)],
                          capture_output=True, timeout=60)
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr.startswith(b"floor.py: perf_event_open: "), done.stderr
    usage = subprocess.run([sys.executable, str(FLOOR), usleep[0]], capture_output=True, timeout=60)
    assert usage.returncode == 2 and b"floor.py PATH OFFSET" in usage.stderr
