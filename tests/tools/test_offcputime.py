"""offcputime run as a user runs it, on a child that sleeps again and again."""

from __future__ import annotations

import subprocess
import sys

from tests.tools.tools2_support import run_tool

SLEEPER = "import time\nfor _ in range(2000):\n    time.sleep(0.01)\n"


def test_offcputime_folded_shows_the_sleep(tracing: None) -> None:
    child = subprocess.Popen([sys.executable, "-c", SLEEPER])
    try:
        status, out, err = run_tool("offcputime", ["-K", "-f", "-p", str(child.pid), "2"])
    finally:
        child.kill()
        child.wait()
    assert status == 0, err
    lines = out.splitlines()
    assert lines and all(line.startswith("python") for line in lines), out
    sleeping = [line for line in lines if "do_nanosleep_[k]" in line]
    # about 2 s of the 2 s traced were spent in the child's sleeps (microseconds)
    assert sum(int(line.rpartition(" ")[2]) for line in sleeping) > 1_000_000, out
    assert all(line.rpartition(" ")[0].endswith("_[k]") for line in lines)
