"""The BTF type model: one small class per BTF kind (linux/btf.h, Documentation/bpf/btf.rst).

Types refer to other types by id, and resolve them through the :class:`~.reader.Spec`
they came from (``ptr.target``).  Keeping ids, not objects, is what lets the reader
decode a type only when it is asked for: following a pointer decodes one more type,
never the whole graph.  A type's ``name`` is ``""`` when it is anonymous.
"""

from __future__ import annotations

import enum

# typing costs ~3 ms to import and a compile that reads kernel types needs none of it at run
# time: the protocol and the record types' field declarations exist for type checkers, and
# the records are collections.namedtuple classes (the same tuples, made without typing).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple, Protocol

    class Spec(Protocol):
        """What a type needs of the spec it came from (:class:`.reader.Spec` is one): the
        types it refers to, by id.  A protocol, so this module does not import the reader."""

        def type_by_id(self, type_id: int) -> Type: ...

    class _Member(NamedTuple):
        name: str
        type_id: int
        bit_offset: int
        bitfield_size: int

    class _EnumValue(NamedTuple):
        name: str
        value: int

    class _Param(NamedTuple):
        name: str
        type_id: int

    class _VarSecinfo(NamedTuple):
        type_id: int
        offset: int
        size: int
else:
    from collections import namedtuple

    _Member = namedtuple("Member", "name type_id bit_offset bitfield_size")
    _EnumValue = namedtuple("EnumValue", "name value")
    _Param = namedtuple("Param", "name type_id")
    _VarSecinfo = namedtuple("VarSecinfo", "type_id offset size")


class Kind(enum.IntEnum):
    """BTF_KIND_* values: the 5-bit kind in a type's ``info`` word."""

    VOID = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


class Type:
    """Any BTF type: its id in its spec, its name (``""`` if anonymous) and its kind."""

    __slots__ = ("id", "name", "_spec")
    kind: Kind = Kind.VOID

    def __init__(self, spec: Spec | None, type_id: int, name: str) -> None:
        self._spec, self.id, self.name = spec, type_id, name

    def _resolve(self, type_id: int) -> Type:
        if self._spec is None:
            raise ValueError(f"{self!r} is not attached to a BTF spec")
        return self._spec.type_by_id(type_id)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} #{self.id} {self.name!r}>"


class Void(Type):
    """Type id 0: ``void`` (a pointer to it is ``void *``, a function returning it returns nothing)."""

    __slots__ = ()


class Int(Type):
    """An integer (or ``char``/``_Bool``): ``size`` bytes, ``bits`` significant at ``bit_offset``."""

    __slots__ = ("size", "encoding", "bit_offset", "bits")
    kind = Kind.INT
    SIGNED, CHAR, BOOL = 1, 2, 4  # BTF_INT_* encoding flags

    def __init__(self, spec: Spec | None, type_id: int, name: str, size: int, extra: int) -> None:
        super().__init__(spec, type_id, name)
        self.size = size
        self.encoding = (extra >> 24) & 0xF
        self.bit_offset = (extra >> 16) & 0xFF
        self.bits = extra & 0xFF

    @property
    def signed(self) -> bool:
        return bool(self.encoding & Int.SIGNED)


class Ref(Type):
    """A type that only names another: pointers, qualifiers, typedefs, tags."""

    __slots__ = ("target_id",)

    def __init__(self, spec: Spec | None, type_id: int, name: str, target_id: int) -> None:
        super().__init__(spec, type_id, name)
        self.target_id = target_id

    @property
    def target(self) -> Type:
        return self._resolve(self.target_id)


class Ptr(Ref):
    __slots__ = ()
    kind = Kind.PTR


class Typedef(Ref):
    __slots__ = ()
    kind = Kind.TYPEDEF


class Volatile(Ref):
    __slots__ = ()
    kind = Kind.VOLATILE


class Const(Ref):
    __slots__ = ()
    kind = Kind.CONST


class Restrict(Ref):
    __slots__ = ()
    kind = Kind.RESTRICT


class TypeTag(Ref):
    """``__attribute__((btf_type_tag("name")))`` on the target, e.g. ``__user`` pointers."""

    __slots__ = ()
    kind = Kind.TYPE_TAG


class Array(Type):
    """``nelems`` elements of ``element``; BTF arrays are anonymous and have no size field."""

    __slots__ = ("element_id", "index_id", "nelems")
    kind = Kind.ARRAY

    def __init__(self, spec: Spec | None, type_id: int, element_id: int, index_id: int, nelems: int) -> None:
        super().__init__(spec, type_id, "")
        self.element_id, self.index_id, self.nelems = element_id, index_id, nelems

    @property
    def element(self) -> Type:
        return self._resolve(self.element_id)


