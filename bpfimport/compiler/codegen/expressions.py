"""Expressions: names, literals, comparisons, conditions, attributes and subscripts.

Each ``expr_*`` function lowers one kind of ast node; :data:`EXPRESSIONS` maps
node types to them (``function.py`` adds calls from ``calls.py``).  Operators
are in ``operators.py``; comparisons are mathematically exact even between
signed and unsigned operands.
"""

from __future__ import annotations

from .. import pyast as ast
from ..frontend.resolve import const_value
from ..tables import PYTHON_BUILTIN_NAMES
from ..types import (
    BOOL,
    I64,
    U64,
    ArrayType,
    BoolType,
    BpfType,
    CharType,
    IntType,
    PlaceType,
    PtrType,
    StructType,
    common_int,
)
from . import context, kernel, maps, memory, operators, packet, strings
from .builder import FunctionBuilder
from .ir import Block, Value
from .values import NONE, LitType, NoneType_, StrType, char_literal, lit, show

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds of every compile
if TYPE_CHECKING:
    from collections.abc import Callable

    from .builder import ExprTable

_CMP_SIGNED = {ast.Lt: "slt", ast.LtE: "sle", ast.Gt: "sgt", ast.GtE: "sge", ast.Eq: "eq", ast.NotEq: "ne"}
_CMP_UNSIGNED = {ast.Lt: "ult", ast.LtE: "ule", ast.Gt: "ugt", ast.GtE: "uge", ast.Eq: "eq", ast.NotEq: "ne"}
# What a comparison with a negative signed value against an unsigned one always gives.
_NEG_VS_UNSIGNED = {ast.Lt: True, ast.LtE: True, ast.Gt: False, ast.GtE: False, ast.Eq: False, ast.NotEq: True}


def expr_constant(fb: FunctionBuilder, node: ast.Constant) -> Value:
    v = node.value
    if isinstance(v, bool):
        return Value(BOOL, "true" if v else "false")
    if isinstance(v, int):
        return lit(v)
    if isinstance(v, str):
        return Value(StrType(fb.src.utf8(node, v, "this string")), "")
    if isinstance(v, bytes):
        return Value(StrType(v), "")
    if v is None:
        return NONE
    if isinstance(v, float):
        raise fb.err(node, "floating point is not supported in BPF",
                     "use integers, e.g. nanoseconds instead of seconds")
    raise fb.err(node, f"constant {v!r} is not supported in BPF code")


def expr_name(fb: FunctionBuilder, node: ast.Name) -> Value:
    name = node.id
    if name in fb.string_locals:
        return fb.string_locals[name]
    local = fb.locals.get(name)
    if local is not None:
        v = fb.load(local.ty, local.ptr)
        if not local.ty.aggregate:
            v.home = local.ptr
        return packet.tested_value(fb, name, v)
    if name in fb.assigned and name not in fb.global_names:
        raise fb.err(node, f"local variable '{name}' is used before it is assigned",
                     f"assign {name} before this line")
    g = fb.model.globals.get(name)
    if g is not None:
        return fb.load(g.ty, f"@{name}")
    if name in fb.model.constants:
        c = fb.model.constants[name]
        return Value(StrType(c.encode()), "") if isinstance(c, str) else lit(c)
    flag = const_value(fb.model, node)  # BPF_NOEXIST and the other flags of bpfimport.lang
    if isinstance(flag, int):
        return lit(flag)
    if name in fb.model.maps:
        raise fb.err(node, f"map '{name}' cannot be used as a value",
                     f"index it ({name}[key]) or call a method ({name}.lookup(key))")
    if name in fb.model.functions:
        raise fb.err(node, f"function '{name}' cannot be used as a value", f"call it: {name}(...)")
    if name in fb.model.structs:
        raise fb.err(node, f"struct '{name}' cannot be used as a value", f"construct one: {name}()")
    if name in fb.model.names or name in PYTHON_BUILTIN_NAMES:
        raise fb.err(node, f"'{name}' cannot be used as a value here", f"call it: {name}(...)")
    raise fb.err(node, f"name '{name}' is not defined",
                 "BPF code sees its module's maps, globals, constants and functions, and "
                 "names imported from bpfimport.lang")


