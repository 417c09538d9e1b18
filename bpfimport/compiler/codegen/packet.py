"""Packets: the context fields of packet programs, ``ctx.header(T, offset)``, header fields.

* ``ctx.NAME`` in ``@xdp``, ``@tc``, ``@cgroup_skb`` and ``@socket_filter`` programs (and in
  the cgroup socket programs, ``@cgroup_sock_addr``/``@cgroup_sock``, which see no packet) is a
  field of the uapi context struct (``compiler/uapi.py``): a plain load at its fixed
  offset, which the verifier rewrites.  ``ctx.data``/``ctx.data_end`` are packet
  pointers; fields the kernel keeps in network byte order read as ordinary integers.
  Assigning a field (``ctx.mark = 1``) is a store, where the program type may write it; a
  network-byte-order field (``ctx.user_port = 53``) is swapped back on the way.
* ``ctx.header(T, off)`` is a reference to header ``T`` at byte ``off`` of the packet, or
  ``None`` when the packet is shorter: the compiler emits the
  ``data + off + sizeof(T) > data_end`` test the verifier needs.  A variable offset is
  first tested against the verifier's limit (``MAX_PACKET_OFF`` less the header), so the
  offset has a known bound whatever it was computed from.  A reference tested right after
  it is taken (:func:`tested_at_once`) is that one comparison, as clang's; any other keeps the
  test's outcome as a 0/1 register (an empty asm, :func:`barrier`) that every later
  ``is None`` branches on: the verifier follows a scalar exactly, but not two comparisons of
  packet pointers (docs/internals.md, "Packet access").  Socket filters have no direct
  packet access: there the header is copied to the stack with ``bpf_skb_load_bytes``.
* A reference must be tested for ``None`` before use (``if eth is None: return XDP_PASS``);
  :func:`narrowing` is how the builder knows, statement by statement, which references
  have been tested (``FunctionBuilder.narrowed``).
* Header fields (``bpfimport.headers``): big-endian numbers are byte-swapped on load and
  store, bitfields are shifted and masked, byte arrays are arrays in the packet.
* ``ip4()``, ``ip6()``, ``mac()``: address literals folded to constants.
"""

from __future__ import annotations

from ...headers import ADDRESS_FUNCTIONS, HEADERS, HeaderField
from .. import pyast as ast
from ..types import (
    U8,
    U16,
    U32,
    U64,
    ArrayType,
    HeaderType,
    PtrType,
)
from ..uapi import (
    ACCESS,
    CONTEXT_STRUCTS,
    HOOK_ACCESS,
    HOOK_DECORATORS,
    SECTION_ACCESS,
    Access,
    CtxField,
)
from .builder import FunctionBuilder
from .ir import Block, Value
from .values import LitType, NoneType_, StrType, lit, show

# The verifier's MAX_PACKET_OFF: a packet pointer whose offset may exceed it gets no range
# from a comparison with data_end (find_good_pkt_pointers).
MAX_PACKET_OFF = 0xFFFF
SKB_LOAD_BYTES = 26  # BPF_FUNC_skb_load_bytes
_UINTS = {1: U8, 2: U16, 4: U32, 8: U64}
PACKET_DECORATORS = (*ACCESS, *HOOK_DECORATORS)  # the kinds whose ctx.NAME this module reads


class ContextArray(ArrayType):
    """An array in the context (``ctx.cb``): the same type as any ``u32[N]``, but the verifier
    takes only constant offsets into the context, so it is indexed with constants only."""

    __slots__ = ()


def access_of(fb: FunctionBuilder) -> Access | None:
    """The context rules of this function's program type (None: not a packet program)."""
    head, _, hook = (fb.decl.section or "").partition("/")
    if head == "cgroup" and hook in HOOK_ACCESS:  # @cgroup_sock_addr("connect4"), @section(...)
        return HOOK_ACCESS[hook]
    decorator = fb.decl.decorator or ""
    if decorator == "section":  # @section("xdp.frags"), @section("tcx/ingress")...
        decorator = SECTION_ACCESS.get((fb.decl.section or "").split("/")[0], "")
    return ACCESS.get(decorator)


