"""The compiler's types: what a value is, how big, how LLVM and BTF spell it.

One small class per kind of type.  Each knows its LLVM IR spelling, its size
and alignment (C rules, which ctypes also follows), and the type string the
spec uses to tell the runtime how to convert values.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class BpfType:
    """Base of every type; scalars are SSA values, aggregates live in memory."""

    size: int = 0
    align: int = 1
    aggregate: bool = False

    @property
    def llvm(self) -> str:  # the IR type of a value of this type
        raise NotImplementedError

    @property
    def spec(self) -> str:  # the type string of bpfimport.spec
        raise NotImplementedError

    def __str__(self) -> str:
        return self.spec


@dataclass(frozen=True, eq=True)
class IntType(BpfType):
    bits: int
    signed: bool

    @property
    def size(self) -> int:  # type: ignore[override]
        return self.bits // 8

    @property
    def align(self) -> int:  # type: ignore[override]
        return self.bits // 8

    @property
    def llvm(self) -> str:
        return f"i{self.bits}"

    @property
    def spec(self) -> str:
        return f"{'i' if self.signed else 'u'}{self.bits}"

    @property
    def min(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    def fits(self, value: int) -> bool:
        return self.min <= value <= self.max

    def wrap(self, value: int) -> int:
        """Reduce a Python int to this width, two's complement."""
        value &= (1 << self.bits) - 1
        if self.signed and value >> (self.bits - 1):
            value -= 1 << self.bits
        return value


@dataclass(frozen=True, eq=True)
class BoolType(BpfType):
    """``bool``: an ``i1`` as a value, one byte in memory."""

    @property
    def size(self) -> int:  # type: ignore[override]
        return 1

    @property
    def align(self) -> int:  # type: ignore[override]
        return 1

    @property
    def llvm(self) -> str:
        return "i1"

    @property
    def spec(self) -> str:
        return "bool"


@dataclass(frozen=True, eq=True)
class CharType(BpfType):
    """``c_char``: one byte, the element of strings."""

    @property
    def size(self) -> int:  # type: ignore[override]
        return 1

    @property
    def align(self) -> int:  # type: ignore[override]
        return 1

    @property
    def llvm(self) -> str:
        return "i8"

    @property
    def spec(self) -> str:
        return "char"


@dataclass(frozen=True, eq=True)
class ArrayType(BpfType):
    elem: BpfType
    length: int
    aggregate = True

    @property
    def size(self) -> int:  # type: ignore[override]
        return self.elem.size * self.length

    @property
    def align(self) -> int:  # type: ignore[override]
        return self.elem.align

    @property
    def llvm(self) -> str:
        return f"[{self.length} x {mem_llvm(self.elem)}]"

    @property
    def spec(self) -> str:
        base, dims = _split_array(self)
        return base.spec + "".join(f"[{n}]" for n in dims)


def _split_array(t: ArrayType) -> tuple[BpfType, list[int]]:
    dims: list[int] = []
    cur: BpfType = t
    while isinstance(cur, ArrayType):
        dims.append(cur.length)
        cur = cur.elem
    return cur, dims


@dataclass(frozen=True)
class Field:
    name: str
    type: BpfType
    offset: int


@dataclass(eq=False)
class StructType(BpfType):
    """A ``@struct`` class; laid out by C rules with explicit padding in the IR type."""

    name: str
    fields: list[Field] = field(default_factory=list)
    lineno: int = 0
    size: int = 0  # type: ignore[assignment]
    align: int = 1  # type: ignore[assignment]
    aggregate = True

    @classmethod
    def layout(cls, name: str, members: list[tuple[str, BpfType]], lineno: int = 0) -> StructType:
        offset = 0
        align = 1
        fields = []
        for fname, ftype in members:
            offset = _round_up(offset, ftype.align)
            fields.append(Field(fname, ftype, offset))
            offset += ftype.size
            align = max(align, ftype.align)
        return cls(name, fields, lineno, _round_up(offset, align), align)

    def field(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    @property
    def llvm(self) -> str:
        # Fields are reached by byte offset, so the IR only needs the size and
        # alignment; BTF gets the real layout from the debug info.
        return f"[{self.size} x i8]"

    @property
    def spec(self) -> str:
        return f"struct {self.name}"

    def __hash__(self) -> int:
        return hash(("struct", self.name))


@dataclass(frozen=True, eq=True)
class PtrType(BpfType):
    """A pointer; ``pointee`` None is ``void *`` (a program's ctx, ``c_void_p``)."""

    pointee: BpfType | None = None
    nullable: bool = False  # a map lookup result: test it before use

    @property
    def size(self) -> int:  # type: ignore[override]
        return 8

    @property
    def align(self) -> int:  # type: ignore[override]
        return 8

    @property
    def llvm(self) -> str:
        return "ptr"

    @property
    def spec(self) -> str:
        return "ptr"


@dataclass(frozen=True, eq=True)
class VoidType(BpfType):
    @property
    def llvm(self) -> str:
        return "void"

    @property
    def spec(self) -> str:
        return "void"


def _round_up(n: int, align: int) -> int:
    return (n + align - 1) // align * align


def mem_llvm(t: BpfType) -> str:
    """The IR type of ``t`` when stored in memory (bool is a byte there)."""
    return "i8" if isinstance(t, BoolType) else t.llvm


U8, U16, U32, U64 = (IntType(b, False) for b in (8, 16, 32, 64))
I8, I16, I32, I64 = (IntType(b, True) for b in (8, 16, 32, 64))
BOOL = BoolType()
CHAR = CharType()
VOID = VoidType()
VOID_PTR = PtrType()

# Every spelling a .bpf.py may use for a scalar type.
SCALAR_NAMES: dict[str, BpfType] = {
    "u8": U8, "u16": U16, "u32": U32, "u64": U64,
    "i8": I8, "i16": I16, "i32": I32, "i64": I64,
    "c_uint8": U8, "c_uint16": U16, "c_uint32": U32, "c_uint64": U64,
    "c_int8": I8, "c_int16": I16, "c_int32": I32, "c_int64": I64,
    "c_ubyte": U8, "c_byte": I8, "c_ushort": U16, "c_short": I16,
    "c_uint": U32, "c_int": I32, "c_ulong": U64, "c_long": I64,
    "c_ulonglong": U64, "c_longlong": I64, "c_size_t": U64, "c_ssize_t": I64,
    "c_bool": BOOL, "bool": BOOL, "c_char": CHAR, "c_void_p": VOID_PTR,
    "int": I64,
}


def is_int(t: BpfType) -> bool:
    return isinstance(t, IntType)


def is_scalar(t: BpfType) -> bool:
    return isinstance(t, (IntType, BoolType, CharType, PtrType))


def common_int(a: IntType, b: IntType) -> IntType:
    """C's usual arithmetic conversions: the wider; at equal width, unsigned wins."""
    if a.bits != b.bits:
        return a if a.bits > b.bits else b
    return a if not a.signed else b
