"""Maps inside programs: lookups, reads with a default, updates, deletes and ``m[k] op= v``.

Keys and values go to the helpers by pointer: a value just read from a local
passes that local's slot (as clang passes ``&key``), anything else is stored
in a reusable scratch slot first.  Which of these a map kind allows is its
``MapKind.ops`` (bpfimport.kinds); event maps are in ``events.py``.
"""

from __future__ import annotations

import ast

from ..frontend.model import MapDecl
from ..frontend.resolve import const_int
from ..helpers import Helper
from ..tables import BPF_NOEXIST
from ..types import BOOL, I64, BoolType, BpfType, IntType, PtrType
from . import operators
from .builder import FunctionBuilder
from .ir import Value
from .values import show


def same_bytes(a: BpfType, b: BpfType) -> bool:
    """Do values of ``a`` and ``b`` look the same in memory (``u32`` and ``i32`` do)?"""
    if isinstance(a, IntType) and isinstance(b, IntType):
        return a.bits == b.bits
    return a == b


def map_method(fb: FunctionBuilder, decl: MapDecl, method: str, node: ast.Call) -> Value:
    """``m.lookup(k)``, ``m.get(k[, d])``, ``m.update(k, v[, flags])``, ``m.delete(k)``:
    the methods the map's kind allows (``MapKind.ops``), lowered through :data:`METHODS`."""
    entry = METHODS.get(method) if method in decl.map_kind.ops else None
    if entry is None:
        raise fb.err(node, f"{decl.kind} '{decl.name}' has no method '{method}' (yet)",
                     "maps support lookup, get, update, delete, m[k], m[k] = v, del m[k], k in m")
    arities, lower = entry
    if len(node.args) not in arities:
        raise fb.err(node, f"wrong number of arguments to {decl.name}.{method}()")
    return lower(fb, decl, node)


def method_lookup(fb: FunctionBuilder, decl: MapDecl, node: ast.Call) -> Value:
    return map_lookup(fb, decl, fb.expr(node.args[0]), node)


def method_get(fb: FunctionBuilder, decl: MapDecl, node: ast.Call) -> Value:
    default = fb.expr(node.args[1]) if len(node.args) == 2 else None
    return map_get(fb, decl, fb.expr(node.args[0]), default, node)


def method_update(fb: FunctionBuilder, decl: MapDecl, node: ast.Call) -> Value:
    flags = 0
    if len(node.args) == 3:
        f = const_int(fb.model, node.args[2])
        if f is None or f < 0:
            raise fb.err(node.args[2], "update() flags must be a constant (0, 1 or 2)")
        flags = f
    return map_update(fb, decl, fb.expr(node.args[0]), fb.expr(node.args[1]), flags, node)


def method_delete(fb: FunctionBuilder, decl: MapDecl, node: ast.Call) -> Value:
    return map_delete(fb, decl, fb.expr(node.args[0]), node)


def check_keyed(fb: FunctionBuilder, decl: MapDecl, node: ast.AST) -> tuple[BpfType, BpfType]:
    if decl.key is None or decl.value is None:
        raise fb.err(node, f"{decl.kind} '{decl.name}' has no keys and values to look up")
    return decl.key, decl.value


def operand_ptr(fb: FunctionBuilder, role: str, ty: BpfType, v: Value, node: ast.AST) -> str:
    """Memory holding ``v`` as a ``ty``, as map helpers take keys and values by pointer."""
    if ty.aggregate:
        src = fb.coerce_aggregate(v, ty, node)
        if src is None:
            ptr = fb.slot(role, ty)
            fb.b.memset(ptr, ty.size, ty.align)
            return ptr
        return src.ref
    if v.home is not None and same_bytes(v.ty, ty):
        return v.home
    ptr = fb.slot(role, ty)
    fb.store(v, ty, ptr, node)
    return ptr


def map_lookup(fb: FunctionBuilder, decl: MapDecl, key: Value, node: ast.AST) -> Value:
    kty, vty = check_keyed(fb, decl, node)
    kp = operand_ptr(fb, "key", kty, key, node)
    r = fb.b.call_helper(Helper.MAP_LOOKUP_ELEM, "ptr", [("ptr", f"@{decl.name}"), ("ptr", kp)])
    return Value(PtrType(vty, nullable=True, space="map"), r)


def map_contains(fb: FunctionBuilder, decl: MapDecl, key: Value, node: ast.AST) -> Value:
    p = map_lookup(fb, decl, key, node)
    return Value(BOOL, fb.b.icmp("ne", "ptr", p.ref, "null"))


