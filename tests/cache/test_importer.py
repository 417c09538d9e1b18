"""The import hook: finding NAME.bpf.py for NAME_bpf, module attributes, reload, the cache in use.

Every test compiles with the real compiler (a few milliseconds per module);
tests that count compiles wrap it (``compile_counter``), so a compiler crash
is a failure here, never a skip.
"""

from __future__ import annotations

import importlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import bpfimport
from bpfimport import CompileError, cache
from bpfimport.importer import BpfFinder, BpfLoader, compile_or_read, module_name, source_name
from tests import support
from tests.conftest import PROGRAMS, need
from tests.support import BROKEN, BROKEN_LINE, TRIVIAL, CompileCounter, child, is_bpf_object

# fixtures shared with the other importer/cache/CLI tests
compile_counter = support.compile_counter
runtime = support.runtime
writable_cache = support.writable_cache


@pytest.fixture
def hooked(bpf_dir: Path, compile_counter: CompileCounter, runtime: list, writable_cache: None) -> Path:
    """A sys.path folder, the counted real compiler, the (recorded) runtime and a writable cache."""
    bpfimport.install()
    return bpf_dir


# ---------------------------------------------------------------- names and the finder


def test_names() -> None:
    assert source_name("mytrace_bpf") == "mytrace.bpf.py"
    assert source_name("app.probes.mytrace_bpf") == "mytrace.bpf.py"
    assert source_name("_bpf") is None and source_name("json") is None
    assert module_name("/x/my.trace.bpf.py") == "my_trace_bpf"
    assert module_name("count.bpf.py") == "count_bpf"


def test_install_is_idempotent_and_before_path_finder() -> None:
    from importlib.machinery import PathFinder

    bpfimport.install()
    bpfimport.install()
    assert sys.meta_path.count(BpfFinder) == 1
    assert sys.meta_path.index(BpfFinder) < sys.meta_path.index(PathFinder)
    bpfimport.uninstall()
    assert BpfFinder not in sys.meta_path
    bpfimport.install()
    assert sys.meta_path.count(BpfFinder) == 1


def test_other_names_fall_through(hooked: Path) -> None:
    (hooked / "plain.py").write_text("X = 1\n")
    assert BpfFinder.find_spec("plain") is None
    assert importlib.import_module("plain").X == 1
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("nothing_here_bpf")


def test_import_sets_the_module_attributes(hooked: Path, runtime: list) -> None:
    src = hooked / "mytrace.bpf.py"
    src.write_text(TRIVIAL)
    import mytrace_bpf  # type: ignore[import-not-found]

    from bpfimport.runtime.module import BpfModule

    assert isinstance(mytrace_bpf, BpfModule)
    assert mytrace_bpf.__name__ == "mytrace_bpf"
    assert mytrace_bpf.__file__ == str(src)
    assert mytrace_bpf.__cached__ == cache.cache_path(str(src))
    assert Path(mytrace_bpf.__cached__).parent == hooked / "__pycache__"
    assert mytrace_bpf.__spec__.origin == str(src) and mytrace_bpf.__spec__.name == "mytrace_bpf"
    assert isinstance(mytrace_bpf.__loader__, BpfLoader)
    assert mytrace_bpf.__loader__.get_source("mytrace_bpf") == TRIVIAL
    assert not mytrace_bpf.__loader__.is_package("mytrace_bpf")
    [(module, spec, data)] = runtime
    assert module is mytrace_bpf and spec.name == "mytrace_bpf" and is_bpf_object(data)
    assert Path(mytrace_bpf.__cached__).is_file()


def test_the_source_is_never_executed(hooked: Path) -> None:
    marker = hooked / "executed"
    (hooked / "side.bpf.py").write_text(TRIVIAL + f"open({str(marker)!r}, 'w').close()\n")
    with pytest.raises(CompileError, match="would run user-space code"):
        importlib.import_module("side_bpf")  # refused, and not run on the way
    assert not marker.exists()


