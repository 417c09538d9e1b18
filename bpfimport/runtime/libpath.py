"""Which file a uprobe on ``"libc.so.6"`` attaches to: the library the dynamic loader would load.

A uprobe attaches to a file (the kernel resolves it to an inode), so a bare name
must become a path.  libbpf does this itself for ``uprobe/libc.so.6:getenv``, but
libbpf 1.1 searches only ``LD_LIBRARY_PATH``, ``/usr/lib64`` and ``/usr/lib``:
Debian's multiarch folders (``/usr/lib/x86_64-linux-gnu``) are not among them, so
the attach fails there.  This module searches as ``ld.so`` does, at attach time,
so the compiled object keeps the name as written (and stays valid on a machine
whose libraries live elsewhere):

1. a library this process has loaded already: the loader's own answer
   (``dlopen(name, RTLD_NOLOAD)`` + ``dlinfo(RTLD_DI_LINKMAP)``), which loads nothing;
2. ``LD_LIBRARY_PATH``;
3. ``/etc/ld.so.cache`` (the folders of ``/etc/ld.so.conf``, multiarch ones included);
4. the loader's built-in folders (``/lib/<multiarch>``, ``/usr/lib/<multiarch>``,
   ``/lib64``, ``/usr/lib64``, ``/lib``, ``/usr/lib``).

A candidate counts only if it is an ELF file for this machine (the cache also lists
32-bit libraries).  Not searched: a program's own ``RUNPATH``/``RPATH`` (they belong to
the traced program, not to a name) and ``glibc-hwcaps`` variants (``x86-64-v3/``) of
a library this process has not loaded.  A bare name without ``.so`` is an executable,
looked up on ``PATH`` as a shell would.  Part of the runtime: no compiler import.
"""

from __future__ import annotations

import os
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

LD_SO_CACHE = "/etc/ld.so.cache"
# os.uname().machine -> (ELF e_machine, the Debian/Ubuntu multiarch folder name)
MACHINES = {
    "x86_64": (62, "x86_64-linux-gnu"),
    "aarch64": (183, "aarch64-linux-gnu"),
    "riscv64": (243, "riscv64-linux-gnu"),
    "ppc64le": (21, "powerpc64le-linux-gnu"),
    "s390x": (22, "s390x-linux-gnu"),
}
RTLD_LAZY = 0x1
RTLD_NOLOAD = 0x4
RTLD_DI_LINKMAP = 2
_NEW_MAGIC = b"glibc-ld.so.cache1.1"
_OLD_MAGIC = b"ld.so-1.7.0"
_HWCAP_EXTENSION = 1 << 62  # a glibc-hwcaps/ variant (DL_CACHE_HWCAP_EXTENSION)


class NotFound(LookupError):
    """No file for the name; ``searched`` says where the search looked, in order."""

    def __init__(self, name: str, searched: list[str]) -> None:
        self.name = name
        self.searched = searched
        super().__init__(f"'{name}' was not found; searched: {', '.join(searched)}")


def resolve_binary(name: str) -> str:
    """The file a uprobe section's binary names: a path as it is, a library or a program found."""
    if "/" in name:
        return name
    if ".so" in name:
        return find_library(name)
    return find_program(name)


def find_library(name: str) -> str:
    """The path ``ld.so`` would load for the library ``name`` (``libc.so.6``), or NotFound."""
    loaded = loaded_path(name)
    if loaded is not None:
        return loaded
    return search_library(name, ["the libraries this process has loaded"])


def search_library(name: str, searched: list[str] | None = None) -> str:
    """Steps 2-4 of the module's docstring: ``LD_LIBRARY_PATH``, the cache, the built-in folders."""
    searched = [] if searched is None else searched
    env = os.environ.get("LD_LIBRARY_PATH", "")
    folders = [d for part in env.split(";") for d in part.split(":") if d]
    searched.append(f"LD_LIBRARY_PATH ({env})" if folders else "LD_LIBRARY_PATH (not set)")
    candidates = [os.path.join(folder, name) for folder in folders]
    found = _first(name, candidates, searched)
    if found is None:
        searched.append(LD_SO_CACHE)
        found = _first(name, list(cache_entries(name)), searched)
    if found is None:
        searched.extend(system_folders())
        found = _first(name, [os.path.join(f, name) for f in system_folders()], searched)
    if found is None:
        raise NotFound(name, searched)
    return found


