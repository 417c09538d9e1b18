"""runqlen run as a user runs it, with more CPU-bound processes than CPUs."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.tools.tools2_support import hist_counts, run_tool


def test_runqlen_sees_waiting_tasks_under_cpu_load(tracing: None) -> None:
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(2 * (os.cpu_count() or 1) + 2)]
    try:
        status, out, err = run_tool("runqlen", ["2", "1"])
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    assert status == 0, err
    assert out.startswith("Sampling run queue length... Hit Ctrl-C to end.")
    assert "     runqlen       : count     distribution" in out
    counts = hist_counts(out)
    # 99 Hz on every CPU for 2 s, and with twice as many spinners as CPUs tasks wait
    assert sum(counts.values()) > 100
    assert sum(c for slot, c in counts.items() if int(slot) >= 1) > sum(counts.values()) // 4
