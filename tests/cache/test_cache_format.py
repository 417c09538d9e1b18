"""The object cache: paths, keys, the file format, validation and atomic writes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from bpfimport import CompileError, cache
from bpfimport._version import __version__
from bpfimport.importer import compile_or_read
from bpfimport.spec import ObjectSpec, ProgramSpec
from tests import support
from tests.conftest import need
from tests.support import BROKEN_MESSAGE, TRIVIAL, CompileCounter, child

SPEC = ObjectSpec("m_bpf", "m.bpf.py", programs=(ProgramSpec("prog", "syscall", "syscall", 6),))
SOURCE = TRIVIAL.encode()
FAKE_ELF = b"\x7fELF\x02\x01\x01" + bytes(57) + b"fake object"  # the format tests need no real object

# fixtures shared with the other importer/cache/CLI tests
compile_counter = support.compile_counter
writable_cache = support.writable_cache


# ---------------------------------------------------------------- paths


def test_cache_path_is_in_pycache_beside_the_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "pycache_prefix", None)
    got = cache.cache_path("/srv/app/probes/mytrace.bpf.py")
    assert got == f"/srv/app/probes/__pycache__/mytrace.bpf.bpfimport-{__version__}.o"


def test_cache_path_honours_pycache_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "pycache_prefix", "/var/cache/py")
    assert cache.cache_path("/srv/app/t.bpf.py") == f"/var/cache/py/srv/app/t.bpf.bpfimport-{__version__}.o"
    monkeypatch.chdir(tmp_path)  # relative sources are made absolute first, as CPython does
    assert cache.cache_path("t.bpf.py") == f"/var/cache/py{tmp_path}/t.bpf.bpfimport-{__version__}.o"


def test_default_options_key_matches_the_compiler() -> None:
    from bpfimport.compiler import CompileOptions

    assert cache.DEFAULT_OPTIONS_KEY == CompileOptions().key()


# ---------------------------------------------------------------- the format


def test_pack_unpack_round_trip() -> None:
    data = cache.pack(FAKE_ELF, SPEC, SOURCE)
    assert data.startswith(FAKE_ELF)
    assert len(data) == len(FAKE_ELF) + len(SPEC.to_bytes()) + cache.TRAILER.size
    assert data.endswith(cache.MAGIC)
    obj, spec = cache.unpack(data, SOURCE)
    assert obj == FAKE_ELF
    assert spec == SPEC


def test_unpack_renames_the_spec_for_another_module_name() -> None:
    data = cache.pack(FAKE_ELF, SPEC, SOURCE)
    obj, spec = cache.unpack(data, SOURCE, "pkg.m_bpf")
    assert spec.name == "pkg.m_bpf" and spec.programs == SPEC.programs


def test_every_truncation_is_refused() -> None:
    data = cache.pack(FAKE_ELF, SPEC, SOURCE)
    for n in range(len(data)):
        assert isinstance(cache.unpack(data[:n], SOURCE), str), n


def test_every_single_byte_corruption_is_refused() -> None:
    data = cache.pack(FAKE_ELF, SPEC, SOURCE)
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x41
        assert isinstance(cache.unpack(bytes(bad), SOURCE), str), i


@pytest.mark.parametrize(
    "data",
    [b"", b"\x7fELF", FAKE_ELF, bytes(4096), os.urandom(200), b"\x7fELF" + os.urandom(300) + cache.MAGIC],
    ids=["empty", "elf-magic", "plain-elf", "zeros", "random", "random-with-magic"],
)
def test_foreign_files_are_refused(data: bytes) -> None:
    assert isinstance(cache.unpack(data, SOURCE), str)


def test_a_changed_source_is_stale() -> None:
    data = cache.pack(FAKE_ELF, SPEC, SOURCE)
    assert cache.unpack(data, SOURCE + b"\n# edit\n") == "source changed or moved"


def test_other_options_or_version_are_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    data = cache.pack(FAKE_ELF, SPEC, SOURCE, options_key="cpu=v1;O2;g=1")
    assert "options" in cache.unpack(data, SOURCE)
    data = cache.pack(FAKE_ELF, SPEC, SOURCE)
    monkeypatch.setattr(cache, "__version__", "99.0")
    assert "version" in cache.unpack(data, SOURCE)


def test_another_llvm_is_stale_unless_llvmlite_is_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    data = cache.pack(FAKE_ELF, SPEC, SOURCE)
    monkeypatch.setattr(cache, "_toolchain", ("llvmlite 9.9", b"otherllv"))
    assert "llvm" in cache.unpack(data, SOURCE)
    # a runtime-only install (no compiler to rebuild with) uses a matching object
    monkeypatch.setattr(cache, "_toolchain", ("llvmlite not installed", None))
    assert not isinstance(cache.unpack(data, SOURCE), str)


def test_toolchain_names_the_installed_llvmlite_without_importing_it(tmp_path: Path) -> None:
    r = child(
        """
        from bpfimport import cache
        desc, key = cache.toolchain()
        print(desc)
        assert len(key) == 8
        assert "llvmlite" not in sys.modules, "toolchain() imported llvmlite"
        import llvmlite
        print(llvmlite.__version__)
        """,
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    desc, version = r.stdout.splitlines()
    assert desc.startswith(f"llvmlite {version} (")


# ---------------------------------------------------------------- writing


def test_write_atomic_leaves_only_the_file(tmp_path: Path) -> None:
    target = tmp_path / "__pycache__" / "x.o"
    assert cache.write(str(target), b"one")
    assert cache.write(str(target), b"two")  # replaces
    assert target.read_bytes() == b"two"
    assert os.listdir(target.parent) == ["x.o"]


def test_write_to_an_impossible_place_is_false_not_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert cache.write(str(blocker / "__pycache__" / "x.o"), b"data") is False
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.o").mkdir()  # os.replace onto a folder fails
    assert cache.write(str(tmp_path / "d" / "x.o"), b"data") is False
    assert os.listdir(tmp_path / "d") == ["x.o"]  # the temporary file is gone


# ---------------------------------------------------------------- load()


@pytest.fixture
def src(tmp_path: Path) -> Path:
    path = tmp_path / "m.bpf.py"
    path.write_text(TRIVIAL)
    return path


def test_load_compiles_writes_then_hits(src: Path, compile_counter: CompileCounter, writable_cache: None) -> None:
    first = compile_or_read(str(src), "m_bpf")
    assert (first.hit, first.written) == (False, True)
    assert Path(first.cached).is_file()
    second = compile_or_read(str(src), "m_bpf")
    assert second.hit and second.object == first.object and second.spec == first.spec
    assert len(compile_counter.calls) == 1


def test_a_moved_tree_recompiles(tmp_path: Path, compile_counter: CompileCounter,
                                 writable_cache: None) -> None:
    """The object's line info names the source path: a moved tree (its __pycache__ too) recompiles."""
    old = tmp_path / "old"
    old.mkdir()
    (old / "m.bpf.py").write_text(TRIVIAL)
    assert not compile_or_read(str(old / "m.bpf.py"), "m_bpf").hit
    assert compile_or_read(str(old / "m.bpf.py"), "m_bpf").hit
    new = tmp_path / "new"
    old.rename(new)
    moved = compile_or_read(str(new / "m.bpf.py"), "m_bpf")
    assert not moved.hit and moved.written
    assert compile_counter.calls[-1][0] == str(new / "m.bpf.py")
    assert compile_or_read(str(new / "m.bpf.py"), "m_bpf").hit
    assert len(compile_counter.calls) == 2