def _first(name: str, paths: list[str], searched: list[str]) -> str | None:
    """The first of ``paths`` the loader would take: it passes over missing files and ELF
    files of another machine, and stops at a file that is not ELF at all."""
    for path in paths:
        kind = _elf_kind(path)
        if kind == "ok":
            return path
        if kind == "not elf":
            searched.append(f"{path} (not an ELF file: the loader stops there)")
            raise NotFound(name, searched)
    return None


def find_program(name: str) -> str:
    """An executable ``name`` on ``PATH``, as a shell finds it, or NotFound."""
    folders = [d for d in os.environ.get("PATH", os.defpath).split(os.pathsep) if d]
    for folder in folders:
        path = os.path.join(folder, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise NotFound(name, [f"PATH ({os.pathsep.join(folders)})"])


def system_folders() -> list[str]:
    """The loader's built-in folders for this machine, as glibc is built on Debian and Fedora."""
    multiarch = MACHINES.get(os.uname().machine, (0, ""))[1]
    folders = [f"/lib/{multiarch}", f"/usr/lib/{multiarch}"] if multiarch else []
    return folders + ["/lib64", "/usr/lib64", "/lib", "/usr/lib"]


def loaded_path(name: str) -> str | None:
    """The file of library ``name`` if this process has it loaded (the loader says which)."""
    import ctypes

    try:
        lib = ctypes.CDLL(name, mode=RTLD_NOLOAD | RTLD_LAZY)
    except OSError:
        return None  # not loaded: RTLD_NOLOAD loads nothing
    libdl = ctypes.CDLL(None)
    dlinfo = getattr(libdl, "dlinfo", None)
    if dlinfo is None:
        return None
    link_map = ctypes.c_void_p()
    if dlinfo(ctypes.c_void_p(lib._handle), RTLD_DI_LINKMAP, ctypes.byref(link_map)) != 0 \
            or not link_map.value:
        return None
    # struct link_map { ElfW(Addr) l_addr; char *l_name; ... }
    l_name = ctypes.c_char_p.from_address(link_map.value + ctypes.sizeof(ctypes.c_void_p)).value
    return os.fsdecode(l_name) if l_name else None


def cache_entries(name: str, path: str = LD_SO_CACHE) -> Iterator[str]:
    """The paths ``/etc/ld.so.cache`` lists for ``name``, in its order (the loader's)."""
    key = os.fsencode(name)
    for k, v, hwcap in read_cache(path):
        if k == key and not hwcap & _HWCAP_EXTENSION:
            yield os.fsdecode(v)


def read_cache(path: str = LD_SO_CACHE) -> list[tuple[bytes, bytes, int]]:
    """Every entry of an ``ld.so.cache`` as (name, path, hwcap), in order; [] if unreadable."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    start = data.find(_NEW_MAGIC)
    if start < 0 or (start and not data.startswith(_OLD_MAGIC)):
        return []  # only the old format, or not a cache: the built-in folders still apply
    # cache_file_new: magic+version[20] nlibs len_strings flags pad[3] extension_offset unused[3],
    # then file_entry_new[nlibs]: int32 flags, uint32 key, uint32 value, uint32 osversion, u64 hwcap;
    # string offsets count from the start of cache_file_new
    nlibs = struct.unpack_from("<I", data, start + 20)[0]
    entries = []
    for i in range(nlibs):
        at = start + 48 + 24 * i
        if at + 24 > len(data):
            break
        _flags, k, v, _os, hwcap = struct.unpack_from("<iIIIQ", data, at)
        entries.append((_string(data, start + k), _string(data, start + v), hwcap))
    return entries


def _string(data: bytes, at: int) -> bytes:
    end = data.find(b"\0", at)
    return data[at:end] if end >= 0 else b""


def _usable(path: str) -> bool:
    """An ELF file for this machine (not, say, a 32-bit library on a 64-bit host)."""
    return _elf_kind(path) == "ok"


def _elf_kind(path: str) -> str:
    """``ok`` (an ELF file for this machine), ``other`` (another machine's), ``missing`` or
    ``not elf``."""
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return "missing"
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return "not elf"
    want = MACHINES.get(os.uname().machine)
    if want is None:
        return "ok"  # a machine not in the table: take the first ELF file found
    order = "<" if head[5] == 1 else ">"
    return "ok" if struct.unpack_from(order + "H", head, 18)[0] == want[0] else "other"


__all__ = ["NotFound", "cache_entries", "find_library", "find_program", "loaded_path",
           "read_cache", "resolve_binary", "search_library", "system_folders"]
