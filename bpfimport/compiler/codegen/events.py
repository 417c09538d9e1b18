"""Event streams to user space: ring buffers and perf event arrays.

``rb.output(obj)``, ``e = rb.reserve(Event)`` … ``rb.submit(e)`` /
``rb.discard(e)``, and ``pe.output(obj)`` (on the current CPU).  Which methods
a kind has is its ``MapKind.ops``; how ``output`` is lowered, its
``MapKind.family``.  The types a map carries were inferred by the
frontend (``frontend/events.py``), so that ``mod.events.poll(cb)`` hands the
callback instances of them; what is sent here is checked against them.
"""

from __future__ import annotations

from .. import pyast as ast
from ..frontend.model import MapDecl
from ..frontend.resolve import const_int, resolve_type
from ..helpers import Helper
from ..tables import BUG_HINT
from ..types import I64, BpfType, PtrType, StructType
from .builder import FunctionBuilder
from .ir import Value
from .values import show

BPF_F_CURRENT_CPU = 0xFFFFFFFF


def event_method(fb: FunctionBuilder, decl: MapDecl, method: str, node: ast.Call) -> Value:
    """A method of an event map: the ones its kind allows (``MapKind.ops``)."""
    allowed = decl.map_kind.ops
    if method not in allowed:
        listed = ", ".join(allowed) or "none in BPF code yet"
        raise fb.err(node, f"{decl.kind} '{decl.name}' has no method '{method}'",
                     f"its methods are: {listed}")
    return EVENT_METHODS[method](fb, decl, node)


def event_args(fb: FunctionBuilder, node: ast.Call, name: str, count: int) -> list[ast.expr]:
    if not 1 <= len(node.args) <= count:
        raise fb.err(node, f"{name}() takes 1 to {count} arguments" if count > 1
                     else f"{name}() takes one argument")
    return node.args


def event_flags(fb: FunctionBuilder, args: list[ast.expr], index: int) -> str:
    if len(args) <= index:
        return "0"
    flags = const_int(fb.model, args[index])
    if flags is None or flags < 0:
        raise fb.err(args[index], "flags must be a non-negative constant")
    return str(flags)


def event_data(fb: FunctionBuilder, decl: MapDecl, node: ast.expr) -> tuple[str, BpfType]:
    """The address and type of what is sent: a struct, an array, a reservation or a number."""
    v = fb.expr(node)
    if isinstance(v.ty, PtrType) and v.ty.nullable and v.ty.pointee is not None:
        ty: BpfType = v.ty.pointee
        ptr = v.ref
    elif v.ty.aggregate:
        ty, ptr = v.ty, v.ref
    else:
        v = fb.numeric(v, node)
        ty = fb.int_type_of(v)
        ptr = fb.slot("event", ty)
        fb.store(v, ty, ptr, node)
    check_event_type(fb, decl, ty, node)
    return ptr, ty


def check_event_type(fb: FunctionBuilder, decl: MapDecl, ty: BpfType, node: ast.AST) -> None:
    """What is sent must be a type the frontend inferred (frontend/events.py) for the spec."""
    if decl.event_types is not None and ty not in decl.event_types:
        raise fb.err(node, f"internal compiler error: '{decl.name}' sends a {show(ty)}, which the "
                     "frontend did not infer", BUG_HINT)


def event_output(fb: FunctionBuilder, decl: MapDecl, node: ast.Call) -> Value:
    """``m.output(obj[, flags])``: copy ``obj`` into the stream (ring buffer or perf array)."""
    args = event_args(fb, node, "output", 2)
    ptr, ty = event_data(fb, decl, args[0])
    flags = event_flags(fb, args, 1)
    return OUTPUTS[decl.map_kind.family](fb, decl, node, ptr, ty, flags)


def ring_output(fb: FunctionBuilder, decl: MapDecl, node: ast.Call, ptr: str, ty: BpfType,
                flags: str) -> Value:
    r = fb.b.call_helper(Helper.RINGBUF_OUTPUT, "i64",
                         [("ptr", f"@{decl.name}"), ("ptr", ptr), ("i64", str(ty.size)), ("i64", flags)])
    return Value(I64, r)


def perf_output(fb: FunctionBuilder, decl: MapDecl, node: ast.Call, ptr: str, ty: BpfType,
                flags: str) -> Value:
    if flags == "0":
        flags = str(BPF_F_CURRENT_CPU)
    r = fb.b.call_helper(Helper.PERF_EVENT_OUTPUT, "i64", [
        ("ptr", program_ctx(fb, node)), ("ptr", f"@{decl.name}"), ("i64", flags), ("ptr", ptr),
        ("i64", str(ty.size))])
    return Value(I64, r)


def event_reserve(fb: FunctionBuilder, decl: MapDecl, node: ast.Call) -> Value:
    """``e = rb.reserve(Event)``: a reference to fill in (None when the buffer is full)."""
    (arg,) = event_args(fb, node, "reserve", 1)
    ty = resolve_type(fb.model, arg)
    if ty is None or not isinstance(ty, StructType) and not ty.aggregate:
        raise fb.err(arg, "reserve() takes a @struct type", "e = events.reserve(Event)")
    check_event_type(fb, decl, ty, arg)
    r = fb.b.call_helper(Helper.RINGBUF_RESERVE, "ptr",
                         [("ptr", f"@{decl.name}"), ("i64", str(ty.size)), ("i64", "0")])
    return Value(PtrType(ty, nullable=True, space="map"), r)


def event_submit(fb: FunctionBuilder, decl: MapDecl, node: ast.Call) -> Value:
    return end_reservation(fb, decl, node, "submit", Helper.RINGBUF_SUBMIT)


def event_discard(fb: FunctionBuilder, decl: MapDecl, node: ast.Call) -> Value:
    return end_reservation(fb, decl, node, "discard", Helper.RINGBUF_DISCARD)


def end_reservation(fb: FunctionBuilder, decl: MapDecl, node: ast.Call, name: str, helper: int) -> Value:
    args = event_args(fb, node, name, 2)
    v = fb.expr(args[0])
    if not (isinstance(v.ty, PtrType) and v.ty.nullable):
        raise fb.err(args[0], f"{name}() takes what reserve() returned",
                     f"e = {decl.name}.reserve(Event); if e: ...; {decl.name}.{name}(e)")
    fb.b.call_helper(helper, "i64", [("ptr", v.ref), ("i64", event_flags(fb, args, 1))])
    return Value(I64, "0")


def program_ctx(fb: FunctionBuilder, node: ast.AST) -> str:
    """The program's context argument, which perf output needs."""
    if fb.decl.section is None or not fb.decl.params:
        raise fb.err(node, "perf output needs the program's context",
                     "call output() in the program itself, or use a RingBuffer")
    name = fb.decl.params[0][0]
    local = fb.locals.get(name)
    if local is None or not isinstance(local.ty, PtrType):
        raise fb.err(node, f"perf output needs the context, but '{name}' was reassigned")
    return fb.load(local.ty, local.ptr).ref


# method name -> lowering (a kind's MapKind.ops says which it has)
EVENT_METHODS = {
    "output": event_output,
    "reserve": event_reserve,
    "submit": event_submit,
    "discard": event_discard,
}
# MapKind.family -> how output() sends
OUTPUTS = {"ring": ring_output, "perf": perf_output}
