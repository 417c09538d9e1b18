"""Attach a tracepoint through an import and count exact events."""

from __future__ import annotations

import os
import threading

import pytest

import bpfimport  # noqa: F401 - installs the import hook
from tests.conftest import need, program_module


@pytest.fixture
def exact(tracing, bpf_dir):
    need(os.path.isdir("/sys/kernel/tracing/events/syscalls/sys_enter_getppid"),
         "syscall tracepoints (CONFIG_FTRACE_SYSCALLS) are not available")
    with program_module(bpf_dir, "exact_count.bpf.py") as mod:
        yield mod


def test_counts_exactly_the_calls_made_while_attached(exact):
    exact.THREAD.value = threading.get_native_id()
    for _ in range(3):
        os.getppid()  # before attach: not counted
    with exact.on_getppid.attach():
        for _ in range(1000):
            os.getppid()
    for _ in range(3):
        os.getppid()  # after detach: not counted
    assert exact.calls[0] == 1000
    assert exact.seen.value == 1000


def test_close_detaches_and_reimport_starts_fresh(exact):
    exact.THREAD.value = threading.get_native_id()
    exact.on_getppid.attach()
    os.getppid()
    assert exact.calls[0] == 1
    fds_before_close = len(os.listdir("/proc/self/fd"))
    exact.close()
    assert len(os.listdir("/proc/self/fd")) < fds_before_close
    os.getppid()
    exact.THREAD.value = threading.get_native_id()
    with exact.on_getppid.attach():  # loads again, from zero
        os.getppid()
        os.getppid()
    assert exact.calls[0] == 2
