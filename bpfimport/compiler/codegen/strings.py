"""Strings: char arrays compared with byte strings and with each other.

``comm() == b"bash"``, ``e.comm != TARGET`` and ``comm().startswith(b"ba")`` compare
C strings: an array holds its text up to its first NUL (or all of it when it has
none), as C's ``strncmp`` over the array sees it.  Every compare is unrolled to a
fixed number of byte tests (the literal's length, or the shorter array's), each
an early exit: the verifier sees straight-line code and no loop, and the IR grows
with the text compared, not with the arrays.
"""

from __future__ import annotations

from .. import pyast as ast
from ..types import BOOL, ArrayType, CharType, PtrType
from .builder import FunctionBuilder
from .ir import Block, Value
from .values import StrType, show

# The most bytes two arrays are compared over (each is a few instructions and a branch,
# unrolled): longer ones are refused rather than compared in part.
MAX_COMPARE = 512

_ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)


def is_text(v: Value) -> bool:
    """A char array (or a map reference to one) or a string literal: what this module compares."""
    return isinstance(v.ty, StrType) or char_array(v) is not None


def char_array(v: Value) -> ArrayType | None:
    ty = v.ty.pointee if isinstance(v.ty, PtrType) and v.ty.nullable else v.ty
    if isinstance(ty, ArrayType) and isinstance(ty.elem, CharType):
        return ty
    return None


def compare(fb: FunctionBuilder, op: ast.cmpop, a: Value, b: Value, node: ast.AST) -> Value:
    """``a == b`` / ``a != b`` where one side is text (the caller checked)."""
    if isinstance(op, _ORDERING):
        raise fb.err(node, "strings compare only with == and != in BPF code",
                     "compare single bytes for an order, e.g. comm()[0] < b'm'[0]")
    if not isinstance(op, (ast.Eq, ast.NotEq)):
        raise fb.err(node, "strings compare only with == and != in BPF code")
    if isinstance(a.ty, StrType) and isinstance(b.ty, StrType):  # two constants: Python's answer
        same = a.ty.value == b.ty.value
        return Value(BOOL, "true" if same == isinstance(op, ast.Eq) else "false")
    if char_array(a) is None:
        a, b = b, a
    if char_array(a) is None or not is_text(b):
        other = b if char_array(a) is not None else (a if not is_text(a) else b)
        raise fb.err(node, f"a string compares with a char array or a string, not with "
                     f"{_article(show(other.ty))}",
                     "compare a char array with a bytes literal (comm() == b'bash'), or one "
                     "byte with one byte (comm()[0] == b'b')")
    equal = _matches(fb, a, b, node, prefix=False)
    if isinstance(op, ast.NotEq):
        return Value(BOOL, fb.b.binop("xor", "i1", equal.ref, "true"))
    return equal


def startswith(fb: FunctionBuilder, node: ast.Call) -> Value:
    """``arr.startswith(prefix)``: the first ``len(prefix)`` bytes of the array's text are the
    prefix's (a literal, or another char array's text up to its NUL)."""
    assert isinstance(node.func, ast.Attribute)
    if node.keywords or len(node.args) != 1:
        raise fb.err(node, "startswith() takes one argument in BPF code: the prefix",
                     "e.g. comm().startswith(b'ba')")
    arr = fb.expr(node.func.value)
    if char_array(arr) is None:
        raise fb.err(node.func.value, f"startswith() is a method of char arrays, not of {_article(show(arr.ty))}",
                     "call it on a c_char * N value, e.g. comm().startswith(b'ba')")
    prefix = fb.expr(node.args[0])
    if not is_text(prefix):
        raise fb.err(node.args[0], f"startswith() takes a string or a char array, not {_article(show(prefix.ty))}",
                     "e.g. comm().startswith(b'ba')")
    return _matches(fb, arr, prefix, node, prefix=True)


def _article(what: str) -> str:
    return ("an " if what[:1] in "aeio" else "a ") + what


def _c_text(data: bytes) -> bytes:
    return data.split(b"\0", 1)[0]


