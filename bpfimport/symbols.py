"""Names for code addresses: kernel ones from /proc/kallsyms, user ones from ELF symbol tables.

``bpfimport.ksym(addr)`` names the kernel function that holds ``addr``;
``bpfimport.usym(addr, pid)`` the function of process ``pid`` that holds it.
Both give ``"[unknown]"`` for an address they cannot place, as bcc's
``ksym``/``sym`` do, so a stack prints whole.

**Kernel.** ``/proc/kallsyms`` is read once, on the first call (~0.2 s for the
~200,000 symbols of a distribution kernel), into a sorted array of the text
symbols' addresses; each lookup is a bisection.  The kernel shows the real
addresses only to a reader with CAP_SYSLOG (root) when ``kernel.kptr_restrict``
is 0 or 1; to anyone else every address reads as 0, and then there is
nothing to name addresses with: ``ksym()`` raises ``PermissionError`` saying
so, rather than calling every address ``[unknown]``.  Modules loaded after
the first call are seen after :func:`kernel_symbols` ``(refresh=True)``.

**User space.** An address of a process is placed in one of its executable
file mappings (``/proc/PID/maps``), turned into an offset in that file, then
into the ELF virtual address through the file's ``PT_LOAD`` program headers,
and looked up among the function symbols of ``.symtab`` and ``.dynsym``
(a symbol must cover the address when it has a size).  The ELF file is read
with pyelftools — a well-kept ELF reader rather than one more hand-written
parser; it is an optional dependency (``pip install 'bpfimport[tools]'``),
since only tools that print user stacks need it.  Each binary's symbols are
read once and cached by file identity (device, inode, size, mtime), so many
processes of one program, or one library in many processes, cost one read.
The binary is opened through ``/proc/PID/root`` (so processes in other mount
namespaces, e.g. containers, resolve) and, when that fails (a deleted or
replaced file), through ``/proc/PID/map_files`` (root only).  Stripped
binaries name only their exported functions; separate debug files are not
searched.
"""

from __future__ import annotations

import bisect
import os
import threading
from array import array

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

UNKNOWN = "[unknown]"
KALLSYMS = "/proc/kallsyms"
TEXT_TYPES = frozenset("tTwW")  # code symbols (local, global, weak): what a stack holds
_lock = threading.Lock()


# ---------------------------------------------------------------- kernel


class KernelSymbols:
    """The text symbols of /proc/kallsyms, sorted by address, looked up by bisection."""

    def __init__(self, path: str = KALLSYMS) -> None:
        entries: list[tuple[int, str, str | None]] = []
        nonzero = False
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3 or parts[1] not in TEXT_TYPES:
                    continue
                addr = int(parts[0], 16)
                nonzero = nonzero or addr != 0
                module = parts[3][1:-1] if len(parts) > 3 else None
                entries.append((addr, parts[2], module))
        if entries and not nonzero:
            raise PermissionError(
                f"{path} hides the kernel's addresses from this process (every address reads "
                f"as 0): naming kernel addresses needs root (CAP_SYSLOG) and "
                f"kernel.kptr_restrict set to 0 or 1")
        entries.sort(key=lambda e: e[0])
        self.addresses = array("Q", (e[0] for e in entries))
        self.names = [e[1] for e in entries]
        self.modules = [e[2] for e in entries]

    def __len__(self) -> int:
        return len(self.names)

    def find(self, addr: int) -> tuple[str, int, str | None] | None:
        """(name, offset into it, module or None) of the symbol holding ``addr``, or None."""
        i = bisect.bisect_right(self.addresses, addr) - 1
        if i < 0:
            return None
        return self.names[i], addr - self.addresses[i], self.modules[i]

    def name(self, addr: int, offset: bool = False, module: bool = False) -> str:
        found = self.find(addr)
        if found is None:
            return UNKNOWN
        return _format(found[0], found[1], found[2], offset, module)


_kernel: KernelSymbols | None = None


def kernel_symbols(refresh: bool = False) -> KernelSymbols:
    """The kernel's symbols, read from /proc/kallsyms on first use (again with ``refresh``)."""
    global _kernel
    with _lock:
        if _kernel is None or refresh:
            _kernel = KernelSymbols()
        return _kernel


def ksym(addr: int, offset: bool = False, module: bool = False) -> str:
    """The kernel function holding ``addr`` (``"[unknown]"`` below the first one).

    ``offset=True`` appends ``+0x1f``; ``module=True`` appends `` [module]`` for
    code in a loadable module.  Raises PermissionError when /proc/kallsyms
    hides addresses from this process (not root).
    """
    return kernel_symbols().name(addr, offset, module)


def _format(name: str, off: int, where: str | None, offset: bool, module: bool) -> str:
    text = f"{name}+0x{off:x}" if offset else name
    return f"{text} [{where}]" if module and where else text


# ---------------------------------------------------------------- user space


def _elftools() -> Any:
    try:
        from elftools.elf.elffile import ELFFile
    except ImportError:
        raise ImportError("naming user-space addresses reads ELF symbol tables with pyelftools, "
                          "which is not installed: pip install 'bpfimport[tools]' "
                          "(or pip install pyelftools)") from None
    return ELFFile


