"""Maps inside programs: lookups, reads with a default, updates, deletes and ``m[k] op= v``;
queue/stack push, pop and peek; bloom filter push and ``v in bloom``; program-array tail calls.

Keys and values go to the helpers by pointer: a value just read from a local
passes that local's slot (as clang passes ``&key``), anything else is stored
in a reusable scratch slot first.  Which of these a map kind allows is its
``MapKind.ops`` (bpfimport.kinds): the subscript forms (``m[k]``, ``k in m``,
``m[k] = v``, ``del m[k]``, ``m[k] += n``) count as lookup/update/delete.
Event maps are in ``events.py``, stack trace maps in ``stacks.py``.
"""

from __future__ import annotations

from errno import ENOENT

from ...kinds import BLOOM_OPS
from .. import pyast as ast
from ..frontend.model import MapDecl
from ..frontend.resolve import const_int
from ..helpers import Helper
from ..tables import BPF_NOEXIST
from ..types import BOOL, I64, U32, BoolType, BpfType, IntType, MapRefType, PtrType
from . import operators
from .builder import FunctionBuilder
from .ir import Value
from .values import show

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds of every compile
if TYPE_CHECKING:
    from collections.abc import Callable


def same_bytes(a: BpfType, b: BpfType) -> bool:
    """Do values of ``a`` and ``b`` look the same in memory (``u32`` and ``i32`` do)?"""
    if isinstance(a, IntType) and isinstance(b, IntType):
        return a.bits == b.bits
    return a == b


def map_method(fb: FunctionBuilder, decl: MapDecl, method: str, node: ast.Call) -> Value:
    """``m.lookup(k)``, ``m.get(k[, d])``, ``m.update(k, v[, flags])``, ``m.delete(k)``,
    ``q.push(v)``, ``q.pop()``, ``progs.tail_call(ctx, i)``...: the methods the map's kind
    allows (``MapKind.ops``), lowered through :data:`METHODS`."""
    entry = METHODS.get(method) if method in decl.map_kind.ops else None
    if entry is None:
        raise fb.err(node, f"{decl.kind} '{decl.name}' has no method '{method}'",
                     f"its methods are: {methods_hint(decl)}")
    arities, lower = entry
    if len(node.args) not in arities:
        raise fb.err(node, f"wrong number of arguments to {decl.name}.{method}()",
                     f"{decl.name}.{method}() takes {' or '.join(map(str, arities))}")
    return lower(fb, decl, node)


def methods_hint(decl: MapDecl) -> str:
    """What BPF code may do with a map of this kind, for error hints."""
    ops = decl.map_kind.ops
    shown = [f"{op}()" for op in ops]
    if "lookup" in ops:
        shown += ["m[k]", "k in m"]
    if "update" in ops:
        shown += ["m[k] = v", "m[k] += n"]
    if "delete" in ops:
        shown += ["del m[k]"]
    if ops == BLOOM_OPS:
        shown += ["v in m"]
    return ", ".join(shown)


def check_op(fb: FunctionBuilder, decl: MapDecl, op: str, node: ast.AST) -> None:
    """Refuse what the map's kind cannot do, before the verifier does so less clearly."""
    if op not in decl.map_kind.ops:
        what = {"lookup": "read by key", "update": "written by key", "delete": "deleted from"}
        raise fb.err(node, f"{decl.kind} '{decl.name}' cannot be {what.get(op, op)} in BPF code",
                     f"its methods are: {methods_hint(decl)}")


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


def check_keyed(fb: FunctionBuilder, decl: MapDecl, node: ast.AST,
                op: str = "lookup") -> tuple[BpfType, BpfType]:
    check_op(fb, decl, op, node)
    if decl.key is None or decl.value is None:
        raise fb.err(node, f"{decl.kind} '{decl.name}' has no keys and values to look up")
    return decl.key, decl.value


def check_value(fb: FunctionBuilder, decl: MapDecl, node: ast.AST) -> BpfType:
    """The value type of a keyless map (queue, stack, bloom filter)."""
    if decl.value is None:
        raise fb.err(node, f"{decl.kind} '{decl.name}' declares no value type",
                     f"e.g. {decl.map_kind.declaration_example()}")
    return decl.value


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


def map_ptr(decl: MapDecl) -> str:
    """The map a helper works on: a declared map's global, or an inner map's pointer."""
    return decl.ref if decl.ref is not None else f"@{decl.name}"


