"""The builder: one object holding the state of the function being lowered.

As in mypyc's ``irbuild``, the state lives in one :class:`FunctionBuilder`
(the module, the function, the IR builder, locals, loop targets, the current
source line) and the constructs are lowered by free functions, one module per
family (``expressions``, ``operators``, ``maps``, ``events``, ``calls``,
``statements``), found through explicit dispatch tables (ast node type ->
function).  The builder itself only does what every family needs: errors and
locations, stack memory, loads and stores, and conversions between typed
values.  ``function.py`` assembles the tables and drives one function.
"""

from __future__ import annotations

from .. import pyast as ast
from ..frontend.model import FunctionDecl, ModuleModel
from ..frontend.resolve import builtin_name
from ..tables import STACK_HINT, STACK_LIMIT
from ..types import (
    BOOL,
    CHAR,
    I64,
    U8,
    U64,
    AddrType,
    ArrayType,
    BoolType,
    BpfType,
    CharType,
    IntType,
    MapRefType,
    PtrType,
    VoidType,
    common_int,
    mem_llvm,
    natural_align,
)
from .ir import Builder, FunctionIR, Value, ir_string
from .values import LitType, Local, Loop, NoneType_, StrType, char_literal, is_intlike, show

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds of every compile
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from ..core import KernelTypes
    from ..debuginfo import DebugInfo
    from ..frontend.model import MapDecl

    class ModuleCodegen(Protocol):
        """What a function's builder uses of the module being generated (module.py's
        ModuleCodegen): a protocol, so this module does not import module.py back."""

        model: ModuleModel
        line_info: bool
        has_atomics: bool
        debug: DebugInfo

        def string_constant(self, data: bytes) -> str: ...

        def kernel_types(self) -> KernelTypes: ...

        def fixed_layout(self, what: str) -> None: ...

    # each function takes its own node type (ast.BinOp, ast.If...): Any, not ast.expr
    ExprTable = dict[type[ast.expr], Callable[["FunctionBuilder", Any], Value]]
    StmtTable = dict[type[ast.stmt], Callable[["FunctionBuilder", Any], None]]

