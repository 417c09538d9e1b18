"""Helpers shared by the importer, cache and command-line tests (a helper module, no tests).

* ``TRIVIAL``: the smallest module the compiler must accept; ``BROKEN`` the same
  with a statement the compiler must reject at ``BROKEN_LINE``, column 1.
* ``compile_counter``: a fixture that wraps the REAL ``compile_source`` and
  records each call, for tests that count compiles (cache hits and misses).
  Nothing here replaces the compiler: a compiler crash fails these tests.
* ``child()``: run Python code in a fresh interpreter with the cache enabled
  (``PYTHONDONTWRITEBYTECODE`` unset), optionally as another user.
* ``readable_packages()``: a world-readable copy of ``bpfimport`` (and llvmlite)
  for children run as another user, who may not enter the checkout's folder.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT

TRIVIAL = textwrap.dedent(
    """\
    from bpfimport.lang import *

    counts = HashMap(key=u32, value=u64, max_entries=16)


    @syscall
    def prog(ctx) -> int:
        return 0


    LICENSE = "GPL"
    """
)

BROKEN = TRIVIAL + "SYNTAX_ERROR\n"
BROKEN_LINE = TRIVIAL.count("\n") + 1  # the line of SYNTAX_ERROR, counted here, not by the compiler
BROKEN_MESSAGE = "an expression statement at module level would run user-space code"

EM_BPF = 247  # e_machine of a BPF ELF object (elf.h)


def libc_path() -> str:
    """The libc this process has mapped (as the kernel resolves uprobes: by file); "" if none."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if "/libc.so" in path or "/libc-" in path:
                return os.path.realpath(path)
    return ""


def is_bpf_object(data: bytes) -> bool:
    """An ELF file whose machine is BPF: what the compiler (never a stand-in) produces."""
    return data[:4] == b"\x7fELF" and len(data) > 20 and struct.unpack_from("<H", data, 18)[0] == EM_BPF


class CompileCounter:
    """Calls the real compiler and records (filename, module_name) for each call."""

    def __init__(self, real: Callable) -> None:
        self.real = real
        self.calls: list[tuple[str, str | None]] = []

    def __call__(self, source, filename, module_name=None, options=None):  # type: ignore[no-untyped-def]
        self.calls.append((filename, module_name))
        return self.real(source, filename, module_name, options)


@pytest.fixture
def compile_counter(monkeypatch: pytest.MonkeyPatch) -> CompileCounter:
    import bpfimport.compiler

    counter = CompileCounter(bpfimport.compiler.compile_source)
    monkeypatch.setattr(bpfimport.compiler, "compile_source", counter)
    return counter


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> list:
    """The runtime, with every bind_module call recorded as (module, spec, data)."""
    import bpfimport.runtime.module as rm

    calls: list = []
    real = rm.bind_module

    def recording(module, spec, data):  # type: ignore[no-untyped-def]
        calls.append((module, spec, data))
        return real(module, spec, data)

    monkeypatch.setattr(rm, "bind_module", recording)
    return calls


@pytest.fixture
def writable_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """This environment sets PYTHONDONTWRITEBYTECODE=1; cache-writing tests turn it off."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(sys, "pycache_prefix", None)


def _copy_package(name: str, into: Path) -> None:
    """Hard-link (or copy, across file systems) package ``name`` into ``into``."""
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.submodule_search_locations, f"{name} is not installed"
    source = spec.submodule_search_locations[0]

    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, into / name, copy_function=link_or_copy,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


@functools.cache
def readable_packages(*names: str) -> Path:
    """A folder anyone can read holding copies of packages ``names`` (default: ``bpfimport`` and
    ``llvmlite``), removed at exit.

    A test that drops privileges can't rely on the checkout (or its venv) being readable
    by that user: a clone in a private home or a ``mktemp -d`` is not.  Its child gets
    this folder as its PYTHONPATH instead.  ``readable_packages("bpfimport")`` is bpfimport
    without llvmlite, from wherever this run imports it (the checkout, or CI's wheel).
    """
    folder = Path(tempfile.mkdtemp(prefix="bpfimport-readable-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    for name in names or ("bpfimport", "llvmlite"):
        _copy_package(name, folder)
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644 | (path.stat().st_mode & 0o111))
    return folder


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPYCACHEPREFIX", None)
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def child_argv(code: str, args: tuple[str, ...] = ()) -> list[str]:
    """The command line :func:`child` runs (for a ``tests.background.Command`` doing the same)."""
    prelude = "import sys; sys.path.insert(0, '.')\nimport bpfimport\n"
    return [sys.executable, *args, "-c", prelude + textwrap.dedent(code)]


def child(
    code: str,
    cwd: Path | str,
    *,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    user: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter in ``cwd`` (on its sys.path); ``user`` runs it as that user."""
    cmd = child_argv(code, args)
    if user:
        cmd = ["setpriv", f"--reuid={user}", "--regid=nogroup", "--clear-groups", *cmd]
        env = dict(env or child_env())
        env["PYTHONPATH"] = str(readable_packages())
    return subprocess.run(
        cmd, cwd=cwd, env=env or child_env(), capture_output=True, text=True, timeout=timeout
    )


def run_module_in_process(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m MODULE ARGS`` run in this interpreter: its exit status and what it printed.

    For command lines that stop before touching the kernel (``-h``, usage errors): a
    fresh interpreter per case costs ~70 ms of start-up that tells nothing new once one
    case per command has run the real ``python -m`` (each test file keeps one such case).
    """
    import contextlib
    import io
    import runpy
    import warnings

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = [f"python -m {module}", *args]
    code: int | str | None = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "found in sys.modules": expected
            try:
                runpy.run_module(module, run_name="__main__", alter_sys=False)
            except SystemExit as stop:
                code = stop.code
    finally:
        sys.argv = argv
    status = code if isinstance(code, int) else (0 if code is None else 1)
    return subprocess.CompletedProcess([module, *args], status, out.getvalue(), err.getvalue())
