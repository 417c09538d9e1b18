"""Memory outside the program: which probe_read family reads an address, and reads through pointers.

A BPF program reads user memory (the traced process) with ``bpf_probe_read_user*``
and kernel memory with ``bpf_probe_read_kernel*``; the wrong family fails at run
time (a negative errno and a zeroed buffer), or, on kernels where the legacy
helpers guess, reads something else.  Worse, the program's context is itself
memory: ``probe_read_user_str(buf, ctx)`` and ``probe_read_user_str(buf,
u64(ctx) + 24)`` compile in C and read the context's own bytes instead of the
string a field of it points at.  Pointers here know which memory they point
into (``PtrType.space``), and so do addresses computed from them
(``AddrType``), so these mistakes are compile errors at the user's line.

Also here: ``read_user(T, addr)`` / ``read_kernel(T, addr)`` (one value of any type
from that memory, 0 on a fault) and reads through typed user/kernel pointers
(``argv[i]``, ``p.field``), all lowered to one probe_read of the family the
pointer's space names.
"""

from __future__ import annotations

from ...kinds import PROGRAM_KINDS
from .. import pyast as ast
from ..frontend.resolve import resolve_type
from ..helpers import Helper, HelperDecl
from ..types import (
    I64,
    SPACE_NAMES,
    U8,
    U64,
    AddrType,
    BoolType,
    BpfType,
    IntType,
    PtrType,
    StructType,
)
from .builder import FunctionBuilder
from .ir import Value
from .values import LitType, show

# probe_read helper -> (the memory it reads: None for the legacy helpers, which guess; whether it
# reads a NUL-terminated string)
FAMILIES: dict[int, tuple[str | None, bool]] = {
    Helper.PROBE_READ: (None, False),
    Helper.PROBE_READ_STR: (None, True),
    Helper.PROBE_READ_USER: ("user", False),
    Helper.PROBE_READ_USER_STR: ("user", True),
    Helper.PROBE_READ_KERNEL: ("kernel", False),
    Helper.PROBE_READ_KERNEL_STR: ("kernel", True),
}
# The memory a pointer's target lies in -> the helper that copies bytes out of it.
READERS = {"user": Helper.PROBE_READ_USER, "kernel": Helper.PROBE_READ_KERNEL}
# Memory the probe_read families see as kernel memory (the context, map values, the stack).
KERNEL_SIDE = frozenset({"ctx", "map", "stack", "kernel", "packet"})
# The other family's name, for hints: probe_read_user_str <-> probe_read_kernel_str.
_SWAP = {"user": "kernel", "kernel": "user"}
TYPE_HINT = ("a type: u8..u64, i8..i64, c_char_p, c_void_p, UserPtr[T], KernelPtr[T], "
             "c_char * N or a @struct")


def space_of(v: Value) -> str | None:
    """Where the address ``v`` holds lies, when the compiler knows; None for a plain integer."""
    if isinstance(v.ty, PtrType):
        return "map" if v.ty.nullable else v.ty.space
    if isinstance(v.ty, AddrType):
        return v.ty.space
    return None


def in_space(ty: BpfType, space: str) -> BpfType:
    """The type of a ``ty`` read from ``space`` memory: a ``c_char_p`` read from user memory is
    a user pointer, from kernel memory a kernel one (``c_void_p`` stays a bare address)."""
    if isinstance(ty, PtrType) and ty.space == "unknown" and ty.pointee is not None:
        return PtrType(ty.pointee, False, space)
    return ty


def _swap_name(name: str, family: str) -> str:
    return name.replace(family, _SWAP[family])