def when_present(fb: FunctionBuilder, decl: MapDecl, emit: Callable[[], str | None],
                 llvm: str | None = None, missing: str = "") -> str | None:
    """Emit an operation on an inner map only when the map of maps held one.

    A map reference is None when its slot is empty, and the verifier refuses a helper
    call on it untested; so ``inner[k] += 1`` does nothing then, a read gives zero (None
    for a lookup) and a write or delete returns -ENOENT (``missing``).  After the
    user's own ``if inner:`` LLVM folds this second test away.
    """
    if decl.ref is None:
        return emit()
    before = fb.b.block
    present, done = fb.b.new_block("inner.present"), fb.b.new_block("inner.done")
    fb.b.cbr(fb.b.icmp("ne", "ptr", decl.ref, "null"), present, done)
    fb.b.position(present)
    r = emit()
    end = fb.b.block
    fb.b.br(done)
    fb.b.position(done)
    if llvm is None or r is None:
        return None
    return fb.b.phi(llvm, [(r, end), (missing, before)])


def map_lookup(fb: FunctionBuilder, decl: MapDecl, key: Value, node: ast.AST) -> Value:
    """A reference to the value, or None; in a map of maps, the inner map (or None)."""
    kty, vty = check_keyed(fb, decl, node)

    def emit() -> str:
        kp = operand_ptr(fb, "key", kty, key, node)
        return fb.b.call_helper(Helper.MAP_LOOKUP_ELEM, "ptr", [("ptr", map_ptr(decl)), ("ptr", kp)])

    r = when_present(fb, decl, emit, "ptr", "null")
    assert r is not None
    if isinstance(vty, MapRefType):
        return Value(vty, r)
    return Value(PtrType(vty, nullable=True, space="map"), r)


def map_contains(fb: FunctionBuilder, decl: MapDecl, key: Value, node: ast.AST) -> Value:
    """``k in m``; for a bloom filter ``v in m``: maybe added (True) or surely not (False)."""
    if decl.map_kind.ops == BLOOM_OPS:
        rc = bloom_peek(fb, decl, key, node)
        return Value(BOOL, fb.b.icmp("eq", "i64", rc.ref, "0"))
    p = map_lookup(fb, decl, key, node)
    return Value(BOOL, fb.b.icmp("ne", "ptr", p.ref, "null"))


def map_get(fb: FunctionBuilder, decl: MapDecl, key: Value, default: Value | None, node: ast.AST) -> Value:
    """``m[k]`` / ``m.get(k, d)``: the value, or zero (the default) when missing; in a map of
    maps ``outer[k]`` is the inner map, or None."""
    p = map_lookup(fb, decl, key, node)
    vty = decl.value
    assert vty is not None
    if isinstance(vty, MapRefType):
        if default is not None:
            raise fb.err(node, f"{decl.kind} '{decl.name}' holds maps: get() has no default",
                         f"inner = {decl.name}[k], then test it: if inner: ...")
        return p
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
    kty, vty = check_keyed(fb, decl, node, "update")

    def emit() -> str:
        kp = operand_ptr(fb, "key", kty, key, node)
        vp = operand_ptr(fb, "value", vty, value, node)
        return fb.b.call_helper(Helper.MAP_UPDATE_ELEM, "i64",
                                [("ptr", map_ptr(decl)), ("ptr", kp), ("ptr", vp), ("i64", str(flags))])

    r = when_present(fb, decl, emit, "i64", str(-ENOENT))
    assert r is not None
    return Value(I64, r)


def map_delete(fb: FunctionBuilder, decl: MapDecl, key: Value, node: ast.AST) -> Value:
    kty, _ = check_keyed(fb, decl, node, "delete")
    if decl.is_array:
        raise fb.err(node, f"entries of {decl.kind} '{decl.name}' cannot be deleted",
                     "array maps hold every index; store 0 instead")

    def emit() -> str:
        kp = operand_ptr(fb, "key", kty, key, node)
        return fb.b.call_helper(Helper.MAP_DELETE_ELEM, "i64", [("ptr", map_ptr(decl)), ("ptr", kp)])

    r = when_present(fb, decl, emit, "i64", str(-ENOENT))
    assert r is not None
    return Value(I64, r)


def map_augment(fb: FunctionBuilder, decl: MapDecl, key: Value, op: ast.operator, value: Value,
                node: ast.AST) -> None:
    """``m[k] += n``: insert 0 when missing, then update in place (atomically for + - | & ^)."""
    kty, vty = check_keyed(fb, decl, node, "update")
    if not isinstance(vty, IntType):
        raise fb.err(node, f"'{decl.name}[k] op= ...' needs integer values, not {show(vty)}")
    when_present(fb, decl, lambda: augment(fb, decl, kty, vty, key, op, value, node))


def augment(fb: FunctionBuilder, decl: MapDecl, kty: BpfType, vty: IntType, key: Value,
            op: ast.operator, value: Value, node: ast.AST) -> None:
    kp = operand_ptr(fb, "key", kty, key, node)
    mp = map_ptr(decl)
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


