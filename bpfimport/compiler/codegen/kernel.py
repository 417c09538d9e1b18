"""Reading kernel memory: attribute chains through kernel structs, CO-RE relocated.

``current_task().real_parent.tgid`` is lowered as ``BPF_CORE_READ`` expands in C: each
field is a *place* (:class:`~..types.PlaceType`: a relocated address, not read yet) built
from the one before it; a place is read when its value is used — a scalar, pointer or array
with one ``bpf_probe_read_kernel`` into the stack, a bitfield through the field-info
relocations (byte offset, size, shifts), a context field with a direct load.  Only what the
program uses is read: ``t.se.vruntime`` reads 8 bytes.  The relocations and debug types
are ``compiler/core.py``'s.
"""

from __future__ import annotations

from .. import pyast as ast
from ..core import (
    ENUM_VALUE_EXISTS,
    FIELD_BYTE_OFFSET,
    FIELD_BYTE_SIZE,
    FIELD_EXISTS,
    FIELD_LSHIFT,
    FIELD_RSHIFT,
    TYPE_EXISTS,
    KernelTypeError,
    KernelTypes,
    bitfield_layout,
)
from ..helpers import Helper
from ..types import (
    BOOL,
    CHAR,
    U32,
    U64,
    ArrayType,
    BpfType,
    IntType,
    KernelStructType,
    PlaceType,
    PtrType,
)
from .builder import FunctionBuilder
from .ir import Value
from .values import show

# What a __data_loc string reads into when it has no destination of its own.
DATA_LOC_LEN = 128


def kernel_types(fb: FunctionBuilder, node: ast.AST) -> KernelTypes:
    """The module's kernel types; a CompileError at ``node`` when the kernel has no BTF."""
    try:
        return fb.module.kernel_types()
    except KernelTypeError as e:
        raise fb.err(node, e.message, e.hint) from None


def is_kernel_base(v: Value) -> bool:
    """Whether ``v.field`` reads kernel memory: a kernel struct pointer, or a place."""
    if isinstance(v.ty, PlaceType):
        return True
    return (isinstance(v.ty, PtrType) and isinstance(v.ty.pointee, KernelStructType)
            and not v.ty.nullable)


def member(fb: FunctionBuilder, base: Value, node: ast.Attribute) -> Value:
    """``base.NAME`` as a place: ``base`` is a kernel struct pointer or a place holding a struct
    (or a pointer to one: read, then followed, as ``->`` in C)."""
    kt = kernel_types(fb, node)
    if isinstance(base.ty, PlaceType) and isinstance(base.ty.target, PtrType):
        base = read(fb, base, node)  # a pointer field: read it, then go where it points (a hop)
    if isinstance(base.ty, PlaceType):
        place = base.ty
        struct: BpfType | None = place.target
    else:
        assert isinstance(base.ty, PtrType)
        struct = base.ty.pointee
        space = base.ty.space if base.ty.space in ("kernel", "ctx") else "kernel"
        if isinstance(struct, KernelStructType):  # a new root: relocations start here
            place = PlaceType(struct, space, base.ref, btf_id=struct.btf_id, root_type=struct.btf_id)
    if not isinstance(struct, KernelStructType):
        what = show(struct) if struct is not None else "void pointer"
        raise fb.err(node, f"a {what} has no field '{node.attr}'",
                     "cast an address to a kernel struct first: kernel.sock(address)")
    try:
        path = kt.member_path(struct, node.attr)
        bit_offset, access = place.bit_offset, place.access
        for comp_id, index, m in path:
            kt.use(comp_id, index)
            bit_offset += m.bit_offset
            access = (*access, index)
        last = path[-1][2]
        target = kt.compiler_type(last.type_id)
    except KernelTypeError as e:
        raise fb.err(node, e.message, e.hint) from None
    return Value(place.but(target=target, btf_id=last.type_id, access=access, bit_offset=bit_offset,
                           how="bitfield" if last.bitfield_size else "value",
                           bits=last.bitfield_size), place.root)


