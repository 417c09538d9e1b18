"""bpfimport.btf.kernel: lookups against bpftool, the index cache, module fallback, no root needed.

Which ids a name has comes from ``bpftool btf dump ... format raw`` (libbpf's
reading of vmlinux); what the cache did is read from the files it leaves and
from ``KernelBtf.cache_state``; children started as ``nobody`` show that no root
is needed.  The small hand-built BTF of test_btf.py stands in for a kernel where a
test needs to change the BTF's bytes or add a module.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from bpfimport.btf import Kind, kernel
from bpfimport.btf.kernel import KernelBtf, KernelBtfMissing, identity_of, kernel_btf
from bpfimport.btf.reader import NameTable
from tests import background
from tests.btf.conftest import VMLINUX, ColdIndex, RawDump, no_collections, warm_cache
from tests.btf.test_btf import BASE, BASE_STRINGS, SPLIT
from tests.conftest import need, open_fds
from tests.support import child, child_env

NOBODY = "nobody"


@pytest.fixture(autouse=True)
def fresh_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test opens BTF as a new process would (kernel_btf memoises per process)."""
    monkeypatch.setattr(kernel, "_LOADED", {})


@pytest.fixture
def vmlinux_path() -> Path:
    need(VMLINUX.exists(), f"this kernel has no BTF ({VMLINUX}: CONFIG_DEBUG_INFO_BTF is off)")
    return VMLINUX


def opened(path: Path, cache: Path) -> KernelBtf:
    """``kernel_btf`` as a fresh process calls it."""
    kernel._LOADED.clear()
    return kernel_btf(path, cache_dir=cache)


# ---- lookups, against bpftool --------------------------------------------------------------


SAMPLE = [("STRUCT", "task_struct"), ("STRUCT", "sk_buff"), ("UNION", "bpf_attr"), ("TYPEDEF", "pid_t"),
          ("ENUM", "bpf_map_type"), ("FUNC", "do_nanosleep"), ("INT", "int"),
          ("TYPEDEF", "btf_trace_sched_switch"), ("STRUCT", "trace_event_raw_sched_switch")]


def test_find_returns_the_type_bpftool_lists(vmlinux_index: ColdIndex, vmlinux_dump: RawDump,
                                             tmp_path: Path) -> None:
    k = opened(VMLINUX, warm_cache(vmlinux_index, tmp_path))
    assert k.cache_state == "hit" and k.spec._file is not None  # a warm start: the table over paged strings
    names, known = k.spec.names(), vmlinux_dump.names()
    for probe in ("task_struct", "a", "zzzz", "", "task_struc", "task_structx"):  # bisection edges
        assert (probe in names) == (probe in known), probe
    for kind, name in SAMPLE:
        got = k.find(name, Kind[kind])
        assert got is not None and (got.id, got.kind.name, got.name) == (vmlinux_dump.only(kind, name), kind, name)
        assert k.find(name) is got  # the only type of that name: found without a kind too
    assert k.find("no_such_type_xyz") is None
    assert k.find("task_struct", Kind.UNION) is None


@pytest.mark.slow
def test_every_name_finds_every_id_bpftool_gives_it(vmlinux_index: ColdIndex, vmlinux_dump: RawDump,
                                                    tmp_path: Path) -> None:
    """The whole name table, cold and from the cache file, against bpftool's ids for each name.

    Each table is compared whole: every name once, in order, with exactly bpftool's ids
    (the warm one reads each name through its paged strings).  Then every name is looked
    up one by one, as a compile looks one up: the bisection both tables share, run on the
    cold one (its strings are in memory: ~0.4 s, where paged reads take ~1.5 s).
    """
    want = vmlinux_dump.names()
    in_order = sorted(want.items())  # UTF-8 keeps code point order: the table's byte order
    cold = vmlinux_index.btf
    warm = opened(VMLINUX, warm_cache(vmlinux_index, tmp_path))
    assert (cold.cache_state, warm.cache_state) == ("written", "hit") and warm.spec._file is not None
    for k in (cold, warm):
        table = k.spec.names()
        assert isinstance(table, NameTable) and len(table) == len(want)
        assert [(name, tuple(ids)) for name, ids in table.entries()] == in_order
    table = cold.spec.names()
    assert all(tuple(table[name]) == ids for name, ids in in_order)


