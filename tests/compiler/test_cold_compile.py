"""What a cold compile costs besides LLVM's work, and that the shortcuts change no result.

* The compiler's syntax trees come from :mod:`bpfimport.compiler.pyast` (``_ast``'s node
  classes and the helpers a compile uses), not from :mod:`ast`, whose import brings ``enum``:
  the trees, the walk order and the copied positions must be exactly ``ast``'s.
* A compile imports neither ``ast``, ``enum`` nor ``re`` (3.5 + 1.5 ms of a cold import).
* LLVM loads in a background thread (``backend.start_loading``) while the compiler's
  Python half runs; whatever that thread does, ``backend()`` gives a working LLVM.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import bpfimport
from bpfimport.compiler import backend as B
from bpfimport.compiler import llvmffi, pyast
from bpfimport.compiler.tables import _string_list
from tests.conftest import ROOT

PACKAGE = Path(bpfimport.__file__).parent  # the installed one (a wheel's, in CI's second pass)
SOURCES = sorted(ROOT.glob("examples/**/*.bpf.py")) + sorted(PACKAGE.glob("tools/*.bpf.py"))
PYTHON = sorted((PACKAGE / "compiler").rglob("*.py"))
FUNCLATENCY = PACKAGE / "tools" / "funclatency.bpf.py"


@pytest.mark.parametrize("path", SOURCES + PYTHON[:8], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_pyast_trees_and_walks_are_asts(path: Path) -> None:
    text = path.read_text()
    ours, theirs = pyast.parse(text, str(path)), ast.parse(text, str(path))
    assert ast.dump(ours, include_attributes=True) == ast.dump(theirs, include_attributes=True)
    walked = [type(n).__name__ + str(getattr(n, "lineno", "")) for n in pyast.walk(ours)]
    assert walked == [type(n).__name__ + str(getattr(n, "lineno", "")) for n in ast.walk(theirs)]
    fields = [list(pyast.iter_fields(n)) for n in pyast.walk(ours)]
    assert fields == [list(ast.iter_fields(n)) for n in pyast.walk(ours)]


def test_pyast_parse_takes_the_mode_and_type_comments() -> None:
    assert ast.dump(pyast.parse("a + 1", mode="eval")) == ast.dump(ast.parse("a + 1", mode="eval"))
    text = "def f(a):\n    # type: (int) -> int\n    return a\n"
    assert (ast.dump(pyast.parse(text, type_comments=True))
            == ast.dump(ast.parse(text, type_comments=True)))
    with pytest.raises(SyntaxError):
        pyast.parse("def (")


@pytest.mark.parametrize("old", [
    "x",                      # a full position
    "f(\n  y,\n  z)",         # several lines
])
def test_pyast_copy_location_is_asts(old: str) -> None:
    source = ast.parse(old, mode="eval").body
    for make in (lambda: ast.Constant(0), lambda: ast.Name("n", ast.Load()),
                 lambda: ast.keyword("k", ast.Constant(1))):
        ours, theirs = pyast.copy_location(make(), source), ast.copy_location(make(), source)
        assert ast.dump(ours, include_attributes=True) == ast.dump(theirs, include_attributes=True)
    # an old node without end positions: the new one gets None for them, as with ast
    bare = ast.Name("m", ast.Load(), lineno=3, col_offset=1)
    ours, theirs = pyast.copy_location(ast.Constant(0), bare), ast.copy_location(ast.Constant(0), bare)
    assert ast.dump(ours, include_attributes=True) == ast.dump(theirs, include_attributes=True)


def test_pyast_unparse_and_literal_eval_are_asts() -> None:
    tree = pyast.parse("a[b] + f(*c, k=1)", mode="eval")
    assert pyast.unparse(tree) == ast.unparse(tree)
    assert pyast.literal_eval("[1, 'a']") == [1, "a"]


def test_lang_names_list_is_read_without_ast() -> None:
    assert _string_list('["a", "b"]') == ["a", "b"]
    for bad in ('"a"', "[1]", '["a", x]', "(\"a\",)"):
        with pytest.raises(ValueError):
            _string_list(bad)


def test_a_compile_imports_neither_ast_enum_nor_re(tmp_path: Path) -> None:
    """In a child: the three are dropped from ``sys.modules`` (an editable install's finder
    imports ``re`` and ``enum`` at start-up), then two compiles must not import them again."""
    code = (
        "import sys, bpfimport\n"
        "for name in ('ast', 'enum', 're'):\n"
        "    sys.modules.pop(name, None)\n"
        f"data = bpfimport.compile_file({str(FUNCLATENCY)!r})\n"
        f"data = bpfimport.compile_file({str(ROOT / 'examples' / 'syscount.bpf.py')!r})\n"
        "print(data[:4] == b'\\x7fELF', sorted({'ast', 'enum', 're'} & set(sys.modules)))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "[]"]


@pytest.fixture
def fresh_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """No backend made yet in this process, as before a first compile."""
    monkeypatch.setattr(B, "_backend", None)
    monkeypatch.setattr(B, "_loading", None)
    monkeypatch.setattr(B, "_loaded", None)
    monkeypatch.delenv("BPFIMPORT_LLVMLITE_BINDING", raising=False)


@pytest.fixture
def loads(fresh_backend: None, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The threads that ran a background load, in order."""
    threads: list[int] = []
    load = B._load_in_background

    def spy(lock: object) -> None:
        threads.append(threading.get_ident())
        load(lock)

    monkeypatch.setattr(B, "_load_in_background", spy)
    return threads


