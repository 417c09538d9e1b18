"""Temporary files a killed cache writer leaves behind are removed by the next write.

``write_atomic`` writes ``NAME.<pid>.<hex>.tmp`` and renames it over the cache
file; a ``SIGKILL`` in between used to leave the temporary file for good.  The
next write into the folder removes it once it is stale (its writer's pid gone
and a few seconds old, or any writer and many minutes old), and never a young
file whose writer lives: that is a concurrent writer at work.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bpfimport import cache
from tests.support import child_env

KILL_MID_WRITE = """
import os, signal, sys
from bpfimport import cache
def killed(src, dst):
    os.kill(os.getpid(), signal.SIGKILL)  # after the data is written, before the rename
os.replace = killed
cache.write(sys.argv[1], b"x" * 100000)
"""


def killed_writer_tmp(folder: Path, name: str) -> Path:
    """Run a writer that is SIGKILLed mid-write; return the temporary file it left."""
    target = folder / name
    r = subprocess.run([sys.executable, "-c", KILL_MID_WRITE, str(target)], env=child_env(),
                       capture_output=True, timeout=60)
    assert r.returncode == -9, r.stderr
    (left,) = [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert left.name.startswith(name + ".") and left.stat().st_size == 100000
    assert not target.exists()
    return left


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "__pycache__"
    path.mkdir()
    return path


def name(module: str) -> str:
    return f"{module}.bpf.{cache.CACHE_TAG}.o"


def test_the_next_write_removes_a_killed_writers_tmp(folder: Path) -> None:
    left = killed_writer_tmp(folder, name("a"))
    age(left, cache.DEAD_WRITER_TMP_SECONDS + 5)
    assert cache.write(str(folder / name("b")), b"new")
    assert sorted(p.name for p in folder.iterdir()) == [name("b")]


def test_a_young_tmp_of_a_dead_writer_waits(folder: Path) -> None:
    """A few seconds' grace: the pid may belong to a writer in another pid namespace."""
    left = killed_writer_tmp(folder, name("a"))
    assert cache.write(str(folder / name("b")), b"new")
    assert left.exists()


def test_a_live_writers_tmp_is_left_alone(folder: Path) -> None:
    """A concurrent writer (alive, its file minutes old at most) keeps its temporary file."""
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as writer:
        try:
            tmp = folder / f"{name('a')}.{writer.pid}.7f00.tmp"
            tmp.write_bytes(b"half")
            age(tmp, 120)
            assert cache.write(str(folder / name("b")), b"new")
            assert tmp.exists()
            age(tmp, cache.STALE_TMP_SECONDS + 5)  # no write takes this long: its writer hangs
            assert cache.clean_stale_tmp(str(folder)) == [tmp.name]
        finally:
            writer.kill()


def test_only_names_write_atomic_makes_are_removed(folder: Path) -> None:
    others = ["notes.tmp", f"{name('a')}.tmp", "x.o.123.abc.tmp", f"{name('a')}.12.zz.tmp"]
    for other in others:
        (folder / other).write_bytes(b"")
        age(folder / other, cache.STALE_TMP_SECONDS + 5)
    assert cache.clean_stale_tmp(str(folder)) == []
    assert sorted(p.name for p in folder.iterdir()) == sorted(others)


def test_an_import_that_writes_the_cache_cleans_up(tmp_path: Path) -> None:
    """Through the import hook: a re-import after a killed compile leaves one file, no tmp."""
    from tests.support import TRIVIAL, child

    (tmp_path / "k.bpf.py").write_text(TRIVIAL)
    folder = tmp_path / "__pycache__"
    folder.mkdir()
    left = killed_writer_tmp(folder, name("k"))
    age(left, cache.DEAD_WRITER_TMP_SECONDS + 5)
    r = child("import k_bpf", tmp_path)
    assert r.returncode == 0, r.stderr
    assert [p.name for p in folder.iterdir()] == [name("k")]
