"""The compiler's types: what a value is, how big, how LLVM and BTF spell it.

One small class per kind of type.  Each knows its LLVM IR spelling, its size
and alignment (C rules, which ctypes also follows), and the type string the
spec uses to tell the runtime how to convert values.  Types compare by value
(two ``IntType(32, False)`` are the same type; structs by name).

Plain classes with ``__slots__``, not dataclasses: the compiler's import time
is part of every cold compile, and ``dataclasses`` alone cost ~15 ms there.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds of every compile
if TYPE_CHECKING:
    from typing import Any

    from ..headers import Header


class BpfType:
    """Base of every type; scalars are SSA values, aggregates live in memory."""

    __slots__ = ("size", "align", "llvm", "spec")
    aggregate = False

    def __init__(self, size: int, align: int, llvm: str, spec: str) -> None:
        self.size = size
        self.align = align
        self.llvm = llvm  # the IR type of a value of this type
        self.spec = spec  # the type string of bpfimport.spec

    def key(self) -> tuple:
        """What makes two types the same type."""
        return (type(self),)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BpfType) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __str__(self) -> str:
        return self.spec

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec}>"


class IntType(BpfType):
    __slots__ = ("bits", "signed", "min", "max")

    def __init__(self, bits: int, signed: bool) -> None:
        super().__init__(bits // 8, bits // 8, f"i{bits}", f"{'i' if signed else 'u'}{bits}")
        self.bits = bits
        self.signed = signed
        self.min = -(1 << (bits - 1)) if signed else 0
        self.max = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1

    def key(self) -> tuple:
        return ("int", self.bits, self.signed)

    def fits(self, value: int) -> bool:
        return self.min <= value <= self.max

    def wrap(self, value: int) -> int:
        """Reduce a Python int to this width, two's complement."""
        value &= (1 << self.bits) - 1
        if self.signed and value >> (self.bits - 1):
            value -= 1 << self.bits
        return value


class AddrType(IntType):
    """A ``u64`` holding an address taken from a pointer (``u64(p)``, ``p + 8``): where it points.

    The same type as ``u64`` everywhere (its key is u64's), so arithmetic, stores and
    comparisons treat it as one; ``space`` only lets the probe_read family check that an
    address computed from the context (``u64(ctx) + 24``) or from a user pointer is read
    from the memory it lies in (``codegen/memory.py``).
    """

    __slots__ = ("space",)

    def __init__(self, space: str) -> None:
        assert space in POINTER_SPACES, space
        super().__init__(64, False)
        self.space = space


class BoolType(BpfType):
    """``bool``: an ``i1`` as a value, one byte in memory."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(1, 1, "i1", "bool")


class CharType(BpfType):
    """``c_char``: one byte, the element of strings."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(1, 1, "i8", "char")


class ArrayType(BpfType):
    __slots__ = ("elem", "length")
    aggregate = True
    elem: BpfType
    length: int

    def __init__(self, elem: BpfType, length: int) -> None:
        base, dims = elem, [length]
        while isinstance(base, ArrayType):
            dims.append(base.length)
            base = base.elem
        spec = base.spec + "".join(f"[{n}]" for n in dims)
        super().__init__(elem.size * length, elem.align, f"[{length} x {mem_llvm(elem)}]", spec)
        self.elem = elem
        self.length = length

    def key(self) -> tuple:
        return ("array", self.elem.key(), self.length)


class Field:
    __slots__ = ("name", "type", "offset")

    def __init__(self, name: str, type: BpfType, offset: int) -> None:
        self.name = name
        self.type = type
        self.offset = offset


