"""bpfimport.elf.func_offset: a function's file offset for a uprobe, by libbpf 1.1's rules.

Real files are checked against pyelftools (an independent reader: symbol value, then its
section's address and file offset); libbpf's own choice is checked by a real attach in
test_uprobe_prepared_kernel.py.  libbpf's match rules (weak against global, ambiguity,
``name@VERSION``, IFUNC, undefined symbols) are checked on small ELF files built here,
where each case is known exactly.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

import pytest

from bpfimport.elf import func_offset
from tests.support import libc_path


def elftools_offsets(path: str, table: str) -> dict[str, int]:
    """name -> file offset of every defined STT_FUNC of ``table`` whose name occurs once
    there among functions, computed with pyelftools."""
    pytest.importorskip("elftools")
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        elf = ELFFile(f)
        section = elf.get_section_by_name(table)
        if section is None:
            return {}
        seen: dict[str, list[int]] = {}
        for sym in section.iter_symbols():
            if sym["st_info"]["type"] != "STT_FUNC" or not isinstance(sym["st_shndx"], int) \
                    or sym["st_shndx"] == 0 or "@" in sym.name:
                continue
            home = elf.get_section(sym["st_shndx"])
            seen.setdefault(sym.name, []).append(
                sym["st_value"] - home["sh_addr"] + home["sh_offset"])
    return {name: offs[0] for name, offs in seen.items() if len(offs) == 1 and offs[0] > 0}


def test_libc_offsets_equal_pyelftools() -> None:
    libc = libc_path() or pytest.skip("no libc mapped in this process")
    expected = elftools_offsets(libc, ".dynsym")
    assert len(expected) > 1000  # the whole of libc's exported functions
    got = {name: func_offset(libc, name) for name in expected}
    assert got == expected
    assert func_offset(libc, "usleep") == expected["usleep"]


def _is_pie(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(18)
    except OSError:
        return False
    return head[:4] == b"\x7fELF" and head[16:18] == b"\x03\x00"  # e_type ET_DYN


def test_pie_executable_offsets_equal_pyelftools() -> None:
    """A PIE executable (the interpreter where it is one, as pyenv's are; else the shell, as
    Debian's interpreter is not); where it keeps its full symbol table, functions only there
    (not exported) are found in .symtab after .dynsym has none of them."""
    candidates = [os.path.realpath(p) for p in (sys.executable, "/bin/bash", "/bin/sh", "/bin/ls")]
    exe = next((p for p in candidates if _is_pie(p)), None)
    assert exe is not None, f"no PIE executable among {candidates}"
    dynsym = elftools_offsets(exe, ".dynsym")
    symtab = {n: o for n, o in elftools_offsets(exe, ".symtab").items() if n not in dynsym}
    assert dynsym or symtab, f"{exe} has no function symbols"
    for name, offset in {**dynsym, **symtab}.items():
        assert func_offset(exe, name) == offset, name


def test_what_libbpf_would_not_find_gives_none(tmp_path: Path) -> None:
    libc = libc_path() or pytest.skip("no libc mapped in this process")
    assert func_offset(libc, "no_such_function_here") is None
    assert func_offset(libc, "usleep@@GLIBC_2.2.5") is None  # versioned names: libbpf's
    assert func_offset(libc, "") is None
    assert func_offset(str(tmp_path / "missing"), "usleep") is None
    (tmp_path / "script").write_text("#!/bin/sh\n")
    assert func_offset(str(tmp_path / "script"), "usleep") is None
    assert func_offset(libc, "usleep") is not None  # the same file does give real ones


# --- libbpf's rules on hand-made ELF files ------------------------------------------------

STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_OBJECT, STT_FUNC, STT_GNU_IFUNC = 1, 2, 10
TEXT_ADDR, TEXT_OFFSET = 0x401000, 0x1000  # .text: address != file offset, as in executables


def make_elf(dynsym: list[tuple[str, int, int, int]],
             symtab: list[tuple[str, int, int, int]] | None = None,
             shared_tail: bool = False) -> bytes:
    """An ELF64 file whose .dynsym (and .symtab) hold ``(name, bind, type, value)`` symbols
    defined in .text (section 1); a name ``"!undef"`` makes an undefined symbol instead.
    ``shared_tail`` stores every name as the tail of a longer one ("xx" + name)."""
    sections: list[tuple[str, int, int, int, bytes, int, int]] = []  # name type addr off data link ent

    def strtab(names: list[str]) -> tuple[bytes, dict[str, int]]:
        blob, where = b"\0", {}
        for name in names:
            if name not in where:
                prefix = "xx" if shared_tail else ""
                where[name] = len(blob) + len(prefix)
                blob += (prefix + name).encode() + b"\0"
        return blob, where

    def table(syms: list[tuple[str, int, int, int]], strtab_index: int) -> tuple[bytes, bytes]:
        names, where = strtab([s[0].lstrip("!") for s in syms])
        out = bytes(24)  # the null symbol
        for name, bind, typ, value in syms:
            shndx = 0 if name.startswith("!") else 1
            out += struct.pack("<IBBHQQ", where[name.lstrip("!")], bind << 4 | typ, 0, shndx,
                               value, 16)
        return out, names

    text = bytes(0x100)
    sections.append((".text", 1, TEXT_ADDR, 0, text, 0, 0))
    dyn, dynstr = table(dynsym, 3)
    sections.append((".dynsym", 11, 0, 0, dyn, 3, 24))
    sections.append((".dynstr", 3, 0, 0, dynstr, 0, 0))
    if symtab is not None:
        sym, symstr = table(symtab, 5)
        sections.append((".symtab", 2, 0, 0, sym, 5, 24))
        sections.append((".strtab", 3, 0, 0, symstr, 0, 0))
    shstr, shwhere = strtab([".shstrtab"] + [s[0] for s in sections])
    sections.append((".shstrtab", 3, 0, 0, shstr, 0, 0))
    body = bytearray(TEXT_OFFSET)
    headers = [bytes(64)]
    for name, typ, addr, _off, data, link, ent in sections:
        off = len(body)
        body += data
        headers.append(struct.pack("<IIQQQQIIQQ", shwhere[name], typ, 6 if typ == 1 else 0,
                                   addr, off, len(data), link, 0, 8, ent))
    shoff = len(body)
    ehdr = bytearray(64)
    ehdr[:16] = b"\x7fELF\x02\x01\x01" + bytes(9)
    struct.pack_into("<HHIQQQIHHHHHH", ehdr, 16, 2, 62, 1, TEXT_ADDR, 0, shoff, 0, 64, 0, 0,
                     64, len(headers), len(headers) - 1)
    body[:64] = ehdr
    return bytes(body) + b"".join(headers)


def offset_of(tmp_path: Path, name: str, *args: object, **kw: object) -> int | None:
    path = tmp_path / "prog"
    path.write_bytes(make_elf(*args, **kw))  # type: ignore[arg-type]
    return func_offset(str(path), name)


def at(value: int) -> int:
    """The file offset of address ``value`` in .text."""
    return value - TEXT_ADDR + TEXT_OFFSET


def test_value_moves_from_section_address_to_file_offset(tmp_path: Path) -> None:
    assert offset_of(tmp_path, "f", [("f", STB_GLOBAL, STT_FUNC, 0x401020)]) == at(0x401020)


def test_weak_gives_way_to_global_in_either_order(tmp_path: Path) -> None:
    weak_first = [("f", STB_WEAK, STT_FUNC, 0x401010), ("f", STB_GLOBAL, STT_FUNC, 0x401020)]
    assert offset_of(tmp_path, "f", weak_first) == at(0x401020)
    assert offset_of(tmp_path, "f", weak_first[::-1]) == at(0x401020)
    two_weak = [("f", STB_WEAK, STT_FUNC, 0x401010), ("f", STB_WEAK, STT_FUNC, 0x401020)]
    assert offset_of(tmp_path, "f", two_weak) == at(0x401010)  # libbpf: the first weak one


def test_two_non_weak_are_ambiguous(tmp_path: Path) -> None:
    syms = [("f", STB_GLOBAL, STT_FUNC, 0x401010), ("f", STB_LOCAL, STT_FUNC, 0x401020)]
    assert offset_of(tmp_path, "f", syms) is None


def test_only_functions_match_and_versions_are_suffixes(tmp_path: Path) -> None:
    syms = [("f", STB_GLOBAL, STT_OBJECT, 0x401010), ("f2", STB_GLOBAL, STT_FUNC, 0x401018),
            ("f@@V_1", STB_GLOBAL, STT_FUNC, 0x401020), ("g", STB_GLOBAL, STT_GNU_IFUNC, 0x401030)]
    assert offset_of(tmp_path, "f", syms) == at(0x401020)  # not the object, not f2
    assert offset_of(tmp_path, "g", syms) is None  # libbpf 1.1 skips IFUNCs


def test_dynsym_first_then_symtab(tmp_path: Path) -> None:
    dyn = [("exported", STB_GLOBAL, STT_FUNC, 0x401010)]
    full = [("exported", STB_GLOBAL, STT_FUNC, 0x401040), ("local", STB_LOCAL, STT_FUNC, 0x401050)]
    assert offset_of(tmp_path, "exported", dyn, full) == at(0x401010)
    assert offset_of(tmp_path, "local", dyn, full) == at(0x401050)


def test_undefined_symbols_are_left_to_libbpf(tmp_path: Path) -> None:
    assert offset_of(tmp_path, "f", [("!f", STB_GLOBAL, STT_FUNC, 0x401080)]) is None


def test_names_sharing_a_tail_in_the_string_table(tmp_path: Path) -> None:
    syms = [("f", STB_GLOBAL, STT_FUNC, 0x401010), ("g", STB_GLOBAL, STT_FUNC, 0x401020)]
    assert offset_of(tmp_path, "g", syms, shared_tail=True) == at(0x401020)
    assert offset_of(tmp_path, "xxg", syms, shared_tail=True) is None  # no symbol named so
