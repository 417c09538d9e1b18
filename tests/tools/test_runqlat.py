"""runqlat run as a user runs it, with threads that sleep and wake in a child process."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.tools.tools2_support import hist_counts, run_tool

WAKERS = (
    "import threading, time\n"
    "def loop():\n"
    "    end = time.monotonic() + 20\n"
    "    while time.monotonic() < end:\n"
    "        time.sleep(0.001)\n"
    "ts = [threading.Thread(target=loop) for _ in range(4)]\n"
    "[t.start() for t in ts]; [t.join() for t in ts]\n"
)


@pytest.fixture
def wakers():
    child = subprocess.Popen([sys.executable, "-c", WAKERS])
    yield child
    child.kill()
    child.wait()


def test_runqlat_per_process_histogram_of_one_pid(tracing: None, wakers: subprocess.Popen) -> None:
    status, out, err = run_tool("runqlat", ["-P", "-p", str(wakers.pid), "2", "1"])
    assert status == 0, err
    assert out.startswith("Tracing run queue latency... Hit Ctrl-C to end.")
    # -p: only the child's section; its threads woke ~1000 times a second each
    assert re.findall(r"^pid = (\d+)$", out, re.M) == [str(wakers.pid)]
    assert "usecs               : count     distribution" in out
    assert sum(hist_counts(out).values()) > 500


def test_runqlat_ctrl_c_prints_the_histogram_and_exits_0(tracing: None, wakers: subprocess.Popen) -> None:
    status, out, err = run_tool("runqlat", ["-m"], interrupt_after=1.5)
    assert status == 0, err
    assert "Traceback" not in err
    assert "msecs               : count     distribution" in out
    assert hist_counts(out).get("0 -> 1", 0) > 100
