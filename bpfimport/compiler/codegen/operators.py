"""Integer operators: arithmetic, shifts, powers, floor division, and in-place updates.

Integer semantics (docs/language.md, "Integer semantics"): fixed-width two's
complement.  A binary operation takes the wider operand's type (at equal
width, unsigned wins, as in C); an untyped literal takes the other operand's
type when it fits.  ``//`` and ``%`` floor like Python for signed operands and
are lowered to unsigned division, so they compile for every BPF CPU version.
"""

from __future__ import annotations

from .. import pyast as ast
from ..frontend.resolve import FOLD_BINOPS
from ..types import U64, AddrType, BpfType, IntType
from .builder import FunctionBuilder
from .ir import Value
from .values import LitType, lit

_ARITH = {
    ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul",
    ast.BitAnd: "and", ast.BitOr: "or", ast.BitXor: "xor",
}
_PY_OPS = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^",
    ast.BitAnd: "&", ast.MatMult: "@",
}
# Operations a shared location (map value, global) can do atomically at 32 and 64 bits.
_ATOMIC = {ast.Add: "add", ast.Sub: "add", ast.BitOr: "or", ast.BitAnd: "and", ast.BitXor: "xor"}


def binop(fb: FunctionBuilder, op: ast.operator, a: Value, b: Value, node: ast.AST) -> Value:
    """``a op b`` on integers; a pointer takes part as its address (``p + 8``: 8 bytes on)."""
    a = fb.numeric(a, node) if not isinstance(op, ast.Div) else a
    b = fb.numeric(b, node) if not isinstance(op, ast.Div) else b
    result = _binop(fb, op, a, b, node)
    space = _address_space(op, a, b)
    if isinstance(result.ty, IntType) and result.ty.bits == 64 and space is not None:
        return Value(AddrType(space), result.ref)
    if isinstance(result.ty, AddrType):
        return Value(U64, result.ref)  # a product or mask of an address is just a number
    return result


def _address_space(op: ast.operator, a: Value, b: Value) -> str | None:
    """Where ``a op b`` points when it is an address: an address plus or minus a number."""
    sa = a.ty.space if isinstance(a.ty, AddrType) else None
    sb = b.ty.space if isinstance(b.ty, AddrType) else None
    if isinstance(op, ast.Add) and (sa is None) != (sb is None):
        return sa or sb
    if isinstance(op, ast.Sub) and sa is not None and sb is None:
        return sa
    return None


def _binop(fb: FunctionBuilder, op: ast.operator, a: Value, b: Value, node: ast.AST) -> Value:
    if isinstance(op, ast.Div):
        raise fb.err(node, "'/' is true division, which BPF cannot do (no floating point)",
                     "use '//' for integer division")
    if type(op) not in FOLD_BINOPS:
        raise fb.err(node, f"operator '{_PY_OPS.get(type(op), '?')}' is not supported on integers")
    a = fb.numeric(a, node)
    b = fb.numeric(b, node)
    if isinstance(a.ty, LitType) and isinstance(b.ty, LitType):
        return lit(fold(fb, op, a.ty.value, b.ty.value, node))
    if isinstance(op, (ast.LShift, ast.RShift)):
        return shift(fb, op, a, b, node)
    if isinstance(op, ast.Pow):
        return power(fb, a, b, node)
    if isinstance(op, (ast.FloorDiv, ast.Mod)) and isinstance(b.ty, LitType) and b.ty.value == 0:
        raise fb.err(node, "integer division or modulo by zero")
    ty = fb.unify(a, b)
    # a literal that does not fit converts like C's (x + -1 on a u64 subtracts one)
    a = fb.coerce(a, ty, node, explicit=True)
    b = fb.coerce(b, ty, node, explicit=True)
    if isinstance(op, (ast.FloorDiv, ast.Mod)):
        return divide(fb, op, a, b, node)
    return Value(ty, fb.b.binop(_ARITH[type(op)], ty.llvm, a.ref, b.ref))


def fold(fb: FunctionBuilder, op: ast.operator, a: int, b: int, node: ast.AST) -> int:
    if isinstance(op, (ast.FloorDiv, ast.Mod)) and b == 0:
        raise fb.err(node, "integer division or modulo by zero")
    if isinstance(op, (ast.LShift, ast.RShift, ast.Pow)) and b < 0:
        raise fb.err(node, "negative shift count or exponent")
    if isinstance(op, (ast.LShift, ast.Pow)) and b > 128:
        raise fb.err(node, "constant is far too large for 64 bits")
    value = FOLD_BINOPS[type(op)](a, b)
    # Intermediate constants may exceed 64 bits, as in Python (2**64 - 1); where a constant
    # is used, it must fit its type.  The bound only keeps folding cheap.
    if not -(1 << 128) < value < (1 << 128):
        raise fb.err(node, f"constant {value} does not fit in 64 bits")
    return value


def shift(fb: FunctionBuilder, op: ast.operator, a: Value, b: Value, node: ast.AST) -> Value:
    """Shifts keep the left operand's type; counts >= its width give 0 (or the sign)."""
    ty = fb.int_type_of(a)
    a = fb.coerce(a, ty, node)
    left = isinstance(op, ast.LShift)
    kind = "shl" if left else ("ashr" if ty.signed else "lshr")
    if isinstance(b.ty, LitType):
        count = b.ty.value
        if count < 0:
            raise fb.err(node, "negative shift count")
        if count >= ty.bits:
            if left or not ty.signed:
                return Value(ty, "0")
            count = ty.bits - 1
        return Value(ty, fb.b.binop(kind, ty.llvm, a.ref, str(count)))
    cty = fb.int_type_of(b)
    wide = fb.coerce(b, cty, node)
    too_big = fb.b.icmp("uge", cty.llvm, wide.ref, str(ty.bits))
    amount = fb.coerce(Value(IntType(cty.bits, False), wide.ref), IntType(ty.bits, False), node)
    shifted = fb.b.binop(kind, ty.llvm, a.ref, amount.ref)
    if left or not ty.signed:
        overflow = "0"
    else:
        overflow = fb.b.binop("ashr", ty.llvm, a.ref, str(ty.bits - 1))
    return Value(ty, fb.b.select(too_big, ty.llvm, overflow, shifted))


