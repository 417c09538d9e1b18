"""Kernel types and CO-RE: the kernel's BTF types as compiler types, and the relocations
that move every access to them to wherever the running kernel has the field.

A read of ``current_task().real_parent.tgid`` compiles as ``BPF_CORE_READ`` does in C: the
address of each field is its root pointer plus a *relocated* offset, then read with
``bpf_probe_read_kernel`` (``codegen/kernel.py``).  A relocation is written the way clang's
BPF passes leave ``__builtin_preserve_access_index`` (measured, docs/internals.md "CO-RE"):
an external global ``@"llvm.task_struct:0:1268$0:93"`` (root type, relocation kind, the
value on this kernel, access path by member index) carrying the root type's debug type;
the BPF backend turns each read of it into an instruction with a ``.BTF.ext`` CO-RE record,
and libbpf patches the instruction for the running kernel by matching member *names*.

Why not the ``llvm.preserve.*.access.index`` intrinsics that clang emits first: LLVM's pass
that lowers them keeps the globals it makes in a process-wide table keyed by that name, so
the second module of a process with the same access would reuse a global of a freed
module (an assertion, or a crash).  Lowered here, no module ever reaches that table.

The debug types list each kernel struct's members in the kernel's order with the kernel's
offsets (the kernel refuses a BTF struct whose members go backwards); members the program
does not use get a placeholder of the same size, so the object's BTF carries no more of
the kernel's type graph than the program touches.  One :class:`KernelTypes` per compiled
module holds what it used; :meth:`KernelTypes.finish` writes the relocation globals and
the debug types at the end.  The kernel's BTF is read once per process (:func:`kernel_btf`).
"""

from __future__ import annotations

from .types import (
    BOOL,
    CHAR,
    ArrayType,
    BpfType,
    IntType,
    KernelStructType,
    PtrType,
)

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds of every compile
if TYPE_CHECKING:
    from collections.abc import Iterable

    from ..btf import types as bt
    from ..btf.kernel import KernelBtf
    from ..btf.reader import Spec
    from .debuginfo import DebugInfo

# enum bpf_core_relo_kind values llvm.bpf.preserve.field.info takes
FIELD_BYTE_OFFSET, FIELD_BYTE_SIZE, FIELD_EXISTS, FIELD_SIGNED, FIELD_LSHIFT, FIELD_RSHIFT = range(6)
# ... and of types and enum values (enum bpf_core_relo_kind)
TYPE_EXISTS, TYPE_SIZE, ENUM_VALUE_EXISTS, ENUM_VALUE = 8, 9, 10, 11

NO_BTF_HINT = ("kernel types come from the kernel's BTF, which needs a kernel built with "
               "CONFIG_DEBUG_INFO_BTF=y; without it, read raw memory with probe_read_kernel() "
               "into a @struct")


class KernelTypeError(Exception):
    """A kernel type or field that does not exist (the caller turns it into a CompileError)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


# ---------------------------------------------------------------- the kernel's BTF

def kernel_btf() -> KernelBtf:
    """The running kernel's BTF (``bpfimport.btf.kernel``: opened once per process, its name
    index cached per kernel); KernelTypeError, one sentence, when the kernel has none."""
    from ..btf.kernel import KernelBtfMissing
    from ..btf.kernel import kernel_btf as open_kernel_btf

    try:
        return open_kernel_btf()
    except KernelBtfMissing as e:
        raise KernelTypeError(str(e), NO_BTF_HINT) from None


def kernel_identity() -> str:
    """What names this kernel's layouts (its BTF's identity): an object built from a fixed
    offset depends on it, and ``cache.running_kernel`` compares the running kernel's."""
    from ..btf.kernel import kernel_identity as identity

    return identity()


def closest_first(name: str, names: Iterable[str], limit: int | None = None) -> list[str]:
    """``names`` ordered by likeness to ``name`` (what an error lists, closest first)."""
    import difflib

    low = name.lower()

    def score(n: str) -> tuple[float, str]:
        ratio = difflib.SequenceMatcher(None, low, n.lower()).ratio()
        if low in n.lower() or n.lower() in low:
            ratio += 0.5
        return (-ratio, n)

    ordered = sorted(set(names), key=score)
    return ordered if limit is None else ordered[:limit]