# ---------------------------------------------------------------- queues, stacks, bloom filters


def method_push(fb: FunctionBuilder, decl: MapDecl, node: ast.Call) -> Value:
    """``q.push(v[, flags])``: add ``v`` (a full queue/stack refuses, or with BPF_EXIST (2)
    drops its oldest value); on a bloom filter, add ``v``.  0 or a negative errno."""
    vty = check_value(fb, decl, node)
    vp = operand_ptr(fb, "value", vty, fb.expr(node.args[0]), node.args[0])
    flags = const_flags(fb, node.args[1]) if len(node.args) == 2 else 0
    r = fb.b.call_helper(Helper.MAP_PUSH_ELEM, "i64",
                         [("ptr", map_ptr(decl)), ("ptr", vp), ("i64", str(flags))])
    return Value(I64, r)


def method_pop(fb: FunctionBuilder, decl: MapDecl, node: ast.Call) -> Value:
    """``v = q.pop()``: the oldest (queue) or newest (stack) value, removed; None when empty."""
    return take(fb, decl, node, Helper.MAP_POP_ELEM)


def method_peek(fb: FunctionBuilder, decl: MapDecl, node: ast.Call) -> Value:
    """``v = q.peek()``: as pop(), without removing it.  ``bloom.peek(v)``: 0 when ``v`` may
    have been added, a negative errno (-ENOENT) when it surely was not."""
    if decl.map_kind.ops == BLOOM_OPS:
        if len(node.args) != 1:
            raise fb.err(node, f"{decl.name}.peek(v) takes the value to test",
                         f"or write: if v in {decl.name}: ...")
        return bloom_peek(fb, decl, fb.expr(node.args[0]), node.args[0])
    if node.args:
        raise fb.err(node, f"{decl.name}.peek() takes no arguments")
    return take(fb, decl, node, Helper.MAP_PEEK_ELEM)


def take(fb: FunctionBuilder, decl: MapDecl, node: ast.Call, helper: int) -> Value:
    """A reference to the value taken (in a stack slot of its own), or None when the map is
    empty: tested as a lookup's is (``if v:``); the slot is zeroed, so it is never garbage."""
    vty = check_value(fb, decl, node)
    slot = fb.alloca(vty, "taken")
    fb.b.memset(slot, vty.size, vty.align)
    rc = fb.b.call_helper(helper, "i64", [("ptr", map_ptr(decl)), ("ptr", slot)])
    ok = fb.b.icmp("eq", "i64", rc, "0")
    return Value(PtrType(vty, nullable=True, space="stack"), fb.b.select(ok, "ptr", slot, "null"))


def bloom_peek(fb: FunctionBuilder, decl: MapDecl, value: Value, node: ast.AST) -> Value:
    vty = check_value(fb, decl, node)
    vp = operand_ptr(fb, "value", vty, value, node)
    return Value(I64, fb.b.call_helper(Helper.MAP_PEEK_ELEM, "i64",
                                       [("ptr", map_ptr(decl)), ("ptr", vp)]))


def const_flags(fb: FunctionBuilder, node: ast.expr) -> int:
    flags = const_int(fb.model, node)
    if flags is None or not 0 <= flags < 1 << 64:
        raise fb.err(node, "flags must be a constant (BPF_ANY, or BPF_EXIST to push out the "
                     "oldest value when full)")
    return flags


# ---------------------------------------------------------------- program arrays


def method_tail_call(fb: FunctionBuilder, decl: MapDecl, node: ast.Call) -> Value:
    """``progs.tail_call(ctx, i)``: continue in program ``i`` of the array, never to return;
    when slot ``i`` is empty (or 33 tail calls deep) it returns a negative errno instead."""
    ctx_node, index_node = node.args
    ctx = fb.expr(ctx_node)
    if not (isinstance(ctx.ty, PtrType) and ctx.ty.space == "ctx"):
        raise fb.err(ctx_node, "tail_call() takes the program's context first",
                     f"{decl.name}.tail_call(ctx, index)")
    index = fb.coerce(fb.numeric(fb.expr(index_node), index_node), U32, index_node)
    r = fb.b.call_helper(Helper.TAIL_CALL, "i64",
                         [("ptr", ctx.ref), ("ptr", map_ptr(decl)), ("i32", index.ref)])
    return Value(I64, r)


# method name -> (the argument counts it takes, its lowering); MapKind.ops says which a kind has
METHODS = {
    "lookup": ((1,), method_lookup),
    "get": ((1, 2), method_get),
    "update": ((2, 3), method_update),
    "delete": ((1,), method_delete),
    "push": ((1, 2), method_push),
    "pop": ((0,), method_pop),
    "peek": ((0, 1), method_peek),
    "tail_call": ((2,), method_tail_call),
}
