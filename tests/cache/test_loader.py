"""The loader owns the flow (read cache → validate → compile → write) and the one module-name rule.

Issue 7, items 1 and 2: an import, ``bpfimport.compile_file``, ``python -m
bpfimport compile`` and ``compileall`` name a file's module the same way and
go through the same functions; a loader whose source is inside a zip refuses
to write a cache file beside it instead of trying (and failing) to mkdir.
"""

from __future__ import annotations

import functools
import zipfile
from pathlib import Path

import pytest

import bpfimport
from bpfimport import cache
from bpfimport.importer import compile_or_read, compile_path, import_file, module_name
from tests import background
from tests.support import (  # noqa: F401 - fixtures
    TRIVIAL,
    child,
    child_argv,
    child_env,
    compile_counter,
    writable_cache,
)

DASHED = "a-b.bpf.py"


def test_a_dashed_file_has_one_name_whether_imported_or_compiled(tmp_path: Path) -> None:
    """``a-b.bpf.py``: the imported module, its spec and the compiled spec all say ``a_b_bpf``."""
    src = tmp_path / DASHED
    src.write_text(TRIVIAL)
    imported = import_file(str(src))
    compiled = compile_path(str(src))
    names = {
        "module_name()": module_name(str(src)),
        "imported module": imported.__name__,
        "imported spec": imported.__bpf_spec__.name,
        "compile_path spec": compiled.spec.name,
        "compile_or_read spec": compile_or_read(str(src), module_name(str(src)), write_cache=False).spec.name,
    }
    assert set(names.values()) == {"a_b_bpf"}, names
    assert bpfimport.compile_file(str(src)) == compiled.object


def test_compile_file_is_the_object_an_import_loads(tmp_path: Path) -> None:
    """The public compile_file and an import of the same file produce the same bytes."""
    src = tmp_path / "same.bpf.py"
    src.write_text(TRIVIAL)
    imported = import_file(str(src))
    assert bpfimport.compile_file(str(src)) == imported.__bpf_object__.data


def test_compile_or_read_compiles_once_then_reads(
        tmp_path: Path, compile_counter: list, writable_cache: None) -> None:  # noqa: F811
    src = tmp_path / "once.bpf.py"
    src.write_text(TRIVIAL)
    first = compile_or_read(str(src), "once_bpf")
    second = compile_or_read(str(src), "once_bpf")
    assert (first.hit, first.written, second.hit) == (False, True, True)
    assert second.object == first.object
    assert len(compile_counter.calls) == 1  # type: ignore[attr-defined]


def _zipped_app(tmp_path: Path) -> Path:
    archive = tmp_path / "app.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("zapp/__init__.py", "")
        z.writestr("zapp/counter.bpf.py", TRIVIAL)
    return archive


IMPORT_ZIPPED = """
sys.path.insert(0, 'app.zip')
from zapp import counter_bpf
print(counter_bpf.__bpf_spec__.name)
"""


def test_a_zipped_source_is_not_written_beside_itself(tmp_path: Path) -> None:
    """The loader refuses to write into the archive and says so; it never tries a mkdir there."""
    _zipped_app(tmp_path)
    r = child(IMPORT_ZIPPED, tmp_path, args=("-v",))
    assert r.returncode == 0, r.stderr[-2000:]
    said = [ln for ln in r.stderr.splitlines() if ln.startswith("# bpfimport:")]
    assert r.stdout.strip() == "zapp.counter_bpf"
    assert any("inside an archive" in ln for ln in said), said
    assert not any("could not" in ln for ln in said), said


@functools.cache
def _prefixed_app() -> Path:
    """A folder holding the zipped app, for the two imports under PYTHONPYCACHEPREFIX."""
    folder = background.scratch_folder("bpfimport-zipped-")
    _zipped_app(folder)
    return folder


def prefixed_import(n: int) -> background.Command:
    """The ``n``-th (1, 2) verbose import of the zipped app with PYTHONPYCACHEPREFIX.

    Queued early, in order: the first writes the object into the prefix (and the
    interpreter its .pyc files, ~0.4 s: the prefix starts empty), the second reads it.
    """
    def make() -> background.Command:
        folder = _prefixed_app()
        return background.Command(child_argv(IMPORT_ZIPPED, ("-v",)), cwd=folder, timeout=60,
                                  env=child_env(PYTHONPYCACHEPREFIX=str(folder / "prefix")))

    return background.run(f"zipped import {n} under a pycache prefix", make)


def start_early() -> None:
    prefixed_import(1)
    prefixed_import(2)


def test_a_zipped_source_is_cached_under_pycache_prefix() -> None:
    """With PYTHONPYCACHEPREFIX the zipped module's object is written there and then read back."""
    prefix = _prefixed_app() / "prefix"
    first = prefixed_import(1).result()
    assert first.returncode == 0, first.stderr[-2000:]
    written = list(prefix.rglob("counter.bpf.*.o"))
    assert len(written) == 1, first.stderr[-2000:]
    second = prefixed_import(2).result()
    assert f"# bpfimport: {written[0]} matches its source" in second.stderr


@pytest.mark.parametrize("command", ["compile", "compileall"])
def test_the_command_line_names_a_dashed_file_as_an_import_does(tmp_path: Path, command: str) -> None:
    """compileall's cache file is the one an import of ``a-b.bpf.py`` by path reads back."""
    src = tmp_path / DASHED
    src.write_text(TRIVIAL)
    from bpfimport.__main__ import main

    assert main([command, "-q", str(src)] if command == "compile" else [command, "-q", str(tmp_path)]) == 0
    if command == "compileall":
        cached = cache.read(cache.cache_path(str(src)), src.read_bytes(), source_path=str(src))
        assert cached is not None and cached[1].name == "a_b_bpf"
    else:
        assert (tmp_path / "a-b.bpf.o").read_bytes() == compile_path(str(src)).object