def source_address(fb: FunctionBuilder, node: ast.expr, helper: HelperDecl, helper_id: int) -> str:
    """The ``ptr`` a probe_read-family call reads from, after checking it is the right memory.

    Integers are addresses (explicitly: the user computed one); pointers and addresses
    computed from them must lie in the memory the helper reads.
    """
    name = helper.name
    family, string = FAMILIES[helper_id]
    v = fb.expr(node)
    space = space_of(v)
    what = ast.unparse(node)
    if len(what) > 40:
        what = what[:37] + "..."
    if space == "ctx" and (family == "user" or string):
        raise context_error(fb, node, name, what, isinstance(v.ty, PtrType), family, string)
    if family is not None and space is not None and space != "unknown":
        lies = "kernel" if space in KERNEL_SIDE else space
        if lies != family:
            where = SPACE_NAMES[space] + ("" if space in ("kernel", "user") else ", kernel memory")
            raise fb.err(node, f"{name}() reads {family} memory, but '{what}' points into {where}: "
                         f"the read would fail or copy the wrong bytes",
                         f"use {_swap_name(name, family)}(...), which reads {lies} memory")
    if isinstance(v.ty, PtrType):
        return v.ref  # a pointer (a map value reference too: its address)
    if isinstance(v.ty, (IntType, LitType, BoolType)):
        addr = fb.coerce(fb.numeric(v, node), U64, node, explicit=True)
        return fb.b.cast("inttoptr", "i64", addr.ref, "ptr")
    raise fb.err(node, f"{name}() reads from an address; a {show(v.ty)} is not one",
                 "pass a pointer (a probe argument, a read_user/read_kernel result) or an integer address")


def context_error(fb: FunctionBuilder, node: ast.expr, name: str, what: str, whole: bool,
                  family: str | None, string: bool) -> Exception:
    """``probe_read_user_str(buf, ctx)`` / ``(buf, u64(ctx) + 24)``: the two silent misreads."""
    where = "is the program's context" if whole else "is an address inside the program's context"
    if family == "user":
        target = "the user string" if string else "the user memory"
        why = (f"{name}() reads user memory, but '{what}' {where}, which is kernel memory: this "
               f"would copy the context's own bytes, not {target} a field of it points at")
    else:
        why = (f"{name}() reads a string, but '{what}' {where}, which holds the string's address, "
               "not the string: this would copy the address's bytes as text")
    call = f"{name}(T, p)" if name.startswith("read_") else f"{name}(buf, p)"
    kind = PROGRAM_KINDS.get(fb.decl.decorator or "")
    if kind is not None and kind.parameters is not None:
        what_param = "return value" if kind.parameters == "return" else "argument"
        hint = (f"declare the probed function's {what_param} as a parameter and pass it: "
                f"def {fb.decl.name}(ctx, name: c_char_p): ... {call.replace('p)', 'name)')}")
    else:
        hint = ("read the address the field holds first, then pass it: p = read_kernel("
                f"UserPtr[c_char], ctx + OFFSET); {call}")
    if not string:
        hint += ("; to copy the context itself use probe_read_kernel, and read_kernel(T, ctx + "
                 "OFFSET) for one of its fields")
    return fb.err(node, why, hint)


def read_call(fb: FunctionBuilder, helper: HelperDecl, node: ast.Call) -> Value:
    """``read_user(T, addr)`` / ``read_kernel(T, addr)``: one T from that memory, 0 on a fault."""
    name = helper.name
    if len(node.args) != 2 or node.keywords:
        raise fb.err(node, f"{name}() takes (type, address)", f"e.g. {name}(u64, addr)")
    ty = resolve_type(fb.model, node.args[0])
    if ty is None:
        raise fb.err(node.args[0], f"the first argument of {name}() is the type to read", TYPE_HINT)
    helper_id = helper.helper_id
    assert helper_id is not None
    family = FAMILIES[helper_id][0]
    assert family is not None
    addr = source_address(fb, node.args[1], helper, helper_id)
    return read_at(fb, ty, addr, family, node)


def read_at(fb: FunctionBuilder, ty: BpfType, addr: str, space: str, node: ast.AST) -> Value:
    """Copy one ``ty`` from ``addr`` in ``space`` memory; the helper zeroes it on a fault."""
    helper_id = READERS[space]
    ty = in_space(ty, space)
    if ty.aggregate:
        tmp = fb.temp_aggregate(ty, zero=False)
        fb.b.call_helper(helper_id, "i64", [("ptr", tmp.ref), ("i32", str(ty.size)), ("ptr", addr)])
        return tmp
    stored = U8 if isinstance(ty, BoolType) else ty
    slot = fb.slot("read", stored)
    fb.b.call_helper(helper_id, "i64", [("ptr", slot), ("i32", str(stored.size)), ("ptr", addr)])
    v = fb.load(stored, slot)
    if isinstance(ty, BoolType):
        return fb.truth(v, node)  # any non-zero byte is True, as C's _Bool conversion
    return v