def expr_bin_op(fb: FunctionBuilder, node: ast.BinOp) -> Value:
    return operators.binop(fb, node.op, fb.expr(node.left), fb.expr(node.right), node)


def expr_unary_op(fb: FunctionBuilder, node: ast.UnaryOp) -> Value:
    if isinstance(node.op, ast.Not):
        v = fb.truth(fb.expr(node.operand), node)
        if v.ref in ("true", "false"):
            return Value(BOOL, "false" if v.ref == "true" else "true")
        return Value(BOOL, fb.b.binop("xor", "i1", v.ref, "true"))
    v = fb.numeric(fb.expr(node.operand), node)
    if isinstance(v.ty, LitType):
        n = v.ty.value
        return lit({ast.USub: -n, ast.UAdd: n, ast.Invert: ~n}[type(node.op)])
    ty = fb.int_type_of(v)
    v = fb.coerce(v, ty, node)
    if isinstance(node.op, ast.UAdd):
        return v
    if isinstance(node.op, ast.USub):
        return Value(ty, fb.b.binop("sub", ty.llvm, "0", v.ref))
    return Value(ty, fb.b.binop("xor", ty.llvm, v.ref, "-1"))


def compare(fb: FunctionBuilder, op: ast.cmpop, a: Value, b: Value, node: ast.AST) -> Value:
    """One comparison as an ``i1``, exact between signed and unsigned like Python's ints."""
    if isinstance(op, (ast.Is, ast.IsNot)):
        if isinstance(a.ty, NoneType_):
            a, b = b, a
        if not isinstance(b.ty, NoneType_) or not isinstance(a.ty, (PtrType, NoneType_)):
            raise fb.err(node, "'is' only compares a map lookup result with None",
                         "use == to compare numbers")
        pred = "eq" if isinstance(op, ast.Is) else "ne"
        if isinstance(a.ty, NoneType_):
            return Value(BOOL, "true" if pred == "eq" else "false")
        return Value(BOOL, fb.b.icmp(pred, "ptr", a.ref, "null"))
    if isinstance(op, (ast.In, ast.NotIn)):
        raise fb.err(node, "'in' tests a map: key in some_map", "the right side must be a map")
    if packet.is_byte_array(a) or packet.is_byte_array(b):
        return packet.compare_bytes(fb, op, a, b, node)
    a, b = _char_side(a, b), _char_side(b, a)
    if strings.is_text(a) or strings.is_text(b):
        return strings.compare(fb, op, a, b, node)
    if a.ty.aggregate or b.ty.aggregate:
        raise fb.err(node, f"cannot compare {show(a.ty)} with {show(b.ty)}: only numbers and "
                     "strings compare", "compare their elements or fields")
    if isinstance(a.ty, NoneType_) or isinstance(b.ty, NoneType_):
        raise fb.err(node, "compare with None using 'is' / 'is not'", "v is None")
    a = fb.numeric(a, node)
    b = fb.numeric(b, node)
    if isinstance(a.ty, LitType) and isinstance(b.ty, LitType):
        result = {ast.Lt: a.ty.value < b.ty.value, ast.LtE: a.ty.value <= b.ty.value,
                  ast.Gt: a.ty.value > b.ty.value, ast.GtE: a.ty.value >= b.ty.value,
                  ast.Eq: a.ty.value == b.ty.value, ast.NotEq: a.ty.value != b.ty.value}[type(op)]
        return Value(BOOL, "true" if result else "false")
    ta, tb = fb.int_type_of(a), fb.int_type_of(b)
    if isinstance(a.ty, LitType) and tb.fits(a.ty.value):
        ta = tb
    if isinstance(b.ty, LitType) and ta.fits(b.ty.value):
        tb = ta
    if ta.signed == tb.signed:
        ty = common_int(ta, tb)
        table = _CMP_SIGNED if ty.signed else _CMP_UNSIGNED
        a, b = fb.coerce(a, ty, node), fb.coerce(b, ty, node)
        return Value(BOOL, fb.b.icmp(table[type(op)], ty.llvm, a.ref, b.ref))
    if max(ta.bits, tb.bits) < 64:  # both fit in i64 exactly
        a, b = fb.coerce(a, I64, node, True), fb.coerce(b, I64, node, True)
        return Value(BOOL, fb.b.icmp(_CMP_SIGNED[type(op)], "i64", a.ref, b.ref))
    # a signed and an unsigned, one of them 64-bit: a negative signed side decides alone
    swapped = not ta.signed
    s, u = (b, a) if swapped else (a, b)
    sty = tb if swapped else ta
    s = fb.coerce(s, sty, node)
    negative = fb.b.icmp("slt", sty.llvm, s.ref, "0")
    s64 = fb.coerce(Value(IntType(sty.bits, False), s.ref), U64, node)
    u64 = fb.coerce(u, U64, node)
    first, second = (u64, s64) if swapped else (s64, u64)
    unsigned = fb.b.icmp(_CMP_UNSIGNED[type(op)], "i64", first.ref, second.ref)
    fixed = _NEG_VS_UNSIGNED[type(op)]
    if swapped and type(op) not in (ast.Eq, ast.NotEq):
        fixed = not fixed
    return Value(BOOL, fb.b.select(negative, "i1", "true" if fixed else "false", unsigned))


