"""The backend's own checks: the stack scan that stands in for LLVM's process-ending one."""

from __future__ import annotations

import struct

import pytest

from bpfimport import CompileError
from bpfimport.compiler import compile_source
from bpfimport.compiler.elf import Elf, stack_depth


def insn(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", op, (src << 4) | dst, off, imm)


def test_stack_depth_sees_direct_and_derived_stack_addresses() -> None:
    code = b"".join([
        insn(0x7B, dst=10, src=1, off=-16),   # *(u64 *)(r10 - 16) = r1
        insn(0x79, dst=2, src=10, off=-24),   # r2 = *(u64 *)(r10 - 24)
        insn(0xBF, dst=3, src=10),            # r3 = r10
        insn(0x07, dst=3, imm=-600),          # r3 += -600
        insn(0x18, dst=1), insn(0),           # r1 = 0 ll (two slots)
        insn(0x95),                           # exit
    ])
    assert stack_depth(code) == 600
    assert stack_depth(code[:16]) == 24


def test_a_program_over_the_stack_limit_is_a_compile_error_not_an_exit() -> None:
    """Two 300-byte buffers: the frontend's estimate refuses it before LLVM could exit()."""
    src = """
from bpfimport.lang import *
@struct
class Big:
    data: c_char * 300
@syscall
def prog(ctx) -> int:
    a = Big()
    b = Big()
    a.data[0] = 1
    b.data[0] = 2
    return a.data[0] + b.data[0]
"""
    with pytest.raises(CompileError) as info:
        compile_source(src, "big.bpf.py", "big_bpf")
    assert "512 bytes of BPF stack" in info.value.msg
    assert info.value.lineno == 9


def test_compiled_objects_stay_within_the_stack() -> None:
    src = """
from bpfimport.lang import *
@struct
class Mid:
    data: c_char * 200
m = HashMap(key=u32, value=Mid, max_entries=4)
@syscall
def prog(ctx) -> int:
    a = Mid()
    a.data[0] = 1
    m[1] = a
    return 0
"""
    obj = compile_source(src, "mid.bpf.py", "mid_bpf").object
    elf = Elf(obj)
    depths = [stack_depth(elf.body(s)) for s in elf.code_sections()]
    assert depths and 200 <= max(depths) <= 512
