"""Cache correctness for kernel data: an object that read a tracepoint field at this kernel's
fixed offset (no BTF type describes the record) names the kernel in its spec, and the cache
compiles it again on another kernel; a CO-RE object (every read relocated at load) stays a
hit on any kernel.  ``compileall`` says which is which.

Which kernel is running is what ``bpfimport.cache.running_kernel()`` says; "another kernel"
is that function giving another answer.  A record without a BTF type is this kernel's
record with its BTF type name dropped (``codegen.context._record``), as a kernel whose BTF
lacks the ``trace_event_raw_*`` type would give it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from bpfimport import cache
from bpfimport.__main__ import main
from bpfimport.compiler.codegen import context
from bpfimport.importer import compile_or_read
from tests import support
from tests.conftest import need
from tests.support import CompileCounter

compile_counter = support.compile_counter
writable_cache = support.writable_cache

EXEC = """\
from bpfimport.lang import *

seen = ArrayMap(key=u32, value=u64, max_entries=2)
PARENT: Final[u32] = 0


@tracepoint("sched/sched_process_exec")
def on_exec(ctx) -> int:
    if current_task().real_parent.tgid == PARENT:
        seen[0] = ctx.pid
        seen[1] = ctx.old_pid
    return 0
"""


class NoBtfRecord:
    """A tracepoint record as a kernel without its BTF type gives it: the format file's fields."""

    def __init__(self, real: object) -> None:
        self._real = real
        self.btf_struct = None
        self.source = "format"

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


@pytest.fixture
def kernel_btf() -> None:
    need(Path("/sys/kernel/btf/vmlinux").exists(), "the kernel has no BTF: kernel types need it")


@pytest.fixture
def without_btf_record(monkeypatch: pytest.MonkeyPatch) -> None:
    real = context._record
    monkeypatch.setattr(context, "_record", lambda fb, node: NoBtfRecord(real(fb, node)))


def another_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    other = this_kernel() + " (another)"
    monkeypatch.setattr(cache, "running_kernel", lambda: other)


def this_kernel() -> str:
    return cache.running_kernel()


def source(folder: Path) -> str:
    path = folder / "layout.bpf.py"
    path.write_text(EXEC + '\nLICENSE = "GPL"\n')
    return str(path)


def test_a_co_re_object_is_valid_on_any_kernel(kernel_btf: None, tmp_path: Path, writable_cache: None,
                                                compile_counter: CompileCounter,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = source(tmp_path)
    first = compile_or_read(path, "layout_bpf", write_cache=True)
    assert first.spec.kernel is None and first.spec.extra.get("co_re")
    another_kernel(monkeypatch)
    again = compile_or_read(path, "layout_bpf", write_cache=True)
    assert again.hit and len(compile_counter.calls) == 1


def test_a_fixed_layout_object_is_compiled_again_on_another_kernel(
        kernel_btf: None, without_btf_record: None, tmp_path: Path, writable_cache: None,
        compile_counter: CompileCounter, monkeypatch: pytest.MonkeyPatch) -> None:
    path = source(tmp_path)
    first = compile_or_read(path, "layout_bpf", write_cache=True)
    assert first.spec.kernel == this_kernel()
    assert first.spec.extra["kernel_layout"] == [
        "tracepoint tracepoint/sched/sched_process_exec: field pid at offset 12",
        "tracepoint tracepoint/sched/sched_process_exec: field old_pid at offset 16"]
    assert compile_or_read(path, "layout_bpf", write_cache=True).hit  # same kernel: a hit
    another_kernel(monkeypatch)
    data = Path(first.cached).read_bytes()
    assert cache.unpack(data, Path(path).read_bytes(), "layout_bpf", path) == \
        "reads another kernel's fixed layout"
    again = compile_or_read(path, "layout_bpf", write_cache=True)
    assert not again.hit and len(compile_counter.calls) == 2


def test_compileall_says_which_objects_are_kernel_specific(
        kernel_btf: None, tmp_path: Path, writable_cache: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "plain.bpf.py").write_text(support.TRIVIAL)
    source(tmp_path)
    assert main(["compileall", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "layout.bpf.py: compiled" in out and "(CO-RE: relocated for the running kernel at load)" in out
    assert "plain.bpf.py: compiled" in out and "(no kernel layouts)" in out
    real = context._record
    monkeypatch.setattr(context, "_record", lambda fb, node: NoBtfRecord(real(fb, node)))
    assert main(["compileall", "--force", str(tmp_path / "layout.bpf.py")]) == 0
    out = capsys.readouterr().out
    assert f"(fixed to this kernel's layout ({this_kernel()}): recompiled on another kernel)" in out


# ---- the fixed offsets read right, in the kernel ----------------------------------------------


@pytest.fixture
def fixed_mod(tracing: None, kernel_btf: None, without_btf_record: None,
              bpf_dir: Path) -> Iterator[ModuleType]:
    import importlib

    import bpfimport  # noqa: F401 - the import hook

    source(bpf_dir)
    mod = importlib.import_module("layout_bpf")
    yield mod
    mod.close()


def test_a_field_at_a_fixed_offset_reads_the_record(fixed_mod: ModuleType) -> None:
    assert fixed_mod.__bpf_spec__.kernel == this_kernel()
    fixed_mod.PARENT.value = os.getpid()
    true = shutil.which("true")
    assert true is not None
    with fixed_mod.on_exec.attach():
        child = subprocess.Popen([true])
        child.wait()
        deadline = time.monotonic() + 5
        while fixed_mod.seen[0] != child.pid and time.monotonic() < deadline:
            time.sleep(0.01)
    assert (fixed_mod.seen[0], fixed_mod.seen[1]) == (child.pid, child.pid)
