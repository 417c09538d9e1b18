"""Kernel data in the kernel: CO-RE reads of the running task, raw tracepoint arguments and
tracepoint records, each checked against what the test knows without BPF (its pid and
thread id, /proc, the child process it starts, the files it opens).

``tests/programs/kernel_data.bpf.py`` holds the programs.  Raw tracepoint programs run
through BPF_PROG_TEST_RUN, which runs them in the calling thread: ``current_task()`` is
then the test's own thread.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import need, program_module


@pytest.fixture
def kd(kernel: None, tmp_path: Path) -> Iterator[ModuleType]:
    with program_module(tmp_path, "kernel_data.bpf.py") as mod:
        yield mod


def proc_stat(pid: int | str = "self") -> list[str]:
    """/proc/PID/stat's fields after the comm: proc(5)'s field N is item N - 3."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def run_read_task(kd: ModuleType, args: tuple[int, ...] = (0, 0, 0, 0)) -> object:
    kd.seen[0] = kd.Task()
    kd.read_task.test_run(ctx=struct.pack(f"<{len(args)}Q", *args))
    return kd.seen[0]


def test_the_running_task_read_through_co_re(kd: ModuleType) -> None:
    s = run_read_task(kd)
    assert s.pid == threading.get_native_id() == os.getpid()  # the main thread
    assert s.tgid == os.getpid()
    assert s.ppid == os.getppid()  # through real_parent, a pointer hop
    assert s.arg_start == int(proc_stat()[48 - 3])  # mm->arg_start: two hops, an anonymous struct
    comm = Path("/proc/thread-self/comm").read_bytes().rstrip(b"\n")
    assert s.comm == comm
    assert s.comm0 == comm[0] and s.comm_i == comm[3]
    assert s.vruntime > 0
    assert s.pid_nr == s.pid  # the thread's struct pid, through a flexible array of structs
    assert s.rcu_special == 0  # a union (and a struct in it): no RCU read section was preempted
    assert s.task >> 63 == 1  # a kernel address


def test_a_second_thread_reads_its_own_task(kd: ModuleType) -> None:
    got: list[tuple[object, int]] = []

    def body() -> None:
        got.append((run_read_task(kd), threading.get_native_id()))

    t = threading.Thread(target=body)
    t.start()
    t.join()
    s, tid = got[0]
    assert tid != os.getpid()
    assert (s.pid, s.tgid, s.ppid) == (tid, os.getpid(), os.getppid())  # type: ignore[attr-defined]


def test_a_bitfield_follows_sched_setscheduler(kd: ModuleType) -> None:
    """task_struct.sched_reset_on_fork is a 1-bit field: read through the field-info relocations."""
    before = os.sched_getscheduler(0)
    param = os.sched_getparam(0)
    results = []
    for flag in (0, os.SCHED_RESET_ON_FORK, 0):
        os.sched_setscheduler(0, os.SCHED_OTHER | flag, os.sched_param(0))
        results.append(run_read_task(kd).reset_on_fork)  # type: ignore[attr-defined]
    os.sched_setscheduler(0, before, param)
    assert results == [0, 1, 0]


def test_raw_tracepoint_arguments_by_name(kd: ModuleType) -> None:
    """ctx.prev (a task_struct pointer), ctx.next, ctx.prev_state, ctx.preempt: the names of
    sched_switch's prototype in the kernel's BTF, given here the test thread's own task."""
    task = run_read_task(kd).task  # type: ignore[attr-defined]
    s = run_read_task(kd, (1, task, task, 0x1234))
    assert s.arg1 == task
    assert (s.prev_pid, s.next_tgid) == (threading.get_native_id(), os.getpid())
    assert (s.preempt, s.prev_state) == (1, 0x1234)


@pytest.fixture
def watched(tracing: None, kd: ModuleType) -> Iterator[ModuleType]:
    need(Path("/sys/kernel/tracing/events/syscalls/sys_enter_openat").is_dir(),
         "the kernel has no syscall tracepoints (CONFIG_FTRACE_SYSCALLS)")
    kd.WATCH.value = os.getpid()
    links = [p.attach() for p in (kd.on_exec, kd.on_fork, kd.on_exit, kd.on_open, kd.on_open_exit)]
    yield kd
    for link in links:
        link.detach()


