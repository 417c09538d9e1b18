"""Probe arguments: ``def f(ctx, name: c_char_p)`` in a kprobe or uprobe program.

A kprobe/uprobe program receives one thing, ``struct pt_regs *`` (the registers the
probed function was entered with).  Its arguments are in the registers the
architecture's calling convention names, in order; a kretprobe/uretprobe's one
value is the return register.  The table is per architecture and chosen from the
machine that compiles (an object with probe arguments is for that architecture);
the offsets are those of the kernel's ``struct pt_regs`` (checked against the
running kernel's BTF by ``tests/compiler/test_probe_arguments.py``).

What the parameters mean is the program kind's (``ProgramKind.parameters``), where
their pointers point the kind's too (``ProgramKind.pointers``: a uprobe's
``c_char_p`` is in the traced process's memory, a kprobe's in the kernel's), unless
the annotation says (``UserPtr[c_char]`` for a kernel function's ``__user`` argument).
"""

from __future__ import annotations

import os

from ...kinds import ProgramKind
from .. import pyast as ast
from ..types import BoolType, BpfType, CharType, IntType, PtrType
from .model import ModuleModel, ProbeArg, Source
from .resolve import resolve_type


class Convention:
    """Where one architecture passes a function's integer arguments and its return value."""

    __slots__ = ("name", "args", "ret")

    def __init__(self, name: str, args: tuple[tuple[str, int], ...], ret: tuple[str, int]) -> None:
        self.name = name
        self.args = args  # (register, byte offset in struct pt_regs), in argument order
        self.ret = ret


# os.uname().machine -> the calling convention's registers and their offsets in struct pt_regs.
CONVENTIONS: dict[str, Convention] = {
    # arch/x86/include/asm/ptrace.h: r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di ...
    "x86_64": Convention("x86-64", (("di", 112), ("si", 104), ("dx", 96), ("cx", 88),
                                    ("r8", 72), ("r9", 64)), ("ax", 80)),
    # arch/arm64/include/asm/ptrace.h: struct pt_regs starts with u64 regs[31]
    "aarch64": Convention("arm64", tuple((f"regs[{i}]", 8 * i) for i in range(8)), ("regs[0]", 0)),
}

PARAM_TYPES = "an integer (u8..u64, i8..i64), bool, c_char_p, c_void_p, UserPtr[T] or KernelPtr[T]"


def host_machine() -> str:
    """The machine whose calling convention probe arguments follow: the one compiling."""
    return os.uname().machine


def probe_args(model: ModuleModel, stmt: ast.FunctionDef, kind: ProgramKind,
               args: list[ast.arg]) -> tuple[ProbeArg, ...]:
    """The parameters after ``ctx`` of a ``kind`` program, checked, with their registers."""
    src = model.source
    if not args:
        return ()
    if kind.parameters is None:
        raise no_parameters(src, stmt, kind, args[0])
    conv = CONVENTIONS.get(host_machine())
    if conv is None:
        raise src.error(args[0], f"probe arguments are not known for this machine "
                        f"({host_machine()})", "they are read by the calling convention of "
                        f"{', '.join(sorted(CONVENTIONS))}; read the registers from ctx instead")
    registers: tuple[tuple[str, int], ...]
    if kind.parameters == "return":
        if len(args) > 1:
            raise src.error(args[1], f"a @{kind.decorator} program takes one parameter after "
                            "ctx, the probed function's return value",
                            f"def {stmt.name}(ctx, ret: i64) -> int:")
        registers = (conv.ret,)
    else:
        registers = conv.args
        if len(args) > len(registers):
            names = ", ".join(r for r, _ in registers)
            raise src.error(args[len(registers)], f"'{stmt.name}' has {len(args)} parameters after "
                            f"ctx; {conv.name} passes only the first {len(registers)} arguments in "
                            f"registers ({names})", "declare at most "
                            f"{len(registers)}: later arguments are on the stack, where probe "
                            "parameters do not read")
    return tuple(ProbeArg(a.arg, param_type(model, stmt, kind, a), reg, offset)
                 for a, (reg, offset) in zip(args, registers))


def param_type(model: ModuleModel, stmt: ast.FunctionDef, kind: ProgramKind, arg: ast.arg) -> BpfType:
    src = model.source
    what = "return value" if kind.parameters == "return" else "argument"
    if arg.annotation is None:
        raise src.error(arg, f"parameter '{arg.arg}' of @{kind.decorator} program '{stmt.name}' "
                        "needs a type: the register holds a bare 64-bit value",
                        f"annotate it with the {what}'s type, e.g. {arg.arg}: c_char_p or {arg.arg}: i32")
    ty = resolve_type(model, arg.annotation)
    if ty is None or not isinstance(ty, (IntType, BoolType, CharType, PtrType)):
        shown = f"a {ty}" if ty is not None else f"'{ast.unparse(arg.annotation)}'"
        raise src.error(arg.annotation, f"parameter '{arg.arg}' is {shown}, which a register "
                        f"cannot hold", f"a probe {what} is {PARAM_TYPES}; pass structs by "
                        "pointer (KernelPtr[S] / UserPtr[S]) and read their fields through it")
    if isinstance(ty, PtrType) and ty.space == "unknown" and ty.pointee is not None:
        assert kind.pointers is not None
        return PtrType(ty.pointee, space=kind.pointers)  # c_char_p: the probed code's memory
    return ty


def no_parameters(src: Source, stmt: ast.FunctionDef, kind: ProgramKind, first: ast.arg) -> Exception:
    return src.error(first, f"a @{kind.decorator} program takes one parameter, its context "
                     f"({kind.context}); '{first.arg}' has no value to take",
                     _NO_PARAMETER_HINTS.get(kind.decorator,
                                             f"def {stmt.name}(ctx) -> int: (only @kprobe and "
                                             "@uprobe programs take the probed function's "
                                             "arguments as parameters)"))


_NO_PARAMETER_HINTS = {
    "tracepoint": "read the event's fields from the context instead",
    "raw_tracepoint": "the tracepoint's arguments are in the context: read them from ctx",
}


__all__ = ["CONVENTIONS", "Convention", "host_machine", "probe_args"]