class StructType(BpfType):
    """A ``@struct`` class, laid out by C rules (``packed``: no padding, alignment 1, as
    ``__attribute__((packed))`` and ctypes' ``_pack_ = 1``).

    Fields are reached by byte offset, so the IR only needs the size and
    alignment (a byte array); BTF gets the real layout from the debug info.
    A packed struct's fields have types of alignment 1 (:func:`unaligned`), so every
    load and store of one is an unaligned access, which LLVM splits as BPF needs.
    """

    __slots__ = ("name", "fields", "lineno", "packed")
    aggregate = True

    def __init__(self, name: str, fields: list[Field], lineno: int, size: int, align: int,
                 packed: bool = False) -> None:
        super().__init__(size, align, f"[{size} x i8]", f"struct {name}")
        self.name = name
        self.fields = fields
        self.lineno = lineno
        self.packed = packed

    @classmethod
    def layout(cls, name: str, members: list[tuple[str, BpfType]], lineno: int = 0,
               packed: bool = False) -> StructType:
        offset = 0
        align = 1
        fields = []
        for fname, ftype in members:
            if packed:
                ftype = unaligned(ftype)
            offset = _round_up(offset, ftype.align)
            fields.append(Field(fname, ftype, offset))
            offset += ftype.size
            align = max(align, ftype.align)
        return cls(name, fields, lineno, _round_up(offset, align), align, packed)

    def key(self) -> tuple:
        return ("struct", self.name)

    def field(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None


class PtrType(BpfType):
    """A pointer: what it points at (``None``: unknown, ``void *``) and where (``space``).

    ``space`` says which memory the address lies in, and so how it may be read: ``ctx``
    (the program's context: direct loads), ``map`` (a map value or ring-buffer record: direct
    loads, after a null test when ``nullable``), ``stack``, ``kernel`` (probe_read_kernel),
    ``user`` (probe_read_user), or ``unknown`` (``c_void_p``: an address, read with the
    probe_read call the user chooses).
    """

    __slots__ = ("pointee", "nullable", "space")

    def __init__(self, pointee: BpfType | None = None, nullable: bool = False,
                 space: str = "unknown") -> None:
        assert space in POINTER_SPACES, space
        super().__init__(8, 8, "ptr", "ptr")
        self.pointee = pointee
        self.nullable = nullable  # a map lookup result: test it before use
        self.space = space

    def key(self) -> tuple:
        return ("ptr", self.pointee.key() if self.pointee is not None else None, self.nullable,
                self.space)


class MapRefType(PtrType):
    """A map found in a map of maps (``inner = outer[k]``): the map, or None when the slot is
    empty.  ``template`` is the declaration every inner map follows (its kind, key and
    value); BPF code uses the reference as that map.  A pointer to the verifier (a
    ``map_ptr``), so locals hold it, ``if inner:`` tests it and nothing else reads it.
    """

    __slots__ = ("template",)

    template: Any  # a frontend MapDecl (not named here: the frontend imports this module)

    def __init__(self, template: Any) -> None:
        super().__init__(None, nullable=True, space="map")
        self.template = template
        self.spec = f"map like {template.name}"

    def key(self) -> tuple:
        return ("mapref", self.template.name)


POINTER_SPACES = frozenset({"ctx", "map", "stack", "kernel", "user", "packet", "unknown"})
# What each space is called in errors and docs.
SPACE_NAMES = {"ctx": "the program's context", "map": "a map value", "stack": "the BPF stack",
               "kernel": "kernel memory", "user": "user memory", "packet": "the packet",
               "unknown": "an unknown place"}


class KernelStructType(BpfType):
    """A struct or union of the kernel's BTF, known by its type id (``compiler/core.py``).

    It lives in kernel memory (or is the context's record) and is reached through a
    pointer; BPF code reads its fields one at a time, each read CO-RE relocated, and never
    copies it whole (its size is only this kernel's).  ``name`` is what errors show.
    """

    __slots__ = ("name", "btf_id", "union")
    aggregate = True

    def __init__(self, name: str, btf_id: int, union: bool, size: int) -> None:
        super().__init__(size, 1, f"[{size} x i8]", f"{'union' if union else 'struct'} {name}")
        self.name = name
        self.btf_id = btf_id
        self.union = union

    def key(self) -> tuple:
        return ("kernel", self.btf_id)


class PlaceType(BpfType):
    """Memory outside the program holding a ``target`` value that is not read yet.

    An attribute chain keeps its places unread, so ``t.se.vruntime`` reads 8 bytes, not a
    whole ``sched_entity``, and its steps make one relocation; the chain's end is read when
    used (``codegen/kernel.py``).  A place is where it is relative to ``root`` (an IR
    pointer: a kernel pointer, or the context):

    * ``root_type``: the BTF struct the relocated access path starts from, or ``None`` for a
      fixed offset (this kernel's layout, from a tracepoint's format file);
    * ``access``: the member and element indices from the root (the relocation's access
      string after its leading ``0``); ``bit_offset``: where the place is, in bits from the
      root, on the kernel the program is compiled on (the relocation's local value);
    * ``space``: ``"kernel"`` (read with bpf_probe_read_kernel) or ``"ctx"`` (direct loads);
    * ``btf_id``: the target's BTF type (its members, elements, debug type), or ``None``;
    * ``how``: ``"value"``, ``"bitfield"`` (``bits`` wide, read through the field-info
      relocations), ``"data_loc"`` (a tracepoint's ``__data_loc`` u32: the offset from
      the root and the length of a string) or ``"rel_loc"`` (the same, the offset counted
      from the end of the u32).
    """

    __slots__ = ("target", "space", "btf_id", "how", "root", "root_type", "access", "bit_offset",
                 "bits")

    def __init__(self, target: BpfType, space: str, root: str, bit_offset: int = 0, *,
                 btf_id: int | None = None, root_type: int | None = None,
                 access: tuple[int, ...] = (), how: str = "value", bits: int = 0) -> None:
        super().__init__(8, 8, "ptr", f"place of {target.spec}")
        self.target = target
        self.space = space
        self.root = root
        self.bit_offset = bit_offset
        self.btf_id = btf_id
        self.root_type = root_type
        self.access = access
        self.how = how
        self.bits = bits

    def key(self) -> tuple:
        return ("place", self.target.key(), self.space, self.root, self.bit_offset, self.root_type,
                self.access, self.how)

    def but(self, **changes: object) -> PlaceType:
        """This place with some attributes changed (a new record: types are values)."""
        values = {k: getattr(self, k) for k in self.__slots__}
        values.update(changes)
        return PlaceType(**values)


class HeaderType(BpfType):
    """A packet header of ``bpfimport.lang`` (``EthHdr``, ``IpHdr``...): its layout is
    ``bpfimport.headers.HEADERS[name]``.

    Reached only through a reference into the packet (``ctx.header(T, off)``); its fields
    are big-endian numbers, bitfields and byte arrays, read and written by
    ``codegen/packet.py`` (never as a ``StructType``'s little-endian fields).
    """

    __slots__ = ("name", "layout")
    aggregate = True

    def __init__(self, layout: Header) -> None:
        super().__init__(layout.size, 1, f"[{layout.size} x i8]", f"struct {layout.c_name}")
        self.name = layout.name
        self.layout = layout

    def key(self) -> tuple:
        return ("header", self.name)


class VoidType(BpfType):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(0, 1, "void", "void")


def unaligned(t: BpfType) -> BpfType:
    """``t`` as a member of a packed struct: the same type (equal to ``t``), alignment 1."""
    if t.align == 1:
        return t
    if isinstance(t, IntType):
        u: BpfType = IntType(t.bits, t.signed)
    elif isinstance(t, ArrayType):
        u = ArrayType(unaligned(t.elem), t.length)
    elif isinstance(t, StructType):
        u = StructType(t.name, [Field(f.name, unaligned(f.type), f.offset) for f in t.fields],
                       t.lineno, t.size, 1, t.packed)
    else:
        return t
    u.align = 1
    return u


def natural_align(t: BpfType) -> int:
    """The alignment ``t`` has on its own (a stack slot's), even when it is a packed struct's
    member: an ``unaligned`` u32 is 4-aligned in a local."""
    if isinstance(t, IntType):
        return t.size
    if isinstance(t, ArrayType):
        return natural_align(t.elem)
    if isinstance(t, StructType):
        return 1 if t.packed else max((natural_align(f.type) for f in t.fields), default=1)
    return t.align


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
CTX_PTR = PtrType(space="ctx")  # a program's first parameter

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
    "c_char_p": PtrType(CHAR),  # a string's address; a probe argument takes the probe's space
    "int": I64,
}


def common_int(a: IntType, b: IntType) -> IntType:
    """C's usual arithmetic conversions: the wider; at equal width, unsigned wins."""
    if a.bits != b.bits:
        return a if a.bits > b.bits else b
    return a if not a.signed else b
