"""Shared test set-up: kernel feature probes and the skip-or-fail rule.

A test that needs root, the bpf() syscall or a kernel feature calls
``need(condition, reason)``.  Where the feature is missing it skips with the
reason, except under ``BPFIMPORT_REQUIRE_KERNEL=1`` (set by ``.ci/run``),
where the skip becomes a failure: CI cannot go green by skipping.

Features that some kernels lack by design (kprobes, fentry, lsm) are not
skipped at all: their tests assert the clear error bpfimport gives instead.
Which branch a test expects comes from probes written here, independently of
the code under test (``kernel_has_kprobes()``, ``fentry_load_errno()``): a
test that asked bpfimport whether kprobes exist could not catch bpfimport
being wrong about it.

Every test that needs root, the bpf() syscall or tracefs carries the
``kernel`` marker, set at collection from the fixtures it uses (``kernel``,
``tracing``, ``kernel_session`` or any fixture depending on them) or written
explicitly (``@pytest.mark.kernel``) on a test that needs root without them.
``pytest -m "not kernel"`` is the suite that runs anywhere, as any user.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import importlib
import os
import select
import shutil
import struct
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

REQUIRE_KERNEL = os.environ.get("BPFIMPORT_REQUIRE_KERNEL") == "1"
KERNEL_FIXTURES = frozenset({"kernel_session", "kernel", "tracing"})
BPF_SYSCALL = {"x86_64": 321, "aarch64": 280}
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
    nr = BPF_SYSCALL.get(os.uname().machine)
    if nr is None:
        return False
    fd = libc.syscall(nr, 0, ctypes.byref(attr), ctypes.sizeof(attr))
    if fd < 0:
        return False
    os.close(fd)
    return True


def tracefs_mounted() -> bool:
    return (TRACEFS / "events").is_dir()


@functools.cache
def kernel_has_kprobes() -> bool:
    """Whether this kernel was built with kprobes: it then lists ``register_kprobe``.

    /proc/kallsyms names every kernel function (to any user; only the addresses
    are hidden), so this does not depend on which tracefs or sysfs files
    bpfimport looks at.
    """
    try:
        with open("/proc/kallsyms", encoding="ascii", errors="replace") as f:
            return any(line.split()[2:3] == ["register_kprobe"] for line in f)
    except OSError:
        return False


def vmlinux_func_id(name: str, path: str = "/sys/kernel/btf/vmlinux") -> int | None:
    """The BTF type id of the kernel function ``name`` (a BTF_KIND_FUNC), read from vmlinux BTF.

    Through ``bpfimport.btf``, which tests/btf/test_btf.py checks against bpftool's
    own reading of the same file.
    """
    from bpfimport import btf

    try:
        spec = btf.kernel_spec(path)
    except OSError:  # no vmlinux BTF: no fentry either
        return None
    found = spec.types_by_name(name, btf.Kind.FUNC)
    return found[0].id if found else None


@functools.cache
def fentry_load_errno(function: str = "do_nanosleep") -> int:
    """0 when the kernel loads a minimal fentry program on ``function``, else the errno it gives.

    A raw BPF_PROG_LOAD (type TRACING, attach type TRACE_FENTRY, attach_btf_id
    from vmlinux BTF) of ``r0 = 0; exit``: what the kernel itself says, with
    neither libbpf nor bpfimport in between.
    """
    btf_id = vmlinux_func_id(function)
    if btf_id is None:
        return 2  # ENOENT: no such function in vmlinux BTF
    libc = ctypes.CDLL(None, use_errno=True)
    insns = (ctypes.c_uint8 * 16)(0xB7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0)
    license_ = ctypes.create_string_buffer(b"GPL")
    attr = ctypes.create_string_buffer(128)  # union bpf_attr, the BPF_PROG_LOAD part
    struct.pack_into("<IIQQ", attr, 0, 26, 2, ctypes.addressof(insns), ctypes.addressof(license_))
    struct.pack_into("<I", attr, 68, 24)  # expected_attach_type = BPF_TRACE_FENTRY
    struct.pack_into("<I", attr, 108, btf_id)  # attach_btf_id
    fd = libc.syscall(BPF_SYSCALL[os.uname().machine], 5, attr, ctypes.sizeof(attr))
    if fd < 0:
        return ctypes.get_errno()
    os.close(fd)
    return 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that uses a kernel fixture, directly or through another fixture.

    ``item.fixturenames`` is the whole closure, so a fixture built on ``kernel``
    marks its users too.
    """
    for item in items:
        if KERNEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.kernel)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the outside tools of the selected test modules now (see tests/background.py).

    Then move what collection built (every imported module, the test items, their
    parameters) out of the garbage collector's reach: it all lives until the session ends,
    yet each full collection walked it again (measured in the non-kernel run: 13 full
    collections, ~0.8 s; frozen, ~0.3 s).  Only objects alive now are frozen; what the
    tests make is collected as before.
    """
    import gc

    modules = {getattr(item, "module", None) for item in session.items}
    for module in sorted(filter(None, modules), key=lambda m: m.__name__):
        start = getattr(module, "start_early", None)
        if start is not None:
            start()
    gc.collect()  # what collection left in cycles is freed, not frozen
    gc.freeze()


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests import background

    background.close_all()
    background.remove_scratch()


def traced_after_nonce(
    trigger: Callable[[], object], match: str, want: int, seconds: float = 5.0
) -> list[str]:
    """The trace_pipe lines containing ``match`` that follow a per-run nonce, at most ``seconds``.

    The nonce goes to ``trace_marker`` after trace_pipe is open and before
    ``trigger()`` runs, so a line left in the buffer by an earlier run (the
    buffer keeps what nobody read) comes before it and is never counted, and no
    sleep is needed to let a reader start.  Returns as soon as ``want`` lines
    are in; the caller asserts on what came back.
    """
    nonce = f"bpfimport-nonce-{uuid.uuid4().hex}"
    fd = open_trace_pipe()
    try:
        with open(TRACEFS / "trace_marker", "w") as marker:
            marker.write(nonce)
        trigger()
        return _read_after(fd, nonce, match, want, time.monotonic() + seconds)
    finally:
        os.close(fd)


def open_trace_pipe(seconds: float = 30.0) -> int:
    """trace_pipe, opened non-blocking; waits while another process is its one reader (EBUSY).

    The kernel allows one reader at a time and the machine is shared: a test that finds the
    pipe busy waits for it rather than failing on someone else's reader.
    """
    deadline = time.monotonic() + seconds
    while True:
        try:
            return os.open(TRACEFS / "trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _read_after(fd: int, nonce: str, match: str, want: int, deadline: float) -> list[str]:
    buf = b""
    found: list[str] = []
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 0.05)[0]:
            try:
                buf += os.read(fd, 65536)
            except BlockingIOError:
                continue
        lines = buf.decode(errors="replace").splitlines()
        after = next((i for i, line in enumerate(lines) if nonce in line), None)
        found = [] if after is None else [x for x in lines[after + 1 :] if match in x]
        if len(found) >= want:
            break
    return found


@pytest.fixture(scope="session")
def kernel_session() -> None:
    """``kernel`` for module- and session-scoped fixtures (which cannot use a function fixture)."""
    need(os.geteuid() == 0, "loading BPF programs needs root")
    need(bpf_syscall_works(), "the bpf() syscall is not usable here")


@pytest.fixture
def kernel(kernel_session: None) -> None:
    """Root and a working bpf() syscall, or skip (fail under BPFIMPORT_REQUIRE_KERNEL=1)."""


@pytest.fixture
def tracing(kernel: None) -> None:
    """Everything ``kernel`` needs plus a mounted tracefs (tracepoint attach, trace_pipe)."""
    need(tracefs_mounted(), f"tracefs is not mounted at {TRACEFS} (mount -t tracefs nodev {TRACEFS})")


@pytest.fixture
def bpf_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh folder on sys.path for .bpf.py files; modules imported from it are forgotten after.

    Only those: bpfimport's own modules that a test happened to import first stay, as they
    would in any process (forgetting them would leave two copies of, say, ``bpfimport.spec``,
    whose classes other modules still hold: isinstance() then fails across them).
    """
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    folder = str(tmp_path)
    for name in set(sys.modules) - before:
        mod = sys.modules[name]
        where = getattr(mod, "__file__", None) or ""
        if not (name.endswith("_bpf") or where.startswith(folder + os.sep)):
            continue
        del sys.modules[name]
        close = getattr(mod, "close", None)
        if name.endswith("_bpf") and callable(close):
            close()