def expr_compare(fb: FunctionBuilder, node: ast.Compare) -> Value:
    if len(node.ops) == 1:
        return compare_pair(fb, node.ops[0], fb.expr(node.left), node.comparators[0], node)
    return bool_from_cond(fb, node)


def compare_pair(fb: FunctionBuilder, op: ast.cmpop, left: Value, right: ast.expr, node: ast.AST) -> Value:
    if isinstance(op, (ast.In, ast.NotIn)):
        decl = fb.map_of(right)
        if decl is None:
            raise fb.err(node, "'in' tests a map: key in some_map", "the right side must be a map")
        present = maps.map_contains(fb, decl, left, node)
        if isinstance(op, ast.NotIn):
            return Value(BOOL, fb.b.binop("xor", "i1", present.ref, "true"))
        return present
    return compare(fb, op, left, fb.expr(right), node)


def bool_from_cond(fb: FunctionBuilder, node: ast.expr) -> Value:
    t, f, done = fb.b.new_block("true"), fb.b.new_block("false"), fb.b.new_block("bool")
    cond(fb, node, t, f)
    fb.b.position(t)
    fb.b.br(done)
    fb.b.position(f)
    fb.b.br(done)
    fb.b.position(done)
    return Value(BOOL, fb.b.phi("i1", [("true", t), ("false", f)]))


def cond(fb: FunctionBuilder, node: ast.expr, then: Block, other: Block) -> None:
    """Branch on ``node``'s truth, short-circuiting ``and``/``or``/``not`` and chained comparisons."""
    if isinstance(node, ast.BoolOp):
        saved = fb.narrowed
        for value in node.values[:-1]:
            nxt = fb.b.new_block("and" if isinstance(node.op, ast.And) else "or")
            if isinstance(node.op, ast.And):
                cond(fb, value, nxt, other)
            else:
                cond(fb, value, then, nxt)
            fb.b.position(nxt)
            # the next operand runs only if this one was true (and) / false (or)
            proved = packet.narrowing(fb, value)[0 if isinstance(node.op, ast.And) else 1]
            fb.narrowed = fb.narrowed | proved
        cond(fb, node.values[-1], then, other)
        fb.narrowed = saved
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        cond(fb, node.operand, other, then)
        return
    if isinstance(node, ast.Compare) and len(node.ops) > 1:
        left = fb.expr(node.left)
        for i, (op, right) in enumerate(zip(node.ops, node.comparators)):
            right_v = fb.expr(right)
            c = compare_pair_values(fb, op, left, right_v, right, node)
            if i == len(node.ops) - 1:
                branch(fb, c, then, other)
            else:
                nxt = fb.b.new_block("cmp")
                branch(fb, c, nxt, other)
                fb.b.position(nxt)
            left = right_v
        return
    branch(fb, fb.truth(fb.expr(node), node), then, other)


