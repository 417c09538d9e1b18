"""Shared test set-up: kernel feature probes and the skip-or-fail rule.

A test that needs root, the bpf() syscall or a kernel feature calls
``need(condition, reason)``.  Where the feature is missing it skips with the
reason, except under ``BPFIMPORT_REQUIRE_KERNEL=1`` (set by ``.ci/run``),
where the skip becomes a failure: CI cannot go green by skipping.

Features that some kernels lack by design (kprobes, fentry, lsm) are not
skipped at all: their tests assert the clear error bpfimport gives instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

REQUIRE_KERNEL = os.environ.get("BPFIMPORT_REQUIRE_KERNEL") == "1"
ROOT = Path(__file__).resolve().parent.parent
TRACEFS = Path("/sys/kernel/tracing")
PROGRAMS = ROOT / "tests" / "programs"


def pytest_configure(config: pytest.Config) -> None:
    """In .ci/run's wheel pass (BPFIMPORT_WHEEL_VENV set), refuse to test anything but the wheel.

    Otherwise a stray checkout on sys.path would make the pass silently test
    the source tree, and a file the wheel leaves out would go unnoticed.
    """
    venv = os.environ.get("BPFIMPORT_WHEEL_VENV")
    if not venv:
        return
    import bpfimport

    where = Path(bpfimport.__file__).resolve()
    if not where.is_relative_to(Path(venv).resolve()):
        raise pytest.UsageError(f"BPFIMPORT_WHEEL_VENV={venv} but bpfimport is imported from {where}")


def need(condition: bool, reason: str) -> None:
    if condition:
        return
    if REQUIRE_KERNEL:
        pytest.fail(f"BPFIMPORT_REQUIRE_KERNEL=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@functools.cache
def bpf_syscall_works() -> bool:
    """Create and close a one-entry array map with the raw bpf() syscall."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    attr = (ctypes.c_uint32 * 30)()
    attr[0], attr[1], attr[2], attr[3] = 2, 4, 4, 1  # ARRAY, key 4, value 4, 1 entry
    nr = {"x86_64": 321, "aarch64": 280}.get(os.uname().machine)
    if nr is None:
        return False
    fd = libc.syscall(nr, 0, ctypes.byref(attr), ctypes.sizeof(attr))
    if fd < 0:
        return False
    os.close(fd)
    return True


def tracefs_mounted() -> bool:
    return (TRACEFS / "events").is_dir()


@pytest.fixture
def kernel() -> None:
    """Root and a working bpf() syscall, or skip (fail under BPFIMPORT_REQUIRE_KERNEL=1)."""
    need(os.geteuid() == 0, "loading BPF programs needs root")
    need(bpf_syscall_works(), "the bpf() syscall is not usable here")


@pytest.fixture
def tracing(kernel: None) -> None:
    """Everything ``kernel`` needs plus a mounted tracefs (tracepoint attach, trace_pipe)."""
    need(tracefs_mounted(), f"tracefs is not mounted at {TRACEFS} (mount -t tracefs nodev {TRACEFS})")


@pytest.fixture
def bpf_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh folder on sys.path for .bpf.py files; modules imported from it are forgotten after."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        mod = sys.modules.pop(name)
        close = getattr(mod, "close", None)
        if name.endswith("_bpf") and callable(close):
            close()


@contextlib.contextmanager
def program_module(folder: Path, filename: str) -> Iterator[ModuleType]:
    """Import ``tests/programs/FILENAME`` from a copy in ``folder``, through the import hook.

    The module is closed (every link and fd released) and forgotten afterwards.
    """
    import bpfimport  # noqa: F401 - installs the import hook

    shutil.copy(PROGRAMS / filename, folder)
    name = filename[: -len(".bpf.py")] + "_bpf"
    sys.path.insert(0, str(folder))
    try:
        mod = importlib.import_module(name)
    finally:
        sys.path.remove(str(folder))
    try:
        yield mod
    finally:
        mod.close()
        sys.modules.pop(name, None)


# ---- shared helpers for the runtime tests (tests/test_runtime_*.py) ----------------------


def open_fds() -> list[str]:
    """This process's open file descriptors: compared before/after to catch a leaked fd."""
    return sorted(os.listdir("/proc/self/fd"))


@pytest.fixture
def mod(kernel: None) -> Iterator[ModuleType]:
    """The runtime tests' main module (tests/runtime_objects.py), bound and closed afterwards."""
    from tests.runtime_objects import bound

    m = bound()
    yield m
    m.close()
