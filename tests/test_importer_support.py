"""Helpers shared by the importer, cache and command-line tests (no tests in here).

* ``TRIVIAL``: the smallest module the compiler must accept.
* ``compiler_ready()``: whether the real compiler compiles it yet; tests that
  need real objects skip with that reason until it does.
* ``fake_compiler``: a fixture replacing ``compile_source`` with a counting
  fake that returns a tiny ELF-looking object, so the import and cache
  machinery is tested on its own, fast, and before the compiler exists.
* ``child()``: run Python code in a fresh interpreter with the cache enabled
  (``PYTHONDONTWRITEBYTECODE`` unset), optionally with the fake compiler.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import need

ROOT = Path(__file__).resolve().parent.parent

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

FAKE_ELF = b"\x7fELF\x02\x01\x01" + bytes(57) + b"fake object"


@functools.cache
def compiler_ready() -> str | None:
    """None when the real compiler compiles TRIVIAL, else why not (the skip reason)."""
    try:
        from bpfimport.compiler import compile_source

        out = compile_source(TRIVIAL, "trivial.bpf.py", "trivial_bpf")
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
        return f"the compiler does not compile a trivial module yet ({type(exc).__name__}: {exc})"
    if not out.object.startswith(b"\x7fELF"):
        return "the compiler does not produce an ELF object yet"
    return None


def need_compiler() -> None:
    reason = compiler_ready()
    need(not reason, reason or "")


FAKE_COMPILER = textwrap.dedent(
    """\
    import bpfimport.compiler as _c
    from bpfimport.spec import ModuleSpec as _MS
    def _fake(source, filename, module_name=None, options=None):
        if b"SYNTAX_ERROR" in (source if isinstance(source, bytes) else source.encode()):
            from bpfimport.errors import CompileError
            raise CompileError("bad construct", filename, 3, 5)
        return _c.CompiledModule(%r, _MS(module_name or "x", filename), "; ir")
    _c.compile_source = _fake
    """
) % (FAKE_ELF,)


class FakeCompiler:
    """Counts compiles; ``fail`` makes the next ones raise a CompileError at line 3."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []
        self.fail = False

    def __call__(self, source, filename, module_name=None, options=None):
        from bpfimport.compiler import CompiledModule
        from bpfimport.errors import CompileError
        from bpfimport.spec import ModuleSpec

        self.calls.append((filename, module_name))
        text = source if isinstance(source, bytes) else source.encode()
        if self.fail or b"SYNTAX_ERROR" in text:
            raise CompileError("bad construct", filename, 3, 5)
        # the object differs with the source, so a stale object is detectable
        return CompiledModule(FAKE_ELF + text, ModuleSpec(module_name or "x", filename), "; ir\n")


@pytest.fixture
def fake_compiler(monkeypatch: pytest.MonkeyPatch) -> FakeCompiler:
    import bpfimport.compiler

    fake = FakeCompiler()
    monkeypatch.setattr(bpfimport.compiler, "compile_source", fake)
    return fake


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> list:
    """The runtime, with every bind_module call recorded as (module, spec, data)."""
    import bpfimport.runtime.module as rm

    calls: list = []
    real = rm.bind_module

    def recording(module, spec, data):
        calls.append((module, spec, data))
        return real(module, spec, data)

    monkeypatch.setattr(rm, "bind_module", recording)
    return calls


@pytest.fixture
def writable_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """This environment sets PYTHONDONTWRITEBYTECODE=1; cache-writing tests turn it off."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(sys, "pycache_prefix", None)


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPYCACHEPREFIX", None)
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def child(
    code: str,
    cwd: Path | str,
    *,
    fake: bool = False,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    user: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter in ``cwd`` (on its sys.path); ``user`` runs it as that user."""
    prelude = "import sys; sys.path.insert(0, '.')\nimport bpfimport\n"
    if fake:
        prelude += FAKE_COMPILER
    cmd = [sys.executable, *args, "-c", prelude + textwrap.dedent(code)]
    if user:
        cmd = ["setpriv", f"--reuid={user}", "--regid=nogroup", "--clear-groups", *cmd]
    return subprocess.run(
        cmd, cwd=cwd, env=env or child_env(), capture_output=True, text=True, timeout=timeout
    )