def test_names_of_a_kind_are_bpftools(vmlinux_index: ColdIndex, vmlinux_dump: RawDump, tmp_path: Path) -> None:
    k = opened(VMLINUX, warm_cache(vmlinux_index, tmp_path))
    for kind in ("STRUCT", "TYPEDEF"):
        want = sorted({n for (kd, n) in vmlinux_dump.by_name if kd == kind and n != "(anon)"})
        assert k.names(Kind[kind]) == want


def test_find_prefers_a_complete_type_to_a_declaration(tmp_path: Path) -> None:
    """``struct pair`` and a FWD of the same name: find() without a kind gives the struct."""
    from tests.btf.test_btf import encode, info

    data = encode([(1, info(7), 0, []), (1, info(4, 0), 0, [])], b"\0pair\0")  # [1] fwd pair, [2] struct pair
    (tmp_path / "vmlinux").write_bytes(data)
    k = opened(tmp_path / "vmlinux", tmp_path / "cache")
    assert [t.kind for t in k.find_all("pair")] == [Kind.FWD, Kind.STRUCT]
    assert k.find("pair").kind == Kind.STRUCT  # type: ignore[union-attr]
    assert k.find("pair", Kind.FWD).id == 1  # type: ignore[union-attr]


def test_kernel_btf_is_memoised_per_path(vmlinux_index: ColdIndex, vmlinux_path: Path, tmp_path: Path) -> None:
    a = kernel_btf(vmlinux_path, cache_dir=warm_cache(vmlinux_index, tmp_path))
    assert kernel_btf(vmlinux_path, cache_dir=tmp_path) is a
    (tmp_path / "copy").write_bytes(vmlinux_path.read_bytes())
    b = kernel_btf(tmp_path / "copy", cache_dir=tmp_path)
    assert b is not a and b.identity == a.identity  # same bytes, same identity


def test_kernel_identity_is_the_btfs_or_unames(fake_kernel: Path, tmp_path: Path) -> None:
    assert kernel.kernel_identity(fake_kernel / "vmlinux") == identity_of(BASE)
    u = os.uname()
    assert kernel.kernel_identity(tmp_path / "none") == f"uname:{u.release} {u.version} {u.machine}"


def test_no_btf_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(KernelBtfMissing) as caught:
        kernel_btf(tmp_path / "vmlinux", cache_dir=tmp_path)
    msg = str(caught.value)
    assert isinstance(caught.value, OSError)
    assert "CONFIG_DEBUG_INFO_BTF" in msg and str(tmp_path / "vmlinux") in msg and "still compile" in msg
    assert msg.count(". ") == 0 and "\n" not in msg


# ---- module BTF ------------------------------------------------------------------------------


@pytest.fixture
def fake_kernel(tmp_path: Path) -> Path:
    """A /sys/kernel/btf look-alike: ``vmlinux`` (struct pair, int) and a module (struct mod_s)."""
    folder = tmp_path / "btf"
    folder.mkdir()
    (folder / "vmlinux").write_bytes(BASE)
    (folder / "mymod").write_bytes(SPLIT)
    return folder


def test_a_module_type_is_found_after_vmlinux_misses(fake_kernel: Path, tmp_path: Path) -> None:
    k = opened(fake_kernel / "vmlinux", tmp_path / "cache")
    assert k.find("pair").id == 2  # type: ignore[union-attr]
    assert k._modules is None  # a vmlinux hit reads no module
    mod = k.find("mod_s", Kind.STRUCT)
    assert mod is not None and mod.id == 4 and mod.member_type("x").target.name == "pair"  # type: ignore[attr-defined]
    assert k._modules is not None and len(k._modules) == 1
    assert k.find("nowhere") is None


# ---- the index cache -----------------------------------------------------------------------


