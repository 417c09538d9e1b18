"""Stack traces: ``stacks.get_stackid(ctx, flags)`` and ``get_stack(ctx, buf, flags)``.

``get_stackid`` stores the current stack (kernel, or user with
``BPF_F_USER_STACK``) in a ``StackTraceMap`` and gives its id, which user space
reads back as a list of addresses (``mod.stacks[id]``).  ``get_stack`` copies
the addresses into a buffer the program owns (a ``u64 * N`` local, field or
map value) and gives the number of bytes written.  Both take the program's
context, which the kernel reads the registers from.
"""

from __future__ import annotations

from .. import pyast as ast
from ..frontend.model import MapDecl
from ..helpers import Helper, HelperDecl
from ..types import I64, U64, PtrType
from .builder import FunctionBuilder
from .ir import Value
from .values import show


def context_arg(fb: FunctionBuilder, node: ast.expr, call: str) -> str:
    """The program's context, which the stack helpers read the registers from."""
    v = fb.expr(node)
    if not (isinstance(v.ty, PtrType) and v.ty.space == "ctx"):
        raise fb.err(node, f"{call} takes the program's context (its first parameter) first",
                     f"e.g. {call.replace('()', '(ctx, ...)')}")
    return v.ref


def flags_arg(fb: FunctionBuilder, args: list[ast.expr], index: int) -> str:
    """A flags argument (0 when left out): any integer, usually a constant such as BPF_F_USER_STACK."""
    if len(args) <= index:
        return "0"
    node = args[index]
    return fb.coerce(fb.numeric(fb.expr(node), node), U64, node, explicit=True).ref


def stackid(fb: FunctionBuilder, decl: MapDecl, ctx: str, flags: str) -> Value:
    r = fb.b.call_helper(Helper.GET_STACKID, "i64",
                         [("ptr", ctx), ("ptr", f"@{decl.name}"), ("i64", flags)])
    return Value(I64, r)


def stack_method(fb: FunctionBuilder, decl: MapDecl, method: str, node: ast.Call) -> Value:
    """``stacks.get_stackid(ctx[, flags])``: the one thing BPF code does with a StackTraceMap."""
    if method != "get_stackid":
        raise fb.err(node, f"{decl.kind} '{decl.name}' has no method '{method}'",
                     f"BPF code stores stacks with {decl.name}.get_stackid(ctx, flags); user "
                     f"space reads them as mod.{decl.name}[stack_id]")
    if not 1 <= len(node.args) <= 2:
        raise fb.err(node, f"{decl.name}.get_stackid() takes (ctx[, flags])")
    ctx = context_arg(fb, node.args[0], f"{decl.name}.get_stackid()")
    return stackid(fb, decl, ctx, flags_arg(fb, node.args, 1))


def get_stackid_call(fb: FunctionBuilder, helper: HelperDecl, node: ast.Call) -> Value:
    """``get_stackid(ctx, stacks[, flags])``: bcc's and C's spelling of the method."""
    if node.keywords or not 2 <= len(node.args) <= 3:
        raise fb.err(node, "get_stackid() takes (ctx, stack_map[, flags])",
                     "or call the map's method: stacks.get_stackid(ctx, flags)")
    decl = fb.map_of(node.args[1])
    if decl is None or decl.kind != "StackTraceMap":
        raise fb.err(node.args[1], "get_stackid() stores the stack in a StackTraceMap",
                     "declare one: stacks = StackTraceMap(max_entries=1024)")
    ctx = context_arg(fb, node.args[0], "get_stackid()")
    return stackid(fb, decl, ctx, flags_arg(fb, node.args, 2))


def get_stack_call(fb: FunctionBuilder, helper: HelperDecl, node: ast.Call) -> Value:
    """``get_stack(ctx, buf[, flags])``: the addresses into ``buf``, its size implied."""
    if node.keywords or not 2 <= len(node.args) <= 3:
        raise fb.err(node, "get_stack() takes (ctx, buf[, flags])",
                     "buf is a u64 * N local, field or map value; its size is implied")
    ctx = context_arg(fb, node.args[0], "get_stack()")
    buf_node = node.args[1]
    buf = fb.expr(buf_node)
    if isinstance(buf.ty, PtrType) and buf.ty.nullable and buf.ty.pointee is not None \
            and buf.ty.pointee.aggregate:
        ptr, size = buf.ref, buf.ty.pointee.size  # a map value: the verifier wants it tested
    elif buf.ty.aggregate:
        ptr, size = buf.ref, buf.ty.size
    else:
        raise fb.err(buf_node, f"get_stack() writes into a buffer, not a {show(buf.ty)}",
                     "pass a u64 * N local or field, or a map value holding one")
    r = fb.b.call_helper(Helper.GET_STACK, "i64", [("ptr", ctx), ("ptr", ptr),
                                                    ("i32", str(size)),
                                                    ("i64", flags_arg(fb, node.args, 2))])
    return Value(I64, r)


__all__ = ["get_stack_call", "get_stackid_call", "stack_method"]
