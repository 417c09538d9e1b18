"""The types each event map carries, inferred before codegen so the model is final.

User space decodes what ``rb.output(obj)`` / ``rb.reserve(Event)`` send as
instances of that type (``mod.events.poll(cb)``), so the spec needs it.  This
pass finds every ``output``/``reserve`` call on an event map and types its
argument the way the codegen will: locals take the type of their first
binding (or their annotation), in source order.  An argument it cannot type
here makes the map's types unknown (``None``: user space then gets bytes);
the codegen checks what it sends against what was inferred, so a
disagreement is an internal error, never a wrong decoder.
"""

from __future__ import annotations

from .. import pyast as ast
from ..helpers import HELPERS
from ..types import (
    BOOL,
    CHAR,
    I64,
    U8,
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
from .model import FunctionDecl, MapDecl, ModuleModel
from .resolve import builtin_name, const_int, resolve_type

# A helper's result type, from the registry's spelling.
_RESULTS: dict[str, BpfType] = {"u64": U64, "u32": IntType(32, False), "i64": I64,
                                "c_char * 16": ArrayType(CHAR, 16)}


def infer_event_types(model: ModuleModel) -> None:
    """Give every event map of ``model`` the tuple of types its programs send."""
    found: dict[str, list[BpfType] | None] = {
        name: [] for name, m in model.maps.items() if m.map_kind.events}
    if not found:
        return
    for decl in model.functions.values():
        _FunctionTypes(model, decl, found).block(decl.node.body)
    for name, types in found.items():
        model.maps[name] = model.maps[name].with_event_types(
            tuple(types) if types is not None else None)


def sent_type(ty: BpfType | None) -> BpfType | None:
    """What ``output(x)`` sends for an ``x`` of type ``ty`` (numbers go as their int type)."""
    if ty is None:
        return None
    if isinstance(ty, PtrType):
        return ty.pointee if ty.nullable else U64  # a pointer goes as its address
    if ty.aggregate or isinstance(ty, IntType):
        return ty
    if isinstance(ty, CharType):
        return U8
    if isinstance(ty, BoolType):
        return I64  # Python's int
    return None


class _FunctionTypes:
    """The types of one function's locals, in source order, and the event calls it makes."""

    def __init__(self, model: ModuleModel, decl: FunctionDecl,
                 found: dict[str, list[BpfType] | None]) -> None:
        self.model = model
        self.found = found
        self.locals: dict[str, BpfType | None] = dict(decl.params)
        self.locals.update((a.name, a.ty) for a in decl.probe_args)
        # names declared 'global': assigning them stores to the global, not to a new local
        self.global_names = {name for node in ast.walk(decl.node) if isinstance(node, ast.Global)
                             for name in node.names}

    # ------------------------------------------------------------ statements, in order
    def block(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.statement(stmt)

    def statement(self, stmt: ast.stmt) -> None:
        for field, value in ast.iter_fields(stmt):
            if field in ("body", "orelse"):
                continue  # nested statements: in order, below
            for part in value if isinstance(value, list) else [value]:
                if isinstance(part, ast.AST):
                    for node in ast.walk(part):
                        if isinstance(node, ast.Call):
                            self.event_call(node)
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            self.locals.setdefault(stmt.target.id, resolve_type(self.model, stmt.annotation))
        elif isinstance(stmt, ast.Assign):
            self.assign(stmt)
        elif isinstance(stmt, ast.For) and isinstance(stmt.target, ast.Name):
            self.locals.setdefault(stmt.target.id, None)  # the counter's type: codegen's rules
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and not isinstance(stmt, ast.FunctionDef):
                self.block(inner)

    def assign(self, stmt: ast.Assign) -> None:
        for target in stmt.targets:
            if isinstance(target, ast.Name):
                self.bind(target.id, stmt.value)
            elif isinstance(target, ast.Tuple) and isinstance(stmt.value, ast.Tuple):
                for t, v in zip(target.elts, stmt.value.elts):
                    if isinstance(t, ast.Name):
                        self.bind(t.id, v)

    def bind(self, name: str, value: ast.expr) -> None:
        if name in self.locals or name in self.global_names:
            return  # the first binding decides a local's type; globals keep theirs
        ty = self.type_of(value)
        literal = const_int(self.model, value)
        if ty is None and literal is not None:
            ty = I64 if I64.fits(literal) else U64
        if isinstance(ty, CharType):
            ty = U8
        self.locals[name] = ty

    # ------------------------------------------------------------ event calls
    def event_map(self, node: ast.expr) -> MapDecl | None:
        if isinstance(node, ast.Name) and node.id not in self.locals:
            m = self.model.maps.get(node.id)
            if m is not None and m.map_kind.events:
                return m
        return None

    def event_call(self, call: ast.Call) -> None:
        func = call.func
        if not isinstance(func, ast.Attribute) or not call.args:
            return
        m = self.event_map(func.value)
        if m is None:
            return
        if func.attr == "reserve":
            ty = resolve_type(self.model, call.args[0])
            self.note(m, ty if ty is not None and ty.aggregate else None, known=ty is not None)
        elif func.attr == "output":
            arg = call.args[0]
            ty = sent_type(self.type_of(arg))
            literal = const_int(self.model, arg)
            if ty is None and literal is not None and self.type_of(arg) is None:
                ty = I64 if I64.fits(literal) else U64
            self.note(m, ty, known=True)

    def note(self, m: MapDecl, ty: BpfType | None, known: bool) -> None:
        if not known:
            return  # not a type: the codegen reports the error at this call
        types = self.found[m.name]
        if ty is None:
            self.found[m.name] = None
        elif types is not None and ty not in types:
            types.append(ty)

    # ------------------------------------------------------------ expressions
    def type_of(self, node: ast.expr) -> BpfType | None:
        """The type the codegen gives ``node``, where it is simple to know; None otherwise."""
        if isinstance(node, ast.Name):
            if node.id in self.locals and node.id not in self.global_names:
                return self.locals[node.id]
            g = self.model.globals.get(node.id)
            return g.ty if g is not None else None
        if isinstance(node, ast.Attribute):
            base = self.type_of(node.value)
            if isinstance(base, PtrType):  # a map value reference, or p.field through a pointer
                base = base.pointee
            if isinstance(base, StructType):
                f = base.field(node.attr)
                return f.type if f is not None else None
            return None
        if isinstance(node, ast.Subscript):
            return self.subscript_type(node)
        if isinstance(node, ast.Call):
            return self.call_type(node)
        if isinstance(node, ast.BinOp) and not isinstance(node.op, (ast.LShift, ast.RShift, ast.Pow)):
            return self.binop_type(node)
        if isinstance(node, ast.Compare) or (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)):
            return BOOL
        return None

    def binop_type(self, node: ast.BinOp) -> BpfType | None:
        """The codegen's rule: the wider type (unsigned at equal width); a literal takes the other's."""
        a, b = self.type_of(node.left), self.type_of(node.right)
        if isinstance(a, IntType) and isinstance(b, IntType):
            return common_int(a, b)
        for typed, other in ((a, node.right), (b, node.left)):
            literal = const_int(self.model, other)
            if isinstance(typed, IntType) and literal is not None and self.type_of(other) is None:
                return typed if typed.fits(literal) else common_int(typed, I64 if I64.fits(literal) else U64)
        return None

    def subscript_type(self, node: ast.Subscript) -> BpfType | None:
        if isinstance(node.value, ast.Name) and node.value.id not in self.locals:
            m = self.model.maps.get(node.value.id)
            if m is not None:
                return m.value
        base = self.type_of(node.value)
        if isinstance(base, PtrType):  # a map value reference, or p[i] through a pointer
            return base.pointee if not base.nullable else (
                base.pointee.elem if isinstance(base.pointee, ArrayType) else None)
        return base.elem if isinstance(base, ArrayType) else None

    def call_type(self, call: ast.Call) -> BpfType | None:
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
                and func.value.id not in self.locals and func.value.id in self.model.maps:
            return self.method_type(self.model.maps[func.value.id], func.attr, call)
        if isinstance(func, ast.Name) and func.id not in self.locals:
            if func.id in self.model.structs:
                return self.model.structs[func.id]
            if func.id in self.model.functions:
                return self.model.functions[func.id].ret
        name = builtin_name(self.model, func)
        helper = HELPERS.get(name) if name is not None else None
        if helper is not None:
            if helper.name == "comm" and call.args:
                return I64
            if helper.lower == "read":  # read_user(T, addr) is a T
                return resolve_type(self.model, call.args[0]) if call.args else None
            return _RESULTS.get(helper.ret)
        if name is not None:
            return resolve_type(self.model, func)  # a cast: u32(x), bool(x)
        return None

    def method_type(self, m: MapDecl, method: str, call: ast.Call) -> BpfType | None:
        if method == "lookup" and m.value is not None:
            return PtrType(m.value, nullable=True, space="map")
        if method == "get":
            return m.value
        if method == "reserve" and call.args:
            ty = resolve_type(self.model, call.args[0])
            return PtrType(ty, nullable=True, space="map") if ty is not None else None
        if method in ("update", "delete", "output"):
            return I64
        return None


__all__ = ["infer_event_types", "sent_type"]