# What an unsupported construct is called in an error, and what to do instead.
UNSUPPORTED_EXPRESSIONS = {
    "List": ("a list", "BPF has no heap: declare a fixed-size array, which starts zeroed "
             "(a: Annotated[list[u64], N] = [], or a field), or use a map"),
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
UNSUPPORTED_STATEMENTS = {
    "Try": ("try/except", "BPF has no exceptions: check values with if"),
    "TryStar": ("try/except*", "BPF has no exceptions: check values with if"),
    "Raise": ("raise", "BPF has no exceptions: return an error code instead"),
    "With": ("with", "BPF has no context managers"),
    "AsyncWith": ("async with", "BPF programs are not async"),
    "AsyncFor": ("async for", "BPF programs are not async"),
    "FunctionDef": ("a nested function", "define it at module level with annotated parameters"),
    "AsyncFunctionDef": ("an async function", "BPF programs are not async"),
    "ClassDef": ("a class inside a function", "declare @struct classes at module level"),
    "Import": ("import inside a function", "import at the top of the module"),
    "ImportFrom": ("import inside a function", "import at the top of the module"),
    "Match": ("match", "use if/elif chains"),
    "Nonlocal": ("nonlocal", "use a module-level global"),
    "TypeAlias": ("a type alias", "declare types at module level"),
}


class FunctionBuilder:
    """The state of one BPF function being lowered, and the operations every construct uses."""

    def __init__(self, module: ModuleCodegen, decl: FunctionDecl, expressions: ExprTable,
                 statements: StmtTable) -> None:
        self.module = module
        self.expressions = expressions  # ast node type -> lowering function (expressions.py, calls.py)
        self.statements = statements  # ast statement type -> lowering function (statements.py)
        self.model: ModuleModel = module.model
        self.decl = decl
        self.src = self.model.source
        ret_llvm = decl.ret.llvm
        params = [(t.llvm, f"arg.{n}") for n, t in decl.params]
        local = decl.section is None
        self.scope = module.debug.subprogram(decl.name, decl.node.lineno, None if isinstance(decl.ret, VoidType) else decl.ret, decl.params, local)
        extra = "#0"
        if decl.section is not None:
            extra += f" section {ir_string(decl.section.encode())}"
        extra += f" !dbg !{self.scope}"
        self.fn = FunctionIR(decl.name, ret_llvm, params, extra)
        if local:
            self.fn.linkage = "internal"
        self.b = Builder(self.fn)
        if not module.line_info:
            # One location for the whole function: calls need one (LLVM insists), and the
            # object then carries no per-statement Python lines
            self.b.dbg = module.debug.location(decl.node.lineno, 0, self.scope)
        self.locals: dict[str, Local] = {}
        self.global_names: set[str] = set()
        self.loops: list[Loop] = []
        # loop variables whose values inside their loop's body are known: for i in range(8)
        # with i never assigned in the body gives {'i': (0, 7)} (indices need no run-time check)
        self.bounds: dict[str, tuple[int, int]] = {}
        self.stack_bytes = 0
        self.string_locals: dict[str, Value] = {}  # names bound once to a string constant
        self.fresh: set[str] = set()  # temporaries a new local may adopt instead of copying
        self.scratch: dict[tuple[str, str], str] = {}  # reusable key/value slots for helpers
        self.node: ast.AST = decl.node
        # header references (ctx.header()) tested for None on every path to this point
        # (codegen/packet.py: narrowing); only these may be read through
        self.narrowed: frozenset[str] = frozenset()
        # header references a packet-changing helper invalidated on some path to this point,
        # with what did it (packet.packet_changed): they must be taken again
        self.stale: dict[str, str] = {}
        # ctx.header() calls whose reference is tested right away (packet.tested_at_once),
        # worked out on the first one
        self.headers_tested_at_once: frozenset[int] | None = None
        self.assigned = _assigned_names(decl.node)  # Python makes these local to the whole function

    # ------------------------------------------------------------ dispatch
    def expr(self, node: ast.expr) -> Value:
        """Lower an expression through the expression table."""
        handler = self.expressions.get(type(node))
        if handler is None:
            what, hint = UNSUPPORTED_EXPRESSIONS.get(type(node).__name__, (type(node).__name__, None))
            raise self.err(node, f"{what} is not supported in BPF code", hint)
        return handler(self, node)

    def statement(self, stmt: ast.stmt) -> None:
        """Lower a statement through the statement table, tagged with its line."""
        self.at(stmt)
        handler = self.statements.get(type(stmt))
        if handler is None:
            what, hint = UNSUPPORTED_STATEMENTS.get(type(stmt).__name__, (type(stmt).__name__, None))
            raise self.err(stmt, f"{what} is not supported in BPF code", hint)
        handler(self, stmt)

    def block_of(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.statement(stmt)


    def err(self, node: ast.AST | None, message: str, hint: str | None = None) -> Exception:
        return self.src.error(node if node is not None else self.node, message, hint)

    def at(self, node: ast.AST) -> None:
        """Tag the instructions that follow with ``node``'s line (BTF line info)."""
        self.node = node
        line = getattr(node, "lineno", None)
        if line is not None and self.module.line_info:
            col = getattr(node, "col_offset", 0) + 1
            self.b.dbg = self.module.debug.location(line, col, self.scope)

    def at_end(self) -> None:
        if not self.module.line_info:
            return
        last = self.decl.node.body[-1]
        line = getattr(last, "end_lineno", None) or last.lineno
        self.b.dbg = self.module.debug.location(line, 0, self.scope)

    def return_default(self) -> None:
        if isinstance(self.decl.ret, VoidType):
            self.b.ret("void", None)
        else:
            self.b.ret(self.decl.ret.llvm, "0")

    def collect_globals(self, fn: ast.FunctionDef) -> None:
        for node in ast.walk(fn):
            if isinstance(node, ast.Global):
                for name in node.names:
                    if name not in self.model.globals:
                        self.node = node
                        raise self.err(node, f"'global {name}': '{name}' is not a module-level global",
                                       f"declare it at module level, e.g. {name}: u64 = 0")
                    self.global_names.add(name)
            elif isinstance(node, ast.Nonlocal):
                raise self.err(node, "nonlocal is not supported in BPF functions")

    def alloca(self, ty: BpfType, hint: str = "v") -> str:
        if ty.aggregate:
            self.stack_bytes += (ty.size + 7) // 8 * 8
            if self.stack_bytes > STACK_LIMIT:
                raise self.err(self.node, f"'{self.decl.name}' needs more than {STACK_LIMIT} bytes of "
                               f"BPF stack (this {ty} takes {ty.size})", STACK_HINT)
        # "l." keeps stack slots apart from temporaries (%r163) and block labels (%cmp.2)
        return self.b.alloca(ty, "l." + _ident(hint) + ".", natural_align(ty))

    def temp_aggregate(self, ty: BpfType, zero: bool = True) -> Value:
        ptr = self.alloca(ty, "tmp")
        self.fresh.add(ptr)
        if zero:
            self.b.memset(ptr, ty.size, ty.align)
        return Value(ty, ptr)

    def slot(self, role: str, ty: BpfType) -> str:
        key = (role, ty.spec)
        if key not in self.scratch:
            self.scratch[key] = self.alloca(ty, role)
        return self.scratch[key]

    def load(self, ty: BpfType, ptr: str, volatile: bool = False) -> Value:
        """Read a value of ``ty`` at ``ptr`` (aggregates are returned by address)."""
        if ty.aggregate:
            return Value(ty, ptr)
        raw = self.b.load(mem_llvm(ty), ptr, ty.align, volatile)
        if isinstance(ty, BoolType):
            raw = self.b.cast("trunc", "i8", raw, "i1")
        return Value(ty, raw)

    def store(self, value: Value, ty: BpfType, ptr: str, node: ast.AST) -> None:
        """Write ``value`` (converted to ``ty``) to ``ptr``; aggregates are copied."""
        if ty.aggregate:
            src = self.coerce_aggregate(value, ty, node)
            if src is None:  # a zero initialiser
                self.b.memset(ptr, ty.size, ty.align)
            elif src.ref != ptr:
                self.b.memcpy(ptr, src.ref, ty.size, ty.align)
            return
        v = self.coerce(value, ty, node)
        ref = self.bool_byte(v.ref) if isinstance(ty, BoolType) else v.ref
        self.b.store(mem_llvm(ty), ref, ptr, ty.align)

    def bool_byte(self, ref: str) -> str:
        """An ``i1`` as the byte that stores it."""
        if ref in ("true", "false"):
            return "1" if ref == "true" else "0"
        return self.b.cast("zext", "i1", ref, "i8")

    def coerce_aggregate(self, value: Value, ty: BpfType, node: ast.AST) -> Value | None:
        if isinstance(value.ty, LitType) and value.ty.value == 0:
            return None
        if isinstance(value.ty, PtrType) and value.ty.pointee == ty:
            return Value(ty, value.ref)  # a map value reference: copy what it points at
        if isinstance(value.ty, StrType) and isinstance(ty, ArrayType) and ty.elem == CHAR:
            data = value.ty.value
            if len(data) > ty.length:
                raise self.err(node, f"string of {len(data)} bytes does not fit in {ty}")
            return Value(ty, self.module.string_constant(data.ljust(ty.length, b"\0")))
        if isinstance(value.ty, ArrayType) and isinstance(ty, ArrayType) and value.ty.size == ty.size \
                and value.ty.elem.size == ty.elem.size == 1 and not value.ty.elem.aggregate:
            return Value(ty, value.ref)  # bytes as bytes: a header's u8[6] MAC into a char[6] field
        if value.ty != ty:
            raise self.err(node, f"cannot use a value of type {show(value.ty)} as {show(ty)}")
        return value

    def numeric(self, v: Value, node: ast.AST) -> Value:
        """A value usable in arithmetic: map references are read, chars are bytes."""
        if isinstance(v.ty, PtrType) and v.ty.nullable and v.ty.pointee is not None:
            if not (is_intlike(v.ty.pointee)):
                raise self.err(node, f"this map value is a {show(v.ty.pointee)}, not a number",
                               "read one of its fields, e.g. v.count")
            return self.numeric(self.load(v.ty.pointee, v.ref), node)
        if isinstance(v.ty, CharType):
            return Value(U8, v.ref)
        if isinstance(v.ty, (IntType, LitType, BoolType)):
            return v
        if isinstance(v.ty, PtrType) and not v.ty.nullable:
            return self.address(v)
        raise self.err(node, f"a {show(v.ty)} is not a number")

    def address(self, v: Value) -> Value:
        """A pointer as the ``u64`` address it holds, still knowing where it points."""
        assert isinstance(v.ty, PtrType)
        return Value(AddrType(v.ty.space), self.b.cast("ptrtoint", "ptr", v.ref, "i64"))

    def coerce(self, v: Value, ty: BpfType, node: ast.AST, explicit: bool = False) -> Value:
        """Convert a scalar to ``ty``: literals are range-checked, ints extend or truncate."""
        if v.ty == ty:
            return v
        if isinstance(ty, PtrType):
            if isinstance(v.ty, PtrType) and not explicit and not ty.nullable \
                    and "unknown" not in (v.ty.space, ty.space) and v.ty.space != ty.space:
                raise self.err(node, f"cannot use a {show(v.ty)} as a {show(ty)}: they point "
                               "into different memory", "a pointer keeps the memory it points "
                               "into; convert explicitly if you are sure: UserPtr[T](p)")
            if isinstance(v.ty, PtrType) or isinstance(v.ty, NoneType_):
                return Value(ty, v.ref)
            if isinstance(v.ty, (IntType, LitType)) and explicit:
                src = self.coerce(v, U64, node, True)
                return Value(ty, self.b.cast("inttoptr", "i64", src.ref, "ptr"))
            raise self.err(node, f"cannot use a {show(v.ty)} as a pointer")
        if isinstance(ty, CharType):
            byte = char_literal(v)
            return Value(CHAR, str(byte) if byte is not None else self.coerce(v, U8, node, explicit).ref)
        if isinstance(ty, BoolType):
            return self.truth(v, node)
        if not isinstance(ty, IntType):
            raise self.err(node, f"cannot convert {show(v.ty)} to {show(ty)}")
        if isinstance(v.ty, PtrType) and not v.ty.nullable:
            if ty.bits != 64 and not explicit:
                raise self.err(node, f"a {show(v.ty)} is a 64-bit address; {ty} would cut it",
                               f"store it in a u64 (or write {ty}(...) to cut it on purpose)")
            v = self.address(v)
            if v.ty == ty:
                return v  # a u64: still an address, and still known where
        v = self.numeric(v, node)
        if isinstance(v.ty, LitType):
            value = v.ty.value
            if not ty.fits(value):
                if not explicit:
                    raise self.err(node, f"{value} does not fit in {ty}",
                                   f"{ty} holds {ty.min}..{ty.max}; write {ty}({value}) to wrap it")
                value = ty.wrap(value)
            return Value(ty, str(value))
        if isinstance(v.ty, BoolType):
            return Value(ty, self.b.cast("zext", "i1", v.ref, ty.llvm))
        assert isinstance(v.ty, IntType)
        if v.ty.bits == ty.bits:
            return Value(ty, v.ref)
        if v.ty.bits > ty.bits:
            return Value(ty, self.b.cast("trunc", v.ty.llvm, v.ref, ty.llvm))
        op = "sext" if v.ty.signed else "zext"
        return Value(ty, self.b.cast(op, v.ty.llvm, v.ref, ty.llvm))

    def truth(self, v: Value, node: ast.AST) -> Value:
        """Python truthiness as an ``i1``: non-zero ints, present map values."""
        if isinstance(v.ty, BoolType):
            return v
        if isinstance(v.ty, LitType):
            return Value(BOOL, "true" if v.ty.value else "false")
        if isinstance(v.ty, NoneType_):
            return Value(BOOL, "false")
        if isinstance(v.ty, PtrType):
            return Value(BOOL, self.b.icmp("ne", "ptr", v.ref, "null"))
        if isinstance(v.ty, (IntType, CharType)):
            return Value(BOOL, self.b.icmp("ne", v.ty.llvm, v.ref, "0"))
        raise self.err(node, f"a {show(v.ty)} has no truth value",
                       "compare a field or element instead")

    def default_type(self, v: Value) -> BpfType:
        """The type a new local takes from its first value."""
        if isinstance(v.ty, LitType):
            return I64 if I64.fits(v.ty.value) else U64
        if isinstance(v.ty, CharType):
            return U8
        if isinstance(v.ty, VoidType):
            raise self.err(self.node, "this call returns nothing, so its result cannot be stored",
                           "call it as a statement of its own")
        if isinstance(v.ty, (StrType, NoneType_)):
            raise self.err(self.node, f"a local cannot hold a {show(v.ty)}",
                           "strings can be printed or stored in c_char * N fields")
        if isinstance(v.ty, IntType) and v.ty.align != v.ty.size and not isinstance(v.ty, AddrType):
            return IntType(v.ty.bits, v.ty.signed)  # read from a packed struct: aligned here
        return v.ty

    def int_type_of(self, v: Value) -> IntType:
        if isinstance(v.ty, IntType):
            return v.ty
        if isinstance(v.ty, LitType):
            return I64 if I64.fits(v.ty.value) else U64
        return I64  # bool: Python's int

    def unify(self, a: Value, b: Value) -> IntType:
        """The type a binary operation on ``a`` and ``b`` is computed in."""
        ta, tb = self.int_type_of(a), self.int_type_of(b)
        if isinstance(a.ty, LitType):
            return tb if tb.fits(a.ty.value) else common_int(ta, tb)
        if isinstance(b.ty, LitType):
            return ta if ta.fits(b.ty.value) else common_int(ta, tb)
        return common_int(ta, tb)

    def builtin(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Name) and node.id in self.locals:
            return None
        return builtin_name(self.model, node)

    def map_of(self, node: ast.expr) -> MapDecl | None:
        """The map an expression names: ``m`` or pythonbpf's ``m()``; or an inner map of a
        map of maps: a local holding one, ``outer[k]`` or ``outer.lookup(k)`` (whose
        operations then run only when it is there: ``maps.when_present``)."""
        if isinstance(node, ast.Call) and not node.args and not node.keywords:
            node = node.func
        if isinstance(node, ast.Name) and node.id not in self.locals:
            return self.model.maps.get(node.id)
        if isinstance(node, ast.Name):
            local = self.locals[node.id]
            if isinstance(local.ty, MapRefType):
                return self._inner_map(local.ty, self.load(local.ty, local.ptr).ref, node.id)
            return None
        if isinstance(node, ast.Subscript):
            outer = self.map_of(node.value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "lookup":
            outer = self.map_of(node.func.value)
        else:
            return None
        if outer is None or not isinstance(outer.value, MapRefType):
            return None
        ref = self.expr(node)
        return self._inner_map(outer.value, ref.ref, ast.unparse(node))

    def _inner_map(self, ty: MapRefType, ref: str, name: str) -> MapDecl:
        template: MapDecl = ty.template
        return template.through(ref, name)

    def no_args(self, node: ast.Call, name: str) -> None:
        if node.args or node.keywords:
            raise self.err(node, f"{name}() takes no arguments")

    def one_arg(self, node: ast.Call, name: str) -> ast.expr:
        if len(node.args) != 1 or node.keywords:
            raise self.err(node, f"{name}() takes exactly one argument")
        return node.args[0]


def _assigned_names(fn: ast.FunctionDef) -> dict[str, int]:
    """How often a function binds each name: Python makes them local to the whole function."""
    names: dict[str, int] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names[node.id] = names.get(node.id, 0) + 1
    return names


def _ident(hint: str) -> str:
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch == "_") else "_" for ch in hint) or "v"


__all__ = ["UNSUPPORTED_EXPRESSIONS", "UNSUPPORTED_STATEMENTS", "FunctionBuilder"]