def readable(v: Value) -> bool:
    """A typed pointer into user or kernel memory: ``p[i]`` and ``p.field`` read through it."""
    return isinstance(v.ty, PtrType) and not v.ty.nullable and v.ty.space in READERS


def pointer_error(fb: FunctionBuilder, node: ast.expr, v: Value, doing: str) -> Exception:
    """Why ``p[i]`` / ``p.f`` does not work on this pointer, and what does."""
    ty = v.ty
    assert isinstance(ty, PtrType)
    what = ast.unparse(node)
    if ty.space not in READERS:
        return fb.err(node, f"'{what}' is a pointer into {SPACE_NAMES[ty.space]}, so the compiler "
                      f"does not know which helper reads it", "say which memory: UserPtr[T](addr) or "
                      "KernelPtr[T](addr), or read_user(T, addr) / read_kernel(T, addr)")
    if ty.pointee is None:
        return fb.err(node, f"'{what}' is an address whose target has no type, so it has no "
                      f"{doing}", f"read a value at it: read_{ty.space}(u64, {what} + OFFSET), or "
                      f"give it a type: {'UserPtr' if ty.space == 'user' else 'KernelPtr'}[u64]({what})")
    return fb.err(node, f"a {show(ty)} has no {doing}",
                  "p.field reads a field through a pointer to a @struct; p[i] an element")


def address_plus(fb: FunctionBuilder, base: Value, offset: Value | int) -> str:
    """``base + offset`` bytes as a ``ptr``, computed as an integer (nothing is assumed in bounds)."""
    addr = fb.b.cast("ptrtoint", "ptr", base.ref, "i64")
    if isinstance(offset, int):
        if offset == 0:
            return base.ref
        total = fb.b.binop("add", "i64", addr, str(offset))
    else:
        total = fb.b.binop("add", "i64", addr, offset.ref)
    return fb.b.cast("inttoptr", "i64", total, "ptr")


def element(fb: FunctionBuilder, base: Value, index_node: ast.expr, node: ast.AST) -> Value:
    """``p[i]`` on a user/kernel pointer: the i-th T after ``p``, read with the pointer's family.

    The index may be a variable (``argv[i]``): nothing is bounds-checked, as in C; a read
    that faults gives 0.
    """
    ty = base.ty
    assert isinstance(ty, PtrType) and ty.pointee is not None
    elem = ty.pointee
    index = fb.numeric(fb.expr(index_node), index_node)
    if isinstance(index.ty, LitType):
        addr = address_plus(fb, base, I64.wrap(index.ty.value * elem.size))
    else:
        ity = fb.int_type_of(index)
        wide = fb.coerce(fb.coerce(index, ity, index_node), IntType(64, ity.signed), index_node)
        offset = Value(U64, fb.b.binop("mul", "i64", wide.ref, str(elem.size)))
        addr = address_plus(fb, base, offset)
    return read_at(fb, elem, addr, ty.space, node)


def field(fb: FunctionBuilder, base: Value, node: ast.Attribute, struct: StructType) -> Value:
    """``p.field`` on a user/kernel pointer to a @struct: that field, read with the pointer's family."""
    ty = base.ty
    assert isinstance(ty, PtrType)
    f = struct.field(node.attr)
    if f is None:
        names = ", ".join(x.name for x in struct.fields)
        raise fb.err(node, f"struct {struct.name} has no field '{node.attr}'", f"its fields are: {names}")
    return read_at(fb, f.type, address_plus(fb, base, f.offset), ty.space, node)


def module_struct(fb: FunctionBuilder, ty: BpfType | None) -> StructType | None:
    """``ty`` when it is one of this module's @struct classes (kernel types are read elsewhere)."""
    if isinstance(ty, StructType) and fb.model.structs.get(ty.name) == ty:
        return ty
    return None


__all__ = ["FAMILIES", "READERS", "address_plus", "element", "field", "in_space", "module_struct",
           "pointer_error", "read_at", "read_call", "readable", "source_address", "space_of"]
