"""Expressions: names, literals, operators, comparisons, attributes and subscripts.

Integer semantics (docs/language.md): fixed-width two's complement.  A binary
operation takes the wider operand's type (at equal width, unsigned wins, as
in C); an untyped literal takes the other operand's type when it fits.
``//`` and ``%`` floor like Python for signed operands and are lowered to
unsigned division, so they compile for every BPF CPU version.  Comparisons
are mathematically exact even between signed and unsigned operands.
"""

from __future__ import annotations

import ast

from ..frontend.resolve import FOLD_BINOPS, const_value
from ..types import (
    BOOL,
    I64,
    U64,
    ArrayType,
    BoolType,
    BpfType,
    CharType,
    IntType,
    PtrType,
    StructType,
    common_int,
)
from .ir import Block, Value
from .values import NONE, LitType, NoneType_, StrType, char_literal, lit, show

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds of every compile
if TYPE_CHECKING:
    from collections.abc import Callable

    from .function import FunctionCodegen
_ARITH = {
    ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul",
    ast.BitAnd: "and", ast.BitOr: "or", ast.BitXor: "xor",
}
_CMP_SIGNED = {ast.Lt: "slt", ast.LtE: "sle", ast.Gt: "sgt", ast.GtE: "sge", ast.Eq: "eq", ast.NotEq: "ne"}
_CMP_UNSIGNED = {ast.Lt: "ult", ast.LtE: "ule", ast.Gt: "ugt", ast.GtE: "uge", ast.Eq: "eq", ast.NotEq: "ne"}
# What a comparison with a negative signed value against an unsigned one always gives.
_NEG_VS_UNSIGNED = {ast.Lt: True, ast.LtE: True, ast.Gt: False, ast.GtE: False, ast.Eq: False, ast.NotEq: True}
_PY_OPS = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^",
    ast.BitAnd: "&", ast.MatMult: "@",
}
_UNSUPPORTED = {
    "List": ("a list", "BPF has no heap: use a c_uint64 * N array field or a map"),
    "Dict": ("a dict", "use a HashMap declared at module level"),
    "Set": ("a set", "use a HashMap declared at module level"),
    "ListComp": ("a list comprehension", "use a for loop over range()"),
    "DictComp": ("a dict comprehension", "use a for loop over range()"),
    "SetComp": ("a set comprehension", "use a for loop over range()"),
    "GeneratorExp": ("a generator expression", "use a for loop over range()"),
    "Lambda": ("a lambda", "define a module-level function with annotated parameters"),
    "Await": ("await", "BPF programs cannot await"),
    "Yield": ("yield", "BPF programs cannot yield; send events through a RingBuffer"),
    "YieldFrom": ("yield from", "BPF programs cannot yield"),
    "Starred": ("a starred expression", "pass arguments one by one"),
    "NamedExpr": ("an assignment expression (:=)", "assign on a line of its own"),
    "Slice": ("a slice", "index one element at a time"),
    "Tuple": ("a tuple value", "tuples can only be unpacked in an assignment: a, b = x, y"),
    "FormattedValue": ("an f-string", "f-strings can only be printed: print(f\"...\")"),
    "JoinedStr": ("an f-string", "f-strings can only be printed: print(f\"...\")"),
}