def power(fb: FunctionBuilder, a: Value, b: Value, node: ast.AST) -> Value:
    if not isinstance(b.ty, LitType) or b.ty.value < 0:
        raise fb.err(node, "'**' needs a constant, non-negative exponent",
                     "multiply in a bounded loop for a variable exponent")
    ty = fb.int_type_of(a)
    a = fb.coerce(a, ty, node)
    result, base, e = "1", a.ref, b.ty.value
    while e:
        if e & 1:
            result = base if result == "1" else fb.b.binop("mul", ty.llvm, result, base)
        e >>= 1
        if e:
            base = fb.b.binop("mul", ty.llvm, base, base)
    return Value(ty, result)


def divide(fb: FunctionBuilder, op: ast.operator, a: Value, b: Value, node: ast.AST) -> Value:
    """``//`` and ``%``: floor semantics, division by zero gives 0 (``%``: the dividend) as BPF does."""
    ty = a.ty
    assert isinstance(ty, IntType)
    t = ty.llvm
    quotient = isinstance(op, ast.FloorDiv)
    const_b = _int_or_none(b.ref)
    if const_b == 0:  # only reachable through folding, e.g. x // (y << 99)
        return Value(ty, "0" if quotient else a.ref)
    if not ty.signed:
        if const_b is not None:
            return Value(ty, fb.b.binop("udiv" if quotient else "urem", t, a.ref, b.ref))
        by_zero = fb.b.icmp("eq", t, b.ref, "0")
        d = fb.b.select(by_zero, t, "1", b.ref)
        r = fb.b.binop("udiv" if quotient else "urem", t, a.ref, d)
        return Value(ty, fb.b.select(by_zero, t, "0" if quotient else a.ref, r))
    # signed: divide magnitudes unsigned (no sdiv before BPF v4), then fix signs and floor
    neg_a = fb.b.icmp("slt", t, a.ref, "0")
    mag_a = fb.b.select(neg_a, t, fb.b.binop("sub", t, "0", a.ref), a.ref)
    if const_b is not None:
        neg_b = "true" if const_b < 0 else "false"
        d = str(abs(const_b)) if abs(const_b) != 1 << (ty.bits - 1) else b.ref
        zero: str | None = None
    else:
        neg_b = fb.b.icmp("slt", t, b.ref, "0")
        mag_b = fb.b.select(neg_b, t, fb.b.binop("sub", t, "0", b.ref), b.ref)
        zero = fb.b.icmp("eq", t, b.ref, "0")
        d = fb.b.select(zero, t, "1", mag_b)
    signs_differ = fb.b.binop("xor", "i1", neg_a, neg_b)
    if quotient:
        uq = fb.b.binop("udiv", t, mag_a, d)
        q = fb.b.select(signs_differ, t, fb.b.binop("sub", t, "0", uq), uq)
        ur = fb.b.binop("urem", t, mag_a, d)
        inexact = fb.b.icmp("ne", t, ur, "0")
        adjust = fb.b.binop("and", "i1", inexact, signs_differ)
        result = fb.b.select(adjust, t, fb.b.binop("sub", t, q, "1"), q)
        if zero is not None:
            result = fb.b.select(zero, t, "0", result)
    else:
        ur = fb.b.binop("urem", t, mag_a, d)
        r = fb.b.select(neg_a, t, fb.b.binop("sub", t, "0", ur), ur)
        inexact = fb.b.icmp("ne", t, r, "0")
        adjust = fb.b.binop("and", "i1", inexact, signs_differ)
        result = fb.b.select(adjust, t, fb.b.binop("add", t, r, b.ref), r)
        if zero is not None:
            result = fb.b.select(zero, t, a.ref, result)
    return Value(ty, result)


def update_at(fb: FunctionBuilder, ptr: str, ty: BpfType, op: ast.operator, value: Value,
              node: ast.AST, shared: bool) -> None:
    """``*ptr op= value``: one atomic instruction where the location is shared and BPF has one.

    Add and subtract are atomic on every CPU version (subtract adds the
    negation: BPF has no atomic subtract); or/and/xor from v3.  8- and
    16-bit values, and the other operators, are read, changed and written.
    """
    atomic = atomic_op(fb, op, ty) if shared else None
    if atomic is None:
        current = fb.load(ty, ptr)
        fb.store(binop(fb, op, current, value, node), ty, ptr, node)
        return
    # wrapping like the read-modify-write would (hits += -1 on a u64 subtracts one)
    v = fb.coerce(fb.numeric(value, node), ty, node, explicit=True)
    ref = v.ref
    if isinstance(op, ast.Sub):
        ref = fb.b.binop("sub", ty.llvm, "0", ref)
    fb.b.atomicrmw(atomic, ptr, ty.llvm, ref, ty.align)


def atomic_op(fb: FunctionBuilder, op: ast.operator, ty: BpfType) -> str | None:
    if not isinstance(ty, IntType) or ty.bits < 32:
        return None
    name = _ATOMIC.get(type(op))
    if name in ("or", "and", "xor") and not fb.module.has_atomics:
        return None
    return name


def _int_or_none(ref: str) -> int | None:
    try:
        return int(ref)
    except ValueError:
        return None
