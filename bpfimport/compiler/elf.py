"""Just enough ELF64 reading to check what LLVM produced: sections, symbols, instructions."""

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


def stack_depth(code: bytes) -> int:
    """The deepest stack offset the BPF code in ``code`` touches (bytes below r10).

    A linear scan: loads and stores based on r10, plus registers copied from
    r10 and moved by a constant, which is how LLVM passes stack addresses.
    """
    deepest = 0
    frame_copies: dict[int, int] = {}  # register -> offset from r10
    i = 0
    while i + 8 <= len(code):
        op, regs, off, imm = struct.unpack_from("<BBhi", code, i)
        dst, src = regs & 0xF, regs >> 4
        cls = op & 7
        step = 16 if op == 0x18 else 8  # ld_imm64 takes two slots
        if cls == 1 and src == 10:  # LDX from the stack
            deepest = min(deepest, off)
        elif cls in (2, 3) and dst == 10:  # ST / STX to the stack
            deepest = min(deepest, off)
        elif op == 0xBF:  # mov64 dst, src
            if src == 10:
                frame_copies[dst] = 0
            else:
                frame_copies.pop(dst, None)
        elif op == 0x07 and dst in frame_copies:  # add64 dst, imm
            frame_copies[dst] += imm
            deepest = min(deepest, frame_copies[dst])
        elif cls in (0, 4, 7) and dst in frame_copies:
            frame_copies.pop(dst, None)
        i += step
    return -deepest