class BinarySymbols:
    """The function symbols and loadable segments of one ELF file."""

    def __init__(self, path: str) -> None:
        ELFFile = _elftools()
        funcs: dict[int, tuple[int, str]] = {}
        segments: list[tuple[int, int, int]] = []
        with open(path, "rb") as f:
            elf = ELFFile(f)
            for seg in elf.iter_segments():
                if seg["p_type"] == "PT_LOAD":
                    segments.append((seg["p_offset"], seg["p_filesz"], seg["p_vaddr"]))
            for section_name in (".symtab", ".dynsym"):  # .symtab first: it names more
                section = elf.get_section_by_name(section_name)
                if section is None or not hasattr(section, "iter_symbols"):
                    continue
                for sym in section.iter_symbols():
                    if sym["st_info"]["type"] not in ("STT_FUNC", "STT_GNU_IFUNC") \
                            or not sym["st_value"] or not sym.name:
                        continue
                    funcs.setdefault(sym["st_value"], (sym["st_size"], sym.name))
        ordered = sorted(funcs.items())
        self.starts = array("Q", (a for a, _ in ordered))
        self.sizes = [s for _, (s, _) in ordered]
        self.names = [n for _, (_, n) in ordered]
        self.segments = segments

    def vaddr(self, file_offset: int) -> int | None:
        """The ELF virtual address of a file offset inside a loadable segment."""
        for offset, size, vaddr in self.segments:
            if offset <= file_offset < offset + size:
                return file_offset - offset + vaddr
        return None

    def find(self, vaddr: int) -> tuple[str, int] | None:
        """(name, offset) of the function holding ``vaddr`` (within its size, when it has one)."""
        i = bisect.bisect_right(self.starts, vaddr) - 1
        if i < 0:
            return None
        off = vaddr - self.starts[i]
        if self.sizes[i] and off >= self.sizes[i]:
            return None
        return self.names[i], off


_binaries: dict[tuple[int, int, int, int], BinarySymbols] = {}


def binary_symbols(path: str) -> BinarySymbols:
    """The symbols of the ELF file at ``path``, read once per file identity."""
    st = os.stat(path)
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    found = _binaries.get(key)
    if found is None:
        found = BinarySymbols(path)
        with _lock:
            _binaries[key] = found
    return found


class Mapping:
    """One executable file mapping of a process (a line of /proc/PID/maps)."""

    __slots__ = ("start", "end", "offset", "path")

    def __init__(self, start: int, end: int, offset: int, path: str) -> None:
        self.start = start
        self.end = end
        self.offset = offset
        self.path = path


def read_maps(pid: int) -> list[Mapping]:
    """The executable file mappings of a process, by address ([] when it is gone)."""
    out: list[Mapping] = []
    try:
        with open(f"/proc/{pid}/maps", encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                parts = line.split(maxsplit=5)
                if len(parts) < 6 or "x" not in parts[1] or not parts[5].startswith("/"):
                    continue
                lo, _, hi = parts[0].partition("-")
                out.append(Mapping(int(lo, 16), int(hi, 16), int(parts[2], 16),
                                   parts[5].rstrip("\n")))
    except (FileNotFoundError, ProcessLookupError):
        return []
    out.sort(key=lambda m: m.start)
    return out


class ProcessSymbols:
    """Names for the code addresses of one process; its maps are read again on a miss."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._maps: list[Mapping] = read_maps(pid)
        self._starts = [m.start for m in self._maps]

    def _mapping(self, addr: int) -> Mapping | None:
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0 and addr < self._maps[i].end:
            return self._maps[i]
        return None

    def find(self, addr: int) -> tuple[str, int, str] | None:
        """(function, offset, binary path) of ``addr``, or None."""
        m = self._mapping(addr)
        if m is None:  # mapped since we looked (dlopen), or not code: look again once
            self._maps = read_maps(self.pid)
            self._starts = [x.start for x in self._maps]
            m = self._mapping(addr)
            if m is None:
                return None
        syms = self._binary(m)
        if syms is None:
            return None
        vaddr = syms.vaddr(addr - m.start + m.offset)
        found = syms.find(vaddr) if vaddr is not None else None
        return (found[0], found[1], m.path) if found is not None else None

    def _binary(self, m: Mapping) -> BinarySymbols | None:
        path = m.path[:-len(" (deleted)")] if m.path.endswith(" (deleted)") else m.path
        for candidate in (f"/proc/{self.pid}/root{path}",
                          f"/proc/{self.pid}/map_files/{m.start:x}-{m.end:x}"):
            try:
                return binary_symbols(candidate)
            except ImportError:
                raise
            except Exception:  # noqa: BLE001 - not there, not readable, not ELF: try the next
                continue
        return None

    def name(self, addr: int, offset: bool = False, module: bool = False) -> str:
        found = self.find(addr)
        if found is None:
            return UNKNOWN
        return _format(found[0], found[1], os.path.basename(found[2]), offset, module)


_processes: dict[int, ProcessSymbols] = {}
_PROCESS_CACHE = 64


def process_symbols(pid: int) -> ProcessSymbols:
    """The symbol resolver of process ``pid`` (the last few are kept)."""
    found = _processes.get(pid)
    if found is None:
        found = ProcessSymbols(pid)
        with _lock:
            if len(_processes) >= _PROCESS_CACHE:
                _processes.pop(next(iter(_processes)))
            _processes[pid] = found
    return found


def usym(addr: int, pid: int, offset: bool = False, module: bool = False) -> str:
    """The function of process ``pid`` holding ``addr`` (``"[unknown]"`` when it can't be named).

    ``module=True`` appends the binary's file name (`` [libc.so.6]``).  Needs
    pyelftools (``pip install 'bpfimport[tools]'``); raises ImportError without it.
    """
    return process_symbols(pid).name(addr, offset, module)


__all__ = ["UNKNOWN", "BinarySymbols", "KernelSymbols", "ProcessSymbols", "binary_symbols",
           "kernel_symbols", "ksym", "process_symbols", "read_maps", "usym"]