def compare_pair_values(fb: FunctionBuilder, op: ast.cmpop, left: Value, right: Value,
                        right_node: ast.expr, node: ast.AST) -> Value:
    if isinstance(op, (ast.In, ast.NotIn)):
        return compare_pair(fb, op, left, right_node, node)
    return compare(fb, op, left, right, node)


def branch(fb: FunctionBuilder, c: Value, then: Block, other: Block) -> tuple[Block, ...]:
    """Branch on an ``i1``; a constant becomes a plain jump.  Returns the blocks jumped to."""
    if c.ref == "true":
        fb.b.br(then)
        return (then,)
    if c.ref == "false":
        fb.b.br(other)
        return (other,)
    fb.b.cbr(c.ref, then, other)
    return (then, other)


def expr_bool_op(fb: FunctionBuilder, node: ast.BoolOp) -> Value:
    """``a or b`` gives the deciding operand, as in Python (a bool when all are bools)."""
    if all(_is_boolish(v) for v in node.values):
        return bool_from_cond(fb, node)
    done = fb.b.new_block("boolop")
    # each operand's value, the block it ends in, its truth, and where the next one starts
    arms: list[tuple[Value, Block, Value | None, Block | None]] = []
    last = len(node.values) - 1
    for i, operand in enumerate(node.values):
        raw = fb.expr(operand)
        truth = fb.truth(raw, operand) if i != last else None  # a reference: is it there?
        v = operand_value(fb, raw, operand)
        if truth is None:
            arms.append((v, fb.b.block, None, None))
            break
        end = fb.b.block
        nxt = fb.b.new_block("boolop.next")
        arms.append((v, end, truth, nxt))
        fb.b.position(nxt)
    ty = join_type(fb, [a[0] for a in arms], node)
    incoming: list[tuple[str, Block]] = []
    for v, blk, truth, next_arm in arms:
        fb.b.position(blk)
        cv = fb.truth(v, node) if isinstance(ty, BoolType) else fb.coerce(v, ty, node)
        if truth is None or next_arm is None:
            fb.b.br(done)
            targets: tuple[Block, ...] = (done,)
        elif isinstance(node.op, ast.Or):
            targets = branch(fb, truth, done, next_arm)
        else:
            targets = branch(fb, truth, next_arm, done)
        if done in targets:  # a constant operand may skip the join entirely
            incoming.append((cv.ref, blk))
    fb.b.position(done)
    return Value(ty, fb.b.phi(ty.llvm, incoming))


def operand_value(fb: FunctionBuilder, v: Value, node: ast.expr) -> Value:
    """An ``and``/``or`` operand as a number; a map reference is read only when present (else 0)."""
    if isinstance(v.ty, BoolType):
        return v
    if not (isinstance(v.ty, PtrType) and v.ty.nullable and v.ty.pointee is not None):
        return fb.numeric(v, node)
    before = fb.b.block
    found, done = fb.b.new_block("ref.found"), fb.b.new_block("ref.done")
    fb.b.cbr(fb.b.icmp("ne", "ptr", v.ref, "null"), found, done)
    fb.b.position(found)
    loaded = fb.numeric(v, node)
    end = fb.b.block
    fb.b.br(done)
    fb.b.position(done)
    zero = "false" if isinstance(loaded.ty, BoolType) else "0"
    return Value(loaded.ty, fb.b.phi(loaded.ty.llvm, [(loaded.ref, end), (zero, before)]))


