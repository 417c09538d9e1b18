"""The backend's two ways to LLVM: llvmffi (direct ctypes) and llvmlite.binding give the same bytes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bpfimport.compiler import backend as B
from bpfimport.compiler import llvmffi
from bpfimport.importer import compile_path
from tests.conftest import ROOT

EXAMPLES = sorted(ROOT.glob("examples/*.bpf.py")) + sorted(ROOT.glob("examples/seed/*.bpf.py"))


@pytest.fixture(scope="module")
def impls() -> tuple:
    return B.backend("llvmffi"), B.backend("llvmlite.binding")


def test_installed_llvmlite_is_one_llvmffi_was_checked_against() -> None:
    import llvmlite

    assert llvmlite.__version__.startswith(llvmffi.VERIFIED), (
        f"llvmlite {llvmlite.__version__} is not in llvmffi.VERIFIED: compare its binding/*.py "
        "declarations of the functions in llvmffi._FUNCTIONS, then add the version")


def test_the_llvmlite_pin_is_the_verified_release_series() -> None:
    """setup.cfg admits exactly the llvmlite series llvmffi.VERIFIED names: a release nobody
    has qualified (docs/internals.md, "Qualifying a new llvmlite") is not installed by pip."""
    import importlib.metadata
    import re

    # what pip enforces: the installed distribution's requirements (built from setup.cfg)
    [pin] = [r for r in importlib.metadata.requires("bpfimport") or [] if r.startswith("llvmlite")]
    bounds = sorted(pin[len("llvmlite"):].replace(" ", "").split(","), key=lambda b: b[0] != ">")
    m = re.fullmatch(r">=(\d+)\.(\d+),<(\d+)\.(\d+)", ",".join(bounds))
    assert m, f"setup.cfg pins llvmlite as {pin!r}, not as one release series (>=0.N,<0.N+1)"
    low, high = (int(m[1]), int(m[2])), (int(m[3]), int(m[4]))
    assert high == (low[0], low[1] + 1), pin
    assert llvmffi.VERIFIED == (f"{low[0]}.{low[1]}.",), (pin, llvmffi.VERIFIED)


def test_a_fresh_compile_uses_llvmffi_and_imports_no_llvmlite_module(tmp_path: Path) -> None:
    code = (
        "import sys, bpfimport\n"
        f"data = bpfimport.compile_file({str(ROOT / 'examples' / 'syscount.bpf.py')!r})\n"
        "from bpfimport.compiler import backend\n"
        "print(backend.backend().kind, data[:4] == b'\\x7fELF')\n"
        "print(sorted(m for m in sys.modules if m.startswith('llvmlite')))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "BPFIMPORT_LLVMLITE_BINDING"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == ["llvmffi True", "[]"]


def test_the_environment_variable_forces_llvmlite_binding(tmp_path: Path) -> None:
    code = (
        "import bpfimport\n"
        f"bpfimport.compile_file({str(ROOT / 'examples' / 'hello.bpf.py')!r})\n"
        "from bpfimport.compiler import backend\n"
        "print(backend.backend().kind)\n"
    )
    env = {**os.environ, "BPFIMPORT_LLVMLITE_BINDING": "1"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "llvmlite.binding"


def test_an_unchecked_llvmlite_version_goes_through_llvmlite_binding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llvmffi, "VERIFIED", ("0.0.",))
    monkeypatch.delenv("BPFIMPORT_LLVMLITE_BINDING", raising=False)
    monkeypatch.setattr(B, "_backend", None)
    assert B._fast_lib() is None
    assert B.backend().kind == "llvmlite.binding"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_compile_to_the_same_bytes_both_ways(path: Path, impls: tuple) -> None:
    fast, binding = impls
    ir = compile_path(str(path)).ir
    for cpu, opt in (("v3", 2), ("v2", 0), ("v4", 3)):
        obj = B.emit_object(ir, cpu, opt, fast)
        assert obj[:4] == b"\x7fELF"
        assert obj == B.emit_object(ir, cpu, opt, binding), (cpu, opt)
    assert B.optimized_ir(ir, "v3", 2, fast) == B.optimized_ir(ir, "v3", 2, binding)


def test_same_bytes_as_llvmlites_plain_recipe_in_the_global_context(impls: tuple) -> None:
    """What the backend did before llvmffi: parse_assembly into llvmlite's global context."""
    import llvmlite.binding as llvm

    ir = compile_path(str(ROOT / "examples" / "syscount.bpf.py")).ir
    module = llvm.parse_assembly(ir)
    module.verify()
    machine = llvm.Target.from_triple(B.TRIPLE).create_target_machine(
        cpu="v3", opt=2, reloc="static", codemodel="small")
    tuning = llvm.create_pipeline_tuning_options(speed_level=2)
    builder = llvm.create_pass_builder(machine, tuning)
    builder.getModulePassManager().run(module, builder)
    assert machine.emit_object(module) == B.emit_object(ir, "v3", 2, impls[0])


@pytest.mark.parametrize("ir, text", [
    ("define i32 @f() {\n  ret i64 0\n}\n", "value doesn't match function result type"),
    ("define void @f() {\n  %a = add i32 %a, 1\n  ret void\n}\n", "Only PHI nodes may reference their own value"),
])
def test_invalid_ir_is_a_backend_error_with_the_same_message(ir: str, text: str, impls: tuple) -> None:
    messages = []
    for impl in impls:
        with pytest.raises(B.BackendError) as info:
            B.emit_object(ir, "v3", 2, impl)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert text in messages[0]


def test_llvm_version_and_target(impls: tuple) -> None:
    fast, binding = impls
    assert fast.version_info() == binding.version_info()
    assert fast.target(B.TRIPLE)
    with pytest.raises(RuntimeError) as info:
        fast.target("nosucharch-unknown-none")
    assert "No available targets" in str(info.value)


def resident_kib() -> int:
    """The resident set now (/proc/self/statm), not ru_maxrss: an earlier peak would hide growth."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def test_many_compiles_do_not_grow_memory(impls: tuple) -> None:
    """Each compile disposes of what it created, its context included."""
    ir = compile_path(str(ROOT / "examples" / "syscount.bpf.py")).ir
    for _ in range(20):
        B.emit_object(ir, "v3", 2, impls[0])
    before = resident_kib()
    for _ in range(100):
        B.emit_object(ir, "v3", 2, impls[0])
    grown = resident_kib() - before
    assert grown < 2_500, f"{grown} KiB more resident after 100 compiles"  # a leaked context: ~7 MB