def _matches(fb: FunctionBuilder, a: Value, b: Value, node: ast.AST, prefix: bool) -> Value:
    """Whether array ``a``'s text equals (or, with ``prefix``, starts with) ``b``'s, as an i1."""
    done = fb.b.new_block("str.done")
    fail = fb.b.new_block("str.differ")
    succeed = fb.b.new_block("str.same")
    a_ptr, a_ty = _array_address(fb, a, fail)
    if isinstance(b.ty, StrType):
        _against_literal(fb, a_ptr, a_ty, b.ty.value, node, prefix, succeed, fail)
    else:
        b_ptr, b_ty = _array_address(fb, b, fail)
        _against_array(fb, a_ptr, a_ty, b_ptr, b_ty, node, prefix, succeed, fail)
    fb.b.position(succeed)
    fb.b.br(done)
    fb.b.position(fail)
    fb.b.br(done)
    fb.b.position(done)
    return Value(BOOL, fb.b.phi("i1", [("true", succeed), ("false", fail)]))


def _array_address(fb: FunctionBuilder, v: Value, fail: Block) -> tuple[str, ArrayType]:
    """The address of the array's bytes; a map reference that is None compares unequal."""
    ty = char_array(v)
    assert ty is not None
    if isinstance(v.ty, PtrType):
        present = fb.b.new_block("str.present")
        fb.b.cbr(fb.b.icmp("ne", "ptr", v.ref, "null"), present, fail)
        fb.b.position(present)
    return v.ref, ty


def _byte(fb: FunctionBuilder, ptr: str, i: int) -> str:
    return fb.b.load("i8", fb.b.byte_gep(ptr, i), 1)


def _require(fb: FunctionBuilder, cond: str, fail: Block) -> None:
    """Go on when ``cond`` holds, else to ``fail``."""
    nxt = fb.b.new_block("str.next")
    fb.b.cbr(cond, nxt, fail)
    fb.b.position(nxt)


def _against_literal(fb: FunctionBuilder, ptr: str, ty: ArrayType, data: bytes, node: ast.AST,
                     prefix: bool, succeed: Block, fail: Block) -> None:
    if b"\0" in data:
        raise fb.err(node, "a string compared with a char array holds a NUL: the array's text "
                     "ends at its first NUL, so the bytes after it would never be compared",
                     f"write the text without the NUL: {_c_text(data)!r}")
    if len(data) > ty.length:
        what = "starts with" if prefix else "equals"
        raise fb.err(node, f"a {ty} never {what} a string of {len(data)} bytes: it holds at most "
                     f"{ty.length}", f"shorten the string to at most {ty.length} bytes, or use a "
                     "longer array")
    for i, byte in enumerate(data):
        _require(fb, fb.b.icmp("eq", "i8", _byte(fb, ptr, i), str(byte)), fail)
    if not prefix and len(data) < ty.length:  # the text ends where the literal does
        _require(fb, fb.b.icmp("eq", "i8", _byte(fb, ptr, len(data)), "0"), fail)
    fb.b.br(succeed)


def _against_array(fb: FunctionBuilder, a: str, a_ty: ArrayType, b: str, b_ty: ArrayType,
                   node: ast.AST, prefix: bool, succeed: Block, fail: Block) -> None:
    """Byte by byte up to the shorter length; the texts end together at a NUL (equality) or
    ``b``'s ends first (prefix)."""
    n = min(a_ty.length, b_ty.length)
    if n > MAX_COMPARE:
        raise fb.err(node, f"comparing two char arrays of more than {MAX_COMPARE} bytes is not "
                     "supported (each byte is unrolled for the verifier)",
                     f"compare arrays of at most {MAX_COMPARE} bytes")
    for i in range(n):
        x, y = _byte(fb, a, i), _byte(fb, b, i)
        if prefix:  # b's text ended: every byte before matched
            end = fb.b.new_block("str.more")
            fb.b.cbr(fb.b.icmp("eq", "i8", y, "0"), succeed, end)
            fb.b.position(end)
        _require(fb, fb.b.icmp("eq", "i8", x, y), fail)
        if not prefix:  # both texts ended here, equal so far
            end = fb.b.new_block("str.more")
            fb.b.cbr(fb.b.icmp("eq", "i8", x, "0"), succeed, end)
            fb.b.position(end)
    # n bytes equal and neither text ended within them: the longer array must end at n
    if b_ty.length > n:
        _require(fb, fb.b.icmp("eq", "i8", _byte(fb, b, n), "0"), fail)
    elif a_ty.length > n and not prefix:
        _require(fb, fb.b.icmp("eq", "i8", _byte(fb, a, n), "0"), fail)
    fb.b.br(succeed)
