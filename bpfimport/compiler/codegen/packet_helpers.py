"""Packet helpers: resizing, loading and storing bytes, checksums, redirects, FIB lookups.

Every packet helper of the registry (``HelperDecl.lower == "packet"``) is lowered
here from two tables: which BPF helper a program type calls for it
(``HelperDecl.program_types``: ``adjust_tail`` is ``bpf_xdp_adjust_tail`` in XDP,
``bpf_skb_change_tail`` in tc), and what each BPF helper takes (:data:`ARGUMENTS`:
the context, integers, a buffer whose size its type gives, a map).  A call from a
program type the kernel would refuse is a ``CompileError`` at the call, naming the
program types that can make it: the verifier's "unknown func" says much less.
"""

from __future__ import annotations

from ...kinds import PROGRAM_KINDS
from .. import pyast as ast
from ..frontend.model import MapDecl
from ..helpers import HELPERS, Helper, HelperDecl
from ..lang_structs import lang_struct
from ..types import I64, U32, BpfType, IntType, PtrType
from ..uapi import SECTION_PROGRAM_TYPES
from . import packet
from .builder import FunctionBuilder
from .ir import Value
from .stacks import context_arg
from .values import LitType, NoneType_, lit, show

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds of every compile
if TYPE_CHECKING:
    from collections.abc import Callable

    # (builder, helper declaration, BPF helper id, argument) -> the IR arguments it becomes
    Lowering = Callable[[FunctionBuilder, HelperDecl, int, ast.expr], list[tuple[str, str]]]

# What each BPF helper takes, in order: "ctx" (the program's context), "s32"/"u32"/"u64" (an
# integer, extended to 64 bits as that type), "buf" (a buffer the helper reads or fills, passed
# as its address and its size), "buf?" (the same, or None: a null pointer and size 0), "map"
# (a map the program declares).  A "buf" is one argument in Python and two in the kernel.
ARGUMENTS: dict[int, tuple[str, ...]] = {
    Helper.XDP_ADJUST_HEAD: ("ctx", "s32"),
    Helper.XDP_ADJUST_META: ("ctx", "s32"),
    Helper.XDP_ADJUST_TAIL: ("ctx", "s32"),
    Helper.SKB_CHANGE_HEAD: ("ctx", "u32", "u64"),
    Helper.SKB_CHANGE_TAIL: ("ctx", "u32", "u64"),
    Helper.SKB_ADJUST_ROOM: ("ctx", "s32", "u32", "u64"),
    Helper.SKB_LOAD_BYTES: ("ctx", "u32", "buf"),
    Helper.XDP_LOAD_BYTES: ("ctx", "u32", "buf"),
    Helper.SKB_STORE_BYTES: ("ctx", "u32", "buf", "u64"),
    Helper.XDP_STORE_BYTES: ("ctx", "u32", "buf"),
    Helper.CSUM_DIFF: ("buf?", "buf?", "u32"),
    Helper.L3_CSUM_REPLACE: ("ctx", "u32", "u64", "u64", "u64"),
    Helper.L4_CSUM_REPLACE: ("ctx", "u32", "u64", "u64", "u64"),
    Helper.CSUM_UPDATE: ("ctx", "u32"),
    Helper.REDIRECT: ("u32", "u64"),
    Helper.REDIRECT_MAP: ("map", "u32", "u64"),
    Helper.CLONE_REDIRECT: ("ctx", "u32", "u64"),
    Helper.FIB_LOOKUP: ("ctx", "buf", "u32"),
    Helper.GET_HASH_RECALC: ("ctx",),
    Helper.SKB_CHANGE_TYPE: ("ctx", "u32"),
}