def drain(kd: ModuleType, done: Callable[[list[Any]], bool], seconds: float = 5.0) -> list[Any]:
    """The events until ``done(events)`` (or ``seconds``): other processes the test's process
    starts meanwhile (tests/background.py) send events too, so a count is not enough."""
    got: list[Any] = []
    deadline = time.monotonic() + seconds
    while not done(got) and time.monotonic() < deadline:
        kd.events.poll(got.append, timeout_ms=100)
    return got


def test_exec_and_fork_of_a_child(watched: ModuleType) -> None:
    true = shutil.which("true")
    assert true is not None
    child = subprocess.Popen([true])
    child.wait()
    events = drain(watched, lambda got: {1, 2, 5} <= {
        e.kind for e in got if child.pid in (e.pid, e.other)})
    # the test process may start other children meanwhile (tests/background.py): this one's
    execs = [e for e in events if e.kind == 1 and e.pid == child.pid]  # type: ignore[attr-defined]
    forks = [e for e in events if e.kind == 2 and e.other == child.pid]  # type: ignore[attr-defined]
    assert [(e.other, e.ppid, e.name) for e in execs] == [  # type: ignore[attr-defined]
        (child.pid, os.getpid(), true.encode())]  # __data_loc filename, real_parent.tgid
    comm = Path("/proc/thread-self/comm").read_bytes().rstrip(b"\n")
    assert [(e.pid, e.name) for e in forks] == [(os.getpid(), comm)]  # type: ignore[attr-defined]
    exits = [e.name for e in events if e.kind == 5 and e.pid == child.pid]  # type: ignore[attr-defined]
    assert exits == [b"true"]  # the record's char[16] comm, after the exec


def test_openat_enter_and_exit(watched: ModuleType, tmp_path: Path) -> None:
    """A present and a missing file: the user-memory path and the flags on entry (a
    syscall's pointer argument is a user pointer), the fd or -ENOENT on exit."""
    (tmp_path / "present.txt").write_text("x")
    names = {b"present.txt", b"missing.txt"}
    libc = ctypes.CDLL(None, use_errno=True)  # libc's openat: the flags are exactly these
    flags = os.O_RDONLY | os.O_CLOEXEC
    folder = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        drain(watched, lambda got: False, seconds=0.2)  # what came before
        fd = libc.openat(folder, b"present.txt", flags)
        assert fd >= 0
        os.close(fd)
        assert libc.openat(folder, b"missing.txt", flags | os.O_NOFOLLOW) == -1
    finally:
        os.close(folder)
    events = drain(watched, lambda got: names <= {e.name for e in got if e.kind == 3}
                   and {fd, -errno.ENOENT} <= {e.other for e in got if e.kind == 4})
    enters = [(e.name, e.flags, e.ppid) for e in events  # type: ignore[attr-defined]
              if e.kind == 3 and e.name in names]  # type: ignore[attr-defined]
    assert enters == [(b"present.txt", flags, os.getppid()),
                      (b"missing.txt", flags | os.O_NOFOLLOW, os.getppid())]
    rets = [e.other for e in events if e.kind == 4]  # type: ignore[attr-defined]
    assert fd in rets and -errno.ENOENT in rets


def test_kernel_types_in_annotations_and_casts(kd: ModuleType, tmp_path: Path) -> None:
    """tests/programs/kernel_types.bpf.py: ``t: kernel.task_struct``, ``kernel.task_struct(addr)``,
    ``kernel.pid_t`` (the file is also type-checked clean by mypy and pyright)."""
    task = run_read_task(kd).task  # type: ignore[attr-defined]  # this thread's task_struct
    folder = tmp_path / "types"
    folder.mkdir()
    with program_module(folder, "kernel_types.bpf.py") as mod:
        mod.typed.test_run(ctx=struct.pack("<4Q", 0, task, task, 0))
        arg_start, arg_end = (int(x) for x in proc_stat()[48 - 3:50 - 3])
        assert [mod.out[i] for i in range(5)] == [
            threading.get_native_id(), os.getpid(), os.getppid(), threading.get_native_id(),
            (arg_start - arg_end) % (1 << 64)]