def join_type(fb: FunctionBuilder, values: list[Value], node: ast.AST) -> BpfType:
    if all(isinstance(v.ty, BoolType) for v in values):
        return BOOL
    ty: IntType | None = None
    for v in values:
        if isinstance(v.ty, LitType):
            continue
        it = fb.int_type_of(fb.numeric(v, node)) if not isinstance(v.ty, IntType) else v.ty
        ty = it if ty is None else _exact_join(ty, it)
    if ty is None:
        return I64
    for v in values:
        if isinstance(v.ty, LitType) and not ty.fits(v.ty.value):
            ty = _exact_join(ty, fb.int_type_of(v))
    return ty


def expr_if_exp(fb: FunctionBuilder, node: ast.IfExp) -> Value:
    then, other, done = fb.b.new_block("ifexp.then"), fb.b.new_block("ifexp.else"), fb.b.new_block("ifexp")
    cond(fb, node.test, then, other)
    saved = fb.narrowed
    yes, no = packet.narrowing(fb, node.test)
    fb.b.position(then)
    fb.narrowed = saved | yes
    a = fb.expr(node.body)
    a = a if isinstance(a.ty, BoolType) else fb.numeric(a, node.body)
    end_a = fb.b.block
    fb.b.position(other)
    fb.narrowed = saved | no
    b = fb.expr(node.orelse)
    fb.narrowed = saved
    b = b if isinstance(b.ty, BoolType) else fb.numeric(b, node.orelse)
    end_b = fb.b.block
    ty = join_type(fb, [a, b], node)
    incoming = []
    for v, blk in ((a, end_a), (b, end_b)):
        fb.b.position(blk)
        cv = fb.truth(v, node) if isinstance(ty, BoolType) else fb.coerce(v, ty, node)
        incoming.append((cv.ref, blk))
        fb.b.br(done)
    fb.b.position(done)
    return Value(ty, fb.b.phi(ty.llvm, incoming))


def expr_attribute(fb: FunctionBuilder, node: ast.Attribute) -> Value:
    return value_of(fb, attribute(fb, node), node)


def value_of(fb: FunctionBuilder, v: Value, node: ast.AST) -> Value:
    """``v`` read, if it is a place in kernel memory or the context (``codegen/kernel.py``)."""
    if isinstance(v.ty, PlaceType):
        return kernel.read(fb, v, node)
    return v


def operand(fb: FunctionBuilder, node: ast.expr) -> Value:
    """``node`` evaluated once, as the base of a field or element or as an assignment's value:
    a field of kernel memory stays a place, read by whoever uses it (``t.se.vruntime`` reads
    8 bytes, ``e.comm = t.comm`` reads straight into ``e.comm``)."""
    if isinstance(node, ast.Attribute):
        return attribute(fb, node)
    if isinstance(node, ast.Subscript):
        return subscript(fb, node)
    if isinstance(node, ast.Name) and node.id in fb.model.globals and node.id not in fb.locals:
        g = fb.model.globals[node.id]
        if g.ty.aggregate:
            return Value(g.ty, f"@{node.id}")
    return fb.expr(node)


def attribute(fb: FunctionBuilder, node: ast.Attribute) -> Value:
    """``x.field``: a struct field's value, or a place (kernel memory, the context)."""
    if fb.map_of(node.value) is not None:
        raise fb.err(node, f"'{node.attr}' of a map can only be called, e.g. m.{node.attr}(key)")
    if fb.builtin(node.value) == "kernel":
        raise fb.err(node, f"kernel.{node.attr} is a kernel type, not a value",
                     f"annotate with it (t: kernel.{node.attr} = ...) or call it on an address "
                     f"(kernel.{node.attr}(addr))")
    base = operand(fb, node.value)
    if packet.is_header_ref(base):
        return packet.read_field(fb, base, node)
    if kernel.is_kernel_base(base):
        return kernel.member(fb, base, node)
    if context.is_context(base):
        return context.field(fb, base, node)
    if memory.readable(base):  # p.field on a user/kernel pointer to a @struct: read with its family
        assert isinstance(base.ty, PtrType)
        struct = memory.module_struct(fb, base.ty.pointee)
        if struct is None:
            raise memory.pointer_error(fb, node.value, base, f"field '{node.attr}'")
        return memory.field(fb, base, node, struct)
    ptr, ty = struct_field(fb, aggregate_of(fb, base, node.value), node)
    return fb.load(ty, ptr)