# Buffers a helper writes into: no constant or literal may be passed there.
WRITES_BUFFER = {Helper.SKB_LOAD_BYTES, Helper.XDP_LOAD_BYTES, Helper.FIB_LOOKUP}
# Buffers the kernel only takes in whole 32-bit words (csum_diff refuses other sizes at run time).
WORD_BUFFERS = {Helper.CSUM_DIFF}
# BPF helpers after which the verifier forgets every packet pointer (the kernel's
# bpf_helper_changes_pkt_data): a header reference taken before one must be taken again after
# it. Checked against the kernel by tests/runtime/test_packet_helpers_kernel.py.
CHANGES_PACKET = frozenset({
    Helper.XDP_ADJUST_HEAD, Helper.XDP_ADJUST_META, Helper.XDP_ADJUST_TAIL,
    Helper.SKB_CHANGE_HEAD, Helper.SKB_CHANGE_TAIL, Helper.SKB_ADJUST_ROOM,
    Helper.SKB_STORE_BYTES, Helper.L3_CSUM_REPLACE, Helper.L4_CSUM_REPLACE, Helper.CLONE_REDIRECT,
})
# Map kinds redirect_map sends packets to.
REDIRECT_MAP_KINDS = ("DevMap", "DevMapHash", "CpuMap", "XskMap")
# The struct fib_lookup fills in.
FIB_LOOKUP_STRUCT = "FibLookup"

# What each program type is called in errors.
PROGRAM_TYPE_NAMES = {"xdp": "@xdp", "sched_cls": "@tc", "sched_act": '@section("action")',
                      "socket_filter": "@socket_filter", "cgroup_skb": "@cgroup_skb"}


def program_type(fb: FunctionBuilder) -> str | None:
    """libbpf's name of the program type being compiled; None in a subprogram or an unknown section."""
    decorator, section = fb.decl.decorator, fb.decl.section
    if decorator is None or section is None:
        return None
    kind = PROGRAM_KINDS.get(decorator)
    if kind is not None and kind.prog_type is not None:
        return kind.prog_type
    return SECTION_PROGRAM_TYPES.get(section.split("/")[0])


def helper_for(fb: FunctionBuilder, decl: HelperDecl, node: ast.Call) -> int:
    """The BPF helper ``decl`` is in this program's type, or a CompileError naming where it works."""
    ptype = program_type(fb)
    table = dict(decl.program_types)
    if ptype is not None and ptype in table:
        return table[ptype]
    where = ", ".join(dict.fromkeys(PROGRAM_TYPE_NAMES.get(t, t) for t in table))
    if ptype is None:
        if fb.decl.section is None:
            raise fb.err(node, f"{decl.name}() can only be called in a program, not in the "
                         f"subprogram '{fb.decl.name}'", f"call it in the {where} program itself")
        raise fb.err(node, f"{decl.name}() works in {where} programs; section "
                     f"'{fb.decl.section}' is not one of them", f"use {where}")
    here = PROGRAM_TYPE_NAMES.get(ptype, ptype)
    raise fb.err(node, f"{decl.name}() cannot be called in a {here} program", f"it works in: {where}")


def packet_call(fb: FunctionBuilder, decl: HelperDecl, node: ast.Call) -> Value:
    """A packet helper: the BPF helper of this program type, its arguments converted as it takes
    them.  After one that changes the packet, header references taken before are refused
    (``packet.packet_changed``)."""
    helper = helper_for(fb, decl, node)
    value = _packet_call(fb, decl, node, helper)
    if helper in CHANGES_PACKET:
        packet.packet_changed(fb, f"{decl.name}()")
    return value


def _packet_call(fb: FunctionBuilder, decl: HelperDecl, node: ast.Call, helper: int) -> Value:
    args = call_arguments(fb, decl, node)
    composed = COMPOSED.get((decl.name, helper))
    if composed is not None:
        return composed(fb, args)
    kinds = ARGUMENTS[helper]
    extra = args[len(kinds):]  # the user's flags of store_bytes, which XDP's helper does not take
    for arg in extra:
        value = fb.expr(arg)
        if not (isinstance(value.ty, LitType) and value.ty.value == 0):
            raise fb.err(arg, f"{decl.name}() takes no flags in this program type",
                         "leave them out (they only apply to tc programs)")
    ir_args: list[tuple[str, str]] = []
    for kind, arg in zip(kinds, args):
        ir_args.extend(LOWER_ARGUMENT[kind](fb, decl, helper, arg))
    ret = fb.b.call_helper(helper, "i64", ir_args)
    if decl.ret == "u32":
        return Value(U32, fb.b.cast("trunc", "i64", ret, "i32"))
    return Value(I64, ret)