def show_names(names: list[str], limit: int = 12) -> str:
    """``a, b, c`` (and how many more), for an error hint."""
    text = ", ".join(names[:limit])
    return text + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


# ---------------------------------------------------------------- BTF -> compiler types

def _strip(spec: Spec, type_id: int) -> bt.Type:
    """The type under typedefs, cv-qualifiers and type tags."""
    from ..btf.types import skip_qualifiers

    return skip_qualifiers(spec.type_by_id(type_id))


def _pointer_space(spec: Spec, target_id: int, target: bt.Type) -> str:
    """The memory a kernel pointer field points into, as far as BTF says.

    ``__user`` is a type tag on the target where the kernel was built with them
    (``btf_type_tag("user")``): user memory.  Without tags, a pointer to a struct or union is
    the kernel's own (the CO-RE chains read through it); a pointer to anything else (``void *``,
    ``int *``, ``char *``) may hold either kind of address (``task->clear_child_tid`` is
    ``int __user *``), so it is an address of unknown memory: the program says which family
    reads it.
    """
    from ..btf import types as bt

    t = spec.type_by_id(target_id)
    for _ in range(32):  # through typedefs and qualifiers, where the tag may sit
        if isinstance(t, bt.TypeTag) and t.name == "user":
            return "user"
        if t.kind not in bt.QUALIFIERS:
            break
        t = t.target  # type: ignore[attr-defined]
    return "kernel" if isinstance(target, bt.Composite) else "unknown"


def _sizeof(spec: Spec, type_id: int) -> int:
    from ..btf.types import sizeof

    try:
        return sizeof(spec.type_by_id(type_id))
    except TypeError:  # void, a function, a forward declaration
        return 0


def type_name(spec: Spec, type_id: int) -> str:
    """How an error names a kernel type: ``struct task_struct``, ``pid_t``, ``char[16]``."""
    from ..btf import types as bt

    t = spec.type_by_id(type_id)
    if isinstance(t, (bt.Const, bt.Volatile, bt.Restrict, bt.TypeTag)):
        return type_name(spec, t.target_id)
    if t.name:
        kw = {bt.Kind.STRUCT: "struct ", bt.Kind.UNION: "union ", bt.Kind.ENUM: "enum ",
              bt.Kind.ENUM64: "enum "}.get(t.kind, "")
        return kw + t.name
    if isinstance(t, bt.Ptr):
        return type_name(spec, t.target_id) + " *"
    if isinstance(t, bt.Array):
        return f"{type_name(spec, t.element_id)}[{t.nelems}]"
    return {bt.Kind.STRUCT: "struct (anonymous)", bt.Kind.UNION: "union (anonymous)",
            bt.Kind.VOID: "void"}.get(t.kind, t.kind.name.lower())


def _full_composite(spec: Spec, t: bt.Type) -> bt.Type:
    """A forward declaration's full struct or union, where the BTF has one."""
    from ..btf import types as bt

    if isinstance(t, bt.Fwd) and t.name:
        kind = bt.Kind.UNION if t.is_union else bt.Kind.STRUCT
        found = spec.types_by_name(t.name, kind)
        if found:
            return found[0]
    return t


