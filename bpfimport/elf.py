"""Just enough ELF64 reading for BPF objects: sections by name, symbols.

Shared by the compiler (symbol offsets of globals, the stack check) and
:mod:`bpfimport.btf` (an object's ``.BTF`` and ``.BTF.ext``); it imports nothing
of bpfimport, so neither package depends on the other for it.
"""

from __future__ import annotations

import os
import struct

SHF_EXECINSTR = 0x4
STT_FUNC = 2
SHT_SYMTAB = 2
SHT_DYNSYM = 11
STB_WEAK = 2
_SHN_LORESERVE = 0xFF00
_SYM_SIZE = 24  # sizeof(Elf64_Sym)
_SHDR = struct.Struct("<IIQQQQIIQQ")  # Elf64_Shdr
_SYM = struct.Struct("<IBBHQQ")  # Elf64_Sym


def _is_elf64_le(head: bytes) -> bool:
    return head[:4] == b"\x7fELF" and head[4:6] == b"\x02\x01"


class Section:
    __slots__ = ("index", "name", "type", "flags", "offset", "size")

    def __init__(self, index: int, name: str, type: int, flags: int, offset: int, size: int) -> None:
        self.index, self.name, self.type, self.flags = index, name, type, flags
        self.offset, self.size = offset, size


class Symbol:
    __slots__ = ("name", "section", "value", "size", "kind")

    def __init__(self, name: str, section: int, value: int, size: int, kind: int) -> None:
        self.name, self.section, self.value, self.size = name, section, value, size
        self.kind = kind  # STT_*