def field_address(fb: FunctionBuilder, node: ast.Attribute) -> tuple[str, BpfType]:
    """Where ``x.field`` is stored, to write it."""
    return field_address_of(fb, assigned_base(fb, node), node)


def assigned_base(fb: FunctionBuilder, node: ast.Attribute) -> Value:
    """The ``x`` of an assignment to ``x.field``, evaluated once."""
    if fb.map_of(node.value) is not None:
        raise fb.err(node, f"'{node.attr}' of a map can only be called, e.g. m.{node.attr}(key)")
    return operand(fb, node.value)


def field_address_of(fb: FunctionBuilder, base: Value, node: ast.Attribute) -> tuple[str, BpfType]:
    """Where ``x.field`` is stored, ``x`` already evaluated."""
    return struct_field(fb, aggregate_of(fb, base, node.value), node)


def struct_field(fb: FunctionBuilder, base: Value, node: ast.Attribute) -> tuple[str, BpfType]:
    struct = base.ty
    if not isinstance(struct, StructType):
        raise fb.err(node, f"a {show(base.ty)} has no field '{node.attr}'")
    f = struct.field(node.attr)
    if f is None:
        names = ", ".join(x.name for x in struct.fields)
        raise fb.err(node, f"struct {struct.name} has no field '{node.attr}'", f"its fields are: {names}")
    return fb.b.byte_gep(base.ref, f.offset), f.type


def aggregate_ref(fb: FunctionBuilder, node: ast.expr) -> Value:
    """The address of a struct or array a field or element is taken from (to write it)."""
    return aggregate_of(fb, operand(fb, node), node)


def aggregate_of(fb: FunctionBuilder, v: Value, node: ast.expr) -> Value:
    """``v`` (already evaluated) as the struct or array in program memory it must be."""
    if isinstance(v.ty, PlaceType) or kernel.is_kernel_base(v):
        raise fb.err(node, "kernel memory is read-only to BPF code",
                     "copy the value into a local or a map value and change that")
    if isinstance(v.ty, PtrType) and v.ty.nullable and v.ty.pointee is not None and v.ty.pointee.aggregate:
        return Value(v.ty.pointee, v.ref)
    if isinstance(v.ty, PtrType) and not v.ty.nullable:
        if v.ty.space == "ctx":
            raise context.opaque_pointer_error(fb, node)
        if not memory.readable(v):
            raise memory.pointer_error(fb, node, v, "fields or elements")
        raise fb.err(node, f"'{ast.unparse(node)}' is a {show(v.ty)}: BPF programs read "
                     f"{v.ty.space} memory but do not write it",
                     "copy the value into a local or a map value and change that")
    if not v.ty.aggregate:
        raise fb.err(node, f"a {show(v.ty)} has no fields or elements")
    return v


def expr_subscript(fb: FunctionBuilder, node: ast.Subscript) -> Value:
    return value_of(fb, subscript(fb, node), node)