class KernelTypeSystem:
    """The kernel's types as BPF code sees them: names, compiler types, fields.  One per
    process (:func:`type_system`): the frontend resolves ``kernel.NAME`` annotations
    through it before any module's codegen exists, and types are values shared by all."""

    def __init__(self, kbtf: KernelBtf | None = None) -> None:
        self.kbtf = kbtf if kbtf is not None else kernel_btf()
        # vmlinux, or once a type only a module has is used, that module's split BTF: it
        # continues vmlinux's ids, so every type converted before keeps its id and meaning
        self.spec: Spec = self.kbtf.spec
        self.module: str | None = None
        self._types: dict[int, BpfType] = {}

    # ---- names -----------------------------------------------------------------------

    def lookup(self, name: str, kind: bt.Kind) -> list[bt.Type]:
        """The types called ``name`` of ``kind``: vmlinux's (and the module's in use), else a
        module's BTF, read only on that miss (``KernelBtf.named_modules``).

        Module BTF is split BTF: each module numbers its types on from vmlinux's last id, so
        two modules' ids collide.  The first module a process uses becomes this system's
        spec; a type of a second module is a KernelTypeError rather than a wrong id.
        """
        found = self.spec.types_by_name(name, kind)
        if found:
            return found
        for module, spec in self.kbtf.named_modules().items():
            if module == self.module:
                continue
            found = spec.types_by_name(name, kind)
            if not found:
                continue
            if self.module is not None:
                raise KernelTypeError(
                    f"kernel type '{name}' is in module {module}'s BTF, but this process already "
                    f"uses types of module {self.module}", "types of one kernel module per "
                    "process: compile programs that use another module's types in another process")
            self.spec, self.module = spec, module
            return found
        return []

    def named(self, name: str) -> BpfType:
        """``kernel.NAME``: a struct or union (as a kernel pointer to it), or a typedef or
        enum (as its integer type).  KernelTypeError naming close matches when none exists."""
        from ..btf import types as bt

        for kind in (bt.Kind.STRUCT, bt.Kind.UNION, bt.Kind.TYPEDEF, bt.Kind.ENUM, bt.Kind.ENUM64):
            found = self.lookup(name, kind)
            if found:
                ty = self.compiler_type(found[0].id)
                if isinstance(ty, KernelStructType):
                    return PtrType(ty, space="kernel")
                return ty
        raise KernelTypeError(f"the kernel has no type named '{name}'", self.similar_types(name))

    def struct(self, name: str) -> KernelStructType:
        """The kernel struct (or union) ``name``."""
        ty = self.named(name)
        if isinstance(ty, PtrType) and isinstance(ty.pointee, KernelStructType):
            return ty.pointee
        raise KernelTypeError(f"kernel type '{name}' is not a struct or union")

    def similar_types(self, name: str) -> str:
        """A hint naming the kernel's structs, unions and typedefs most like ``name``."""
        from ..btf import types as bt

        low = name.lower()
        kinds = (bt.Kind.STRUCT, bt.Kind.UNION, bt.Kind.TYPEDEF)
        names = [n for kind in kinds for n in self.kbtf.names(kind)]
        for spec in self.kbtf.named_modules().values():  # already read: the name missed vmlinux
            names += [n for n, ids in spec.names().items()
                      if any(spec.kind_of(i) in kinds for i in ids)]
        pool = [n for n in names if low[:4] in n.lower() or len(n) > 3 and n.lower() in low]
        near = closest_first(name, pool, 8)
        return ("similar kernel types: " + ", ".join(near)) if near else \
            "the names are the kernel's own (struct task_struct is kernel.task_struct)"

    # ---- compiler types --------------------------------------------------------------

    def compiler_type(self, type_id: int) -> BpfType:
        """How BPF code sees a value of BTF type ``type_id``."""
        got = self._types.get(type_id)
        if got is None:
            got = self._types[type_id] = self._convert(type_id)
        return got

    def _convert(self, type_id: int) -> BpfType:
        from ..btf import types as bt

        t = _full_composite(self.spec, _strip(self.spec, type_id))
        if isinstance(t, bt.Int):
            if t.encoding & bt.Int.BOOL:
                return BOOL
            if t.size == 1 and (t.encoding & bt.Int.CHAR or t.name == "char"):
                return CHAR
            if t.size not in (1, 2, 4, 8):
                raise KernelTypeError(f"kernel type {t.name} ({t.size * 8} bits) is not supported",
                                      "BPF integers are 8 to 64 bits")
            return IntType(t.size * 8, t.signed)
        if isinstance(t, bt.Enum):
            return IntType(t.size * 8, t.signed) if t.size in (1, 2, 4, 8) else IntType(32, False)
        if isinstance(t, bt.Ptr):
            target = _full_composite(self.spec, _strip(self.spec, t.target_id))
            space = _pointer_space(self.spec, t.target_id, target)
            if isinstance(target, (bt.Void, bt.FuncProto, bt.Fwd)):
                return PtrType(space=space)
            return PtrType(self.compiler_type(target.id), space=space)
        if isinstance(t, bt.Array):
            return ArrayType(self.compiler_type(t.element_id), t.nelems)
        if isinstance(t, bt.Composite):
            name = t.name or self._anonymous_name(type_id)
            return KernelStructType(name, t.id, isinstance(t, bt.Union), t.size)
        raise KernelTypeError(f"kernel type {type_name(self.spec, type_id)} is not supported in "
                              "BPF code", "read integer, pointer, array, struct and union fields")

    def _anonymous_name(self, type_id: int) -> str:
        """An anonymous struct's name in errors: the typedef it came through, if any."""
        t = self.spec.type_by_id(type_id)
        return t.name if t.name else f"(anonymous #{type_id})"

    # ---- members ---------------------------------------------------------------------

    def member_path(self, struct: KernelStructType, name: str) -> list[tuple[int, int, bt.Member]]:
        """How to reach field ``name`` of ``struct``: (composite id, member index, member) per
        step, through anonymous structs and unions.  KernelTypeError listing the fields,
        closest first, when there is none."""
        from ..btf import types as bt

        comp = self.spec.type_by_id(struct.btf_id)
        assert isinstance(comp, bt.Composite)
        path = self._find(comp, name, 0)
        if path is None:
            fields = closest_first(name, self.field_names(comp))
            raise KernelTypeError(f"{struct.spec} has no field '{name}'",
                                  "its fields, closest first: " + show_names(fields))
        return path

    def _find(self, comp: bt.Composite, name: str, depth: int) -> list[tuple[int, int, bt.Member]] | None:
        from ..btf import types as bt

        for i, m in enumerate(comp.members):
            if m.name == name:
                return [(comp.id, i, m)]
        if depth > 16:
            return None
        for i, m in enumerate(comp.members):
            if not m.name:
                inner = _full_composite(self.spec, _strip(self.spec, m.type_id))
                if isinstance(inner, bt.Composite):
                    rest = self._find(inner, name, depth + 1)
                    if rest is not None:
                        return [(comp.id, i, m), *rest]
        return None

    def field_names(self, comp: bt.Composite, depth: int = 0) -> list[str]:
        """Every field a struct shows to BPF code, anonymous members' fields included."""
        from ..btf import types as bt

        out: list[str] = []
        for m in comp.members:
            if m.name:
                out.append(m.name)
            elif depth < 16:
                inner = _full_composite(self.spec, _strip(self.spec, m.type_id))
                if isinstance(inner, bt.Composite):
                    out.extend(self.field_names(inner, depth + 1))
        return out


