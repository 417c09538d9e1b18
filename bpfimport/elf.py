"""Just enough ELF64 reading for BPF objects: sections by name, symbols.

Shared by the compiler (symbol offsets of globals, the stack check) and
:mod:`bpfimport.btf` (an object's ``.BTF`` and ``.BTF.ext``); it imports nothing
of bpfimport, so neither package depends on the other for it.
"""

from __future__ import annotations

import struct

SHF_EXECINSTR = 0x4
STT_FUNC = 2


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
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            raise ValueError("not a little-endian ELF64 object")
        self.data = data
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
        raw = []
        for i in range(shnum):
            name, typ, flags, _addr, off, size, link, _info, _align, _entsize = struct.unpack_from(
                "<IIQQQQIIQQ", data, shoff + i * shentsize)
            raw.append((name, typ, flags, off, size, link))
        strtab_off = raw[shstrndx][3]
        self.sections = [
            Section(i, self._cstr(strtab_off + r[0]), r[1], r[2], r[3], r[4]) for i, r in enumerate(raw)
        ]
        self.symbols: list[Symbol] = []
        for r in raw:
            if r[1] == 2:  # SHT_SYMTAB
                names_off = raw[r[5]][3]
                for j in range(r[4] // 24):
                    st_name, st_info, _other, shndx, value, size = struct.unpack_from(
                        "<IBBHQQ", data, r[3] + j * 24)
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
