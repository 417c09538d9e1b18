"""offcputime run as a user runs it, on a child that sleeps again and again."""

from __future__ import annotations

import subprocess
import sys

from tests.tools.tools2_support import run_tool

# prints a line once it is sleeping, so the tool traces sleeps, not the interpreter's start
# (a CI run once caught only a start-up preemption in its 2 s window, under load)
SLEEPER = ("import sys, time\ntime.sleep(0.01)\nprint('sleeping', flush=True)\n"
           "for _ in range(2000):\n    time.sleep(0.01)\n")


def start_sleeper() -> subprocess.Popen[bytes]:
    child = subprocess.Popen([sys.executable, "-c", SLEEPER], stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline() == b"sleeping\n"
    return child


def test_offcputime_folded_shows_the_sleep(tracing: None) -> None:
    child = start_sleeper()
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


def test_offcputime_stacks_start_at_the_scheduler(tracing: None) -> None:
    child = start_sleeper()
    try:
        status, out, err = run_tool("offcputime", ["-p", str(child.pid), "2"])
    finally:
        child.kill()
        child.wait()
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == f"Tracing off-CPU time (us) of PID {child.pid} by user + kernel stack for 2 secs."
    # the tracing machinery's frames (the BPF program, bpf_trace_run4...) are left out
    assert "    __schedule" in lines[1:3], out
    assert not any("bpf_prog_" in line or "__traceiter_" in line for line in lines)
    assert "    -                python" in out and f"({child.pid})" in out