def redirect_method(fb: FunctionBuilder, decl: MapDecl, method: str, node: ast.Call) -> Value:
    """``ports.redirect(key[, flags])``: ``redirect_map(ports, key, flags)``, the one thing BPF
    code does with a DevMap, DevMapHash, CpuMap or XskMap."""
    if method != "redirect":
        raise fb.err(node, f"{decl.kind} '{decl.name}' has no method '{method}'",
                     f"BPF code sends packets through it: return {decl.name}.redirect(key, "
                     f"XDP_PASS); user space fills it: mod.{decl.name}[key] = ...")
    helper = HELPERS["redirect_map"]
    if not 1 <= len(node.args) <= 2:
        raise fb.err(node, f"{decl.name}.redirect() takes (key[, flags])")
    assert isinstance(node.func, ast.Attribute)  # a method call: ports.redirect(...)
    call = ast.copy_location(ast.Call(node.func, [node.func.value, *node.args], []), node)
    return packet_call(fb, helper, call)


# byte order helper -> the width it swaps (on a little-endian CPU, BPF's: bpfel)
BYTE_ORDER = {"htons": 16, "ntohs": 16, "htonl": 32, "ntohl": 32}


def byteorder_call(fb: FunctionBuilder, decl: HelperDecl, node: ast.Call) -> Value:
    """``htons(x)``, ``htonl(x)``...: x wrapped to the width, bytes swapped (constants fold)."""
    arg = fb.one_arg(node, decl.name)
    bits = BYTE_ORDER[decl.name]
    ty = IntType(bits, False)
    swapped = packet.bswap(fb, integer(fb, arg, ty), bits)
    if swapped.isdigit():  # a constant stays one: htons(ETH_P_IP) folds where ETH_P_IP does
        return lit(int(swapped))
    return Value(ty, swapped)


def call_arguments(fb: FunctionBuilder, decl: HelperDecl, node: ast.Call) -> list[ast.expr]:
    """The call's arguments in the order of ``decl.params`` (keywords placed, defaults filled)."""
    names = [p for p, _ in decl.params]
    required = [p for p, t in decl.params if "=" not in t]
    sig = f"{decl.name}({', '.join(names)})"
    if len(node.args) > len(names):
        raise fb.err(node, f"{decl.name}() takes at most {len(names)} arguments", sig)
    given: dict[str, ast.expr] = dict(zip(names, node.args))
    for kw in node.keywords:
        if kw.arg is None or kw.arg not in names:
            raise fb.err(kw.value if kw.arg else node, f"{decl.name}() has no parameter "
                         f"'{kw.arg}'", sig)
        if kw.arg in given:
            raise fb.err(kw.value, f"{decl.name}() got '{kw.arg}' twice", sig)
        given[kw.arg] = kw.value
    missing = [p for p in required if p not in given]
    if missing:
        raise fb.err(node, f"{decl.name}() is missing {', '.join(missing)}", sig)
    zero = ast.copy_location(ast.Constant(0), node)
    return [given.get(p, zero) for p in names]


def skb_adjust_tail(fb: FunctionBuilder, args: list[ast.expr]) -> Value:
    """``adjust_tail(ctx, delta)`` in tc: ``bpf_skb_change_tail(ctx, ctx->len + delta, 0)``."""
    ctx = context_arg(fb, args[0], "adjust_tail()")
    length = fb.b.load("i32", ctx, 4)  # struct __sk_buff's first member is len
    delta = integer(fb, args[1], IntType(32, True))
    wide = fb.b.cast("zext", "i32", length, "i64")
    new_len = fb.b.binop("add", "i64", wide, fb.b.cast("sext", "i32", delta, "i64"))
    r = fb.b.call_helper(Helper.SKB_CHANGE_TAIL, "i64", [("ptr", ctx), ("i64", new_len), ("i64", "0")])
    return Value(I64, r)