def _program(fb: FunctionBuilder) -> str:
    """What errors call the program type: its decorator."""
    if fb.decl.decorator == "section":
        return f'@section("{fb.decl.section}")'
    if fb.decl.decorator in HOOK_DECORATORS:  # the rules are the hook's: @cgroup_sock("sock_create")
        return f'@{fb.decl.decorator}("{(fb.decl.section or "").partition("/")[2]}")'
    return f"@{fb.decl.decorator}"


def _access(fb: FunctionBuilder, node: ast.AST) -> Access:
    access = access_of(fb)
    if access is None:
        raise fb.err(node, "only @xdp, @tc, @cgroup_skb and @socket_filter programs see a packet")
    return access


def _packet_access(fb: FunctionBuilder, node: ast.AST) -> Access:
    """The context rules of a program that sees a packet."""
    access = _access(fb, node)
    if access.packet == "none":
        raise fb.err(node, f"{_program(fb)} programs see a socket, not a packet",
                     f"read the socket's fields: ctx.NAME (struct {access.struct})")
    return access


# ---------------------------------------------------------------- the context

def context_field(fb: FunctionBuilder, base: Value, node: ast.Attribute) -> Value:
    """``ctx.NAME`` read in a packet program."""
    access = _access(fb, node)
    f = _ctx_field(fb, access, node)
    if f is None:  # ctx.len of an XDP program: the length of the packet's linear data
        data, end = packet_bounds(fb, base)
        start = fb.b.cast("ptrtoint", "ptr", data, "i64")
        stop = fb.b.cast("ptrtoint", "ptr", end, "i64")
        return Value(U32, fb.b.cast("trunc", "i64", fb.b.binop("sub", "i64", stop, start), "i32"))
    at = fb.b.byte_gep(base.ref, f.offset)
    if f.how in ("data", "data_end", "data_meta"):
        return Value(PtrType(space="packet"), _pointer_at(fb, at))
    if f.how == "array":
        return Value(ContextArray(U32, f.count), at)
    raw = fb.load(_UINTS[f.size], at)
    if f.how in ("be16", "be32"):
        bits = 16 if f.how == "be16" else 32
        low = fb.b.cast("trunc", "i32", raw.ref, f"i{bits}") if bits == 16 else raw.ref
        return Value(_UINTS[bits // 8], bswap(fb, low, bits))
    return raw


def _ctx_field(fb: FunctionBuilder, access: Access, node: ast.Attribute) -> CtxField | None:
    fields = CONTEXT_STRUCTS[access.struct]
    name = node.attr
    dec = _program(fb)
    if name == "len" and "len" not in fields and access.packet != "none":
        return None
    f = fields.get(name)
    if f is None:
        shown = [n for n in fields if n not in access.hidden]
        if "len" not in fields and access.packet != "none":
            shown.append("len")
        raise fb.err(node, f"struct {access.struct} (the context of {dec} programs) has no field "
                     f"'{name}'", "its fields: " + ", ".join(shown)
                     + ("" if access.packet == "none" else
                        "; ctx.header(T, offset) reads a packet header"))
    if name in access.hidden:
        hint = ("read the packet with ctx.header(T, offset), which copies the bytes in a "
                "socket filter" if f.how in ("data", "data_end", "data_meta") else
                "the kernel gives this field to other hooks only" if access.packet == "none" else
                "the kernel refuses this field to this program type")
        raise fb.err(node, f"ctx.{name} is not available to {dec} programs", hint)
    if f.how == "pointer":
        raise fb.err(node, f"ctx.{name} is a pointer to a kernel object, which BPF code here "
                     "cannot use yet")
    return f


def _pointer_at(fb: FunctionBuilder, at: str) -> str:
    """A u32 context field the verifier turns into a packet pointer, as C's
    ``(void *)(long)ctx->data``."""
    raw = fb.b.load("i32", at, 4)
    wide = fb.b.cast("zext", "i32", raw, "i64")
    return fb.b.cast("inttoptr", "i64", wide, "ptr")


def packet_bounds(fb: FunctionBuilder, ctx: Value) -> tuple[str, str]:
    """The packet's start and end pointers, loaded from the context."""
    access = access_of(fb)
    assert access is not None
    fields = CONTEXT_STRUCTS[access.struct]
    data = _pointer_at(fb, fb.b.byte_gep(ctx.ref, fields["data"].offset))
    # the packet is never at address 0: without this LLVM tests data for null, to tell a
    # header at offset 0 from the None that means "too short"
    fb.b.emit(f"call void @llvm.assume(i1 {fb.b.icmp('ne', 'ptr', data, 'null')})")
    return data, _pointer_at(fb, fb.b.byte_gep(ctx.ref, fields["data_end"].offset))


def store_context(fb: FunctionBuilder, base: Value, node: ast.Attribute, value: Value) -> None:
    """``ctx.NAME = value`` where the program type may write the field."""
    access = _access(fb, node)
    f = _ctx_field(fb, access, node)
    dec = _program(fb)
    if f is None or f.name not in access.writable:
        writable = ", ".join(sorted(access.writable)) or "none"
        raise fb.err(node, f"ctx.{node.attr} is read-only in {dec} programs",
                     f"the fields a {dec} program may assign: {writable}")
    if f.how == "array":
        raise fb.err(node, f"ctx.{node.attr} is an array: assign its elements, "
                     f"ctx.{node.attr}[0] = ...")
    at = fb.b.byte_gep(base.ref, f.offset)
    if f.how in ("be16", "be32"):  # the CPU's order -> the field's (network) order
        bits = 16 if f.how == "be16" else 32
        number = fb.coerce(value, _UINTS[bits // 8], node).ref
        swapped = bswap(fb, number, bits)
        if bits < 8 * f.size:  # user_port: a __be16 in a u32 written whole
            swapped = (swapped if swapped.isdigit()
                       else fb.b.cast("zext", f"i{bits}", swapped, f"i{8 * f.size}"))
        value = Value(_UINTS[f.size], swapped)
    fb.store(value, _UINTS[f.size], at, node)


def check_return(fb: FunctionBuilder, value: int, node: ast.AST) -> None:
    """``return N`` with a constant the verifier would refuse for this program type
    (check_return_code): a cgroup socket program returns 0 or 1, some hooks only 1."""
    access = access_of(fb)
    if access is None or access.returns is None:
        return
    low, high = access.returns
    if not low <= value <= high:
        what = f"{low}" if low == high else f"{low}..{high}"
        raise fb.err(node, f"{_program(fb)} programs return {what}, not {value}", access.meaning)


def update_context(fb: FunctionBuilder, base: Value, node: ast.Attribute, op: ast.operator,
                   value: Value, stmt: ast.AST) -> None:
    """``ctx.mark |= 1``: read, compute, write (the context is this CPU's: no atomics)."""
    from . import operators

    current = context_field(fb, base, node)
    store_context(fb, base, node, operators.binop(fb, op, current, value, stmt))


# ---------------------------------------------------------------- ctx.header(T, offset)

def header_type(fb: FunctionBuilder, node: ast.expr) -> HeaderType:
    """The header class an expression names (``EthHdr``, ``bl.IpHdr``)."""
    name = fb.builtin(node)
    layout = HEADERS.get(name or "")
    if layout is None:
        raise fb.err(node, f"'{ast.unparse(node)}' is not a packet header",
                     "ctx.header() takes one of " + ", ".join(HEADERS) + " (from bpfimport.lang)")
    return HeaderType(layout)


def header_call(fb: FunctionBuilder, ctx: Value, node: ast.Call) -> Value:
    """``ctx.header(T, offset)``: a reference to T at ``offset`` bytes into the packet, or None."""
    access = _packet_access(fb, node)
    if node.keywords or not 1 <= len(node.args) <= 2:
        raise fb.err(node, "ctx.header() takes a header class and a byte offset",
                     "e.g. eth = ctx.header(EthHdr, 0)")
    ty = header_type(fb, node.args[0])
    limit = MAX_PACKET_OFF - ty.size
    off_node = node.args[1] if len(node.args) == 2 else None
    offset = fb.numeric(fb.expr(off_node), off_node) if off_node is not None else lit(0)
    if isinstance(offset.ty, LitType) and not 0 <= offset.ty.value <= limit:
        raise fb.err(off_node, f"offset {offset.ty.value} is outside any packet: a {ty.name} "
                     f"starts at 0..{limit}")
    if access.packet == "copy":
        return _copied_header(fb, ctx, ty, offset, node)
    data, end = packet_bounds(fb, ctx)
    found, missing, done = (fb.b.new_block("hdr.in"), fb.b.new_block("hdr.short"),
                            fb.b.new_block("hdr"))
    if isinstance(offset.ty, LitType):
        start = fb.b.byte_gep(data, offset.ty.value)
    else:
        off = fb.coerce(offset, U64, off_node or node, explicit=True).ref
        bounded = fb.b.new_block("hdr.off")
        fb.b.cbr(fb.b.icmp("ule", "i64", off, str(limit)), bounded, missing)
        fb.b.position(bounded)
        # only here is the offset bounded: the barrier keeps LLVM from adding it to the
        # packet pointer before the test (the verifier refuses an unbounded packet offset)
        start = fb.b.byte_gep_dynamic(data, barrier(fb, "i64", off))
    stop = fb.b.byte_gep(start, ty.size)
    short = fb.b.icmp("ugt", "ptr", stop, end)
    if id(node) not in tested_at_once(fb):
        short = fb.b.cast("zext", "i1", short, "i64")
        short = fb.b.icmp("ne", "i64", barrier(fb, "i64", short, pure=True), "0")
    fb.b.cbr(short, missing, found)
    return _join(fb, ty, "packet", start, found, missing, done)


def tested_at_once(fb: FunctionBuilder) -> frozenset[int]:
    """The ``ctx.header()`` calls (by ``id``) whose reference is tested for None right away and
    nowhere else: ``x = ctx.header(T, off)`` followed by an ``if`` whose test starts with
    ``x is None`` (``x is not None``, ``not x``, ``x``), with ``x`` assigned only there and
    read only there and through its fields.

    Those keep the plain pointer comparison (one compare-and-branch, as clang's): LLVM threads
    the ``is None`` branch into it and the verifier sees the bounds on the path that uses the
    header.  Every other reference keeps its test's outcome in a register (:func:`barrier`):
    once another header is tested in between, LLVM may repeat the pointer comparison where the
    program asks ``is None``, and the verifier does not connect the two comparisons.
    Computed once per function."""
    if fb.headers_tested_at_once is None:
        fb.headers_tested_at_once = _tested_at_once(fb.decl.node)
    return fb.headers_tested_at_once


def _tested_at_once(fn: ast.AST) -> frozenset[int]:
    stores: dict[str, int] = {}
    reads: dict[str, int] = {}
    fields = {id(n.value) for n in ast.walk(fn) if isinstance(n, ast.Attribute)}
    for n in ast.walk(fn):
        if isinstance(n, ast.Name):
            if isinstance(n.ctx, ast.Store):
                stores[n.id] = stores.get(n.id, 0) + 1
            elif id(n) not in fields:
                reads[n.id] = reads.get(n.id, 0) + 1
    found: set[int] = set()
    for n in ast.walk(fn):
        for body in (getattr(n, k, None) for k in ("body", "orelse", "finalbody")):
            if not isinstance(body, list):
                continue
            for stmt, after in zip(body, body[1:]):
                call = _header_assigned(stmt)
                if call is None or not isinstance(after, ast.If):
                    continue
                name, node = call
                if _first_tested(after.test) == name and stores.get(name) == 1 \
                        and reads.get(name) == 1:
                    found.add(id(node))
    return frozenset(found)


def _header_assigned(stmt: ast.stmt) -> tuple[str, ast.Call] | None:
    """``x = ctx.header(...)``: the name and the call."""
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
        return None
    target, value = stmt.targets[0], stmt.value
    if isinstance(target, ast.Name) and isinstance(value, ast.Call) \
            and isinstance(value.func, ast.Attribute) and value.func.attr == "header":
        return target.id, value
    return None


def _first_tested(test: ast.expr) -> str | None:
    """The name a condition tests for None first (``x is None or ...``: ``x``)."""
    while True:
        if isinstance(test, ast.BoolOp):
            test = test.values[0]
        elif isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            test = test.operand
        else:
            break
    if isinstance(test, ast.Name):
        return test.id
    if isinstance(test, ast.Compare) and len(test.ops) == 1 \
            and isinstance(test.ops[0], (ast.Is, ast.IsNot)):
        left, right = test.left, test.comparators[0]
        if isinstance(left, ast.Constant) and left.value is None:
            left, right = right, left
        if isinstance(left, ast.Name) and isinstance(right, ast.Constant) and right.value is None:
            return left.id
    return None


def _copied_header(fb: FunctionBuilder, ctx: Value, ty: HeaderType, offset: Value,
                   node: ast.Call) -> Value:
    """A socket filter's header: ``bpf_skb_load_bytes`` into a stack copy (0: copied)."""
    slot = fb.alloca(ty, ty.name.lower())
    off = fb.coerce(offset, U32, node, explicit=True).ref
    rc = fb.b.call_helper(SKB_LOAD_BYTES, "i64", [("ptr", ctx.ref), ("i32", off), ("ptr", slot),
                                                   ("i32", str(ty.size))])
    found, missing, done = (fb.b.new_block("hdr.in"), fb.b.new_block("hdr.short"),
                            fb.b.new_block("hdr"))
    fb.b.cbr(fb.b.icmp("eq", "i64", rc, "0"), found, missing)
    return _join(fb, ty, "stack", slot, found, missing, done)


def _join(fb: FunctionBuilder, ty: HeaderType, space: str, ptr: str, found: Block,
          missing: Block, done: Block) -> Value:
    """The reference: ``ptr`` coming from ``found``, None from ``missing`` (a phi LLVM threads
    into the program's own ``is None`` branch)."""
    fb.b.position(found)
    fb.b.br(done)
    fb.b.position(missing)
    fb.b.br(done)
    fb.b.position(done)
    ref = fb.b.phi("ptr", [(ptr, found), ("null", missing)])
    # libbpf's barrier_var(): LLVM must test this value for None, not the bounds test again
    # (it may keep the reference in a register or stack slot that is 0 on the short path and
    # test the bounds again later; the verifier, which forgets how the two tests relate, then
    # sees a possible 0 reach the field access)
    return Value(PtrType(ty, nullable=True, space=space), ref)


def barrier(fb: FunctionBuilder, llvm: str, value: str, pure: bool = False) -> str:
    """``value``, opaque to LLVM (libbpf's ``barrier_var()``: an empty asm that owns the
    register): LLVM cannot re-derive it from what computed it; unless ``pure``, it cannot
    move it either (``pure``: it touches no memory, so loads around it may be shared)."""
    if pure:
        return fb.b.assign(f'call {llvm} asm "", "=r,0"({llvm} {value}) memory(none)', "opaque")
    return fb.b.assign(f'call {llvm} asm sideeffect "", "=r,0"({llvm} {value})', "opaque")


def is_header_ref(v: Value) -> bool:
    """A reference to a packet header (tested for None or not)."""
    return isinstance(v.ty, PtrType) and isinstance(v.ty.pointee, HeaderType)


def _header_local(fb: FunctionBuilder, name: str) -> bool:
    local = fb.locals.get(name)
    return local is not None and isinstance(local.ty, PtrType) \
        and isinstance(local.ty.pointee, HeaderType)


# ---------------------------------------------------------------- the None test

def narrowing(fb: FunctionBuilder, test: ast.expr) -> tuple[frozenset[str], frozenset[str]]:
    """The header references ``test`` proves present when it is true, and when it is false.

    ``eth`` / ``eth is not None`` prove ``eth`` when true, ``eth is None`` / ``not eth`` when
    false; ``and`` joins what its operands prove when true, ``or`` when false.
    """
    none: frozenset[str] = frozenset()
    if isinstance(test, ast.Name):
        return (frozenset({test.id}), none) if _header_local(fb, test.id) else (none, none)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        yes, no = narrowing(fb, test.operand)
        return no, yes
    if isinstance(test, ast.Compare) and len(test.ops) == 1 \
            and isinstance(test.ops[0], (ast.Is, ast.IsNot)):
        left, right = test.left, test.comparators[0]
        if isinstance(left, ast.Constant) and left.value is None:
            left, right = right, left
        if isinstance(left, ast.Name) and isinstance(right, ast.Constant) and right.value is None \
                and _header_local(fb, left.id):
            proved = frozenset({left.id})
            return (none, proved) if isinstance(test.ops[0], ast.Is) else (proved, none)
        return none, none
    if isinstance(test, ast.BoolOp):
        parts = [narrowing(fb, v) for v in test.values]
        if isinstance(test.op, ast.And):
            return frozenset().union(*(p[0] for p in parts)), frozenset.intersection(*(p[1] for p in parts))
        return frozenset.intersection(*(p[0] for p in parts)), frozenset().union(*(p[1] for p in parts))
    return none, none


def packet_changed(fb: FunctionBuilder, what: str) -> None:
    """A helper that may move or resize the packet was called (``what``, e.g.
    ``"adjust_head()"``: the kernel's ``bpf_helper_changes_pkt_data``).  The verifier then
    forgets every packet pointer, so every header reference taken before must be taken again
    with ``ctx.header()``: reading one is a CompileError saying so.  Packet helpers call this
    after emitting such a call."""
    fb.narrowed = frozenset()
    for name in fb.locals:
        if _header_local(fb, name):
            fb.stale = {**fb.stale, name: what}


def tested_value(fb: FunctionBuilder, name: str, v: Value) -> Value:
    """A header reference read from local ``name``: not nullable where it was tested."""
    if isinstance(v.ty, PtrType) and isinstance(v.ty.pointee, HeaderType) and v.ty.nullable \
            and name in fb.narrowed and name not in fb.stale:
        return Value(PtrType(v.ty.pointee, nullable=False, space=v.ty.space), v.ref)
    return v


def bound(fb: FunctionBuilder, name: str, value: Value, local_ty: object, node: ast.AST) -> None:
    """Local ``name`` is assigned ``value``: it is tested if the value was, else not."""
    if not (isinstance(local_ty, PtrType) and isinstance(local_ty.pointee, HeaderType)):
        return
    fb.stale = {k: v for k, v in fb.stale.items() if k != name}
    if isinstance(value.ty, NoneType_):  # eth = None: untested again
        fb.narrowed = fb.narrowed - {name}
        return
    if not isinstance(value.ty, PtrType) or value.ty.pointee != local_ty.pointee:
        raise fb.err(node, f"'{name}' holds a reference to a {local_ty.pointee.name} and cannot "
                     f"be rebound to a {_show(value)}", "use another name for the local")
    if value.ty.nullable:
        fb.narrowed = fb.narrowed - {name}
    else:
        fb.narrowed = fb.narrowed | {name}


def _show(v: Value) -> str:
    if is_header_ref(v):
        assert isinstance(v.ty, PtrType) and isinstance(v.ty.pointee, HeaderType)
        return f"reference to a {v.ty.pointee.name}"
    return show(v.ty)


def untested_error(fb: FunctionBuilder, base_node: ast.expr, ty: HeaderType) -> Exception:
    what = ast.unparse(base_node)
    changed = fb.stale.get(what) if isinstance(base_node, ast.Name) else None
    if changed is not None:
        return fb.err(base_node, f"'{what}' points into the packet as it was before {changed}, "
                      "which may have moved or resized it (the verifier forgets every packet "
                      "pointer there)", f"take it again after that call: {what} = "
                      f"ctx.header({ty.name}, offset), then test it for None")
    return fb.err(base_node, f"'{what}' may be None here: ctx.header() gives None when the packet "
                  f"is too short for a {ty.name}",
                  f"test it first, e.g. 'if {what} is None: return XDP_PASS' (or 'if not {what}:'); "
                  "the verifier refuses a packet access without that test"
                  if isinstance(base_node, ast.Name) else
                  f"assign it to a name and test that first: h = {what}; if h is None: return ...")


# ---------------------------------------------------------------- header fields

def _field(fb: FunctionBuilder, base: Value, node: ast.Attribute) -> tuple[HeaderType, HeaderField, str]:
    assert isinstance(base.ty, PtrType) and isinstance(base.ty.pointee, HeaderType)
    ty = base.ty.pointee
    if base.ty.nullable:
        raise untested_error(fb, node.value, ty)
    f = ty.layout.field(node.attr)
    if f is None:
        raise fb.err(node, f"{ty.name} has no field '{node.attr}'",
                     "its fields: " + ", ".join(x.name for x in ty.layout.fields))
    return ty, f, fb.b.byte_gep(base.ref, f.offset)


def read_field(fb: FunctionBuilder, base: Value, node: ast.Attribute) -> Value:
    """``eth.h_proto``: a header field's value (byte arrays: the bytes, in place)."""
    _, f, at = _field(fb, base, node)
    if f.array:
        return Value(ArrayType(U8, f.size), at)
    raw = fb.b.load(f"i{8 * f.size}", at, f.size)
    value = bswap(fb, raw, 8 * f.size)
    if f.bits:
        if f.shift:
            value = fb.b.binop("lshr", f"i{8 * f.size}", value, str(f.shift))
        value = fb.b.binop("and", f"i{8 * f.size}", value, str((1 << f.bits) - 1))
    return Value(_UINTS[f.size], value)


def store_field(fb: FunctionBuilder, base: Value, node: ast.Attribute, value: Value) -> None:
    """``ip.ttl = 64``, ``eth.h_dest = mac(...)``: a packet store, byte-swapped."""
    check_writable(fb, base, node)
    ty, f, at = _field(fb, base, node)
    if f.array:
        arr = ArrayType(U8, f.size)
        if isinstance(value.ty, StrType):
            if len(value.ty.value) != f.size:
                raise fb.err(node, f"{ty.name}.{f.name} is {f.size} bytes; this value has "
                             f"{len(value.ty.value)}")
            fb.b.memcpy(at, fb.module.string_constant(value.ty.value), f.size, 1)
            return
        if value.ty != arr and not (isinstance(value.ty, ArrayType) and value.ty.size == f.size
                                    and value.ty.elem.size == 1):
            raise fb.err(node, f"{ty.name}.{f.name} is {f.size} bytes; a {show(value.ty)} "
                         "cannot be stored in it", "assign bytes of that length or another "
                         "header's address field")
        if value.ref != at:
            fb.b.memcpy(at, value.ref, f.size, 1)
        return
    llvm = f"i{8 * f.size}"
    if f.bits:
        v = _bits_value(fb, value, f, node)
        unit = bswap(fb, fb.b.load(llvm, at, f.size), 8 * f.size)
        mask = ((1 << f.bits) - 1) << f.shift
        keep = fb.b.binop("and", llvm, unit, str(~mask & ((1 << 8 * f.size) - 1)))
        moved = fb.b.binop("shl", llvm, v, str(f.shift)) if f.shift else v
        new = fb.b.binop("or", llvm, keep, moved)
    else:
        new = fb.coerce(value, _UINTS[f.size], node).ref
    fb.b.store(llvm, bswap(fb, new, 8 * f.size), at, f.size)


def _bits_value(fb: FunctionBuilder, value: Value, f: HeaderField, node: ast.AST) -> str:
    """A value for a bitfield: a constant must fit; a variable keeps its low bits."""
    unit_ty = _UINTS[f.size]
    v = fb.numeric(value, node)
    if isinstance(v.ty, LitType):
        if not 0 <= v.ty.value < (1 << f.bits):
            raise fb.err(node, f"{v.ty.value} does not fit in the {f.bits}-bit field "
                         f"'{f.name}'", f"it holds 0..{(1 << f.bits) - 1}")
        return str(v.ty.value)
    raw = fb.coerce(v, unit_ty, node, explicit=True).ref
    return fb.b.binop("and", unit_ty.llvm, raw, str((1 << f.bits) - 1))


def update_field(fb: FunctionBuilder, base: Value, node: ast.Attribute, op: ast.operator,
                 value: Value, stmt: ast.AST) -> None:
    """``ip.ttl -= 1``: read, compute in the field's type, write back."""
    from . import operators

    check_writable(fb, base, node)
    current = read_field(fb, base, node)
    if current.ty.aggregate:
        raise fb.err(node, f"'{node.attr}' is an array of bytes and cannot be updated in place")
    result = operators.binop(fb, op, current, value, stmt)
    store_field(fb, base, node, Value(result.ty, result.ref) if not isinstance(result.ty, LitType)
                else result)


def check_writable(fb: FunctionBuilder, base: Value, node: ast.AST) -> None:
    """Packet stores: only where the program type may change the packet."""
    access = _access(fb, node)
    assert isinstance(base.ty, PtrType)
    if base.ty.space != "packet":
        raise fb.err(node, f"a {_program(fb)} program sees a copy of the packet's bytes, "
                     "so changing a header changes nothing", "socket filters cannot change "
                     "packets; use @tc or @xdp for that")
    if access.packet != "direct":
        raise fb.err(node, f"the packet is read-only in {_program(fb)} programs",
                     "use @tc or @xdp to change packets")


def check_element_store(fb: FunctionBuilder, target: ast.expr) -> None:
    """``eth.h_dest[0] = 1`` is a packet store, ``ctx.cb[0] = 1`` a context store: both only
    where the program type may write."""
    root, field = target, None
    while isinstance(root, (ast.Attribute, ast.Subscript)):
        if isinstance(root, ast.Attribute):
            field = root
        root = root.value
    if not isinstance(root, ast.Name) or root.id not in fb.locals:
        return
    local = fb.locals[root.id]
    if _header_local(fb, root.id):
        check_writable(fb, Value(local.ty, ""), target)
    elif isinstance(local.ty, PtrType) and local.ty.space == "ctx" and local.ty.pointee is None \
            and field is not None and field.value is root and (access := access_of(fb)) is not None \
            and field.attr not in access.writable:
        raise fb.err(target, f"ctx.{field.attr} is read-only in {_program(fb)} programs",
                     f"the fields a {_program(fb)} program may assign: "
                     + (", ".join(sorted(access.writable)) or "none"))


def bswap(fb: FunctionBuilder, value: str, bits: int) -> str:
    """Network byte order <-> the CPU's (BPF's ``be16``/``be32``; a constant is folded)."""
    if bits == 8:
        return value
    if value.lstrip("-").isdigit():
        n = int(value) & ((1 << bits) - 1)
        return str(int.from_bytes(n.to_bytes(bits // 8, "little"), "big"))
    return fb.b.assign(f"call i{bits} @llvm.bswap.i{bits}(i{bits} {value})", "bswap")


# ---------------------------------------------------------------- byte arrays

def is_byte_array(v: Value) -> bool:
    """A header's address field (``eth.h_dest``, ``ip6.saddr``): bytes, compared exactly."""
    return isinstance(v.ty, ArrayType) and v.ty.elem == U8 and not v.ty.elem.aggregate


def compare_bytes(fb: FunctionBuilder, op: ast.cmpop, a: Value, b: Value, node: ast.AST) -> Value:
    """``eth.h_dest == mac("...")``, ``ip6.saddr == other.daddr``: every byte equal."""
    from ..types import BOOL

    if not isinstance(op, (ast.Eq, ast.NotEq)):
        raise fb.err(node, "addresses compare only with == and !=")
    if not is_byte_array(a):
        a, b = b, a
    assert isinstance(a.ty, ArrayType)
    n = a.ty.length
    if isinstance(b.ty, StrType):
        if len(b.ty.value) != n:
            raise fb.err(node, f"comparing {n} bytes with a constant of {len(b.ty.value)} bytes")
        other: list[str] = [str(x) for x in b.ty.value]
    elif is_byte_array(b) and isinstance(b.ty, ArrayType) and b.ty.length == n:
        other = [fb.b.load("i8", fb.b.byte_gep(b.ref, i), 1) for i in range(n)]
    else:
        raise fb.err(node, f"cannot compare {n} bytes with a {show(b.ty)}",
                     "compare with bytes of the same length (mac(...), ip6(...)) or another "
                     "address field")
    diff = "0"
    for i in range(n):
        x = fb.b.load("i8", fb.b.byte_gep(a.ref, i), 1)
        d = fb.b.binop("xor", "i8", x, other[i])
        diff = d if diff == "0" else fb.b.binop("or", "i8", diff, d)
    pred = "eq" if isinstance(op, ast.Eq) else "ne"
    return Value(BOOL, fb.b.icmp(pred, "i8", diff, "0"))


# ---------------------------------------------------------------- address literals

def address_call(fb: FunctionBuilder, name: str, node: ast.Call) -> Value:
    """``ip4("10.0.0.1")`` and friends: folded here, as the same function computes in Python."""
    if node.keywords or len(node.args) != 1 or not (isinstance(node.args[0], ast.Constant)
                                                     and isinstance(node.args[0].value, str)):
        raise fb.err(node, f"{name}() takes one string literal in BPF code",
                     f'e.g. {name}("{_EXAMPLES[name]}")')
    try:
        value = ADDRESS_FUNCTIONS[name](node.args[0].value)
    except ValueError as e:
        raise fb.err(node.args[0], str(e)) from None
    if isinstance(value, bytes):
        return Value(StrType(value), "")
    assert isinstance(value, int)
    return lit(value)


_EXAMPLES = {"ip4": "10.0.0.1", "ip6": "fe80::1", "mac": "aa:bb:cc:dd:ee:ff"}

__all__ = ["PACKET_DECORATORS", "address_call", "compare_bytes", "context_field", "header_call",
           "packet_changed",
           "is_byte_array", "is_header_ref", "narrowing", "read_field", "store_context",
           "store_field", "tested_value", "update_context", "update_field"]