class Member(_Member):
    """A struct or union member (``name, type_id, bit_offset, bitfield_size``).  ``bit_offset``
    from the start; ``bitfield_size`` 0 if not a bitfield."""

    __slots__ = ()

    @property
    def offset(self) -> int:
        """Byte offset (of the byte holding the first bit, for a bitfield)."""
        return self.bit_offset // 8


class Composite(Type):
    """A struct or union: ``size`` bytes and its members in declaration order."""

    __slots__ = ("size", "members")

    def __init__(self, spec: Spec | None, type_id: int, name: str, size: int, members: list[Member]) -> None:
        super().__init__(spec, type_id, name)
        self.size, self.members = size, members

    def member(self, name: str) -> Member:
        """The member called ``name`` (KeyError names the type if there is none)."""
        for m in self.members:
            if m.name == name:
                return m
        raise KeyError(f"{self.name or 'anonymous ' + self.kind.name.lower()} has no member {name!r}")

    def member_type(self, name: str) -> Type:
        return self._resolve(self.member(name).type_id)


class Struct(Composite):
    __slots__ = ()
    kind = Kind.STRUCT


class Union(Composite):
    __slots__ = ()
    kind = Kind.UNION


class EnumValue(_EnumValue):
    """One enumerator: ``name, value``."""

    __slots__ = ()


class Enum(Type):
    """An enum of ``size`` bytes (ENUM: 32-bit values; ENUM64 below)."""

    __slots__ = ("size", "signed", "values")
    kind = Kind.ENUM

    def __init__(
        self, spec: Spec | None, type_id: int, name: str, size: int, signed: bool, values: list[EnumValue]
    ) -> None:
        super().__init__(spec, type_id, name)
        self.size, self.signed, self.values = size, signed, values

    def value(self, name: str) -> int:
        for v in self.values:
            if v.name == name:
                return v.value
        raise KeyError(f"enum {self.name or '(anonymous)'} has no value {name!r}")


class Enum64(Enum):
    __slots__ = ()
    kind = Kind.ENUM64


class Fwd(Type):
    """A forward declaration: ``struct name;`` (or ``union name;`` when ``is_union``)."""

    __slots__ = ("is_union",)
    kind = Kind.FWD

    def __init__(self, spec: Spec | None, type_id: int, name: str, is_union: bool) -> None:
        super().__init__(spec, type_id, name)
        self.is_union = is_union


class Func(Ref):
    """A function: its prototype is ``target`` (a :class:`FuncProto`); ``linkage`` 0 static, 1 global, 2 extern."""

    __slots__ = ("linkage",)
    kind = Kind.FUNC

    def __init__(self, spec: Spec | None, type_id: int, name: str, proto_id: int, linkage: int) -> None:
        super().__init__(spec, type_id, name, proto_id)
        self.linkage = linkage


class Param(_Param):
    """One function parameter: ``name`` (``""`` where BTF keeps none), ``type_id``."""

    __slots__ = ()


class FuncProto(Type):
    """A function signature: return type and parameters (a last ``type_id`` 0 means ``...``)."""

    __slots__ = ("return_id", "params")
    kind = Kind.FUNC_PROTO

    def __init__(self, spec: Spec | None, type_id: int, return_id: int, params: list[Param]) -> None:
        super().__init__(spec, type_id, "")
        self.return_id, self.params = return_id, params

    @property
    def returns(self) -> Type:
        return self._resolve(self.return_id)


class Var(Ref):
    """A global variable (or a map definition in ``.maps``); ``linkage`` 0 static, 1 global, 2 extern."""

    __slots__ = ("linkage",)
    kind = Kind.VAR

    def __init__(self, spec: Spec | None, type_id: int, name: str, target_id: int, linkage: int) -> None:
        super().__init__(spec, type_id, name, target_id)
        self.linkage = linkage


class VarSecinfo(_VarSecinfo):
    """One variable of a data section: its :class:`Var` id, byte ``offset`` and ``size``."""

    __slots__ = ()


class Datasec(Type):
    """An ELF data section (``.data``, ``.bss``, ``.rodata``, ``.maps``) and the variables in it."""

    __slots__ = ("size", "vars")
    kind = Kind.DATASEC

    def __init__(self, spec: Spec | None, type_id: int, name: str, size: int, vars: list[VarSecinfo]) -> None:
        super().__init__(spec, type_id, name)
        self.size, self.vars = size, vars