# (helper, BPF helper) -> a lowering that is more than the one call with the user's arguments
COMPOSED: dict[tuple[str, int], Callable[[FunctionBuilder, list[ast.expr]], Value]] = {
    ("adjust_tail", Helper.SKB_CHANGE_TAIL): skb_adjust_tail,
}


def integer(fb: FunctionBuilder, node: ast.expr, ty: IntType) -> str:
    """An integer argument as ``ty`` (wrapping, like a C argument of that type)."""
    return fb.coerce(fb.numeric(fb.expr(node), node), ty, node, explicit=True).ref


def int_arg(ty: IntType) -> Lowering:
    def lower(fb: FunctionBuilder, decl: HelperDecl, helper: int, node: ast.expr) -> list[tuple[str, str]]:
        v = integer(fb, node, ty)
        if ty.bits == 64:
            return [("i64", v)]
        return [("i64", fb.b.cast("sext" if ty.signed else "zext", ty.llvm, v, "i64"))]
    return lower


def ctx_arg(fb: FunctionBuilder, decl: HelperDecl, helper: int, node: ast.expr) -> list[tuple[str, str]]:
    return [("ptr", context_arg(fb, node, f"{decl.name}()"))]


def map_arg(fb: FunctionBuilder, decl: HelperDecl, helper: int, node: ast.expr) -> list[tuple[str, str]]:
    m = fb.map_of(node)
    if m is None or m.kind not in REDIRECT_MAP_KINDS:
        what = f"a {m.kind}" if m is not None else "not a map"
        raise fb.err(node, f"{decl.name}() sends packets through a {', '.join(REDIRECT_MAP_KINDS)}; "
                     f"'{ast.unparse(node)}' is {what}",
                     "declare one: ports = DevMap(max_entries=64)")
    return [("ptr", f"@{m.name}")]


def buffer_arg(fb: FunctionBuilder, decl: HelperDecl, helper: int, node: ast.expr,
               nullable: bool = False) -> list[tuple[str, str]]:
    """A buffer as (address, size): an array, a @struct, a map value holding one, or (for data
    the helper only reads) a typed integer, spilled to the stack."""
    v = fb.expr(node)
    ty: BpfType = v.ty
    if isinstance(ty, NoneType_) and nullable:
        return [("ptr", "null"), ("i64", "0")]
    if isinstance(ty, PtrType) and ty.nullable and ty.pointee is not None:
        ptr, ty = v.ref, ty.pointee  # a map value: the verifier wants it tested first
    elif ty.aggregate:
        ptr = v.ref
    elif isinstance(ty, IntType) and helper not in WRITES_BUFFER:
        ptr = fb.alloca(ty, "bytes")
        fb.store(v, ty, ptr, node)
    else:
        hint = ("declare a local, e.g. buf: Annotated[bytes, 4] = b\"\"" if helper in WRITES_BUFFER
                else "pass an array, a @struct, or an integer of a given width such as u16(x)")
        raise fb.err(node, f"{decl.name}() takes a buffer here, not a {show(ty)}", hint)
    if helper == Helper.FIB_LOOKUP and ty is not lang_struct(FIB_LOOKUP_STRUCT):
        raise fb.err(node, f"fib_lookup() fills in a FibLookup, not a {show(ty)}",
                     "bpfimport.lang's: params = FibLookup(family=AF_INET, ifindex=...)")
    if helper in WORD_BUFFERS and ty.size % 4:
        raise fb.err(node, f"{decl.name}() takes buffers of whole 32-bit words; this {show(ty)} "
                     f"is {ty.size} bytes", "pad it to a multiple of 4 bytes")
    return [("ptr", ptr), ("i64", str(ty.size))]


LOWER_ARGUMENT: dict[str, Lowering] = {
    "ctx": ctx_arg,
    "s32": int_arg(IntType(32, True)),
    "u32": int_arg(U32),
    "u64": int_arg(IntType(64, False)),
    "buf": buffer_arg,
    "buf?": lambda fb, decl, helper, node: buffer_arg(fb, decl, helper, node, nullable=True),
    "map": map_arg,
}

__all__ = ["ARGUMENTS", "CHANGES_PACKET", "byteorder_call", "packet_call", "program_type", "redirect_method"]
