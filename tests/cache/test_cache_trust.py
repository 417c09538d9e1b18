"""Who may plant kernel code: a privileged importer refuses cache files other users could write.

A cache file is a BPF object the importer loads into the kernel with its own
privileges.  When root (or a CAP_BPF process) imports, a cache file or
``__pycache__`` folder that another, unprivileged user owns or could have
written must not be used: the module is compiled from its source in memory,
nothing is written, and ``python -v`` says why.

The planted file is a *valid* cache file (its keys match the real source) that
holds the object of another program, with a map named ``planted``; each test
first shows that the same bytes are used when root owns them, so the refusal
is what the test sees, not a stale or corrupt file.  Files are handed to
``nobody`` with chown, so no process here drops privileges.
"""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

import pytest

from bpfimport import cache
from bpfimport.options import DEFAULT_OPTIONS
from tests.conftest import need
from tests.support import TRIVIAL, child

PLANTED = TRIVIAL.replace("counts = HashMap", "planted = HashMap")
SHOW_MAPS = "import real_bpf; print(sorted(m.name for m in real_bpf.__bpf_spec__.maps))"


# every test here is about a privileged importer (root) and plants files with chown
pytestmark = pytest.mark.kernel


@pytest.fixture
def nobody() -> tuple[int, int]:
    """The uid and gid of ``nobody`` (to own the planted files); needs root to chown."""
    need(os.geteuid() == 0, "planting another user's file needs root (chown)")
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        need(False, "no user 'nobody' on this machine")
    return entry.pw_uid, entry.pw_gid


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    """``real.bpf.py`` (map ``counts``) and, in its cache, a forged object with map ``planted``."""
    from bpfimport.compiler import compile_source

    source = tmp_path / "real.bpf.py"
    source.write_text(TRIVIAL)
    forged = compile_source(PLANTED, str(source), "real_bpf", DEFAULT_OPTIONS)
    data = cache.pack(forged.object, forged.spec, TRIVIAL.encode(), DEFAULT_OPTIONS.key(), str(source))
    path = Path(cache.cache_path(str(source)))
    path.parent.mkdir()
    path.write_bytes(data)
    path.chmod(0o644)
    return path


def maps_seen(folder: Path) -> tuple[str, str]:
    """Import ``real_bpf`` under ``python -v`` in a fresh process: (its maps, the bpfimport lines)."""
    r = child(SHOW_MAPS, folder, args=("-v",))
    assert r.returncode == 0, r.stderr[-2000:]
    said = "\n".join(ln for ln in r.stderr.splitlines() if ln.startswith("# bpfimport:"))
    return r.stdout.strip(), said


def test_the_forged_file_is_valid_when_root_owns_it(planted: Path) -> None:
    """The control: without a reason to distrust it, the planted object is what loads."""
    assert maps_seen(planted.parent.parent) == ("['planted']", f"# bpfimport: {planted} matches its source")


def test_a_cache_file_owned_by_nobody_is_not_used(planted: Path, nobody: tuple[int, int]) -> None:
    os.chown(planted, *nobody)
    before = planted.read_bytes()
    maps, said = maps_seen(planted.parent.parent)
    assert maps == "['counts']"  # compiled from the real source
    assert f"not using {planted}: it is owned by uid {nobody[0]} (nobody)" in said
    assert "privileged" in said
    assert planted.read_bytes() == before  # and not written over either
    assert os.listdir(planted.parent) == [planted.name]


def test_a_pycache_folder_owned_by_nobody_is_neither_read_nor_written(
    planted: Path, nobody: tuple[int, int]
) -> None:
    os.chown(planted.parent, *nobody)  # the file is root's, the folder nobody's
    planted.unlink()
    maps, said = maps_seen(planted.parent.parent)
    assert maps == "['counts']"
    assert f"its folder {planted.parent} is owned by uid {nobody[0]} (nobody)" in said
    assert os.listdir(planted.parent) == []  # nothing written into nobody's folder


def test_a_pycache_folder_owned_by_nobody_hides_a_valid_file(planted: Path, nobody: tuple[int, int]) -> None:
    os.chown(planted.parent, *nobody)
    maps, said = maps_seen(planted.parent.parent)
    assert maps == "['counts']"
    assert "not using or writing" in said


@pytest.mark.parametrize("mode", [0o666, 0o664])
def test_a_cache_file_others_can_write_is_not_used(planted: Path, nobody: tuple[int, int], mode: int) -> None:
    os.chown(planted, 0, nobody[1])  # root's file, but in nobody's group (and world, for 0o666)
    planted.chmod(mode)
    maps, said = maps_seen(planted.parent.parent)
    assert maps == "['counts']"
    word = "world-writable" if mode & 0o002 else f"writable by group {nobody[1]}"
    assert f"not using {planted}: it is {word}" in said


def test_a_world_writable_folder_without_sticky_bit_is_not_used(planted: Path) -> None:
    planted.parent.chmod(0o777)
    maps, said = maps_seen(planted.parent.parent)
    assert maps == "['counts']"
    assert "its folder" in said and "is world-writable" in said


def test_a_sticky_world_writable_folder_is_fine(planted: Path) -> None:
    """Like /tmp: others can add files but not replace root's, so root's file is used."""
    planted.parent.chmod(0o1777)
    assert maps_seen(planted.parent.parent)[0] == "['planted']"


def test_a_file_owned_by_the_sources_owner_is_trusted(planted: Path, nobody: tuple[int, int]) -> None:
    """Whoever owns the source can change the program anyway: their cache file adds no writer."""
    os.chown(planted.parent.parent / "real.bpf.py", *nobody)
    os.chown(planted, *nobody)
    os.chown(planted.parent, *nobody)
    assert maps_seen(planted.parent.parent)[0] == "['planted']"


def test_a_privileged_import_still_writes_and_hits_its_own_cache(tmp_path: Path) -> None:
    need(os.geteuid() == 0, "a privileged importer is root here")
    (tmp_path / "real.bpf.py").write_text(TRIVIAL)
    first = maps_seen(tmp_path)
    path = Path(cache.cache_path(str(tmp_path / "real.bpf.py")))
    assert first == ("['counts']", f"# bpfimport: wrote {path}")
    assert stat.S_IMODE(path.stat().st_mode) & 0o022 == 0
    assert maps_seen(tmp_path) == ("['counts']", f"# bpfimport: {path} matches its source")
