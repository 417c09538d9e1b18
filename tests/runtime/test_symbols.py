"""Naming code addresses: the kallsyms reader and the ELF symbol reader, on files the test
writes or builds (no BPF needed), and what happens when the kernel hides its addresses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import bpfimport
from bpfimport import symbols
from tests.conftest import need
from tests.support import child

KALLSYMS = """\
ffffffff81000000 T _stext
ffffffff81000100 t helper_a
ffffffff81000200 D some_data
ffffffff81000300 W weak_fn
ffffffffc0000000 t mod_fn\t[mymod]
ffffffff80ff0000 T early
"""

C_SOURCE = r"""
#include <stdio.h>
__attribute__((noinline)) int bpfimport_target(int x) { return x * 3; }
__attribute__((noinline)) int bpfimport_middle(int x) { return bpfimport_target(x) + 1; }
int main(void) {
    volatile int r = 0;
    for (int i = 0; i < 20; i++) r += bpfimport_middle(i);
    printf("ready %d\n", r);
    fflush(stdout);
    return getchar() == 'x';
}
"""


def build_target(folder: Path) -> Path:
    """A small C program with two named functions, frame pointers kept (user stack walks)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    need(cc is not None, "no C compiler to build the target program")
    src = folder / "target.c"
    src.write_text(C_SOURCE)
    out = folder / "target"
    subprocess.run([cc, "-O0", "-fno-omit-frame-pointer", "-o", str(out), str(src)], check=True)
    return out


def runtime_address(pid: int, path: str, name: str) -> int:
    """Where function ``name`` of the ELF file ``path`` is in process ``pid``, computed here from
    the file's symbol value, its program headers (readelf) and the process's maps."""
    need(shutil.which("readelf") is not None, "readelf (binutils) is not installed")
    out = subprocess.run(["readelf", "-W", "--dyn-syms", "--syms", "-l", path], check=True,
                         capture_output=True, text=True).stdout
    value = next(int(f[1], 16) for f in (line.split() for line in out.splitlines())
                 if len(f) >= 8 and f[7].split("@")[0] == name and f[3] == "FUNC")
    loads = [(int(f[1], 16), int(f[2], 16), int(f[4], 16)) for f in
             (line.split() for line in out.splitlines()) if f and f[0] == "LOAD"]
    offset, vaddr = next((o, v) for o, v, size in loads if v <= value < v + size)
    file_offset = value - vaddr + offset
    for m in symbols.read_maps(pid):
        if m.path == path and m.offset <= file_offset < m.offset + (m.end - m.start):
            return m.start + file_offset - m.offset
    raise AssertionError(f"{name} of {path} is not mapped in {pid}")


def test_kernel_symbols_bisect_text_symbols_only(tmp_path: Path) -> None:
    path = tmp_path / "kallsyms"
    path.write_text(KALLSYMS)
    k = symbols.KernelSymbols(str(path))
    assert k.names == ["early", "_stext", "helper_a", "weak_fn", "mod_fn"]  # sorted, no data
    assert k.name(0xFFFFFFFF81000000) == "_stext"
    assert k.name(0xFFFFFFFF810000FF) == "_stext"
    assert k.name(0xFFFFFFFF81000250) == "helper_a"  # data symbols do not hold code
    assert k.name(0xFFFFFFFF81000301, offset=True) == "weak_fn+0x1"
    assert k.name(0xFFFFFFFFC0000010, offset=True, module=True) == "mod_fn+0x10 [mymod]"
    assert k.name(0xFFFFFFFFC0000010, module=False) == "mod_fn"
    assert k.name(0x1000) == "[unknown]"


def test_hidden_kernel_addresses_are_a_permission_error_not_unknown_names(tmp_path: Path) -> None:
    path = tmp_path / "kallsyms"
    path.write_text("".join(f"0000000000000000 {line[17:]}\n" for line in KALLSYMS.splitlines()))
    with pytest.raises(PermissionError, match="needs root"):
        symbols.KernelSymbols(str(path))


@pytest.mark.kernel
def test_ksym_as_an_unprivileged_user_raises_permission_error(tmp_path: Path) -> None:
    need(os.geteuid() == 0 and shutil.which("setpriv") is not None,
         "running as another user needs root and setpriv")
    r = child("""
        try:
            bpfimport.ksym(0xffffffff81000000)
        except PermissionError as e:
            print("refused:", e)
    """, tmp_path, user="nobody")
    assert r.returncode == 0, r.stderr
    assert "refused:" in r.stdout and "kptr_restrict" in r.stdout


@pytest.mark.kernel
def test_ksym_names_real_kernel_functions() -> None:
    need(os.geteuid() == 0, "/proc/kallsyms shows addresses to root only")
    found = {}
    with open("/proc/kallsyms") as f:  # read here, independently of bpfimport
        for line in f:
            addr, kind, name = line.split()[:3]
            if name in ("schedule", "vfs_read") and kind in "tT":
                found[name] = int(addr, 16)
    need(len(found) == 2, "this kernel lists no schedule/vfs_read")
    for name, addr in found.items():
        assert bpfimport.ksym(addr) == name
        assert bpfimport.ksym(addr + 3, offset=True) == f"{name}+0x3"


def test_user_symbols_of_a_running_process(tmp_path: Path) -> None:
    exe = build_target(tmp_path)
    proc = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("ready")
        runtime = runtime_address(proc.pid, str(exe), "bpfimport_target")
        assert bpfimport.usym(runtime, proc.pid) == "bpfimport_target"
        assert bpfimport.usym(runtime + 2, proc.pid, offset=True, module=True) == \
            "bpfimport_target+0x2 [target]"
        # a shared library's exported functions resolve from its .dynsym
        libc = next(m.path for m in symbols.read_maps(proc.pid)
                    if os.path.basename(m.path).startswith("libc."))
        assert bpfimport.usym(runtime_address(proc.pid, libc, "getppid"), proc.pid) == "getppid"
        assert bpfimport.usym(0x10, proc.pid) == "[unknown]"  # nothing mapped there
    finally:
        proc.communicate("x")
    assert bpfimport.usym(runtime, 2**22 + 12345) == "[unknown]"  # no such process


def test_binary_symbols_are_read_once_per_file_until_it_changes(tmp_path: Path) -> None:
    exe = build_target(tmp_path)
    first = symbols.binary_symbols(str(exe))
    assert symbols.binary_symbols(str(exe)) is first
    assert {"bpfimport_target", "bpfimport_middle", "main"} <= set(first.names)
    later = time.time() + 5
    os.utime(exe, (later, later))
    assert symbols.binary_symbols(str(exe)) is not first


def test_without_pyelftools_user_symbols_say_what_to_install(tmp_path: Path, monkeypatch) -> None:
    exe = build_target(tmp_path)
    monkeypatch.setitem(sys.modules, "elftools", None)
    monkeypatch.setitem(sys.modules, "elftools.elf", None)
    monkeypatch.setitem(sys.modules, "elftools.elf.elffile", None)
    with pytest.raises(ImportError, match=r"pip install 'bpfimport\[tools\]'"):
        symbols.BinarySymbols(str(exe))