def subscript(fb: FunctionBuilder, node: ast.Subscript) -> Value:
    """``x[i]``: a map's value, an element, or a place (an element of kernel memory)."""
    decl = fb.map_of(node.value)
    if decl is not None:
        return maps.map_get(fb, decl, fb.expr(node.slice), None, node)
    if is_constant_string(fb, node.value):
        return string_byte(fb, node)
    base = operand(fb, node.value)
    if isinstance(base.ty, PlaceType) and isinstance(base.ty.target, ArrayType):
        index = fb.numeric(fb.expr(node.slice), node.slice)
        if isinstance(index.ty, LitType):
            return kernel.element(fb, base, index.ty.value, node.slice, node)
        if base.ty.target.elem.aggregate:
            raise fb.err(node, "indexing an array of kernel structs or arrays with a variable is "
                         "not supported", "use a constant index")
        array = kernel.read(fb, base, node)  # one copy, then a bounds-checked element
        elem = base.ty.target.elem
        result = at_element(fb, array, index, node.slice, lambda ptr: fb.load(elem, ptr))
        assert result is not None
        return result
    if isinstance(base.ty, PlaceType):
        base = kernel.read(fb, base, node.value)  # a kernel pointer field, then indexed
    if memory.readable(base) and not kernel.is_kernel_base(base):
        # p[i] on a user/kernel pointer: the i-th element after p, read with its family
        assert isinstance(base.ty, PtrType)
        if base.ty.pointee is None:
            raise memory.pointer_error(fb, node.value, base, "elements")
        return memory.element(fb, base, node.slice, node)
    if isinstance(base.ty, PtrType) and not base.ty.nullable and base.ty.space in ("kernel", "user"):
        raise fb.err(node, f"a {show(base.ty)} cannot be indexed",
                     "read the element with probe_read_kernel / probe_read_user into a local")
    base = aggregate_of(fb, base, node.value)
    if not isinstance(base.ty, ArrayType):
        raise fb.err(node, f"a {show(base.ty)} cannot be indexed")
    return element(fb, base, node.slice, node, None)


