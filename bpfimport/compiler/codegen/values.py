"""The values the codegen passes around besides typed IR operands.

Untyped literals, strings and None have no BPF type of their own until they
meet one; locals and loop targets are the builder's bookkeeping.  A leaf
module (it imports only the types and the IR emitter), so every construct
family and the builder can use them.
"""

from __future__ import annotations

from ..types import (
    SPACE_NAMES,
    AddrType,
    BoolType,
    BpfType,
    CharType,
    IntType,
    KernelStructType,
    MapRefType,
    PtrType,
    StructType,
)
from .ir import Block, Value

# What a pointer into each memory is called in errors.
_POINTERS = {"ctx": "context pointer", "user": "user pointer", "kernel": "kernel pointer",
             "map": "map value pointer", "stack": "stack pointer", "unknown": "pointer"}


class LitType(BpfType):
    """An integer literal not yet given a width; it takes the type of what it meets."""

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        super().__init__(8, 8, "i64", "int")
        self.value = value

    def key(self) -> tuple:
        return ("lit", self.value)


class StrType(BpfType):
    """A string or bytes literal, as the bytes it puts in memory (str is UTF-8).

    Only meaningful in print(), char array initialisers, and indexing by a constant.
    """

    __slots__ = ("value",)

    def __init__(self, value: bytes) -> None:
        super().__init__(8, 8, "ptr", "str")
        self.value = value

    @property
    def text(self) -> str:
        """For a format string: the same bytes back after ``encode("utf-8", "surrogateescape")``."""
        return self.value.decode("utf-8", "surrogateescape")

    def key(self) -> tuple:
        return ("str", self.value)


class NoneType_(BpfType):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(8, 8, "ptr", "None")


NONE = Value(NoneType_(), "null")


def lit(value: int) -> Value:
    return Value(LitType(value), str(value))


class Local:
    """A local variable: its type and its alloca."""

    __slots__ = ("ty", "ptr")

    def __init__(self, ty: BpfType, ptr: str) -> None:
        self.ty = ty
        self.ptr = ptr


class Loop:
    """Where ``continue`` and ``break`` jump in the innermost loop."""

    __slots__ = ("cont", "brk")

    def __init__(self, cont: Block, brk: Block) -> None:
        self.cont = cont
        self.brk = brk


def char_literal(v: Value) -> int | None:
    """A one-byte string as the byte it holds: ``buf[0] = b'x'`` and ``c == b'x'``, as ctypes allows."""
    if isinstance(v.ty, StrType):
        data = v.ty.value
        if len(data) == 1:
            return data[0]
    return None


def is_intlike(t: BpfType) -> bool:
    return isinstance(t, (IntType, BoolType, CharType))


def show(t: BpfType) -> str:
    if isinstance(t, LitType):
        return "int literal"
    if isinstance(t, StrType):
        return "string"
    if isinstance(t, NoneType_):
        return "None"
    if isinstance(t, MapRefType):
        return f"map found in a map of maps (like '{t.template.name}')"
    if isinstance(t, PtrType):
        if t.nullable and t.pointee is not None:
            return f"reference to a map value ({show(t.pointee)})"
        if isinstance(t.pointee, KernelStructType):
            return f"kernel pointer to {t.pointee.spec}"
        what = _POINTERS.get(t.space, "pointer")
        return what if t.pointee is None else f"{what} to {show(t.pointee)}"
    if isinstance(t, AddrType) and t.space != "unknown":
        return f"u64 (an address in {SPACE_NAMES[t.space]})"
    if isinstance(t, StructType):
        return f"struct {t.name}"
    return str(t)