def map_get(fb: FunctionBuilder, decl: MapDecl, key: Value, default: Value | None, node: ast.AST) -> Value:
    """``m[k]`` / ``m.get(k, d)``: the value, or zero (the default) when missing."""
    p = map_lookup(fb, decl, key, node)
    vty = decl.value
    assert vty is not None
    if vty.aggregate:
        out = fb.temp_aggregate(vty, zero=default is None)
        if default is not None:
            fb.store(default, vty, out.ref, node)
        found, done = fb.b.new_block("get.found"), fb.b.new_block("get.done")
        fb.b.cbr(fb.b.icmp("ne", "ptr", p.ref, "null"), found, done)
        fb.b.position(found)
        fb.b.memcpy(out.ref, p.ref, vty.size, vty.align)
        fb.b.br(done)
        fb.b.position(done)
        return out
    fallback = fb.coerce(default, vty, node) if default is not None else None
    before = fb.b.block
    found, done = fb.b.new_block("get.found"), fb.b.new_block("get.done")
    fb.b.cbr(fb.b.icmp("ne", "ptr", p.ref, "null"), found, done)
    fb.b.position(found)
    v = fb.load(vty, p.ref)
    end = fb.b.block
    fb.b.br(done)
    fb.b.position(done)
    zero = fallback.ref if fallback is not None else ("false" if isinstance(vty, BoolType) else "0")
    return Value(vty, fb.b.phi(v.llvm, [(v.ref, end), (zero, before)]))


def map_update(fb: FunctionBuilder, decl: MapDecl, key: Value, value: Value, flags: int,
               node: ast.AST) -> Value:
    kty, vty = check_keyed(fb, decl, node)
    kp = operand_ptr(fb, "key", kty, key, node)
    vp = operand_ptr(fb, "value", vty, value, node)
    r = fb.b.call_helper(Helper.MAP_UPDATE_ELEM, "i64",
                         [("ptr", f"@{decl.name}"), ("ptr", kp), ("ptr", vp), ("i64", str(flags))])
    return Value(I64, r)


def map_delete(fb: FunctionBuilder, decl: MapDecl, key: Value, node: ast.AST) -> Value:
    kty, _ = check_keyed(fb, decl, node)
    if decl.is_array:
        raise fb.err(node, f"entries of {decl.kind} '{decl.name}' cannot be deleted",
                     "array maps hold every index; store 0 instead")
    kp = operand_ptr(fb, "key", kty, key, node)
    r = fb.b.call_helper(Helper.MAP_DELETE_ELEM, "i64", [("ptr", f"@{decl.name}"), ("ptr", kp)])
    return Value(I64, r)


def map_augment(fb: FunctionBuilder, decl: MapDecl, key: Value, op: ast.operator, value: Value,
                node: ast.AST) -> None:
    """``m[k] += n``: insert 0 when missing, then update in place (atomically for + - | & ^)."""
    kty, vty = check_keyed(fb, decl, node)
    if not isinstance(vty, IntType):
        raise fb.err(node, f"'{decl.name}[k] op= ...' needs integer values, not {show(vty)}")
    kp = operand_ptr(fb, "key", kty, key, node)
    mp = f"@{decl.name}"
    p = fb.b.call_helper(Helper.MAP_LOOKUP_ELEM, "ptr", [("ptr", mp), ("ptr", kp)])
    have = fb.b.block
    if not decl.is_array:
        missing, done = fb.b.new_block("aug.insert"), fb.b.new_block("aug.have")
        fb.b.cbr(fb.b.icmp("eq", "ptr", p, "null"), missing, done)
        fb.b.position(missing)
        zero = fb.slot("value", vty)
        fb.b.store(vty.llvm, "0", zero, vty.align)
        fb.b.call_helper(Helper.MAP_UPDATE_ELEM, "i64",
                         [("ptr", mp), ("ptr", kp), ("ptr", zero), ("i64", str(BPF_NOEXIST))])
        p2 = fb.b.call_helper(Helper.MAP_LOOKUP_ELEM, "ptr", [("ptr", mp), ("ptr", kp)])
        end = fb.b.block
        fb.b.br(done)
        fb.b.position(done)
        p = fb.b.phi("ptr", [(p, have), (p2, end)])
    ok, skip = fb.b.new_block("aug.update"), fb.b.new_block("aug.end")
    fb.b.cbr(fb.b.icmp("ne", "ptr", p, "null"), ok, skip)
    fb.b.position(ok)
    operators.update_at(fb, p, vty, op, value, node, shared=True)
    fb.b.br(skip)
    fb.b.position(skip)


# method name -> (the argument counts it takes, its lowering); MapKind.ops says which a kind has
METHODS = {
    "lookup": ((1,), method_lookup),
    "get": ((1, 2), method_get),
    "update": ((2, 3), method_update),
    "delete": ((1,), method_delete),
}