def is_constant_string(fb: FunctionBuilder, node: ast.expr) -> bool:
    """A string literal, a module constant string, or a local bound once to a string."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (str, bytes))
    if isinstance(node, ast.Name) and node.id not in fb.locals:
        return node.id in fb.string_locals or isinstance(fb.model.constants.get(node.id), str)
    return False


def string_byte(fb: FunctionBuilder, node: ast.Subscript) -> Value:
    """``b'x'[0]``: a byte of a constant string, folded (the spelling comparisons with chars use)."""
    data = fb.expr(node.value).ty.value  # type: ignore[attr-defined]
    index = fb.numeric(fb.expr(node.slice), node.slice)
    if not isinstance(index.ty, LitType) or not -len(data) <= index.ty.value < len(data):
        raise fb.err(node.slice, f"a constant string takes a constant index in 0..{len(data) - 1}")
    return lit(data[index.ty.value])


def element(fb: FunctionBuilder, base: Value, index_node: ast.expr, node: ast.AST,
            store: Value | None) -> Value:
    """Read (or, with ``store``, write) ``base[index]``."""
    arr = base.ty
    assert isinstance(arr, ArrayType)
    index = fb.numeric(fb.expr(index_node), index_node)
    if store is not None:
        at_element(fb, base, index, index_node, lambda ptr: fb.store(store, arr.elem, ptr, node))
        return store
    if arr.elem.aggregate and not isinstance(index.ty, LitType) and not in_range(fb, index_node, arr):
        raise fb.err(node, "indexing an array of structs or arrays with a variable is supported only "
                     "for a loop variable that stays in range", f"use a constant index, or loop with "
                     f"for i in range({arr.length}) and index with i (not assigned in the loop)")
    result = at_element(fb, base, index, index_node, lambda ptr: fb.load(arr.elem, ptr))
    assert result is not None
    return result


def at_element(fb: FunctionBuilder, base: Value, index: Value, index_node: ast.expr,
               action: Callable[[str], Value | None]) -> Value | None:
    """Run ``action`` on the address of ``base[index]`` (``index`` already evaluated, once).

    A constant index is checked here.  A variable one is checked at run
    time, as the verifier demands; a negative one counts from the end, as
    in Python.  Out of range, ``action`` does not run and a read gives 0
    (Python would raise IndexError; BPF cannot).
    """
    arr = base.ty
    assert isinstance(arr, ArrayType)
    if isinstance(arr, packet.ContextArray) and not isinstance(index.ty, LitType):
        raise fb.err(index_node, "an array in the context takes constant indices only: the "
                     "verifier refuses a variable offset into the context",
                     "write each element: ctx.cb[0], ctx.cb[1], ...")
    if isinstance(index.ty, LitType):
        i = index.ty.value
        if i < 0:
            i += arr.length
        if not 0 <= i < arr.length:
            raise fb.err(index_node, f"index {index.ty.value} is out of range for {arr}")
        return action(fb.b.byte_gep(base.ref, i * arr.elem.size))
    ity = fb.int_type_of(index)
    idx = fb.coerce(fb.coerce(index, ity, index_node), IntType(64, ity.signed), index_node).ref
    if in_range(fb, index_node, arr):  # a loop counter known to stay inside: no check
        return action(fb.b.byte_gep_dynamic(base.ref, fb.b.binop("mul", "i64", idx, str(arr.elem.size))))
    if ity.signed:  # a[-1] is the last element
        negative = fb.b.icmp("slt", "i64", idx, "0")
        idx = fb.b.select(negative, "i64", fb.b.binop("add", "i64", idx, str(arr.length)), idx)
    ok = fb.b.icmp("ult", "i64", idx, str(arr.length))
    inside, done = fb.b.new_block("index.ok"), fb.b.new_block("index.done")
    before = fb.b.block
    fb.b.cbr(ok, inside, done)
    fb.b.position(inside)
    offset = fb.b.binop("mul", "i64", idx, str(arr.elem.size))
    result = action(fb.b.byte_gep_dynamic(base.ref, offset))
    end = fb.b.block
    fb.b.br(done)
    fb.b.position(done)
    if result is None:
        return None
    zero = "false" if isinstance(arr.elem, BoolType) else "0"
    return Value(result.ty, fb.b.phi(result.llvm, [(result.ref, end), (zero, before)]))


def in_range(fb: FunctionBuilder, index_node: ast.expr, arr: ArrayType) -> bool:
    """Whether ``index_node`` is a loop counter whose every value indexes ``arr`` (0..length-1).

    ``for i in range(8): e.argv[i]`` needs no run-time check, and so may select one of
    several arrays or structs (a checked index could not: out of range there is no element
    to hand on).
    """
    if not isinstance(index_node, ast.Name):
        return False
    known = fb.bounds.get(index_node.id)
    return known is not None and 0 <= known[0] and known[1] < arr.length


def _char_side(v: Value, other: Value) -> Value:
    """A one-byte string compared with a char is that byte (``comm[0] == b'b'``, as in ctypes)."""
    byte = char_literal(v)
    if byte is not None and isinstance(other.ty, CharType):
        return lit(byte)
    return v


def _exact_join(a: IntType, b: IntType) -> IntType:
    """A type holding every value of ``a`` and ``b`` (u8 and i8 join as i16), where one exists.

    ``x or y`` and ``x if c else y`` give one operand's value unchanged, as in
    Python: C's unsigned-wins rule would turn ``-1`` into ``255``.
    """
    if a.signed == b.signed:
        return common_int(a, b)
    signed, unsigned = (a, b) if a.signed else (b, a)
    if signed.bits > unsigned.bits:
        return signed
    if unsigned.bits < 64:
        return IntType(unsigned.bits * 2, True)
    return common_int(a, b)  # u64 with a signed type: no exact type; C's rule


def _is_boolish(node: ast.expr) -> bool:
    if isinstance(node, (ast.Compare,)):
        return True
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return True
    if isinstance(node, ast.BoolOp):
        return all(_is_boolish(v) for v in node.values)
    return False


EXPRESSIONS: ExprTable = {
    ast.Constant: expr_constant,
    ast.Name: expr_name,
    ast.BinOp: expr_bin_op,
    ast.UnaryOp: expr_unary_op,
    ast.Compare: expr_compare,
    ast.BoolOp: expr_bool_op,
    ast.IfExp: expr_if_exp,
    ast.Attribute: expr_attribute,
    ast.Subscript: expr_subscript,
}