def test_relative_and_empty_path_entries_give_absolute_files(
    hooked: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (hooked / "rel.bpf.py").write_text(TRIVIAL)
    monkeypatch.chdir(hooked)
    monkeypatch.setattr(sys, "path", ["", *sys.path])
    spec = BpfFinder.find_spec("rel_bpf")
    assert spec.origin == str(hooked / "rel.bpf.py")


def test_import_from_a_package_uses_its_path(hooked: Path) -> None:
    probes = hooked / "app" / "probes"
    probes.mkdir(parents=True)
    (hooked / "app" / "__init__.py").write_text("")
    (probes / "__init__.py").write_text("")
    (probes / "mytrace.bpf.py").write_text(TRIVIAL)
    (hooked / "mytrace.bpf.py").write_text(TRIVIAL + "# the top-level one\n")
    from app.probes import mytrace_bpf  # type: ignore[import-not-found]

    assert mytrace_bpf.__name__ == "app.probes.mytrace_bpf"
    assert mytrace_bpf.__file__ == str(probes / "mytrace.bpf.py")
    assert mytrace_bpf.__cached__ == str(probes / "__pycache__" / Path(mytrace_bpf.__cached__).name)


def test_bpf_file_wins_over_a_same_named_python_module(hooked: Path) -> None:
    (hooked / "both_bpf.py").write_text("")
    (hooked / "both.bpf.py").write_text(TRIVIAL)
    assert importlib.import_module("both_bpf").__file__ == str(hooked / "both.bpf.py")


def test_compile_error_carries_the_users_file_and_line(hooked: Path) -> None:
    src = hooked / "broken.bpf.py"
    src.write_text(BROKEN)
    with pytest.raises(CompileError) as info:
        importlib.import_module("broken_bpf")
    assert (info.value.filename, info.value.lineno) == (str(src), BROKEN_LINE)
    assert "broken_bpf" not in sys.modules
    assert not (hooked / "__pycache__").exists()


# ---------------------------------------------------------------- the cache in use


def test_second_import_is_a_cache_hit(hooked: Path, compile_counter: CompileCounter, runtime: list) -> None:
    (hooked / "hit.bpf.py").write_text(TRIVIAL)
    importlib.import_module("hit_bpf")
    del sys.modules["hit_bpf"]
    importlib.import_module("hit_bpf")
    assert len(compile_counter.calls) == 1
    assert runtime[0][2] == runtime[1][2]


def test_dont_write_bytecode_compiles_in_memory_but_reads_a_cache(
    hooked: Path, compile_counter: CompileCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = hooked / "dw.bpf.py"
    src.write_text(TRIVIAL)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    mod = importlib.import_module("dw_bpf")
    assert not os.path.exists(mod.__cached__)  # __cached__ is where it would be, as for .pyc
    compile_or_read(str(src), "dw_bpf", write_cache=True)  # prefilled (compileall)
    del sys.modules["dw_bpf"]
    importlib.import_module("dw_bpf")
    assert len(compile_counter.calls) == 2  # the import after prefilling was a hit


def test_pycache_prefix(hooked: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> None:
    prefix = tmp_path_factory.mktemp("prefix")
    monkeypatch.setattr(sys, "pycache_prefix", str(prefix))
    (hooked / "pre.bpf.py").write_text(TRIVIAL)
    mod = importlib.import_module("pre_bpf")
    assert mod.__cached__.startswith(str(prefix) + os.sep + str(hooked).lstrip(os.sep))
    assert os.path.isfile(mod.__cached__)
    assert not (hooked / "__pycache__").exists()


def test_corrupt_cache_is_recompiled(hooked: Path, compile_counter: CompileCounter) -> None:
    (hooked / "cor.bpf.py").write_text(TRIVIAL)
    cached = Path(importlib.import_module("cor_bpf").__cached__)
    good = cached.read_bytes()
    for bad in (b"", good[:100], b"garbage" * 50, good[:-1] + b"\x01"):
        cached.write_bytes(bad)
        del sys.modules["cor_bpf"]
        importlib.import_module("cor_bpf")
        assert cached.read_bytes() == good
    assert len(compile_counter.calls) == 5


def test_unwritable_pycache_falls_back_to_memory(hooked: Path, compile_counter: CompileCounter) -> None:
    (hooked / "__pycache__").write_text("a file where the folder should be")
    (hooked / "nw.bpf.py").write_text(TRIVIAL)
    mod = importlib.import_module("nw_bpf")
    assert mod.__file__ == str(hooked / "nw.bpf.py")
    assert (hooked / "__pycache__").is_file()


def test_reload_recompiles_a_changed_source_and_closes_the_old_object(
    hooked: Path, compile_counter: CompileCounter, runtime: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bpfimport.runtime.module import BpfModule

    events: list[str] = []
    real_close = BpfModule.close
    monkeypatch.setattr(BpfModule, "close", lambda self: (events.append("close"), real_close(self)))
    src = hooked / "rl.bpf.py"
    src.write_text(TRIVIAL)
    mod = importlib.import_module("rl_bpf")
    events.clear()
    src.write_text(TRIVIAL.replace("max_entries=16", "max_entries=32"))
    again = importlib.reload(mod)
    assert again is mod and events == ["close"]
    assert len(compile_counter.calls) == 2 and len(runtime) == 2
    assert runtime[1][0] is mod and runtime[1][2] != runtime[0][2]
    assert [m.max_entries for m in runtime[1][1].maps] == [32]  # the new object, not the old
    # a reload that fails to compile leaves the module bound to the old object
    src.write_text(BROKEN)
    with pytest.raises(CompileError):
        importlib.reload(mod)
    assert events == ["close"] and len(runtime) == 2


# ---------------------------------------------------------------- fresh processes


def test_cache_hit_imports_neither_llvmlite_nor_the_compiler(tmp_path: Path) -> None:
    (tmp_path / "hot.bpf.py").write_text(TRIVIAL)
    fill = child("import hot_bpf", tmp_path)
    assert fill.returncode == 0, fill.stderr
    r = child(
        """
        import hot_bpf
        assert hot_bpf.__cached__
        heavy = sorted(m for m in sys.modules if m.startswith(("llvmlite", "bpfimport.compiler")))
        print(heavy)
        """,
        tmp_path,
        args=("-X", "importtime"),
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
    assert "llvmlite" not in r.stderr and "bpfimport.compiler" not in r.stderr


def test_eight_processes_importing_a_new_module_at_once(tmp_path: Path) -> None:
    (tmp_path / "race.bpf.py").write_text(TRIVIAL)
    import subprocess

    from tests.support import child_env

    code = (
        "import sys; sys.path.insert(0, '.')\nimport bpfimport\n"
        "import race_bpf\nprint(race_bpf.__cached__)\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, env=child_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(8)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [o[1] for o in outs]
    cached = {o[0].strip() for o in outs}
    assert len(cached) == 1
    path = Path(cached.pop())
    assert os.listdir(path.parent) == [path.name]  # one object, no temporary files left
    source = str(tmp_path / "race.bpf.py")
    assert not isinstance(cache.unpack(path.read_bytes(), TRIVIAL.encode(), source_path=source), str)


@pytest.fixture
def readonly_tree() -> Iterator[Path]:
    """A folder root owns and ``nobody`` can read but not write (root ignores permission bits)."""
    path = Path(tempfile.mkdtemp(prefix="bpfimport-ro-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def _need_setpriv() -> None:
    need(os.geteuid() == 0 and shutil.which("setpriv") is not None,
         "needs root and setpriv (util-linux) to run a child as nobody")


@pytest.mark.kernel  # needs root: setpriv runs the child as nobody
def test_read_only_folder_imports_without_writing(readonly_tree: Path) -> None:
    _need_setpriv()
    (readonly_tree / "ro.bpf.py").write_text(TRIVIAL)
    os.chmod(readonly_tree / "ro.bpf.py", 0o644)
    r = child("import ro_bpf; print(ro_bpf.__file__)", readonly_tree, user="nobody")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(readonly_tree / "ro.bpf.py")
    assert os.listdir(readonly_tree) == ["ro.bpf.py"]
    assert r.stderr == ""


@pytest.mark.kernel  # needs root: setpriv runs the child as nobody
def test_prefilled_cache_in_a_read_only_folder_is_used(readonly_tree: Path) -> None:
    _need_setpriv()
    (readonly_tree / "pf.bpf.py").write_text(TRIVIAL)
    fill = child("import pf_bpf", readonly_tree)  # as root: writes the cache
    assert fill.returncode == 0, fill.stderr
    for p in [readonly_tree / "pf.bpf.py", *(readonly_tree / "__pycache__").iterdir()]:
        os.chmod(p, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    os.chmod(readonly_tree / "__pycache__", 0o755)
    r = child(
        """
        import bpfimport.compiler
        def refuse(*a, **k):
            raise AssertionError("compiled instead of using the cache")
        bpfimport.compiler.compile_source = refuse
        import pf_bpf
        print("ok")
        """,
        readonly_tree,
        user="nobody",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


# ---------------------------------------------------------------- with the real compiler


def test_real_compile_then_hit(bpf_dir: Path, runtime: list, writable_cache: None) -> None:
    (bpf_dir / "real.bpf.py").write_text(TRIVIAL)
    mod = importlib.import_module("real_bpf")
    assert os.path.isfile(mod.__cached__)
    spec = runtime[0][1]
    assert [p.name for p in spec.programs] == ["prog"]
    assert [m.name for m in spec.maps] == ["counts"]
    del sys.modules["real_bpf"]
    importlib.import_module("real_bpf")
    assert runtime[1][1] == spec and runtime[1][2] == runtime[0][2]


def test_reload_drops_what_the_new_source_no_longer_declares(bpf_dir: Path) -> None:
    """After a reload, a removed map or struct is gone (not a handle on the closed old object)."""
    before = textwrap.dedent("""\
        from bpfimport.lang import *


        @struct
        class Key:
            pid: u32


        counts = HashMap(key=Key, value=u64, max_entries=16)
        gone = ArrayMap(key=u32, value=u64, max_entries=4)
        LIMIT: Final[u32] = 3


        @syscall
        def prog(ctx) -> int:
            return 0
    """)
    src = bpf_dir / "rb.bpf.py"
    src.write_text(before)
    mod = importlib.import_module("rb_bpf")
    assert [f for f, _ in mod.Key._fields_] == ["pid"]  # the struct class, built and kept
    old_gone = mod.gone
    after = (before.replace("gone = ArrayMap(key=u32, value=u64, max_entries=4)\n", "")
             .replace("    pid: u32\n", "    pid: u32\n    tid: u32\n"))
    src.write_text(after)
    assert importlib.reload(mod) is mod
    assert not hasattr(mod, "gone") and "gone" not in dir(mod)
    assert old_gone._obj is not mod.__bpf_object__
    assert [f for f, _ in mod.Key._fields_] == ["pid", "tid"]  # rebuilt for the new layout
    assert mod.counts.key_type is mod.Key
    assert mod.LIMIT.value == 3 and mod.prog.section == "syscall"


def test_real_compile_error_from_import(bpf_dir: Path, writable_cache: None) -> None:
    src = bpf_dir / "bad.bpf.py"
    src.write_text(TRIVIAL + "x = 1 / 2\nprint('user space code')\n")
    with pytest.raises(CompileError) as info:
        importlib.import_module("bad_bpf")
    assert info.value.filename == str(src) and info.value.lineno and info.value.lineno >= 12
    assert not (bpf_dir / "__pycache__").exists()


def test_bpf_module_inside_a_zipped_package(tmp_path: Path) -> None:
    """A package shipped in a zip file (a zipapp) finds its .bpf.py as a resource and compiles it."""
    import zipfile

    archive = tmp_path / "app.zip"
    source = (PROGRAMS / "exact_count.bpf.py").read_text()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("zapp/__init__.py", "")
        z.writestr("zapp/probes/__init__.py", "")
        z.writestr("zapp/probes/counter.bpf.py", source)
    code = f"""
import sys
sys.path.insert(0, {str(archive)!r})
import bpfimport
from zapp.probes import counter_bpf as m
print(m.__file__)
print(m.on_getppid.section, m.calls.kind, m.THREAD.value)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    file_line, handles = r.stdout.splitlines()
    assert file_line.endswith("app.zip/zapp/probes/counter.bpf.py")
    assert handles == "tracepoint/syscalls/sys_enter_getppid ArrayMap 0"


def test_handles_from_before_a_reload_refuse_to_load_the_old_object(
        bpf_dir: Path, kernel: None) -> None:
    """`old = mod.h` then a reload: old must not load a private copy that mod.close() misses."""
    src = bpf_dir / "rh.bpf.py"
    src.write_text(TRIVIAL)
    mod = importlib.import_module("rh_bpf")
    name = next(p.name for p in mod.__bpf_spec__.programs)
    old_prog = getattr(mod, name)
    old_prog.fd  # noqa: B018 - loaded
    old_obj = mod.__bpf_object__
    src.write_text(TRIVIAL + "# changed\n")
    importlib.reload(mod)
    assert not old_obj.loaded
    with pytest.raises(bpfimport.BpfError, match=f"module 'rh_bpf' was reloaded; .* use rh_bpf.{name} again"):
        old_prog.fd  # noqa: B018
    with pytest.raises(bpfimport.BpfError, match="was reloaded"):
        old_obj.load()
    assert not old_obj.loaded
    assert getattr(mod, name).fd >= 0  # the new handle works
    mod.close()
