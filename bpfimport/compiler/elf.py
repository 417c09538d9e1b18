"""ELF reading for the compiler: the stack scan; the reader itself is :mod:`bpfimport.elf`.

``Elf``, ``Section``, ``Symbol`` and the constants are re-exported so existing
imports from here keep working.
"""

from __future__ import annotations

import struct

from ..elf import SHF_EXECINSTR, STT_FUNC, Elf, Section, Symbol

__all__ = ["SHF_EXECINSTR", "STT_FUNC", "Elf", "Section", "Symbol", "stack_depth"]


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
