"""Portable objects (issue 11, item 4): keyed by the source's bytes, valid where a tree is installed.

``compileall --portable`` and the wheel hook (``bpfimport.build``) write them; a plain cache
file names its source's path and is stale once moved. A runtime-only install (no llvmlite)
reads a portable object from anywhere, and a miss there is one sentence. The end-to-end
wheel (built, installed in a venv without llvmlite, loaded and run) is tests/test_wheels.py.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

from bpfimport import cache
from bpfimport.__main__ import main
from bpfimport.build import compile_tree
from bpfimport.importer import NO_COMPILER
from tests import support
from tests.cache.test_cache_format import FAKE_ELF, SOURCE, SPEC
from tests.cli.test_hints_debug_and_tools import RUN_SRC, python
from tests.support import readable_packages

writable_cache = support.writable_cache


def _flags(data: bytes) -> int:
    return int(cache.TRAILER.unpack_from(data, len(data) - cache.TRAILER.size)[1])


def test_a_portable_object_is_keyed_by_the_bytes_not_the_path() -> None:
    plain = cache.pack(FAKE_ELF, SPEC, SOURCE, source_path="/build/app/m.bpf.py")
    portable = cache.pack(FAKE_ELF, SPEC, SOURCE, source_path="/build/app/m.bpf.py", portable=True)
    assert (_flags(plain), _flags(portable)) == (0, cache.PORTABLE)
    moved = "/usr/lib/python3/site-packages/app/m.bpf.py"
    assert cache.unpack(plain, SOURCE, source_path=moved) == "source changed or moved"
    assert cache.unpack(portable, SOURCE, source_path=moved) == (FAKE_ELF, SPEC)
    assert cache.unpack(portable, SOURCE + b"#", source_path=moved) == "source changed or moved"


def test_an_unknown_flag_is_not_trusted() -> None:
    data = bytearray(cache.pack(FAKE_ELF, SPEC, SOURCE, portable=True))
    at = len(data) - cache.TRAILER.size + 2  # u16 format, then u16 flags
    struct.pack_into("<H", data, at, cache.PORTABLE | 2)
    assert cache.unpack(bytes(data), SOURCE) == "not a bpfimport cache file of this format"


def test_the_build_hook_compiles_every_source_of_the_build_tree(tmp_path: Path,
                                                                writable_cache: None) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "a.bpf.py").write_text(RUN_SRC)
    (tmp_path / "pkg" / "sub" / "b-c.bpf.py").write_text(RUN_SRC)
    written = compile_tree(str(tmp_path))
    names = sorted(Path(p).relative_to(tmp_path).as_posix() for p in written)
    assert names == [f"pkg/__pycache__/a.bpf.{cache.CACHE_TAG}.o",
                     f"pkg/sub/__pycache__/b-c.bpf.{cache.CACHE_TAG}.o"]
    assert all(_flags(Path(p).read_bytes()) == cache.PORTABLE for p in written)


def test_a_moved_tree_keeps_its_portable_objects_and_a_miss_without_llvmlite_is_one_sentence(
        tmp_path: Path, writable_cache: None) -> None:
    """Built in one folder, run from a copy elsewhere with no llvmlite (python -S and only
    bpfimport on the path): the portable object is used; the plain one is stale there, and
    compiling it is the one-sentence SetupError, not a traceback from inside the compiler."""
    built, moved = tmp_path / "built", tmp_path / "moved"
    for name in ("port", "plain"):
        (built / name).mkdir(parents=True)
        (built / name / f"{name}.bpf.py").write_text(RUN_SRC)
    assert main(["compileall", "-q", "--portable", str(built / "port")]) == 0
    assert main(["compileall", "-q", str(built / "plain")]) == 0
    shutil.copytree(built, moved)
    code = ("import sys; sys.path[:0] = ['port', 'plain']; import bpfimport, port_bpf; "
            "print(sorted(p.name for p in port_bpf.__bpf_spec__.programs), "
            "'llvmlite' in sys.modules, 'bpfimport.compiler' in sys.modules, flush=True); "
            "import plain_bpf")
    r = python("-S", "-c", code, cwd=moved, PYTHONPATH=str(readable_packages("bpfimport")))
    assert r.stdout == "['on_getppid'] False False\n", r.stderr
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    path = moved / "plain" / "plain.bpf.py"
    assert last == "bpfimport.errors.SetupError: " + NO_COMPILER.format(path=path)
    assert "bpfimport/compiler" not in r.stderr  # no frame from inside the compiler