class ExpressionsMixin:
    # ------------------------------------------------------------ dispatch
    def expr(self: FunctionCodegen, node: ast.expr) -> Value:
        handler = getattr(self, "expr_" + type(node).__name__, None)
        if handler is None:
            what, hint = _UNSUPPORTED.get(type(node).__name__, (type(node).__name__, None))
            raise self.err(node, f"{what} is not supported in BPF code", hint)
        return handler(node)

    def expr_Constant(self: FunctionCodegen, node: ast.Constant) -> Value:
        v = node.value
        if isinstance(v, bool):
            return Value(BOOL, "true" if v else "false")
        if isinstance(v, int):
            return lit(v)
        if isinstance(v, str):
            return Value(StrType(self.src.utf8(node, v, "this string")), "")
        if isinstance(v, bytes):
            return Value(StrType(v), "")
        if v is None:
            return NONE
        if isinstance(v, float):
            raise self.err(node, "floating point is not supported in BPF",
                           "use integers, e.g. nanoseconds instead of seconds")
        raise self.err(node, f"constant {v!r} is not supported in BPF code")

    def expr_Name(self: FunctionCodegen, node: ast.Name) -> Value:
        name = node.id
        if name in self.string_locals:
            return self.string_locals[name]
        local = self.locals.get(name)
        if local is not None:
            v = self.load(local.ty, local.ptr)
            if not local.ty.aggregate:
                v.home = local.ptr
            return v
        if name in self.assigned and name not in self.global_names:
            raise self.err(node, f"local variable '{name}' is used before it is assigned",
                           f"assign {name} before this line")
        g = self.model.globals.get(name)
        if g is not None:
            return self.load(g.ty, f"@{name}")
        if name in self.model.constants:
            c = self.model.constants[name]
            return Value(StrType(c.encode()), "") if isinstance(c, str) else lit(c)
        flag = const_value(self.model, node)  # BPF_NOEXIST and the other flags of bpfimport.lang
        if isinstance(flag, int):
            return lit(flag)
        if name in self.model.maps:
            raise self.err(node, f"map '{name}' cannot be used as a value",
                           f"index it ({name}[key]) or call a method ({name}.lookup(key))")
        if name in self.model.functions:
            raise self.err(node, f"function '{name}' cannot be used as a value", f"call it: {name}(...)")
        if name in self.model.structs:
            raise self.err(node, f"struct '{name}' cannot be used as a value", f"construct one: {name}()")
        if name in self.model.names or name in ("int", "bool", "print", "range", "len", "str"):
            raise self.err(node, f"'{name}' cannot be used as a value here", f"call it: {name}(...)")
        raise self.err(node, f"name '{name}' is not defined",
                       "BPF code sees its module's maps, globals, constants and functions, and "
                       "names imported from bpfimport.lang")

    # ------------------------------------------------------------ operators
    def expr_BinOp(self: FunctionCodegen, node: ast.BinOp) -> Value:
        return self.binop(node.op, self.expr(node.left), self.expr(node.right), node)

    def binop(self: FunctionCodegen, op: ast.operator, a: Value, b: Value, node: ast.AST) -> Value:
        if isinstance(op, ast.Div):
            raise self.err(node, "'/' is true division, which BPF cannot do (no floating point)",
                           "use '//' for integer division")
        if type(op) not in FOLD_BINOPS:
            raise self.err(node, f"operator '{_PY_OPS.get(type(op), '?')}' is not supported on integers")
        a = self.numeric(a, node)
        b = self.numeric(b, node)
        if isinstance(a.ty, LitType) and isinstance(b.ty, LitType):
            return lit(self.fold(op, a.ty.value, b.ty.value, node))
        if isinstance(op, (ast.LShift, ast.RShift)):
            return self.shift(op, a, b, node)
        if isinstance(op, ast.Pow):
            return self.power(a, b, node)
        if isinstance(op, (ast.FloorDiv, ast.Mod)) and isinstance(b.ty, LitType) and b.ty.value == 0:
            raise self.err(node, "integer division or modulo by zero")
        ty = self.unify(a, b)
        # a literal that does not fit converts like C's (x + -1 on a u64 subtracts one)
        a = self.coerce(a, ty, node, explicit=True)
        b = self.coerce(b, ty, node, explicit=True)
        if isinstance(op, (ast.FloorDiv, ast.Mod)):
            return self.divide(op, a, b, node)
        return Value(ty, self.b.binop(_ARITH[type(op)], ty.llvm, a.ref, b.ref))

    def fold(self: FunctionCodegen, op: ast.operator, a: int, b: int, node: ast.AST) -> int:
        if isinstance(op, (ast.FloorDiv, ast.Mod)) and b == 0:
            raise self.err(node, "integer division or modulo by zero")
        if isinstance(op, (ast.LShift, ast.RShift, ast.Pow)) and b < 0:
            raise self.err(node, "negative shift count or exponent")
        if isinstance(op, (ast.LShift, ast.Pow)) and b > 128:
            raise self.err(node, "constant is far too large for 64 bits")
        value = FOLD_BINOPS[type(op)](a, b)
        # Intermediate constants may exceed 64 bits, as in Python (2**64 - 1); where a constant
        # is used, it must fit its type.  The bound only keeps folding cheap.
        if not -(1 << 128) < value < (1 << 128):
            raise self.err(node, f"constant {value} does not fit in 64 bits")
        return value

    def unify(self: FunctionCodegen, a: Value, b: Value) -> IntType:
        """The type a binary operation on ``a`` and ``b`` is computed in."""
        ta, tb = self.int_type_of(a), self.int_type_of(b)
        if isinstance(a.ty, LitType):
            return tb if tb.fits(a.ty.value) else common_int(ta, tb)
        if isinstance(b.ty, LitType):
            return ta if ta.fits(b.ty.value) else common_int(ta, tb)
        return common_int(ta, tb)

    def int_type_of(self: FunctionCodegen, v: Value) -> IntType:
        if isinstance(v.ty, IntType):
            return v.ty
        if isinstance(v.ty, LitType):
            return I64 if I64.fits(v.ty.value) else U64
        return I64  # bool: Python's int

    def shift(self: FunctionCodegen, op: ast.operator, a: Value, b: Value, node: ast.AST) -> Value:
        """Shifts keep the left operand's type; counts >= its width give 0 (or the sign)."""
        ty = self.int_type_of(a)
        a = self.coerce(a, ty, node)
        left = isinstance(op, ast.LShift)
        kind = "shl" if left else ("ashr" if ty.signed else "lshr")
        if isinstance(b.ty, LitType):
            count = b.ty.value
            if count < 0:
                raise self.err(node, "negative shift count")
            if count >= ty.bits:
                if left or not ty.signed:
                    return Value(ty, "0")
                count = ty.bits - 1
            return Value(ty, self.b.binop(kind, ty.llvm, a.ref, str(count)))
        cty = self.int_type_of(b)
        wide = self.coerce(b, cty, node)
        too_big = self.b.icmp("uge", cty.llvm, wide.ref, str(ty.bits))
        amount = self.coerce(Value(IntType(cty.bits, False), wide.ref), IntType(ty.bits, False), node)
        shifted = self.b.binop(kind, ty.llvm, a.ref, amount.ref)
        if left or not ty.signed:
            overflow = "0"
        else:
            overflow = self.b.binop("ashr", ty.llvm, a.ref, str(ty.bits - 1))
        return Value(ty, self.b.select(too_big, ty.llvm, overflow, shifted))

    def power(self: FunctionCodegen, a: Value, b: Value, node: ast.AST) -> Value:
        if not isinstance(b.ty, LitType) or b.ty.value < 0:
            raise self.err(node, "'**' needs a constant, non-negative exponent",
                           "multiply in a bounded loop for a variable exponent")
        ty = self.int_type_of(a)
        a = self.coerce(a, ty, node)
        result, base, e = "1", a.ref, b.ty.value
        while e:
            if e & 1:
                result = base if result == "1" else self.b.binop("mul", ty.llvm, result, base)
            e >>= 1
            if e:
                base = self.b.binop("mul", ty.llvm, base, base)
        return Value(ty, result)

    def divide(self: FunctionCodegen, op: ast.operator, a: Value, b: Value, node: ast.AST) -> Value:
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
                return Value(ty, self.b.binop("udiv" if quotient else "urem", t, a.ref, b.ref))
            zero = self.b.icmp("eq", t, b.ref, "0")
            d = self.b.select(zero, t, "1", b.ref)
            r = self.b.binop("udiv" if quotient else "urem", t, a.ref, d)
            return Value(ty, self.b.select(zero, t, "0" if quotient else a.ref, r))
        # signed: divide magnitudes unsigned (no sdiv before BPF v4), then fix signs and floor
        neg_a = self.b.icmp("slt", t, a.ref, "0")
        mag_a = self.b.select(neg_a, t, self.b.binop("sub", t, "0", a.ref), a.ref)
        if const_b is not None:
            neg_b = "true" if const_b < 0 else "false"
            d = str(abs(const_b)) if abs(const_b) != 1 << (ty.bits - 1) else b.ref
            zero = None
        else:
            neg_b = self.b.icmp("slt", t, b.ref, "0")
            mag_b = self.b.select(neg_b, t, self.b.binop("sub", t, "0", b.ref), b.ref)
            zero = self.b.icmp("eq", t, b.ref, "0")
            d = self.b.select(zero, t, "1", mag_b)
        signs_differ = self.b.binop("xor", "i1", neg_a, neg_b)
        if quotient:
            uq = self.b.binop("udiv", t, mag_a, d)
            q = self.b.select(signs_differ, t, self.b.binop("sub", t, "0", uq), uq)
            ur = self.b.binop("urem", t, mag_a, d)
            inexact = self.b.icmp("ne", t, ur, "0")
            adjust = self.b.binop("and", "i1", inexact, signs_differ)
            result = self.b.select(adjust, t, self.b.binop("sub", t, q, "1"), q)
            if zero is not None:
                result = self.b.select(zero, t, "0", result)
        else:
            ur = self.b.binop("urem", t, mag_a, d)
            r = self.b.select(neg_a, t, self.b.binop("sub", t, "0", ur), ur)
            inexact = self.b.icmp("ne", t, r, "0")
            adjust = self.b.binop("and", "i1", inexact, signs_differ)
            result = self.b.select(adjust, t, self.b.binop("add", t, r, b.ref), r)
            if zero is not None:
                result = self.b.select(zero, t, a.ref, result)
        return Value(ty, result)

    def expr_UnaryOp(self: FunctionCodegen, node: ast.UnaryOp) -> Value:
        if isinstance(node.op, ast.Not):
            v = self.truth(self.expr(node.operand), node)
            if v.ref in ("true", "false"):
                return Value(BOOL, "false" if v.ref == "true" else "true")
            return Value(BOOL, self.b.binop("xor", "i1", v.ref, "true"))
        v = self.numeric(self.expr(node.operand), node)
        if isinstance(v.ty, LitType):
            n = v.ty.value
            return lit({ast.USub: -n, ast.UAdd: n, ast.Invert: ~n}[type(node.op)])
        ty = self.int_type_of(v)
        v = self.coerce(v, ty, node)
        if isinstance(node.op, ast.UAdd):
            return v
        if isinstance(node.op, ast.USub):
            return Value(ty, self.b.binop("sub", ty.llvm, "0", v.ref))
        return Value(ty, self.b.binop("xor", ty.llvm, v.ref, "-1"))

    # ------------------------------------------------------------ comparisons
    def compare(self: FunctionCodegen, op: ast.cmpop, a: Value, b: Value, node: ast.AST) -> Value:
        """One comparison as an ``i1``, exact between signed and unsigned like Python's ints."""
        if isinstance(op, (ast.Is, ast.IsNot)):
            if isinstance(a.ty, NoneType_):
                a, b = b, a
            if not isinstance(b.ty, NoneType_) or not isinstance(a.ty, (PtrType, NoneType_)):
                raise self.err(node, "'is' only compares a map lookup result with None",
                               "use == to compare numbers")
            pred = "eq" if isinstance(op, ast.Is) else "ne"
            if isinstance(a.ty, NoneType_):
                return Value(BOOL, "true" if pred == "eq" else "false")
            return Value(BOOL, self.b.icmp(pred, "ptr", a.ref, "null"))
        if isinstance(op, (ast.In, ast.NotIn)):
            raise self.err(node, "'in' tests a map: key in some_map", "the right side must be a map")
        a, b = _char_side(a, b), _char_side(b, a)
        if isinstance(a.ty, StrType) or isinstance(b.ty, StrType):
            raise self.err(node, "strings cannot be compared in BPF code yet",
                           "compare individual bytes, e.g. comm[0] == b'b'[0]")
        if isinstance(a.ty, NoneType_) or isinstance(b.ty, NoneType_):
            raise self.err(node, "compare with None using 'is' / 'is not'", "v is None")
        a = self.numeric(a, node)
        b = self.numeric(b, node)
        if isinstance(a.ty, LitType) and isinstance(b.ty, LitType):
            result = {ast.Lt: a.ty.value < b.ty.value, ast.LtE: a.ty.value <= b.ty.value,
                      ast.Gt: a.ty.value > b.ty.value, ast.GtE: a.ty.value >= b.ty.value,
                      ast.Eq: a.ty.value == b.ty.value, ast.NotEq: a.ty.value != b.ty.value}[type(op)]
            return Value(BOOL, "true" if result else "false")
        ta, tb = self.int_type_of(a), self.int_type_of(b)
        if isinstance(a.ty, LitType) and tb.fits(a.ty.value):
            ta = tb
        if isinstance(b.ty, LitType) and ta.fits(b.ty.value):
            tb = ta
        if ta.signed == tb.signed:
            ty = common_int(ta, tb)
            table = _CMP_SIGNED if ty.signed else _CMP_UNSIGNED
            a, b = self.coerce(a, ty, node), self.coerce(b, ty, node)
            return Value(BOOL, self.b.icmp(table[type(op)], ty.llvm, a.ref, b.ref))
        if max(ta.bits, tb.bits) < 64:  # both fit in i64 exactly
            a, b = self.coerce(a, I64, node, True), self.coerce(b, I64, node, True)
            return Value(BOOL, self.b.icmp(_CMP_SIGNED[type(op)], "i64", a.ref, b.ref))
        # a signed and an unsigned, one of them 64-bit: a negative signed side decides alone
        swapped = not ta.signed
        s, u = (b, a) if swapped else (a, b)
        sty = tb if swapped else ta
        s = self.coerce(s, sty, node)
        negative = self.b.icmp("slt", sty.llvm, s.ref, "0")
        s64 = self.coerce(Value(IntType(sty.bits, False), s.ref), U64, node)
        u64 = self.coerce(u, U64, node)
        first, second = (u64, s64) if swapped else (s64, u64)
        unsigned = self.b.icmp(_CMP_UNSIGNED[type(op)], "i64", first.ref, second.ref)
        fixed = _NEG_VS_UNSIGNED[type(op)]
        if swapped and type(op) not in (ast.Eq, ast.NotEq):
            fixed = not fixed
        return Value(BOOL, self.b.select(negative, "i1", "true" if fixed else "false", unsigned))

    def expr_Compare(self: FunctionCodegen, node: ast.Compare) -> Value:
        if len(node.ops) == 1:
            return self.compare_pair(node.ops[0], self.expr(node.left), node.comparators[0], node)
        return self.bool_from_cond(node)

    def compare_pair(self: FunctionCodegen, op: ast.cmpop, left: Value, right: ast.expr, node: ast.AST) -> Value:
        if isinstance(op, (ast.In, ast.NotIn)):
            decl = self.map_of(right)
            if decl is None:
                raise self.err(node, "'in' tests a map: key in some_map", "the right side must be a map")
            present = self.map_contains(decl, left, node)
            if isinstance(op, ast.NotIn):
                return Value(BOOL, self.b.binop("xor", "i1", present.ref, "true"))
            return present
        return self.compare(op, left, self.expr(right), node)

    def bool_from_cond(self: FunctionCodegen, node: ast.expr) -> Value:
        t, f, done = self.b.new_block("true"), self.b.new_block("false"), self.b.new_block("bool")
        self.cond(node, t, f)
        self.b.position(t)
        self.b.br(done)
        self.b.position(f)
        self.b.br(done)
        self.b.position(done)
        return Value(BOOL, self.b.phi("i1", [("true", t), ("false", f)]))

    def cond(self: FunctionCodegen, node: ast.expr, then: Block, other: Block) -> None:
        """Branch on ``node``'s truth, short-circuiting ``and``/``or``/``not`` and chained comparisons."""
        if isinstance(node, ast.BoolOp):
            for value in node.values[:-1]:
                nxt = self.b.new_block("and" if isinstance(node.op, ast.And) else "or")
                if isinstance(node.op, ast.And):
                    self.cond(value, nxt, other)
                else:
                    self.cond(value, then, nxt)
                self.b.position(nxt)
            self.cond(node.values[-1], then, other)
            return
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            self.cond(node.operand, other, then)
            return
        if isinstance(node, ast.Compare) and len(node.ops) > 1:
            left = self.expr(node.left)
            for i, (op, right) in enumerate(zip(node.ops, node.comparators)):
                right_v = self.expr(right)
                c = self.compare_pair_values(op, left, right_v, right, node)
                if i == len(node.ops) - 1:
                    self.branch(c, then, other)
                else:
                    nxt = self.b.new_block("cmp")
                    self.branch(c, nxt, other)
                    self.b.position(nxt)
                left = right_v
            return
        self.branch(self.truth(self.expr(node), node), then, other)

    def compare_pair_values(self: FunctionCodegen, op: ast.cmpop, left: Value, right: Value,
                            right_node: ast.expr, node: ast.AST) -> Value:
        if isinstance(op, (ast.In, ast.NotIn)):
            return self.compare_pair(op, left, right_node, node)
        return self.compare(op, left, right, node)

    def branch(self: FunctionCodegen, c: Value, then: Block, other: Block) -> tuple[Block, ...]:
        """Branch on an ``i1``; a constant becomes a plain jump.  Returns the blocks jumped to."""
        if c.ref == "true":
            self.b.br(then)
            return (then,)
        if c.ref == "false":
            self.b.br(other)
            return (other,)
        self.b.cbr(c.ref, then, other)
        return (then, other)

    # ------------------------------------------------------------ value-producing control flow
    def expr_BoolOp(self: FunctionCodegen, node: ast.BoolOp) -> Value:
        """``a or b`` gives the deciding operand, as in Python (a bool when all are bools)."""
        if all(_is_boolish(v) for v in node.values):
            return self.bool_from_cond(node)
        done = self.b.new_block("boolop")
        # each operand's value, the block it ends in, its truth, and where the next one starts
        arms: list[tuple[Value, Block, Value | None, Block | None]] = []
        last = len(node.values) - 1
        for i, operand in enumerate(node.values):
            raw = self.expr(operand)
            truth = self.truth(raw, operand) if i != last else None  # a reference: is it there?
            v = self.operand_value(raw, operand)
            if truth is None:
                arms.append((v, self.b.block, None, None))
                break
            end = self.b.block
            nxt = self.b.new_block("boolop.next")
            arms.append((v, end, truth, nxt))
            self.b.position(nxt)
        ty = self.join_type([a[0] for a in arms], node)
        incoming: list[tuple[str, Block]] = []
        for v, blk, truth, nxt in arms:
            self.b.position(blk)
            cv = self.truth(v, node) if isinstance(ty, BoolType) else self.coerce(v, ty, node)
            if truth is None or nxt is None:
                self.b.br(done)
                targets: tuple[Block, ...] = (done,)
            elif isinstance(node.op, ast.Or):
                targets = self.branch(truth, done, nxt)
            else:
                targets = self.branch(truth, nxt, done)
            if done in targets:  # a constant operand may skip the join entirely
                incoming.append((cv.ref, blk))
        self.b.position(done)
        return Value(ty, self.b.phi(ty.llvm, incoming))

    def operand_value(self: FunctionCodegen, v: Value, node: ast.expr) -> Value:
        """An ``and``/``or`` operand as a number; a map reference is read only when present (else 0)."""
        if isinstance(v.ty, BoolType):
            return v
        if not (isinstance(v.ty, PtrType) and v.ty.nullable and v.ty.pointee is not None):
            return self.numeric(v, node)
        before = self.b.block
        found, done = self.b.new_block("ref.found"), self.b.new_block("ref.done")
        self.b.cbr(self.b.icmp("ne", "ptr", v.ref, "null"), found, done)
        self.b.position(found)
        loaded = self.numeric(v, node)
        end = self.b.block
        self.b.br(done)
        self.b.position(done)
        zero = "false" if isinstance(loaded.ty, BoolType) else "0"
        return Value(loaded.ty, self.b.phi(loaded.ty.llvm, [(loaded.ref, end), (zero, before)]))

    def join_type(self: FunctionCodegen, values: list[Value], node: ast.AST) -> BpfType:
        if all(isinstance(v.ty, BoolType) for v in values):
            return BOOL
        ty: IntType | None = None
        for v in values:
            if isinstance(v.ty, LitType):
                continue
            it = self.int_type_of(self.numeric(v, node)) if not isinstance(v.ty, IntType) else v.ty
            ty = it if ty is None else _exact_join(ty, it)
        if ty is None:
            return I64
        for v in values:
            if isinstance(v.ty, LitType) and not ty.fits(v.ty.value):
                ty = _exact_join(ty, self.int_type_of(v))
        return ty

    def expr_IfExp(self: FunctionCodegen, node: ast.IfExp) -> Value:
        then, other, done = self.b.new_block("ifexp.then"), self.b.new_block("ifexp.else"), self.b.new_block("ifexp")
        self.cond(node.test, then, other)
        self.b.position(then)
        a = self.expr(node.body)
        a = a if isinstance(a.ty, BoolType) else self.numeric(a, node.body)
        end_a = self.b.block
        self.b.position(other)
        b = self.expr(node.orelse)
        b = b if isinstance(b.ty, BoolType) else self.numeric(b, node.orelse)
        end_b = self.b.block
        ty = self.join_type([a, b], node)
        incoming = []
        for v, blk in ((a, end_a), (b, end_b)):
            self.b.position(blk)
            cv = self.truth(v, node) if isinstance(ty, BoolType) else self.coerce(v, ty, node)
            incoming.append((cv.ref, blk))
            self.b.br(done)
        self.b.position(done)
        return Value(ty, self.b.phi(ty.llvm, incoming))

    # ------------------------------------------------------------ attributes and subscripts
    def expr_Attribute(self: FunctionCodegen, node: ast.Attribute) -> Value:
        ptr, ty = self.field_address(node)
        return self.load(ty, ptr)

    def field_address(self: FunctionCodegen, node: ast.Attribute) -> tuple[str, BpfType]:
        if self.map_of(node.value) is not None:
            raise self.err(node, f"'{node.attr}' of a map can only be called, e.g. m.{node.attr}(key)")
        base = self.aggregate_ref(node.value)
        struct = base.ty
        if not isinstance(struct, StructType):
            raise self.err(node, f"a {show(base.ty)} has no field '{node.attr}'")
        f = struct.field(node.attr)
        if f is None:
            names = ", ".join(x.name for x in struct.fields)
            raise self.err(node, f"struct {struct.name} has no field '{node.attr}'", f"its fields are: {names}")
        return self.b.byte_gep(base.ref, f.offset), f.type

    def aggregate_ref(self: FunctionCodegen, node: ast.expr) -> Value:
        """The address of a struct or array a field or element is taken from."""
        if isinstance(node, ast.Name) and node.id in self.model.globals and node.id not in self.locals:
            g = self.model.globals[node.id]
            return Value(g.ty, f"@{node.id}")
        v = self.expr(node)
        if isinstance(v.ty, PtrType) and v.ty.nullable and v.ty.pointee is not None and v.ty.pointee.aggregate:
            return Value(v.ty.pointee, v.ref)
        if not v.ty.aggregate:
            raise self.err(node, f"a {show(v.ty)} has no fields or elements")
        return v

    def expr_Subscript(self: FunctionCodegen, node: ast.Subscript) -> Value:
        decl = self.map_of(node.value)
        if decl is not None:
            return self.map_get(decl, self.expr(node.slice), None, node)
        if self.is_constant_string(node.value):
            return self.string_byte(node)
        base = self.aggregate_ref(node.value)
        if not isinstance(base.ty, ArrayType):
            raise self.err(node, f"a {show(base.ty)} cannot be indexed")
        return self.element(base, node.slice, node, None)

    def is_constant_string(self: FunctionCodegen, node: ast.expr) -> bool:
        """A string literal, a module constant string, or a local bound once to a string."""
        if isinstance(node, ast.Constant):
            return isinstance(node.value, (str, bytes))
        if isinstance(node, ast.Name) and node.id not in self.locals:
            return node.id in self.string_locals or isinstance(self.model.constants.get(node.id), str)
        return False

    def string_byte(self: FunctionCodegen, node: ast.Subscript) -> Value:
        """``b'x'[0]``: a byte of a constant string, folded (the spelling comparisons with chars use)."""
        data = self.expr(node.value).ty.value  # type: ignore[attr-defined]
        index = self.numeric(self.expr(node.slice), node.slice)
        if not isinstance(index.ty, LitType) or not -len(data) <= index.ty.value < len(data):
            raise self.err(node.slice, f"a constant string takes a constant index in 0..{len(data) - 1}")
        return lit(data[index.ty.value])

    def element(self: FunctionCodegen, base: Value, index_node: ast.expr, node: ast.AST,
                store: Value | None) -> Value:
        """Read (or, with ``store``, write) ``base[index]``."""
        arr = base.ty
        assert isinstance(arr, ArrayType)
        index = self.numeric(self.expr(index_node), index_node)
        if store is not None:
            self.at_element(base, index, index_node, lambda ptr: self.store(store, arr.elem, ptr, node))
            return store
        if arr.elem.aggregate and not isinstance(index.ty, LitType):
            raise self.err(node, "indexing an array of structs or arrays with a variable is not supported yet",
                           "use a constant index")
        result = self.at_element(base, index, index_node, lambda ptr: self.load(arr.elem, ptr))
        assert result is not None
        return result

    def at_element(self: FunctionCodegen, base: Value, index: Value, index_node: ast.expr,
                   action: Callable[[str], Value | None]) -> Value | None:
        """Run ``action`` on the address of ``base[index]`` (``index`` already evaluated, once).

        A constant index is checked here.  A variable one is checked at run
        time, as the verifier demands; a negative one counts from the end, as
        in Python.  Out of range, ``action`` does not run and a read gives 0
        (Python would raise IndexError; BPF cannot).
        """
        arr = base.ty
        assert isinstance(arr, ArrayType)
        if isinstance(index.ty, LitType):
            i = index.ty.value
            if i < 0:
                i += arr.length
            if not 0 <= i < arr.length:
                raise self.err(index_node, f"index {index.ty.value} is out of range for {arr}")
            return action(self.b.byte_gep(base.ref, i * arr.elem.size))
        ity = self.int_type_of(index)
        idx = self.coerce(self.coerce(index, ity, index_node), IntType(64, ity.signed), index_node).ref
        if ity.signed:  # a[-1] is the last element
            negative = self.b.icmp("slt", "i64", idx, "0")
            idx = self.b.select(negative, "i64", self.b.binop("add", "i64", idx, str(arr.length)), idx)
        ok = self.b.icmp("ult", "i64", idx, str(arr.length))
        inside, done = self.b.new_block("index.ok"), self.b.new_block("index.done")
        before = self.b.block
        self.b.cbr(ok, inside, done)
        self.b.position(inside)
        offset = self.b.binop("mul", "i64", idx, str(arr.elem.size))
        result = action(self.b.assign(f"getelementptr inbounds i8, ptr {base.ref}, i64 {offset}", "p"))
        end = self.b.block
        self.b.br(done)
        self.b.position(done)
        if result is None:
            return None
        zero = "false" if isinstance(arr.elem, BoolType) else "0"
        return Value(result.ty, self.b.phi(result.llvm, [(result.ref, end), (zero, before)]))


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


def _int_or_none(ref: str) -> int | None:
    try:
        return int(ref)
    except ValueError:
        return None


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
