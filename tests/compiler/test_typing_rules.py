"""The integer typing rules of docs/language.md, checked at compile time (no kernel).

The kernel property test compares values, and many typing mistakes give the
same value (``u8 + i8`` wraps to the same byte either way) or only show on
inputs it rarely draws.  Here the oracle is the type itself: the compiler names
the type it inferred in its error for a field access on a plain integer
(``x.z`` -> "a u16 has no fields or elements"), and every expected type comes
from ``expected_*`` below, written from docs/language.md "Integer semantics":

- a binary operation is computed in the wider operand's type; at equal width
  unsigned wins; there is no promotion to a 32-bit int;
- an untyped literal takes the other operand's type when it fits, else it is
  an i64 (a u64 above i64's range) and the rule above applies;
- shifts keep the left operand's type; comparisons give a bool;
- ``a or b`` / ``x if c else y`` give a type that holds every operand's value;
- a new local takes its type from its first value (an untyped literal: i64).
"""

from __future__ import annotations

import itertools
import re

import pytest

from bpfimport import CompileError
from bpfimport.compiler import compile_source

TYPES = [(bits, signed) for bits in (8, 16, 32, 64) for signed in (False, True)]
ARITH = ["+", "-", "*", "//", "%", "&", "|", "^"]
SHIFTS = ["<<", ">>"]
CMPS = ["<", "<=", ">", ">=", "==", "!="]


def name(ty: tuple[int, bool]) -> str:
    return ("i" if ty[1] else "u") + str(ty[0])


def fits(value: int, ty: tuple[int, bool]) -> bool:
    bits, signed = ty
    return -(1 << (bits - 1)) <= value < (1 << (bits - 1)) if signed else 0 <= value < (1 << bits)


def expected_binary(a: tuple[int, bool], b: tuple[int, bool]) -> tuple[int, bool]:
    """Wider wins; at equal width, unsigned wins."""
    if a[0] != b[0]:
        return max(a, b)
    return (a[0], a[1] and b[1])


def expected_with_literal(ty: tuple[int, bool], value: int) -> tuple[int, bool]:
    if fits(value, ty):
        return ty
    return expected_binary(ty, (64, True) if fits(value, (64, True)) else (64, False))


def expected_join(a: tuple[int, bool], b: tuple[int, bool]) -> tuple[int, bool]:
    """The smallest type holding both ranges (defined where one exists: not u64 with a signed type)."""
    if a[1] == b[1]:
        return max(a, b)
    unsigned, signed = (a, b) if b[1] else (b, a)
    return (max(signed[0], 2 * unsigned[0]), True)


def inferred(expr: str, decls: dict[str, tuple[int, bool]]) -> str:
    """The type name the compiler gives ``expr`` (bound to a new local, as ``x = expr`` does)."""
    lines = [f"    {v}: {name(t)} = 1" for v, t in decls.items()]
    src = "\n".join(["from bpfimport.lang import *", "@syscall", "def p(ctx) -> int:", *lines,
                     f"    x = {expr}", "    x.z = 1", "    return 0", ""])
    with pytest.raises(CompileError) as info:
        compile_source(src, "/tmp/typing.bpf.py", "typing_bpf")
    found = re.search(r"a (\w+) has no fields or elements", info.value.msg)
    assert found, f"{expr!r}: unexpected error {info.value.msg!r}"
    return found.group(1)


PAIRS = list(itertools.product(TYPES, TYPES))


@pytest.mark.parametrize("a, b", PAIRS, ids=[f"{name(a)}-{name(b)}" for a, b in PAIRS])
def test_binary_operations_take_the_wider_type_and_unsigned_wins_at_equal_width(a, b) -> None:
    for op in ARITH:
        assert inferred(f"a {op} b", {"a": a, "b": b}) == name(expected_binary(a, b)), op
    for op in SHIFTS:
        assert inferred(f"a {op} b", {"a": a, "b": b}) == name(a), op  # the left operand's type
    assert inferred("a < b", {"a": a, "b": b}) == "bool"


# No integer type holds both a u64 and a signed type: docs/language.md names none, so not tested.
JOINABLE = [(a, b) for a, b in PAIRS if not ((64, False) in (a, b) and (a[1] or b[1]))]


@pytest.mark.parametrize("a, b", JOINABLE, ids=[f"{name(a)}-{name(b)}" for a, b in JOINABLE])
def test_or_and_conditional_expressions_hold_both_operands(a, b) -> None:
    want = name(expected_join(a, b))
    assert inferred("a or b", {"a": a, "b": b}) == want
    assert inferred("a and b", {"a": a, "b": b}) == want
    assert inferred("a if c else b", {"a": a, "b": b, "c": (8, False)}) == want


LITERALS = [0, 1, -1, 127, 128, 255, 256, -129, 65535, 65536, 2**31, -(2**31) - 1, 2**32,
            2**63 - 1, 2**63, 2**64 - 1]


@pytest.mark.parametrize("ty", TYPES, ids=[name(t) for t in TYPES])
def test_an_untyped_literal_takes_the_other_operands_type_when_it_fits(ty) -> None:
    for value, op in itertools.product(LITERALS, ["+", "&", "*"]):
        lit = f"({value})"
        want = name(expected_with_literal(ty, value))
        assert inferred(f"a {op} {lit}", {"a": ty}) == want, (op, value)
        assert inferred(f"{lit} {op} a", {"a": ty}) == want, (value, op)


@pytest.mark.parametrize("ty", TYPES, ids=[name(t) for t in TYPES])
def test_unary_operators_and_casts_keep_the_type(ty) -> None:
    assert inferred("-a", {"a": ty}) == name(ty)
    assert inferred("~a", {"a": ty}) == name(ty)
    assert inferred("a ** 3", {"a": ty}) == name(ty)
    assert inferred("not a", {"a": ty}) == "bool"
    for other in TYPES:
        assert inferred(f"{name(other)}(a)", {"a": ty}) == name(other)


def test_a_new_local_from_an_untyped_literal_is_an_i64() -> None:
    assert inferred("5", {}) == "i64"
    assert inferred("-(2**63)", {}) == "i64"
    assert inferred("7 // 2 + 1", {}) == "i64"  # folded, still untyped until bound


def test_no_promotion_to_int() -> None:
    """C would compute u8 + u8 in int; here it stays a u8 (and wraps)."""
    assert inferred("a + b", {"a": (8, False), "b": (8, False)}) == "u8"
    assert inferred("a * b", {"a": (16, True), "b": (8, True)}) == "i16"
