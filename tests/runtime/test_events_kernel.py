"""Event streams: ring buffer output/reserve/submit/discard and perf output, read with poll()."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import bpfimport  # noqa: F401 - installs the import hook
from bpfimport import CompileError
from bpfimport.compiler import compile_source
from tests.conftest import PROGRAMS, need, program_module


@pytest.fixture
def events(kernel, tmp_path):
    with program_module(tmp_path, "events.bpf.py") as mod:
        yield mod


def test_ring_buffer_reserve_submit_and_output(events):
    events.send.test_run()
    events.send.test_run()
    got: list[tuple[int, int, bytes]] = []
    kinds: set[type] = set()

    def collect(e) -> None:
        kinds.add(type(e))
        got.append((e.pid, e.n, e.comm))

    events.events.poll(collect, timeout_ms=100)
    comm = Path("/proc/thread-self/comm").read_bytes().strip()[:15]
    pid = os.getpid()
    assert got == [(pid, 1, comm), (pid, 101, b""), (pid, 2, comm), (pid, 102, b"")]
    assert kinds == {events.Event}  # the one struct sent is what poll() decodes


def test_perf_output_on_the_current_cpu(events, tracing):
    need(os.path.isdir("/sys/kernel/tracing/events/syscalls/sys_enter_getppid"),
         "syscall tracepoints (CONFIG_FTRACE_SYSCALLS) are not available")
    got: list[tuple[int, int]] = []
    with events.on_getppid.attach():  # the reader opens at load: nothing is sent unread
        for _ in range(3):
            os.getppid()
    events.perf.poll(lambda e: got.append((e.pid, e.n)), timeout_ms=100)
    assert got.count((os.getpid(), 7)) == 3


@pytest.mark.parametrize("body,fragment", [
    ("events.push(1)", "has no method 'push'"),
    ("events.reserve(5)", "reserve() takes a @struct type"),
    ("events.submit(5)", "submit() takes what reserve() returned"),
    ("events.output(Event(), ktime())", "flags must be a non-negative constant"),
])
def test_event_errors(body, fragment):
    src = (PROGRAMS / "events.bpf.py").read_text().replace("    global counter\n", f"    {body}\n    global counter\n", 1)
    with pytest.raises(CompileError) as info:
        compile_source(src, "events.bpf.py", "events_bpf")
    assert fragment in info.value.msg


def test_perf_output_needs_the_program_context():
    src = (PROGRAMS / "events.bpf.py").read_text() + (
        "\n\ndef helper(x: u32) -> u32:\n    perf.output(x)\n    return x\n")
    with pytest.raises(CompileError, match="needs the program's context"):
        compile_source(src, "events.bpf.py", "events_bpf")