class Float(Type):
    __slots__ = ("size",)
    kind = Kind.FLOAT

    def __init__(self, spec: Spec | None, type_id: int, name: str, size: int) -> None:
        super().__init__(spec, type_id, name)
        self.size = size


class DeclTag(Ref):
    """``btf_decl_tag("name")`` on ``target`` (``component_idx`` -1) or on one of its members/params."""

    __slots__ = ("component_idx",)
    kind = Kind.DECL_TAG

    def __init__(self, spec: Spec | None, type_id: int, name: str, target_id: int, component_idx: int) -> None:
        super().__init__(spec, type_id, name, target_id)
        self.component_idx = component_idx


QUALIFIERS = (Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG)


def skip_qualifiers(t: Type) -> Type:
    """``t`` with typedefs, cv-qualifiers and type tags peeled off (how C sees the underlying type)."""
    seen = 0
    while t.kind in QUALIFIERS:
        assert isinstance(t, Ref)
        t = t.target
        seen += 1
        if seen > 64:
            raise ValueError(f"BTF type #{t.id}: a qualifier/typedef chain loops")
    return t


def sizeof(t: Type) -> int:
    """The size in bytes of ``t`` as C computes it (arrays multiply, pointers are 8 bytes on BPF)."""
    t = skip_qualifiers(t)
    if isinstance(t, Array):
        return t.nelems * sizeof(t.element)
    if isinstance(t, Ptr):
        return 8
    size = getattr(t, "size", None)
    if size is None:
        raise TypeError(f"BTF type {t!r} ({t.kind.name}) has no size")
    return int(size)


# DWARF's (and so BTF's) spelling of the integer types -> how C source (and a tracefs format
# file) usually spells them.
_C_INT_NAMES = {
    "short int": "short",
    "short unsigned int": "unsigned short",
    "long int": "long",
    "long unsigned int": "unsigned long",
    "long long int": "long long",
    "long long unsigned int": "unsigned long long",
    "__int128 unsigned": "unsigned __int128",
}
_TAGS = {Kind.STRUCT: "struct", Kind.UNION: "union", Kind.ENUM: "enum", Kind.ENUM64: "enum"}
_QUALIFIER_WORDS = {Kind.CONST: "const", Kind.VOLATILE: "volatile", Kind.RESTRICT: "restrict"}


def c_name(t: Type) -> str:
    """``t`` spelled as a C type name: ``'pid_t'``, ``'const char *'``, ``'char[16]'``,
    ``'struct task_struct *'``, ``'unsigned long'`` (not DWARF's ``'long unsigned int'``).

    For messages and for comparing with the spellings tracefs format files use.
    """
    return _c_name(t, 0)


def _c_name(t: Type, depth: int) -> str:
    if depth > 64:
        raise ValueError(f"BTF type #{t.id}: a type chain loops")
    if isinstance(t, Int):
        return _C_INT_NAMES.get(t.name, t.name)
    if isinstance(t, (Struct, Union, Enum, Fwd)):
        tag = ("union" if t.is_union else "struct") if isinstance(t, Fwd) else _TAGS[t.kind]
        return f"{tag} {t.name}" if t.name else f"{tag} (anonymous)"
    if isinstance(t, (Typedef, Float)):
        return t.name
    if isinstance(t, Void):
        return "void"
    if isinstance(t, TypeTag):
        return _c_name(t.target, depth + 1)
    if isinstance(t, (Const, Volatile, Restrict)):
        word = _QUALIFIER_WORDS[t.kind]
        if isinstance(skip_tags(t.target), (Ptr, Array)):
            return f"{_c_name(t.target, depth + 1)} {word}"  # 'char * const': the pointer is const
        return f"{word} {_c_name(t.target, depth + 1)}"
    if isinstance(t, Ptr):
        target = skip_tags(t.target)
        if isinstance(target, FuncProto):
            return "void (*)()"  # tracepoint fields and messages need no more than "a function pointer"
        inner = _c_name(t.target, depth + 1)
        return inner + ("*" if inner.endswith("*") else " *")
    if isinstance(t, Array):
        inner = _c_name(t.element, depth + 1)
        dims = ""
        while "[" in inner and inner.endswith("]"):  # char[2][16]: outer dimension first
            at = inner.index("[")
            inner, dims = inner[:at], inner[at:] + dims
        return f"{inner}[{t.nelems}]{dims}"
    if isinstance(t, FuncProto):
        return "void ()"
    return t.name or t.kind.name.lower()


def skip_tags(t: Type) -> Type:
    """``t`` without type tags (``__user``, ``__rcu``): tags change no layout."""
    while isinstance(t, TypeTag):
        t = t.target
    return t