_SYSTEM: list[KernelTypeSystem] = []


def type_system() -> KernelTypeSystem:
    """The process's kernel type system (KernelTypeError when the kernel has no BTF)."""
    if not _SYSTEM:
        _SYSTEM.append(KernelTypeSystem())
    return _SYSTEM[0]


def named_type(name: str) -> BpfType:
    """``kernel.NAME`` (KernelTypeError naming close matches when the kernel has none)."""
    return type_system().named(name)


class KernelTypes:
    """What one compiled module uses of the kernel's types: the debug types (what LLVM
    turns into the object's BTF) and the CO-RE relocations of its accesses."""

    def __init__(self, debug: DebugInfo) -> None:
        self.system = type_system()
        self.debug = debug
        self.named = self.system.named
        self.struct = self.system.struct
        self.compiler_type = self.system.compiler_type
        self.member_path = self.system.member_path
        self._di: dict[int, int | None] = {}
        self._comps: dict[int, _Composite] = {}
        self._unfinished: list[_Composite] = []
        self._relocs: dict[str, tuple[str, int]] = {}  # relocation global -> (IR type, debug type)
        self._seq = 0

    @property
    def spec(self) -> Spec:
        """The system's spec, which turns from vmlinux's to a module's when a module type is used."""
        return self.system.spec

    def array_of(self, type_id: int) -> tuple[int, int]:
        """The array under ``type_id``'s typedefs, and its element type (both BTF ids)."""
        from ..btf import types as bt

        arr = _strip(self.spec, type_id)
        assert isinstance(arr, bt.Array)
        return arr.id, arr.element_id

    def size_of(self, type_id: int) -> int:
        return _sizeof(self.spec, type_id)

    def use(self, comp_id: int, index: int) -> None:
        """Member ``index`` of a struct is on an access path: its debug type is the real one."""
        self._composite(comp_id).used.add(index)

    def relocation(self, kind: int, root_type: int, access: tuple[int, ...], local: int) -> str:
        """The global standing for one CO-RE relocation of a field of ``root_type`` (by kind:
        its byte offset, size, existence, shifts) whose value on this kernel is ``local``."""
        comp = self._composite(root_type)
        if not comp.btf.name:
            raise KernelTypeError("an anonymous kernel struct cannot be relocated (CO-RE finds "
                                  "a type by its name)", "reach it through a named struct")
        path = ":".join(str(i) for i in (0, *access))
        return self._global(f"llvm.{comp.btf.name}:{kind}:{local}${path}",
                            "i64" if kind == FIELD_BYTE_OFFSET else "i32", comp.di)

    def type_relocation(self, kind: int, type_id: int, local: int) -> str:
        """A relocation of a type itself (TYPE_EXISTS, TYPE_SIZE), found by its name."""
        t = self.spec.type_by_id(type_id)
        di = self.di_type(type_id)
        assert t.name and di is not None
        return self._global(f"llvm.{t.name}:{kind}:{local}$0", "i32", di)

    def enum_relocation(self, kind: int, enum_id: int, index: int, local: int) -> str:
        """A relocation of value ``index`` of an enum (ENUM_VALUE_EXISTS, ENUM_VALUE)."""
        t = self.spec.type_by_id(enum_id)
        di = self.di_type(enum_id)
        assert t.name and di is not None
        return self._global(f"llvm.{t.name}:{kind}:{local & (1 << 64) - 1}${index}", "i64", di)

    def named_id(self, name: str, kinds: tuple[str, ...]) -> int:
        """The BTF id of the kernel type ``name`` of one of ``kinds`` (``"struct"``, ``"union"``,
        ``"typedef"``, ``"enum"``); KernelTypeError naming similar types when there is none."""
        from ..btf import types as bt

        table = {"struct": (bt.Kind.STRUCT,), "union": (bt.Kind.UNION,),
                 "typedef": (bt.Kind.TYPEDEF,), "enum": (bt.Kind.ENUM, bt.Kind.ENUM64)}
        for kind in kinds:
            for k in table[kind]:
                found = self.system.lookup(name, k)
                if found:
                    return found[0].id
        what = " or ".join(kinds)
        raise KernelTypeError(f"the kernel has no {what} named '{name}'", self.system.similar_types(name))

    def _global(self, name: str, llvm_ty: str, di: int) -> str:
        from .codegen.ir import ir_string

        ref = "@" + ir_string(name.encode())
        self._relocs.setdefault(ref, (llvm_ty, di))
        return ref

    def relocation_count(self) -> int:
        return len(self._relocs)

    def next_seq(self) -> int:
        """A fresh number for a passthrough call (LLVM must not merge two of them)."""
        self._seq += 1
        return self._seq

    # ---- debug types -----------------------------------------------------------------

    def _composite(self, type_id: int) -> _Composite:
        from ..btf import types as bt

        comp = self._comps.get(type_id)
        if comp is None:
            t = self.spec.type_by_id(type_id)
            assert isinstance(t, bt.Composite)
            comp = _Composite(t, self.debug.reserve())
            self._comps[type_id] = comp
            self._unfinished.append(comp)
        return comp

    def di_type(self, type_id: int) -> int | None:
        """The debug type of BTF type ``type_id`` (None for void), structs by reference."""
        if type_id in self._di:
            return self._di[type_id]
        self._di[type_id] = None  # a cycle can only pass through a struct, which is reserved first
        got = self._di[type_id] = self._make_di(type_id)
        return got

    def _make_di(self, type_id: int) -> int | None:
        from ..btf import types as bt

        d = self.debug
        t = self.spec.type_by_id(type_id)
        if isinstance(t, bt.Int):
            if t.encoding & bt.Int.BOOL:
                enc = "DW_ATE_boolean"
            elif t.encoding & bt.Int.CHAR or t.name == "char":
                enc = "DW_ATE_signed_char" if t.signed or t.name == "char" else "DW_ATE_unsigned_char"
            else:
                enc = "DW_ATE_signed" if t.signed else "DW_ATE_unsigned"
            return d.basic_type(t.name or f"int{t.size * 8}", t.size * 8, enc)
        if isinstance(t, bt.Float):
            return d.basic_type(t.name, t.size * 8, "DW_ATE_float")
        if isinstance(t, bt.Ptr):
            target = _strip(self.spec, t.target_id)
            base = None if isinstance(target, (bt.Void, bt.FuncProto)) else self.di_type(t.target_id)
            return d.pointer_type(base)
        if isinstance(t, bt.Typedef):
            return d.typedef(t.name, self.di_type(t.target_id))
        if isinstance(t, (bt.Const, bt.Volatile, bt.Restrict, bt.TypeTag)):
            return self.di_type(t.target_id)
        if isinstance(t, bt.Array):
            elem = self.di_type(t.element_id)
            return d.array(elem, 8 * t.nelems * _sizeof(self.spec, t.element_id), t.nelems)
        if isinstance(t, bt.Composite):
            return self._composite(t.id).di
        if isinstance(t, bt.Enum):
            return d.enum_type(t.name, t.size * 8, not t.signed, [(v.name, v.value) for v in t.values])
        if isinstance(t, bt.Fwd):
            full = _full_composite(self.spec, t)
            if full is not t:
                return self.di_type(full.id)
            return d.forward_decl(t.name, t.is_union)
        return None  # void, a function prototype

    def _placeholder(self, m: bt.Member) -> int | None:
        """A member the program does not use: a type of its size that pulls in nothing more."""
        from ..btf import types as bt

        t = _strip(self.spec, m.type_id)
        if m.bitfield_size or isinstance(t, bt.Int):
            size = _sizeof(self.spec, m.type_id) or 4
            return self.debug.basic_type(f"__u{size * 8}", size * 8, "DW_ATE_unsigned")
        if isinstance(t, bt.Ptr):
            return self.debug.pointer_type(None)
        size = _sizeof(self.spec, m.type_id)
        return self.debug.array(self.debug.basic_type("unsigned char", 8, "DW_ATE_unsigned_char"),
                                8 * size, size)

    def finish(self) -> str:
        """The relocation globals and declarations; writes every kernel debug type."""
        from ..btf import types as bt
        from .codegen.ir import core_declarations, core_relocation_global

        while self._unfinished:
            comp = self._unfinished.pop()
            members = []
            for i, m in enumerate(comp.btf.members):
                ty = self.di_type(m.type_id) if i in comp.used else self._placeholder(m)
                if m.bitfield_size:
                    unit = 8 * (_sizeof(self.spec, m.type_id) or 4)
                    members.append(self.debug.kernel_member(
                        comp.di, m.name, ty, m.bitfield_size, m.bit_offset,
                        storage=m.bit_offset // unit * unit))
                else:
                    members.append(self.debug.kernel_member(
                        comp.di, m.name, ty, 8 * _sizeof(self.spec, m.type_id), m.bit_offset))
            self.debug.kernel_composite(comp.di, comp.btf.name, isinstance(comp.btf, bt.Union),
                                        comp.btf.size * 8, members)
        if not self._relocs:
            return ""
        lines = [core_relocation_global(ref, ty, di) for ref, (ty, di) in self._relocs.items()]
        return "\n".join(lines + core_declarations())


class _Composite:
    """A kernel struct or union the program reaches into: its debug node, members used."""

    __slots__ = ("btf", "di", "used")

    def __init__(self, btf: bt.Composite, di: int) -> None:
        self.btf = btf
        self.di = di
        self.used: set[int] = set()  # member indices the program uses


def bitfield_layout(bit_offset: int, bits: int, type_size: int) -> tuple[int, int, int, int]:
    """(byte offset, byte size, left shift, right shift) that read a bitfield as libbpf
    computes them (relo_core.c): the smallest aligned load of the member's type size or
    wider that holds the bits, shifted up to bit 63 then down (little-endian)."""
    size = type_size if type_size in (1, 2, 4, 8) else 4
    offset = bit_offset // 8 // size * size
    while bit_offset + bits - offset * 8 > size * 8 and size < 8:
        size *= 2
        offset = bit_offset // 8 // size * size
    return offset, size, 64 - (bit_offset + bits - offset * 8), 64 - bits


__all__ = ["ENUM_VALUE", "ENUM_VALUE_EXISTS", "TYPE_EXISTS", "TYPE_SIZE",
           "KernelTypeSystem", "named_type", "type_system", "FIELD_BYTE_OFFSET", "FIELD_BYTE_SIZE", "FIELD_EXISTS", "FIELD_LSHIFT", "FIELD_RSHIFT",
           "FIELD_SIGNED", "KernelTypeError", "KernelTypes", "bitfield_layout", "closest_first",
           "kernel_btf", "kernel_identity", "show_names", "type_name"]