def test_load_under_dont_write_bytecode_writes_nothing_but_reads(
    src: Path, compile_counter: CompileCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setattr(sys, "pycache_prefix", None)
    entry = compile_or_read(str(src), "m_bpf")
    assert not entry.hit and not entry.written
    assert not (src.parent / "__pycache__").exists()
    # a cache prefilled by someone else (compileall) is still used
    assert compile_or_read(str(src), "m_bpf", write_cache=True).written
    assert compile_or_read(str(src), "m_bpf").hit
    assert len(compile_counter.calls) == 2


def test_force_recompiles(src: Path, compile_counter: CompileCounter, writable_cache: None) -> None:
    compile_or_read(str(src), "m_bpf")
    assert not compile_or_read(str(src), "m_bpf", force=True).hit
    assert len(compile_counter.calls) == 2


def test_a_corrupt_cache_file_is_recompiled_and_replaced(
    src: Path, compile_counter: CompileCounter, writable_cache: None
) -> None:
    cached = Path(compile_or_read(str(src), "m_bpf").cached)
    good = cached.read_bytes()
    cached.write_bytes(good[: len(good) // 2])
    entry = compile_or_read(str(src), "m_bpf")
    assert not entry.hit and entry.written
    assert cached.read_bytes() == good


def test_a_failed_compile_writes_nothing(src: Path, compile_counter: CompileCounter, writable_cache: None) -> None:
    cached = Path(compile_or_read(str(src), "m_bpf").cached)
    before = cached.read_bytes()
    src.write_text(TRIVIAL + "\nSYNTAX_ERROR\n")
    with pytest.raises(CompileError, match=BROKEN_MESSAGE) as info:
        compile_or_read(str(src), "m_bpf")
    assert info.value.filename == str(src) and info.value.lineno == TRIVIAL.count("\n") + 2
    assert cached.read_bytes() == before  # the old (now stale) file is untouched, never trusted
    assert sorted(os.listdir(cached.parent)) == [cached.name]
    with pytest.raises(CompileError):
        compile_or_read(str(src), "m_bpf")  # still an error, not a stale hit


def test_non_default_options_bypass_the_cache(src: Path, compile_counter: CompileCounter, writable_cache: None) -> None:
    from bpfimport.compiler import CompileOptions

    entry = compile_or_read(str(src), "m_bpf", options=CompileOptions(cpu="v1"))
    assert not entry.hit and not entry.written
    assert not Path(entry.cached).exists()


# ---------------------------------------------------------------- the file is a standard object


@pytest.fixture
def real_cached(tmp_path: Path, writable_cache: None) -> Path:
    """A cache file written for TRIVIAL by the real compiler."""
    src = tmp_path / "trivial.bpf.py"
    src.write_text(TRIVIAL)
    entry = compile_or_read(str(src), "trivial_bpf")
    assert entry.written
    return Path(entry.cached)


def test_libbpf_opens_the_cache_file_as_is(real_cached: Path) -> None:
    import ctypes

    try:
        libbpf = ctypes.CDLL("libbpf.so.1", use_errno=True)
    except OSError:
        libbpf = None
    need(libbpf is not None, "libbpf.so.1 is not installed (apt-get install libbpf1)")
    libbpf.bpf_object__open_file.restype = ctypes.c_void_p
    libbpf.bpf_object__open_file.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    libbpf.bpf_object__find_program_by_name.restype = ctypes.c_void_p
    libbpf.bpf_object__find_program_by_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    libbpf.bpf_object__find_map_by_name.restype = ctypes.c_void_p
    libbpf.bpf_object__find_map_by_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    libbpf.bpf_object__close.argtypes = [ctypes.c_void_p]
    obj = libbpf.bpf_object__open_file(str(real_cached).encode(), None)
    assert obj, f"libbpf refused the cache file: errno {ctypes.get_errno()}"
    try:
        assert libbpf.bpf_object__find_program_by_name(obj, b"prog")
        assert libbpf.bpf_object__find_map_by_name(obj, b"counts")
    finally:
        libbpf.bpf_object__close(obj)


def test_bpftool_loads_the_cache_file_into_the_kernel(real_cached: Path, kernel: None) -> None:
    import shutil
    import subprocess

    bpftool = shutil.which("bpftool") or ("/usr/sbin/bpftool" if os.path.exists("/usr/sbin/bpftool") else None)
    need(bpftool is not None, "bpftool is not installed (apt-get install bpftool)")
    need(os.path.ismount("/sys/fs/bpf"), "bpffs is not mounted at /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf)")
    pin = f"/sys/fs/bpf/bpfimport-test-{os.getpid()}"
    r = subprocess.run([bpftool, "prog", "loadall", str(real_cached), pin], capture_output=True, text=True)
    try:
        assert r.returncode == 0, r.stderr
        assert os.path.exists(os.path.join(pin, "prog"))
    finally:
        shutil.rmtree(pin, ignore_errors=True)


def test_an_object_with_probe_arguments_is_for_its_machine_only() -> None:
    """Probe arguments read the compiling machine's registers: the spec names the machine and
    the cache compiles again on another; objects without them stay valid anywhere."""
    from bpfimport.compiler import CompileOptions, compile_source

    src = ("from bpfimport.lang import *\nout = ArrayMap(key=u32, value=u64, max_entries=1)\n"
           "@uprobe('/bin/true', 'main')\ndef p(ctx, argc: i32) -> int:\n    out[0] = argc\n"
           "    return 0\n")
    spec = compile_source(src, "/virtual/m.bpf.py", "m_bpf", CompileOptions()).spec
    assert spec.extra == {"machine": os.uname().machine}
    assert compile_source(TRIVIAL, "/virtual/t.bpf.py", "t_bpf", CompileOptions()).spec.extra == {}
    here = cache.pack(FAKE_ELF, spec, SOURCE)
    assert cache.unpack(here, SOURCE) == (FAKE_ELF, spec)
    other = spec.replace(extra={"machine": "sparc64"})
    assert cache.unpack(cache.pack(FAKE_ELF, other, SOURCE), SOURCE) == \
        "reads sparc64 registers (probe arguments)"
