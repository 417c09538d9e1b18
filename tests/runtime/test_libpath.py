"""A uprobe's bare library name is found as the dynamic loader finds it (runtime/libpath.py).

The oracles are the loader itself (a child process dlopen()s the name and asks dlinfo() which
file it mapped) and ldconfig's own reading of /etc/ld.so.cache, never bpfimport's code."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bpfimport.runtime import libpath

# A child that asks the loader which file it maps for each name given (or "-" when it cannot).
LOADER = textwrap.dedent('''
    import ctypes, sys
    libdl = ctypes.CDLL(None)
    for name in sys.argv[1:]:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            print("-"); continue
        lm = ctypes.c_void_p()
        libdl.dlinfo(ctypes.c_void_p(lib._handle), 2, ctypes.byref(lm))
        print(ctypes.c_char_p.from_address(lm.value + 8).value.decode())
''')


def loader_says(*names: str, env: dict[str, str] | None = None) -> list[str]:
    out = subprocess.run([sys.executable, "-c", LOADER, *names], capture_output=True, text=True,
                         check=True, env=env).stdout
    return out.splitlines()


def ldconfig_entries() -> list[tuple[str, str]]:
    """(name, path) of every /etc/ld.so.cache entry, as ldconfig -p prints them."""
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    if not os.path.exists(ldconfig):
        pytest.skip("no ldconfig to read /etc/ld.so.cache independently")
    out = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, check=True).stdout
    return re.findall(r"^\s+(\S+) \(.*\) => (\S+)$", out, re.M)


def test_the_cache_reads_as_ldconfig_reads_it() -> None:
    ours = [(k.decode(), v.decode()) for k, v, _ in libpath.read_cache()]
    theirs = ldconfig_entries()
    assert theirs, "ldconfig -p listed nothing"
    assert ours == theirs


def machine_libraries() -> list[str]:
    """Sonames (lib*.so.N) the cache lists for this machine, a few of each folder."""
    by_folder: dict[str, list[str]] = {}
    for name, path in ldconfig_entries():
        if re.fullmatch(r"lib[\w+-]+\.so\.\d+", name) and libpath._usable(path):
            by_folder.setdefault(os.path.dirname(path), []).append(name)
    return sorted({n for names in by_folder.values() for n in names[:3]})


def test_libraries_resolve_to_the_files_the_loader_maps() -> None:
    names = machine_libraries() + ["libc.so.6"]
    assert len(names) >= 4, names
    want = loader_says(*names)
    for name, loaded in zip(names, want):
        if loaded == "-":
            continue  # the loader itself cannot load it (a missing dependency): nothing to compare
        got = libpath.search_library(name)
        assert os.path.realpath(got) == os.path.realpath(loaded), (name, got, loaded)


def test_a_library_this_process_has_loaded_is_the_loaders_own_answer() -> None:
    (loaded,) = loader_says("libc.so.6")
    assert libpath.loaded_path("libc.so.6") == loaded
    assert libpath.find_library("libc.so.6") == loaded
    assert libpath.loaded_path("libbpfimport-none.so.1") is None


def test_ld_library_path_comes_first_and_other_machines_libraries_are_passed_over(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = libpath.search_library("libz.so.1")
    other, good = tmp_path / "other", tmp_path / "good"
    other.mkdir()
    good.mkdir()
    elf = bytearray(Path(real).read_bytes())
    elf[18:20] = (0xF7 if elf[18:20] != b"\xf7\x00" else 0x3E).to_bytes(2, "little")  # another e_machine
    (other / "libz.so.1").write_bytes(elf)
    shutil.copy(real, good / "libz.so.1")
    monkeypatch.setenv("LD_LIBRARY_PATH", f"{other}:{good}")
    assert libpath.search_library("libz.so.1") == str(good / "libz.so.1")
    assert loader_says("libz.so.1", env={**os.environ}) == [str(good / "libz.so.1")]  # the loader agrees


def test_a_file_that_is_not_elf_stops_the_search_as_it_stops_the_loader(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a library the interpreter itself does not link (a Debian python3 links libz: a fake libz
    # on LD_LIBRARY_PATH would stop the oracle child from starting at all)
    (tmp_path / "libbz2.so.1.0").write_bytes(b"not an ELF file")
    monkeypatch.setenv("LD_LIBRARY_PATH", str(tmp_path))
    assert loader_says("libbz2.so.1.0", env={**os.environ}) == ["-"]  # the loader gives up there
    with pytest.raises(libpath.NotFound, match="not an ELF file: the loader stops there"):
        libpath.search_library("libbz2.so.1.0")


def test_a_32_bit_library_in_the_cache_is_passed_over() -> None:
    paths = [v.decode() for k, v, _ in libpath.read_cache() if k == b"libc.so.6"]
    if len(paths) < 2:
        pytest.skip("the cache lists libc.so.6 for one ABI only")
    usable = [p for p in paths if libpath._usable(p)]
    assert usable and len(usable) < len(paths)
    assert libpath.search_library("libc.so.6") == usable[0]


def test_a_missing_library_says_where_it_looked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LD_LIBRARY_PATH", "/nonexistent/a")
    with pytest.raises(libpath.NotFound) as info:
        libpath.find_library("libbpfimport-none.so.7")
    text = str(info.value)
    assert "'libbpfimport-none.so.7' was not found" in text
    for where in ("LD_LIBRARY_PATH (/nonexistent/a)", "/etc/ld.so.cache", "/usr/lib"):
        assert where in text, text


def test_paths_stay_and_programs_are_found_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    assert libpath.resolve_binary("/opt/x/libfoo.so") == "/opt/x/libfoo.so"
    assert libpath.resolve_binary("sh") == shutil.which("sh")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(libpath.NotFound, match=r"PATH \(/nonexistent\)"):
        libpath.resolve_binary("sh")


def test_attaching_a_uprobe_on_a_missing_library_names_what_was_searched(bpf_dir) -> None:
    """Before any kernel work: the name is resolved first, and the error says where it looked."""
    from bpfimport import BpfError

    (bpf_dir / "nolib.bpf.py").write_text(
        "from bpfimport.lang import *\n@uprobe('libbpfimport-none.so.3', 'f')\n"
        "def p(ctx) -> int:\n    return 0\n")
    import nolib_bpf as mod

    with pytest.raises(BpfError) as info:
        mod.p.attach()
    text = str(info.value)
    assert text.startswith("cannot attach program 'p' to uprobe/libbpfimport-none.so.3:f: "
                           "'libbpfimport-none.so.3' was not found; searched:"), text
    assert "/etc/ld.so.cache" in text
    assert not mod.__bpf_object__.loaded  # nothing was loaded for it