def index_files(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.idx"))


def test_the_index_is_written_once_then_read(fake_kernel: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = opened(fake_kernel / "vmlinux", cache)
    assert first.cache_state == "written"
    (idx,) = index_files(cache)
    assert idx.name == f"{identity_of(BASE)}.idx"
    assert first.identity == identity_of(BASE)
    mtime = idx.stat().st_mtime_ns
    second = opened(fake_kernel / "vmlinux", cache)
    assert second.cache_state == "hit" and idx.stat().st_mtime_ns == mtime
    assert second.find("pair").id == first.find("pair").id == 2  # type: ignore[union-attr]
    assert not list(cache.glob("*.tmp"))
    assert not (cache / "boot.memo").exists()  # only sysfs files are fixed for a boot


@pytest.mark.parametrize("damage", ["garbage", "flipped", "truncated", "empty", "other identity"])
def test_a_damaged_index_is_rebuilt_silently(fake_kernel: Path, tmp_path: Path, damage: str) -> None:
    cache = tmp_path / "cache"
    opened(fake_kernel / "vmlinux", cache)
    (idx,) = index_files(cache)
    good = idx.read_bytes()
    bad = {
        "garbage": b"not an index at all" * 10,
        "flipped": good[:-5] + bytes([good[-5] ^ 0x01]) + good[-4:],  # one bit of the name table
        "truncated": good[:-4],
        "empty": b"",
        "other identity": good.replace(identity_of(BASE).encode(), b"1-" + b"0" * (len(identity_of(BASE)) - 2)),
    }[damage]
    assert bad != good
    idx.write_bytes(bad)
    k = opened(fake_kernel / "vmlinux", cache)
    assert k.cache_state == "written"
    assert k.find("pair").id == 2 and k.find("int").id == 1  # type: ignore[union-attr]
    assert idx.read_bytes() == good  # rebuilt and stored again


def test_an_index_someone_else_could_write_is_not_used(fake_kernel: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    opened(fake_kernel / "vmlinux", cache)
    (idx,) = index_files(cache)
    idx.chmod(0o666)
    assert opened(fake_kernel / "vmlinux", cache).cache_state == "written"
    assert stat.S_IMODE(idx.stat().st_mode) == 0o644  # replaced by this user's own file
    if os.geteuid() == 0:
        os.chown(idx, 65534, 65534)
        assert opened(fake_kernel / "vmlinux", cache).cache_state == "written"
        assert idx.stat().st_uid == 0


def test_an_unwritable_cache_is_no_error(fake_kernel: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    k = opened(fake_kernel / "vmlinux", blocker / "cache")  # mkdir fails: ENOTDIR
    assert k.cache_state == "unwritable"
    assert k.find("pair").id == 2  # type: ignore[union-attr]


def test_new_btf_bytes_get_a_new_index(fake_kernel: Path, tmp_path: Path) -> None:
    """Another kernel (here: 'pair' renamed 'pear') has another identity and index."""
    cache = tmp_path / "cache"
    before = opened(fake_kernel / "vmlinux", cache)
    (fake_kernel / "vmlinux").write_bytes(BASE.replace(BASE_STRINGS, BASE_STRINGS.replace(b"pair", b"pear")))
    after = opened(fake_kernel / "vmlinux", cache)
    assert after.identity != before.identity and after.cache_state == "written"
    assert len(index_files(cache)) == 2
    assert after.find("pair") is None and after.find("pear").id == 2  # type: ignore[union-attr]


# ---- the warm start: the boot memo and paged reads -------------------------------------------


def test_a_warm_start_reads_vmlinux_by_pages(vmlinux_index: ColdIndex, vmlinux_path: Path, tmp_path: Path) -> None:
    """A later process of a boot: identity from the memo, only the pages a lookup needs are read."""
    eager = opened(vmlinux_path, warm_cache(vmlinux_index, tmp_path, memo=False))
    assert eager.cache_state == "hit" and eager.spec._file is None  # no memo yet: read whole, hashed
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    size = vmlinux_path.stat().st_size
    assert (tmp_path / "boot.memo").read_text() == f"{boot} {size} {eager.identity} {vmlinux_path}\n"
    warm = opened(vmlinux_path, tmp_path)
    assert warm.cache_state == "hit" and warm.identity == eager.identity
    paged = warm.spec._file
    assert paged is not None and 0 in paged._pages  # the header's page
    read_before = len(paged._pages)
    assert read_before <= 4  # opening reads the header and the edges (first and last 16 KiB)
    ts = warm.find("task_struct")
    assert ts is not None and ts.id == eager.find("task_struct").id  # type: ignore[union-attr]
    assert len(paged._pages) - read_before < 40  # a few dozen of vmlinux's ~340 pages
    assert [(m.name, m.type_id, m.bit_offset) for m in ts.members] == [  # type: ignore[attr-defined]
        (m.name, m.type_id, m.bit_offset) for m in eager.find("task_struct").members]  # type: ignore[union-attr]


def test_without_the_memo_the_bytes_are_hashed_again(vmlinux_index: ColdIndex, vmlinux_path: Path,
                                                     tmp_path: Path) -> None:
    first = opened(vmlinux_path, warm_cache(vmlinux_index, tmp_path))
    for memo in ("", "garbage\n", f"00000000-0000-0000-0000-000000000000 1 {first.identity} {vmlinux_path}\n"):
        (tmp_path / "boot.memo").write_text(memo)
        again = opened(vmlinux_path, tmp_path)
        assert again.cache_state == "hit" and again.spec._file is None  # the eager path: full read
        assert (tmp_path / "boot.memo").read_text().split()[2] == first.identity  # memo written again


def test_a_memo_naming_another_kernels_index_is_caught(vmlinux_index: ColdIndex, vmlinux_path: Path,
                                                       tmp_path: Path) -> None:
    """The index of the memo's identity must also match the live file's size and edge pages."""
    first = opened(vmlinux_path, warm_cache(vmlinux_index, tmp_path))
    assert first.spec._file is not None  # the warm start the damage below must stop
    idx = tmp_path / f"{first.identity}.idx"
    good = idx.read_bytes()
    edges_at = kernel._HEADER.size - 48 - 8  # the edges field, before the identity
    idx.write_bytes(good[:edges_at] + bytes(8) + good[edges_at + 8:])  # checksum covers the body only
    with no_collections():  # earlier tests' paged specs close their files when collected: not here
        fds = open_fds()
        k = opened(vmlinux_path, tmp_path)
        assert open_fds() == fds  # the warm start's file is closed when it gives up
    assert k.cache_state == "written" and k.spec._file is None  # rejected, rebuilt from the bytes
    assert idx.read_bytes() == good


def test_a_paged_spec_decodes_as_the_bytes_do(vmlinux_path: Path, tmp_path: Path) -> None:
    """Spec.paged over a regular file, every 97th type of vmlinux against the in-memory spec."""
    from bpfimport.btf.reader import PagedFile, Spec

    data = vmlinux_path.read_bytes()
    eager = Spec(data)
    copy = tmp_path / "vmlinux"
    copy.write_bytes(data)
    paged = Spec.paged(PagedFile(os.open(copy, os.O_RDONLY), len(data)), eager.index)
    assert paged.count == eager.count
    for tid in range(1, eager.count, 97):
        a, b = eager.type_by_id(tid), paged.type_by_id(tid)
        assert (type(a), a.name, getattr(a, "members", None), getattr(a, "params", None)) == (
            type(b), b.name, getattr(b, "members", None), getattr(b, "params", None)), tid
    assert paged.string(len(paged._strings) - 2) == eager.string(len(eager._strings) - 2)
    assert paged._strings.find(b"\0", len(paged._strings)) == -1


def test_cache_folder_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert kernel.cache_folder() == tmp_path / "bpfimport" / "btf"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # not absolute: ignored, as the spec says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert kernel.cache_folder() == tmp_path / "home" / ".cache" / "bpfimport" / "btf"


# ---- no root ---------------------------------------------------------------------------------

LOOKUP = """
import json
from bpfimport.btf import Kind
from bpfimport.btf.kernel import kernel_btf
k = kernel_btf()
ts = k.find("task_struct", Kind.STRUCT)
print(json.dumps([k.identity, k.cache_state, ts.id, ts.size, ts.member("pid").bit_offset]))
"""


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder every user can enter (pytest's tmp_path lies under a root-only folder)."""
    need(os.geteuid() == 0, "running a child as another user needs root")
    need(shutil.which("setpriv") is not None, "setpriv is not installed")
    folder = Path(tempfile.mkdtemp(prefix="bpfimport-kbtf-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def nobody_cache(shared_tmp: Path) -> Path:
    folder = shared_tmp / "nobody-cache"
    folder.mkdir()
    os.chown(folder, 65534, 65534)
    return folder


@pytest.mark.kernel  # root, to run a child as nobody
def test_nobody_finds_kernel_types_and_caches_its_own_index(vmlinux_path: Path, nobody_cache: Path,
                                                             vmlinux_dump: RawDump, tmp_path: Path) -> None:
    env = child_env(XDG_CACHE_HOME=str(nobody_cache))
    results = []
    for _ in range(2):
        r = child(LOOKUP, tmp_path, env=env, user=NOBODY)
        assert r.returncode == 0, r.stderr
        results.append(json.loads(r.stdout))
    (identity, state1, tid, size, pid_bits), (_, state2, *again) = results
    assert (state1, state2) == ("written", "hit") and again == [tid, size, pid_bits]
    assert tid == vmlinux_dump.only("STRUCT", "task_struct")
    assert size == vmlinux_dump.attr(tid, "size")
    assert identity == identity_of(vmlinux_path.read_bytes())
    (idx,) = index_files(nobody_cache / "bpfimport" / "btf")
    assert idx.stat().st_uid == 65534


@pytest.mark.kernel
def test_nobody_without_a_writable_cache_still_finds_types(vmlinux_path: Path, shared_tmp: Path,
                                                           tmp_path: Path) -> None:
    root_owned = shared_tmp / "root-cache"
    root_owned.mkdir(mode=0o755)
    r = child(LOOKUP, tmp_path, env=child_env(XDG_CACHE_HOME=str(root_owned)), user=NOBODY)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[1] == "unwritable"
    assert not list(root_owned.rglob("*"))


# ---- what a compile pays ---------------------------------------------------------------------


def test_every_exported_name_resolves() -> None:
    """bpfimport.btf loads its modules on first use: each name of __all__ still arrives."""
    import importlib

    import bpfimport.btf as package

    for name in package.__all__:
        module = importlib.import_module(f"bpfimport.btf.{package._EXPORTS[name]}")
        assert getattr(package, name) is getattr(module, name), name
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        package.nothing  # noqa: B018


_LOOKUPS = """
    import sys
    import bpfimport
    from bpfimport.btf.tracepoints import tracepoint_record, kernel_btf
    k = kernel_btf()
    assert k.find("task_struct") is not None
    tracepoint_record("sched", "sched_switch", k)
    tracepoint_record("syscalls", "sys_enter_openat", k)
    heavy = {"typing", "dataclasses", "inspect", "difflib", "bpfimport.btf.ext", "bpfimport.btf.objects"}
    print(sorted(heavy & set(sys.modules)))
"""


def lookups_run() -> background.Command:
    """A fresh process's kernel lookups, with a cache folder of its own (queued early)."""
    def make() -> background.Command:
        cache = background.scratch_folder("bpfimport-btf-lookups-")
        return background.Command([sys.executable, "-c", textwrap.dedent(_LOOKUPS)],
                                  env=child_env(XDG_CACHE_HOME=str(cache)), timeout=60)

    return background.run("btf lookups in a child", make)


def start_early() -> None:
    lookups_run()


def test_kernel_lookups_import_nothing_heavy(vmlinux_path: Path) -> None:
    """typing, dataclasses (with inspect) and the object reader cost a compile ~10 ms: none is imported."""
    r = lookups_run().result()
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_vmlinux_identity_is_hashed_once_a_boot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``btf.boot.vmlinux_identity`` (what the runtime asks before loading a CO-RE object)
    agrees with the BTF layer, and after the first call of a boot reads the memo only."""
    from bpfimport.btf import boot

    need(VMLINUX.exists(), f"the kernel has no BTF ({VMLINUX})")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = boot.vmlinux_identity()
    assert first == identity_of(VMLINUX.read_bytes())
    assert (tmp_path / "bpfimport" / "btf" / "boot.memo").read_text().split()[2] == first

    def no_hashing(data: bytes) -> str:
        raise AssertionError("hashed vmlinux again")

    monkeypatch.setattr(boot, "identity_of", no_hashing)
    assert boot.vmlinux_identity() == first