@contextlib.contextmanager
def program_module(folder: Path, filename: str, source: str | None = None) -> Iterator[ModuleType]:
    """Import ``tests/programs/FILENAME`` from a copy in ``folder``, through the import hook.

    With ``source``, FILENAME is written from it instead: a program kept out of
    tests/programs because it uses a liberty type checkers refuse (every file there
    type-checks clean, tests/test_type_checkers.py). The module is closed (every link
    and fd released) and forgotten afterwards.
    """
    import bpfimport  # noqa: F401 - installs the import hook

    if source is None:
        shutil.copy(PROGRAMS / filename, folder)
    else:
        (folder / filename).write_text(source)
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


# ---- shared helpers for the runtime tests (tests/runtime/test_*.py) ----------------------


def open_fds() -> list[str]:
    """This process's open file descriptors: compared before/after to catch a leaked fd.

    Leaves out the fds of tests/background.py's runner thread, which starts the next queued
    command whenever one ends, at any point of a test: its output files (in a
    ``bpfimport-bg-*`` folder) and the pipe ``subprocess`` opens for an exec.  bpfimport
    itself opens no pipes.
    """
    fds = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile (listdir's own fd, or the runner's)
            continue
        if target.startswith("pipe:") or "/bpfimport-bg-" in target:
            continue
        fds.append(fd)
    return sorted(fds)


@pytest.fixture
def mod(kernel: None) -> Iterator[ModuleType]:
    """The runtime tests' main module (tests/runtime_objects.py), bound and closed afterwards."""
    from tests.runtime_objects import bound

    m = bound()
    yield m
    m.close()
