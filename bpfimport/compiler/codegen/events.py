"""Event streams to user space: ring buffers and perf event arrays.

``rb.output(obj)``, ``e = rb.reserve(Event)`` … ``rb.submit(e)`` /
``rb.discard(e)``, and ``pe.output(obj)`` (on the current CPU).  The struct a
map carries is recorded so that ``mod.events.poll(cb)`` hands the callback
instances of it.
"""

from __future__ import annotations

import ast

from ..frontend.model import MapDecl
from ..frontend.resolve import const_int, resolve_type
from ..helpers import Helper
from ..types import I64, BpfType, PtrType, StructType
from .ir import Value

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds of every compile
if TYPE_CHECKING:
    from .function import FunctionCodegen

BPF_F_CURRENT_CPU = 0xFFFFFFFF
_METHODS = {
    "RingBuffer": ("output", "reserve", "submit", "discard"),
    "PerfEventArray": ("output",),
}


class EventsMixin:
    def event_method(self: FunctionCodegen, decl: MapDecl, method: str, node: ast.Call) -> Value:
        allowed = _METHODS.get(decl.kind, ())
        if method not in allowed:
            listed = ", ".join(allowed) or "none in BPF code yet"
            raise self.err(node, f"{decl.kind} '{decl.name}' has no method '{method}'",
                           f"its methods are: {listed}")
        return getattr(self, f"event_{method}")(decl, node)

    # ------------------------------------------------------------ arguments
    def event_args(self: FunctionCodegen, node: ast.Call, name: str, count: int) -> list[ast.expr]:
        if not 1 <= len(node.args) <= count:
            raise self.err(node, f"{name}() takes 1 to {count} arguments" if count > 1
                           else f"{name}() takes one argument")
        return node.args

    def event_flags(self: FunctionCodegen, args: list[ast.expr], index: int) -> str:
        if len(args) <= index:
            return "0"
        flags = const_int(self.model, args[index])
        if flags is None or flags < 0:
            raise self.err(args[index], "flags must be a non-negative constant")
        return str(flags)

    def event_data(self: FunctionCodegen, decl: MapDecl, node: ast.expr) -> tuple[str, BpfType]:
        """The address and type of what is sent: a struct, an array, a reservation or a number."""
        v = self.expr(node)
        if isinstance(v.ty, PtrType) and v.ty.nullable and v.ty.pointee is not None:
            ty: BpfType = v.ty.pointee
            ptr = v.ref
        elif v.ty.aggregate:
            ty, ptr = v.ty, v.ref
        else:
            v = self.numeric(v, node)
            ty = self.int_type_of(v)
            ptr = self.slot("event", ty)
            self.store(v, ty, ptr, node)
        self.note_event_type(decl, ty)
        return ptr, ty

    def note_event_type(self: FunctionCodegen, decl: MapDecl, ty: BpfType) -> None:
        if ty not in decl.event_types:
            decl.event_types.append(ty)

    # ------------------------------------------------------------ ring buffer
    def event_output(self: FunctionCodegen, decl: MapDecl, node: ast.Call) -> Value:
        args = self.event_args(node, "output", 2)
        ptr, ty = self.event_data(decl, args[0])
        flags = self.event_flags(args, 1)
        mp = f"@{decl.name}"
        if decl.kind == "RingBuffer":
            r = self.b.call_helper(Helper.RINGBUF_OUTPUT, "i64",
                                   [("ptr", mp), ("ptr", ptr), ("i64", str(ty.size)), ("i64", flags)])
            return Value(I64, r)
        if flags == "0":
            flags = str(BPF_F_CURRENT_CPU)
        r = self.b.call_helper(Helper.PERF_EVENT_OUTPUT, "i64", [
            ("ptr", self.program_ctx(node)), ("ptr", mp), ("i64", flags), ("ptr", ptr), ("i64", str(ty.size))])
        return Value(I64, r)

    def event_reserve(self: FunctionCodegen, decl: MapDecl, node: ast.Call) -> Value:
        """``e = rb.reserve(Event)``: a reference to fill in (None when the buffer is full)."""
        (arg,) = self.event_args(node, "reserve", 1)
        ty = resolve_type(self.model, arg)
        if ty is None or not isinstance(ty, StructType) and not ty.aggregate:
            raise self.err(arg, "reserve() takes a @struct type", "e = events.reserve(Event)")
        self.note_event_type(decl, ty)
        r = self.b.call_helper(Helper.RINGBUF_RESERVE, "ptr",
                               [("ptr", f"@{decl.name}"), ("i64", str(ty.size)), ("i64", "0")])
        return Value(PtrType(ty, nullable=True), r)

    def event_submit(self: FunctionCodegen, decl: MapDecl, node: ast.Call) -> Value:
        return self.end_reservation(decl, node, "submit", Helper.RINGBUF_SUBMIT)

    def event_discard(self: FunctionCodegen, decl: MapDecl, node: ast.Call) -> Value:
        return self.end_reservation(decl, node, "discard", Helper.RINGBUF_DISCARD)

    def end_reservation(self: FunctionCodegen, decl: MapDecl, node: ast.Call, name: str, helper: int) -> Value:
        args = self.event_args(node, name, 2)
        v = self.expr(args[0])
        if not (isinstance(v.ty, PtrType) and v.ty.nullable):
            raise self.err(args[0], f"{name}() takes what reserve() returned",
                           f"e = {decl.name}.reserve(Event); if e: ...; {decl.name}.{name}(e)")
        self.b.call_helper(helper, "i64", [("ptr", v.ref), ("i64", self.event_flags(args, 1))])
        return Value(I64, "0")

    def program_ctx(self: FunctionCodegen, node: ast.AST) -> str:
        """The program's context argument, which perf output needs."""
        if self.decl.section is None or not self.decl.params:
            raise self.err(node, "perf output needs the program's context",
                           "call output() in the program itself, or use a RingBuffer")
        name = self.decl.params[0][0]
        local = self.locals.get(name)
        if local is None or not isinstance(local.ty, PtrType):
            raise self.err(node, f"perf output needs the context, but '{name}' was reassigned")
        return self.load(local.ty, local.ptr).ref