def test_llvm_loads_in_another_thread_and_compiles_the_same(loads: list[int]) -> None:
    reference = B.backend("llvmffi")
    ran_in = loads
    B.start_loading()
    B.start_loading()  # once per process
    loaded = B.backend()
    assert ran_in and ran_in[0] != threading.get_ident() and len(ran_in) == 1
    assert loaded.kind == "llvmffi" and B.backend() is loaded
    from bpfimport.importer import compile_path

    compiled = compile_path(str(ROOT / "examples" / "syscount.bpf.py"))
    assert B.emit_object(compiled.ir, "v3", 2, loaded) == B.emit_object(compiled.ir, "v3", 2, reference)


def test_threads_compiling_at_once_start_one_load(loads: list[int]) -> None:
    started = loads
    go = threading.Barrier(4)

    def compile_soon() -> None:
        go.wait()
        B.start_loading()

    threads = [threading.Thread(target=compile_soon) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert B.backend().kind == "llvmffi"
    assert len(started) == 1


def test_a_failed_background_load_leaves_it_to_the_foreground(fresh_backend: None,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The thread's failure is not the user's error: backend() loads again and reports."""
    def broken(unlocked: bool = False) -> None:
        if unlocked:
            raise OSError("no such library")
        return real(unlocked)

    real = B._fast_lib
    monkeypatch.setattr(B, "_fast_lib", broken)
    B.start_loading()
    impl = B.backend()
    assert impl.kind == "llvmffi" and B._loading is None


def test_a_forked_child_does_not_wait_for_its_parents_thread(fresh_backend: None,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A lock copied into a child, held for good (its thread was the parent's): ignored."""
    held = threading.Lock()
    held.acquire()
    monkeypatch.setattr(B, "_loading", (os.getpid() + 1, held))
    assert B.backend().kind == "llvmffi"


def test_dlopen_without_the_gil_gives_ctypes_own_handle() -> None:
    from bpfimport._host import installed

    found = installed()
    assert found is not None
    import ctypes

    handle = llvmffi.dlopen_unlocked(found.library())
    assert handle is not None and handle == ctypes.CDLL(found.library())._handle
    assert llvmffi.dlopen_unlocked(str(ROOT / "no-such-library.so")) is None
