"""A reference model of bpfimport's integer semantics, and a generator of random expressions.

The model is written from docs/language.md ("Integer semantics"), independently
of the compiler: fixed-width two's complement; a binary operation is computed
in the wider operand's type (unsigned wins at equal width); an untyped literal
takes the other operand's type when it fits; ``//`` and ``%`` floor like
Python (division by zero gives 0, ``%`` by zero the dividend, as BPF does);
shifts keep the left type and give 0 (or the sign) for counts ≥ the width;
comparisons are exact, like Python's ints.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

TYPES = [(b, s) for b in (8, 16, 32, 64) for s in (False, True)]
NAMES = {(b, s): ("i" if s else "u") + str(b) for b, s in TYPES}


def wrap(v: int, bits: int, signed: bool) -> int:
    v &= (1 << bits) - 1
    if signed and v >> (bits - 1):
        v -= 1 << bits
    return v


def fits(v: int, bits: int, signed: bool) -> bool:
    return (-(1 << (bits - 1)) <= v < (1 << (bits - 1))) if signed else (0 <= v < (1 << bits))


@dataclass(frozen=True)
class TV:
    """A typed value; ``ty`` None is an untyped literal, ``"bool"`` a comparison result."""

    value: int
    ty: tuple[int, bool] | str | None


def common(a: tuple[int, bool], b: tuple[int, bool]) -> tuple[int, bool]:
    if a[0] != b[0]:
        return a if a[0] > b[0] else b
    return a if not a[1] else b


def int_type(v: TV) -> tuple[int, bool]:
    if isinstance(v.ty, tuple):
        return v.ty
    if v.ty is None:
        return (64, True) if fits(v.value, 64, True) else (64, False)
    return (64, True)  # bool acts as Python's int


def unify(a: TV, b: TV) -> tuple[int, bool]:
    ta, tb = int_type(a), int_type(b)
    if a.ty is None:
        return tb if fits(a.value, *tb) else common(ta, tb)
    if b.ty is None:
        return ta if fits(b.value, *ta) else common(ta, tb)
    return common(ta, tb)


def binop(op: str, a: TV, b: TV) -> TV:
    if a.ty is None and b.ty is None:
        return TV(_py(op, a.value, b.value), None)
    if op in ("<<", ">>"):
        ty = int_type(a)
        x = wrap(a.value, *ty)
        n = b.value if b.ty is None else wrap(b.value, *int_type(b)) % (1 << int_type(b)[0])
        if n >= ty[0]:
            if op == "<<" or not ty[1]:
                return TV(0, ty)
            n = ty[0] - 1
        r = x << n if op == "<<" else x >> n
        return TV(wrap(r, *ty), ty)
    ty = unify(a, b)
    x, y = wrap(a.value, *ty), wrap(b.value, *ty)
    if op in ("//", "%") and y == 0:
        return TV(0 if op == "//" else x, ty)
    return TV(wrap(_py(op, x, y), *ty), ty)


def _py(op: str, x: int, y: int) -> int:
    return {
        "+": lambda: x + y, "-": lambda: x - y, "*": lambda: x * y, "//": lambda: x // y,
        "%": lambda: x % y, "&": lambda: x & y, "|": lambda: x | y, "^": lambda: x ^ y,
        "<<": lambda: x << y, ">>": lambda: x >> y,
    }[op]()


def compare(op: str, a: TV, b: TV) -> TV:
    def val(v: TV) -> int:
        return v.value if v.ty is None else wrap(v.value, *int_type(v))
    x, y = val(a), val(b)
    r = {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y, "==": x == y, "!=": x != y}[op]
    return TV(int(r), "bool")


def unary(op: str, a: TV) -> TV:
    if a.ty is None:
        return TV(-a.value if op == "-" else ~a.value, None)
    ty = int_type(a)
    x = wrap(a.value, *ty)
    return TV(wrap(-x if op == "-" else ~x, *ty), ty)


# ---------------------------------------------------------------- generation

ARITH = ["+", "-", "*", "//", "%", "&", "|", "^", "<<", ">>"]
CMP = ["<", "<=", ">", ">=", "==", "!="]


@dataclass
class Var:
    name: str
    ty: tuple[int, bool]
    value: int


def make_vars(rng: random.Random) -> list[Var]:
    out = []
    for i, (bits, signed) in enumerate(TYPES * 2):
        lo = -(1 << (bits - 1)) if signed else 0
        hi = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
        pick = rng.choice([lo, hi, 0, 1, -1 if signed else 2, rng.randint(lo, hi), rng.randint(-5, 5) if signed else rng.randint(0, 9)])
        out.append(Var(f"V{i}", (bits, signed), pick))
    return out


# A folded constant must fit 64 bits (as an i64 or a u64) where it is used.
CONST_MIN, CONST_MAX = -(1 << 63), (1 << 64) - 1


def in_const_range(v: TV) -> bool:
    return v.ty is not None or CONST_MIN <= v.value <= CONST_MAX


def leaf(rng: random.Random, vars_: list[Var]) -> tuple[str, TV]:
    if rng.random() < 0.7:
        v = rng.choice(vars_)
        return v.name, TV(v.value, v.ty)
    n = rng.choice([0, 1, 2, 3, 7, 8, 31, 63, 64, 255, 256, 65535, 1 << 31, (1 << 32) - 1, -1, -7, -128])
    return (f"({n})" if n < 0 else str(n)), TV(n, None)


def a_var(rng: random.Random, vars_: list[Var]) -> tuple[str, TV]:
    v = vars_[rng.randrange(len(vars_))]
    return v.name, TV(v.value, v.ty)


def gen(rng: random.Random, vars_: list[Var], depth: int) -> tuple[str, TV]:
    """A random expression as source text and its reference value.

    Literal-only subexpressions (``(7 - 64)``, ``(-(255))``, ``(3 < 8)``) are
    generated too: the compiler folds them, and the model checks the folding.
    """
    if depth == 0 or rng.random() < 0.25:
        return leaf(rng, vars_)
    kind = rng.random()
    if kind < 0.65:
        return arith(rng, vars_, depth)
    if kind < 0.8:
        op = rng.choice(CMP)
        ls, lv = gen(rng, vars_, depth - 1)
        rs, rv = gen(rng, vars_, depth - 1)
        return f"({ls} {op} {rs})", compare(op, lv, rv)
    op = rng.choice(["-", "~"])
    s, v = gen(rng, vars_, depth - 1)
    result = unary(op, v)
    if not in_const_range(result):
        s, v = a_var(rng, vars_)
        result = unary(op, v)
    return f"({op}{s})", result


def arith(rng: random.Random, vars_: list[Var], depth: int) -> tuple[str, TV]:
    op = rng.choice(ARITH)
    ls, lv = gen(rng, vars_, depth - 1)
    rs, rv = gen(rng, vars_, depth - 1)
    if op in ("<<", ">>") and rv.ty is None and rv.value < 0:
        rs, rv = "3", TV(3, None)
    if op in ("//", "%") and rv.ty is None and rv.value == 0:
        rs, rv = "7", TV(7, None)  # a constant zero divisor is a compile error
    folded = lv.ty is None and rv.ty is None
    if folded and ((op == "<<" and rv.value > 64) or not in_const_range(binop(op, lv, rv))):
        rs, rv = a_var(rng, vars_)  # keep constant folding in 64-bit range
    return f"({ls} {op} {rs})", binop(op, lv, rv)


def gen_constant(rng: random.Random, depth: int) -> tuple[str, TV]:
    """A random expression of literals only, which the compiler folds entirely."""
    ops = ARITH + ["//", "%"] * 2  # floor division and modulo of negative constants most of all
    while True:
        if depth == 0 or rng.random() < 0.2:
            n = rng.choice([0, 1, 2, 3, 7, 8, 63, 64, 255, 65535, 1 << 31, (1 << 63) - 1, -1, -7, -128, -(1 << 63)])
            return (f"({n})" if n < 0 else str(n)), TV(n, None)
        op = rng.choice(ops)
        ls, lv = gen_constant(rng, depth - 1)
        rs, rv = gen_constant(rng, depth - 1)
        if op in ("//", "%") and rv.value == 0 or op in ("<<", ">>") and not 0 <= rv.value <= 64:
            continue
        result = binop(op, lv, rv)
        if in_const_range(result):
            return f"({ls} {op} {rs})", result


def expected_u64(v: TV) -> int:
    """What ``u64(expr)`` gives: the value converted like a cast (sign-extend, then wrap)."""
    if v.ty is None or v.ty == "bool":
        return wrap(v.value, 64, False)
    return wrap(wrap(v.value, *v.ty), 64, False)


def program(vars_: list[Var], exprs: list[str]) -> str:
    lines = ["from bpfimport.lang import *", "",
             f"out = ArrayMap(key=u32, value=u64, max_entries={len(exprs)})", ""]
    for v in vars_:
        lines.append(f"{v.name}: Final[{NAMES[v.ty]}] = 0")
    lines += ["", "", "@syscall", "def run(ctx) -> int:"]
    for i, e in enumerate(exprs):
        lines.append(f"    out[{i}] = u64({e})")
    lines += ["    return 0", "", 'LICENSE = "GPL"', ""]
    return "\n".join(lines)
