"""Just enough ELF64 (little-endian) reading for tests: sections by name.

Written here from the ELF specification, independent of the compiler's own
``bpfimport/compiler/elf.py``, so a test that inspects an object does not
trust the code under test to read it.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

SHF_EXECINSTR = 0x4


class Section(NamedTuple):
    name: str
    flags: int
    data: bytes


def sections(obj: bytes) -> dict[str, Section]:
    """Every section with contents, by name."""
    assert obj[:4] == b"\x7fELF" and obj[4] == 2 and obj[5] == 1, "not a little-endian ELF64"
    (shoff,) = struct.unpack_from("<Q", obj, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", obj, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", obj, shoff + i * shentsize) for i in range(shnum)]
    names_at = headers[shstrndx]
    names = obj[names_at[4]: names_at[4] + names_at[5]]
    out = {}
    for h in headers:
        name = names[h[0]: names.index(b"\0", h[0])].decode()
        if h[1] != 8:  # SHT_NOBITS (.bss) has no bytes in the file
            out[name] = Section(name, h[2], obj[h[4]: h[4] + h[5]])
    return out


def exec_sections(obj: bytes) -> dict[str, bytes]:
    """The executable sections (programs and .text), by name."""
    return {s.name: s.data for s in sections(obj).values() if s.flags & SHF_EXECINSTR and s.data}