def element(fb: FunctionBuilder, base: Value, index: int, index_node: ast.AST, node: ast.AST) -> Value:
    """``base[i]`` of a place holding an array, for a constant ``i``: a place, relocated (a
    variable index reads the array and indexes the copy: ``expressions.subscript``)."""
    place = base.ty
    assert isinstance(place, PlaceType)
    arr = place.target
    assert isinstance(arr, ArrayType)
    i = index + (arr.length if index < 0 else 0)
    if not 0 <= i < arr.length and not (arr.length == 0 and i >= 0):  # [0]: a flexible array
        raise fb.err(index_node, f"index {index} is out of range for {arr}")
    elem_id = None
    if place.btf_id is not None:
        elem_id = kernel_types(fb, node).array_of(place.btf_id)[1]
    return Value(place.but(target=arr.elem, btf_id=elem_id, access=(*place.access, i),
                           bit_offset=place.bit_offset + 8 * i * arr.elem.size), place.root)


def address(fb: FunctionBuilder, place: PlaceType, node: ast.AST) -> str:
    """Where a place is: its root plus its offset, relocated when the place has a root type."""
    if place.root_type is None:
        return fb.b.byte_gep(place.root, place.bit_offset // 8)
    kt = kernel_types(fb, node)
    reloc = relocation(fb, kt, FIELD_BYTE_OFFSET, place, place.bit_offset // 8, node)
    return fb.b.core_address(reloc, place.root, kt.next_seq())


def relocation(fb: FunctionBuilder, kt: KernelTypes, kind: int, place: PlaceType, local: int,
               node: ast.AST) -> str:
    assert place.root_type is not None
    try:
        return kt.relocation(kind, place.root_type, place.access, local)
    except KernelTypeError as e:
        raise fb.err(node, e.message, e.hint) from None


def read(fb: FunctionBuilder, place_value: Value, node: ast.AST) -> Value:
    """The value a place holds, read from kernel memory or the context."""
    place = place_value.ty
    assert isinstance(place, PlaceType)
    target = place.target
    if place.how in ("data_loc", "rel_loc"):
        tmp = fb.temp_aggregate(ArrayType(CHAR, DATA_LOC_LEN))
        read_data_loc(fb, place, tmp.ref, DATA_LOC_LEN, node)
        return tmp
    if isinstance(target, KernelStructType):
        raise fb.err(node, f"{target.spec} is kernel memory and is not copied whole",
                     "read the fields you need, e.g. x.field")
    if isinstance(target, ArrayType) and target.length == 0:
        raise fb.err(node, "this kernel field is a flexible array, with no length to copy",
                     "index it with a constant, e.g. x.field[0]")
    if place.how == "bitfield":
        return read_bitfield(fb, place, node)
    at = address(fb, place, node)
    if place.space == "ctx" and not target.aggregate:
        return fb.load(target, at)
    if target.aggregate:
        tmp = fb.temp_aggregate(target, zero=False)
        probe_read_kernel(fb, tmp.ref, target.size, at)
        return tmp
    slot = fb.slot("kread", target)
    probe_read_kernel(fb, slot, target.size, at)
    return fb.load(target, slot)


def read_into(fb: FunctionBuilder, place_value: Value, dest: str, dest_ty: BpfType, node: ast.AST) -> bool:
    """Read a char array place straight into ``dest`` (a ``dest_ty`` field or local), as
    ``e.comm = t.comm`` and ``e.filename = ctx.filename`` do; False when it does not fit that way."""
    place = place_value.ty
    assert isinstance(place, PlaceType)
    if not (isinstance(dest_ty, ArrayType) and dest_ty.elem == CHAR):
        return False
    if place.how in ("data_loc", "rel_loc"):
        read_data_loc(fb, place, dest, dest_ty.length, node)
        return True
    target = place.target
    if not (isinstance(target, ArrayType) and target.elem == CHAR and 0 < target.length):
        return False
    if target.length > dest_ty.length:
        raise fb.err(node, f"{show(target)} does not fit in {show(dest_ty)}",
                     f"make the destination c_char * {target.length}")
    if target.length < dest_ty.length:
        fb.b.memset(dest, dest_ty.size, 1)
    probe_read_kernel(fb, dest, target.size, address(fb, place, node))
    return True


def probe_read_kernel(fb: FunctionBuilder, dst: str, size: int | str, src: str) -> str:
    return fb.b.call_helper(Helper.PROBE_READ_KERNEL, "i64", [("ptr", dst), ("i32", str(size)), ("ptr", src)])


def read_bitfield(fb: FunctionBuilder, place: PlaceType, node: ast.AST) -> Value:
    """A bitfield, as BPF_CORE_READ_BITFIELD_PROBED: the relocated storage bytes into a zeroed
    u64, shifted left then right by relocated amounts (arithmetic for a signed field)."""
    target = place.target
    kt = kernel_types(fb, node)
    size_local = kt.size_of(place.btf_id) if place.btf_id is not None else 4
    byte_off, byte_size, lshift, rshift = bitfield_layout(place.bit_offset, place.bits, size_local)
    if place.root_type is None:  # no BTF: this kernel's layout
        storage = fb.b.byte_gep(place.root, byte_off)
        size, left, right = str(byte_size), str(lshift), str(rshift)
    else:
        seq = kt.next_seq
        storage = fb.b.core_address(relocation(fb, kt, FIELD_BYTE_OFFSET, place, byte_off, node),
                                    place.root, seq())
        size = fb.b.core_value(relocation(fb, kt, FIELD_BYTE_SIZE, place, byte_size, node), "i32", seq())
        left = fb.b.cast("zext", "i32", fb.b.core_value(
            relocation(fb, kt, FIELD_LSHIFT, place, lshift, node), "i32", seq()), "i64")
        right = fb.b.cast("zext", "i32", fb.b.core_value(
            relocation(fb, kt, FIELD_RSHIFT, place, rshift, node), "i32", seq()), "i64")
    slot = fb.slot("bitfield", U64)
    fb.b.store("i64", "0", slot, 8)
    fb.b.call_helper(Helper.PROBE_READ_KERNEL, "i64", [("ptr", slot), ("i32", size), ("ptr", storage)])
    raw = fb.b.load("i64", slot, 8)
    signed = isinstance(target, IntType) and target.signed
    shifted = fb.b.binop("ashr" if signed else "lshr", "i64", fb.b.binop("shl", "i64", raw, left), right)
    if isinstance(target, IntType):
        return fb.coerce(Value(IntType(64, target.signed), shifted), target, node, explicit=True)
    return fb.truth(Value(U64, shifted), node)  # a bool bitfield


def read_data_loc(fb: FunctionBuilder, place: PlaceType, dest: str, length: int, node: ast.AST) -> None:
    """A tracepoint's ``__data_loc`` string: the u32 at the place holds the string's offset in
    the record (low 16 bits; for ``__rel_loc``, from the end of the u32) and its length (high
    16); copy it, NUL-terminated, into ``dest``."""
    at = address(fb, place, node)
    loc = fb.b.load("i32", at, 4)
    offset = fb.b.cast("zext", "i32", fb.b.binop("and", "i32", loc, "65535"), "i64")
    base = fb.b.byte_gep(at, 4) if place.how == "rel_loc" else place.root
    src = fb.b.byte_gep_dynamic(base, offset)
    fb.b.call_helper(Helper.PROBE_READ_KERNEL_STR, "i64", [("ptr", dest), ("i32", str(length)), ("ptr", src)])


def field_relocation(fb: FunctionBuilder, place_value: Value, kind: int, node: ast.AST) -> Value:
    """``field_exists(t.loginuid)`` (a bool) or ``field_size(t.comm)`` (a u32), relocated:
    what the running kernel says of the field, not this one."""
    place = place_value.ty
    if not isinstance(place, PlaceType) or not place.access:
        raise fb.err(node, "this takes a field of kernel memory, e.g. current_task().loginuid")
    if place.how == "bitfield" and kind == FIELD_BYTE_SIZE:
        raise fb.err(node, "a bitfield has no byte size", "field_size() takes a whole field")
    kt = kernel_types(fb, node)
    exists = kind == FIELD_EXISTS
    local = 1 if exists else (kt.size_of(place.btf_id) if place.btf_id is not None else place.target.size)
    if place.root_type is None:  # this kernel's fixed layout: what it says is final
        return Value(BOOL, "true") if exists else Value(U32, str(local))
    value = fb.b.core_value(relocation(fb, kt, kind, place, local, node), "i32", kt.next_seq())
    if exists:
        return Value(BOOL, fb.b.icmp("ne", "i32", value, "0"))
    return Value(U32, value)


def type_relocation(fb: FunctionBuilder, type_node: ast.expr, kind: int, node: ast.AST) -> Value:
    """``type_exists(kernel.bpf_map)`` (a bool) or ``type_size(kernel.task_struct)`` (a u32)
    on the running kernel."""
    kt = kernel_types(fb, node)
    name = _kernel_name(fb, type_node)
    try:
        type_id = kt.named_id(name, ("struct", "union", "typedef", "enum"))
    except KernelTypeError as e:
        raise fb.err(type_node, e.message, e.hint) from None
    local = 1 if kind == TYPE_EXISTS else kt.size_of(type_id)
    value = fb.b.core_value(kt.type_relocation(kind, type_id, local), "i32", kt.next_seq())
    if kind == TYPE_EXISTS:
        return Value(BOOL, fb.b.icmp("ne", "i32", value, "0"))
    return Value(U32, value)


def enum_relocation(fb: FunctionBuilder, value_node: ast.expr, kind: int, node: ast.AST) -> Value:
    """``enum_value(kernel.bpf_map_type.BPF_MAP_TYPE_HASH)`` (an i64) or ``enum_exists(...)``
    (a bool) on the running kernel."""
    from ...btf import types as bt

    if not isinstance(value_node, ast.Attribute):
        raise fb.err(value_node, "this takes an enum value of the kernel, e.g. "
                     "kernel.bpf_map_type.BPF_MAP_TYPE_HASH")
    kt = kernel_types(fb, node)
    name = _kernel_name(fb, value_node.value)
    try:
        enum_id = kt.named_id(name, ("enum", "typedef"))
    except KernelTypeError as e:
        raise fb.err(value_node.value, e.message, e.hint) from None
    enum = bt.skip_qualifiers(kt.spec.type_by_id(enum_id))
    if not isinstance(enum, bt.Enum):
        raise fb.err(value_node.value, f"kernel type {name} is not an enum")
    names = [v.name for v in enum.values]
    if value_node.attr not in names:
        from ..core import closest_first, show_names

        raise fb.err(value_node, f"enum {name} has no value '{value_node.attr}'",
                     "its values, closest first: " + show_names(closest_first(value_node.attr, names)))
    index = names.index(value_node.attr)
    local = 1 if kind == ENUM_VALUE_EXISTS else enum.values[index].value
    value = fb.b.core_value(kt.enum_relocation(kind, enum.id, index, local), "i64", kt.next_seq())
    if kind == ENUM_VALUE_EXISTS:
        return Value(BOOL, fb.b.icmp("ne", "i64", value, "0"))
    return Value(IntType(64, True), value)


def _kernel_name(fb: FunctionBuilder, node: ast.expr) -> str:
    """NAME of ``kernel.NAME``."""
    if isinstance(node, ast.Attribute) and fb.builtin(node.value) == "kernel":
        return node.attr
    raise fb.err(node, "this takes a kernel type by name, e.g. kernel.task_struct")


def current_task(fb: FunctionBuilder, node: ast.Call) -> Value:
    """``current_task()``: the running task_struct, as a kernel pointer (helper 35)."""
    kt = kernel_types(fb, node)
    try:
        task = kt.struct("task_struct")
    except KernelTypeError as e:
        raise fb.err(node, e.message, e.hint) from None
    raw = fb.b.call_helper(Helper.GET_CURRENT_TASK, "i64", [])
    return Value(PtrType(task, space="kernel"), fb.b.cast("inttoptr", "i64", raw, "ptr"))


__all__ = ["DATA_LOC_LEN", "current_task", "element", "is_kernel_base", "kernel_types", "member",
           "read", "read_into"]