class Elf:
    def __init__(self, data: bytes) -> None:
        if not _is_elf64_le(data[:6]):
            raise ValueError("not a little-endian ELF64 object")
        self.data = data
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
        raw = []
        for i in range(shnum):
            name, typ, flags, _addr, off, size, link, _info, _align, _entsize = _SHDR.unpack_from(
                data, shoff + i * shentsize)
            raw.append((name, typ, flags, off, size, link))
        strtab_off = raw[shstrndx][3]
        self.sections = [
            Section(i, self._cstr(strtab_off + r[0]), r[1], r[2], r[3], r[4]) for i, r in enumerate(raw)
        ]
        self.symbols: list[Symbol] = []
        for r in raw:
            if r[1] == SHT_SYMTAB:
                names_off = raw[r[5]][3]
                for j in range(r[4] // _SYM_SIZE):
                    st_name, st_info, _other, shndx, value, size = _SYM.unpack_from(
                        data, r[3] + j * _SYM_SIZE)
                    self.symbols.append(Symbol(self._cstr(names_off + st_name), shndx, value, size, st_info & 0xF))

    def _cstr(self, offset: int) -> str:
        end = self.data.index(b"\0", offset)
        return self.data[offset:end].decode()

    def section(self, name: str) -> Section | None:
        for s in self.sections:
            if s.name == name:
                return s
        return None

    def body(self, section: Section) -> bytes:
        return self.data[section.offset:section.offset + section.size]

    def code_sections(self) -> list[Section]:
        return [s for s in self.sections if s.flags & SHF_EXECINSTR and s.size]


# --- a function's file offset in an executable or shared library, for uprobes ----------------


def func_offset(path: str, name: str) -> int | None:
    """The file offset a uprobe on function ``name`` of ``path`` goes to, as libbpf 1.1 finds it.

    Why not ask libbpf: its lookup (``elf_find_func_offset``) runs only inside
    ``bpf_program__attach_uprobe_opts``, which needs the loaded program, and a uprobe's
    perf event is worth opening before (:mod:`bpfimport.runtime.probes`).  Why not
    pyelftools: ~120 ms of import and lookup for libc, more than the whole attach.

    The rules are libbpf 1.1.2's: the first ``SHT_DYNSYM`` section is searched, then, only
    when it gives nothing, the first ``SHT_SYMTAB``; only ``STT_FUNC`` symbols count (an
    ``STT_GNU_IFUNC`` such as libc's ``strlen`` does not, there either); a symbol matches
    when its name is ``name`` or ``name@VERSION``; of several matches in one table a weak
    one gives way to a non-weak one, and two non-weak ones are ambiguous; the offset is the
    symbol's value moved from its section's address to the section's file offset.

    None for anything else (not a little-endian ELF64 file, an unreadable file, a name
    with ``@``, no match, an ambiguous match, an undefined or absolute symbol, offset 0):
    the caller then attaches through libbpf, which stays the reference and says what is
    wrong.  Reads only the headers, the two symbol tables and their string tables.
    """
    if not name or "@" in name or "\0" in name:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return _func_offset(fd, name.encode())
    except (OSError, ValueError, struct.error, IndexError):
        return None
    finally:
        os.close(fd)


def _func_offset(fd: int, name: bytes) -> int | None:
    head = os.pread(fd, 64, 0)
    if len(head) < 64 or not _is_elf64_le(head):
        return None
    shoff, = struct.unpack_from("<Q", head, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", head, 0x3A)
    if shentsize != _SHDR.size or shnum == 0:
        return None  # shnum 0 with sections: more than 0xff00 of them (in sh_size of section 0)
    raw = os.pread(fd, shnum * shentsize, shoff)
    headers = [_SHDR.unpack_from(raw, i * shentsize) for i in range(shnum)]
    for kind in (SHT_DYNSYM, SHT_SYMTAB):
        table = next((h for h in headers[1:] if h[1] == kind), None)
        if table is None:
            continue
        found = _search(fd, headers, table, name)
        if found is None:
            return None  # something libbpf would treat otherwise: let it
        if found >= 0:
            return found if found > 0 else None
    return None


def _search(fd: int, headers: list[tuple[int, ...]], table: tuple[int, ...],
            name: bytes) -> int | None:
    """The offset of ``name`` in one symbol table; -1 when no function has that name, None
    for a case left to libbpf."""
    _n, _t, _f, _a, sym_off, sym_size, link, _i, _al, entsize = table
    if entsize != _SYM_SIZE or link >= len(headers):
        return None
    str_off, str_size = headers[link][4], headers[link][5]
    strings = os.pread(fd, str_size, str_off)
    # where a name that matches can start: "name" followed by NUL or '@' ("name@@GLIBC_2.2.5");
    # not only after a NUL: linkers share the tail of one name with another ("xusleep" / "usleep")
    starts = []
    at = strings.find(name)
    while at >= 0:
        if strings[at + len(name):at + len(name) + 1] in (b"\0", b"@"):
            starts.append(at)
        at = strings.find(name, at + 1)
    if not starts:
        return -1
    symbols = os.pread(fd, sym_size, sym_off)
    matches = []  # symbol indexes, in table order (libbpf's resolution depends on it)
    for start in starts:
        key = struct.pack("<I", start)
        at = symbols.find(key)
        while at >= 0:
            if at % _SYM_SIZE == 0:
                matches.append(at // _SYM_SIZE)
            at = symbols.find(key, at + 1)
    result, last_weak = -1, False
    for index in sorted(matches):
        _st_name, info, _other, shndx, value, _size = _SYM.unpack_from(symbols, index * _SYM_SIZE)
        if info & 0xF != STT_FUNC:
            continue
        weak = info >> 4 == STB_WEAK
        if result >= 0:
            if not last_weak and not weak:
                return None  # ambiguous: libbpf refuses it, with its message
            if weak:
                continue  # a non-weak one is there already
        if shndx == 0 or shndx >= _SHN_LORESERVE or shndx >= len(headers):
            return None  # undefined, absolute...: libbpf's arithmetic gives no function there
        section = headers[shndx]
        result, last_weak = value - section[3] + section[4], weak
    return result
