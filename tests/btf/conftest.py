"""Oracles shared by the BTF tests: bpftool's reading of the kernel's BTF, and tracefs.

bpftool (``btf dump file ... format raw``) reads vmlinux with libbpf, not with
``bpfimport.btf``: what it prints is the independent answer the reader, the
name index and the tracepoint layer are checked against.  It is run and parsed
once per session.

Building vmlinux's name index cold costs ~0.2 s, so it is done once per session
too (:func:`vmlinux_index`); a test that needs a warm start copies the files that
build left (:func:`warm_cache`) instead of building its own.
"""

from __future__ import annotations

import contextlib
import gc
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import need

if TYPE_CHECKING:
    from bpfimport.btf.kernel import KernelBtf

VMLINUX = Path("/sys/kernel/btf/vmlinux")
# "[ID] KIND 'NAME' REST" and the lines after it that start with a tab (members, values, parameters)
RAW_TYPE = re.compile(r"^\[(\d+)\] (\w+) '([^']*)'([^\n]*)((?:\n\t[^\n]*)*)\n?", re.M)


class RawDump:
    """``bpftool btf dump file ... format raw``: each type's header line and its member lines.

    ``types[id]`` is ``(kind, name, rest of the header, item lines)`` and ``by_name[(kind,
    name)]`` the ids of that kind and name, all tuples: the dump lives for the whole session,
    and the garbage collector stops walking a tuple of strings or ints, where it would walk
    ~200 000 lists at every full collection of every later test.
    """

    def __init__(self, text: str) -> None:
        found = RAW_TYPE.findall(text)
        lines = text.count("\n") + (not text.endswith("\n"))
        assert len(found) + sum(m[4].count("\n") for m in found) == lines, \
            "bpftool printed lines this parser does not know"  # fails here, not as a wrong answer later
        self.types: dict[int, tuple[str, str, str, tuple[str, ...]]] = {
            int(tid): (kind, name, rest, tuple(items[2:].split("\n\t")) if items else ())
            for tid, kind, name, rest, items in found}
        assert len(self.types) == len(found), "bpftool listed an id twice"
        by_name: dict[tuple[str, str], list[int]] = {}
        for tid, (kind, name, _, _) in self.types.items():
            by_name.setdefault((kind, name), []).append(tid)
        self.by_name = {key: tuple(ids) for key, ids in by_name.items()}
        self._names: dict[str, tuple[int, ...]] | None = None

    def only(self, kind: str, name: str) -> int:
        ids = self.by_name[(kind, name)]
        assert len(ids) == 1, ids
        return ids[0]

    def attr(self, tid: int, key: str) -> int:
        return int(re.search(rf"\b{key}=(-?\d+)", self.types[tid][2])[1])  # type: ignore[index]

    def names(self) -> dict[str, tuple[int, ...]]:
        """Every type name (of any kind; anonymous types left out) -> its ids, ascending."""
        if self._names is None:
            names: dict[str, tuple[int, ...]] = {}
            for (_, name), tids in self.by_name.items():
                if name != "(anon)":
                    got = names.get(name)
                    names[name] = tids if got is None else tuple(sorted(got + tids))
            self._names = names
        return self._names


@contextlib.contextmanager
def no_collections() -> Iterator[None]:
    """No garbage collection while a loop makes ~10^5 objects that all stay alive.

    A full collection walks every object the process holds (pytest's, every module's,
    the session's dump), and one comes each time the objects that survived the last
    grow by a quarter: such a loop pays for several walks that find no garbage.  Before
    these were kept apart, collections took ~4 s of this directory's ~11.  What the
    loop leaves in cycles is collected after it.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def bpftool() -> str:
    found = shutil.which("bpftool") or shutil.which("/usr/sbin/bpftool")
    need(found is not None, "bpftool is not installed (apt-get install bpftool)")
    assert found is not None
    return found


def need_vmlinux() -> Path:
    need(VMLINUX.exists(), f"this kernel has no BTF ({VMLINUX}: CONFIG_DEBUG_INFO_BTF is off)")
    return VMLINUX


@pytest.fixture(scope="session")
def vmlinux_dump() -> RawDump:
    need_vmlinux()
    out = subprocess.run([bpftool(), "btf", "dump", "file", str(VMLINUX), "format", "raw"],
                         capture_output=True, text=True, check=True)
    with no_collections():  # ~300 000 new tuples, none of them garbage
        return RawDump(out.stdout)


class ColdIndex:
    """What one cold ``kernel_btf(VMLINUX)`` left: the KernelBtf it returned, its cache folder
    and the two files in it (``<identity>.idx``, and ``boot.memo`` naming this boot's vmlinux)."""

    def __init__(self, btf: KernelBtf, folder: Path) -> None:
        self.btf, self.folder = btf, folder
        self.index, self.memo = folder / f"{btf.identity}.idx", folder / "boot.memo"


@pytest.fixture(scope="session")
def vmlinux_index(tmp_path_factory: pytest.TempPathFactory) -> ColdIndex:
    """vmlinux opened once cold (the name index built and written), for the session."""
    from bpfimport.btf import kernel

    path = need_vmlinux()
    folder = tmp_path_factory.mktemp("btf-cache")
    cold = ColdIndex(kernel._open(path, folder), folder)  # not kernel_btf(): nothing memoised
    assert cold.btf.cache_state == "written" and cold.btf.spec._file is None
    assert cold.index.is_file() and cold.memo.is_file()
    return cold


def warm_cache(cold: ColdIndex, folder: Path, memo: bool = True) -> Path:
    """``folder`` as the cache a later process of this boot finds: the cold build's index (and
    its boot memo unless ``memo`` is False: then the next open hashes vmlinux again)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(cold.index, folder / cold.index.name)
    if memo:
        shutil.copy(cold.memo, folder / cold.memo.name)
    return folder
