"""Statements: assignment, control flow, loops, return, del, assert.

Each ``stmt_*`` function lowers one kind of ast statement; :data:`STATEMENTS`
maps statement types to them (the builder dispatches through it).
"""

from __future__ import annotations

from .. import pyast as ast
from ..frontend.resolve import resolve_type
from ..types import (
    BOOL,
    I64,
    U64,
    AddrType,
    ArrayType,
    BoolType,
    BpfType,
    IntType,
    KernelStructType,
    MapRefType,
    PlaceType,
    PtrType,
)
from . import calls, context, expressions, kernel, maps, operators, packet
from .builder import FunctionBuilder
from .ir import Value
from .values import LitType, Local, Loop, NoneType_, StrType, show

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds of every compile
if TYPE_CHECKING:
    from .builder import StmtTable


def stmt_pass(fb: FunctionBuilder, stmt: ast.Pass) -> None:
    return


def stmt_global(fb: FunctionBuilder, stmt: ast.Global) -> None:
    return  # collected before the body is lowered


def stmt_expr(fb: FunctionBuilder, stmt: ast.Expr) -> None:
    if isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
        return  # a docstring
    fb.expr(stmt.value)


def stmt_assert(fb: FunctionBuilder, stmt: ast.Assert) -> None:
    test = fb.expr(stmt.test)
    if isinstance(test.ty, LitType):
        holds = test.ty.value != 0
    elif isinstance(test.ty, BoolType) and test.ref in ("true", "false"):
        holds = test.ref == "true"
    else:
        raise fb.err(stmt, "assert needs a condition known at compile time",
                     "BPF cannot raise: check at run time with 'if not cond: return 0'")
    if not holds:
        msg = ast.unparse(stmt.msg) if stmt.msg is not None else ast.unparse(stmt.test)
        raise fb.err(stmt, f"assertion failed at compile time: {msg}")


def stmt_return(fb: FunctionBuilder, stmt: ast.Return) -> None:
    ret = fb.decl.ret
    if stmt.value is None or (isinstance(stmt.value, ast.Constant) and stmt.value.value is None):
        fb.return_default()
        return
    if ret.llvm == "void":
        raise fb.err(stmt, f"'{fb.decl.name}' returns a value but is annotated '-> None'")
    v = fb.expr(stmt.value)
    if isinstance(v.ty, NoneType_):
        fb.return_default()
        return
    if isinstance(v.ty, LitType):  # a verdict the kernel would refuse (cgroup socket programs)
        packet.check_return(fb, v.ty.value, stmt.value)
    v = fb.coerce(v, ret, stmt.value, explicit=is_cast_call(fb, stmt.value))
    fb.b.ret(ret.llvm, v.ref)


def is_cast_call(fb: FunctionBuilder, node: ast.expr) -> bool:
    """``return c_int64(0)`` (pythonbpf) states the type explicitly."""
    return isinstance(node, ast.Call) and resolve_type(fb.model, node.func) is not None


def stmt_delete(fb: FunctionBuilder, stmt: ast.Delete) -> None:
    for target in stmt.targets:
        if not isinstance(target, ast.Subscript) or (decl := fb.map_of(target.value)) is None:
            raise fb.err(target, "del only removes map entries: del some_map[key]",
                         "locals cannot be deleted in BPF code")
        maps.map_delete(fb, decl, fb.expr(target.slice), target)


def stmt_assign(fb: FunctionBuilder, stmt: ast.Assign) -> None:
    if len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Tuple):
        unpack(fb, stmt.targets[0], stmt.value, stmt)
        return
    if len(stmt.targets) == 1 and construct_in_place(fb, stmt.targets[0], stmt.value):
        return
    value = expressions.operand(fb, stmt.value)
    if isinstance(value.ty, PlaceType):  # kernel memory: straight into a char array field
        if len(stmt.targets) == 1 and read_in_place(fb, stmt.targets[0], value, stmt.value):
            return
        value = kernel.read(fb, value, stmt.value)
    for target in stmt.targets:
        if isinstance(target, ast.Tuple):
            raise fb.err(target, "tuple unpacking must be the only target")
        assign(fb, target, value, stmt)


def read_in_place(fb: FunctionBuilder, target: ast.expr, place: Value, node: ast.expr) -> bool:
    """``e.comm = t.comm``, ``e.filename = ctx.filename``: read kernel memory straight into a
    char array field or local (a ``__data_loc`` string takes the destination's length)."""
    if isinstance(target, ast.Attribute):
        ptr, ty = expressions.field_address(fb, target)
        check_writable(fb, target)
        if not kernel.read_into(fb, place, ptr, ty, node):
            fb.store(kernel.read(fb, place, node), ty, ptr, target)
        return True
    if isinstance(target, ast.Name) and target.id not in fb.global_names:
        local = fb.locals.get(target.id)
        if local is not None and local.ty.aggregate:
            if not kernel.read_into(fb, place, local.ptr, local.ty, node):
                fb.store(kernel.read(fb, place, node), local.ty, local.ptr, target)
            return True
    return False


def unpack(fb: FunctionBuilder, target: ast.Tuple, value: ast.expr, stmt: ast.stmt) -> None:
    if not isinstance(value, ast.Tuple):
        raise fb.err(value, "only a tuple of values can be unpacked", "a, b = x, y")
    if len(value.elts) != len(target.elts):
        raise fb.err(stmt, f"cannot unpack {len(value.elts)} values into {len(target.elts)} names")
    values = [snapshot(fb, fb.expr(v)) for v in value.elts]  # all right sides first, as Python
    for t, v in zip(target.elts, values):
        if isinstance(t, (ast.Tuple, ast.Starred)):
            raise fb.err(t, "nested or starred unpacking is not supported")
        assign(fb, t, v, stmt)


def snapshot(fb: FunctionBuilder, v: Value) -> Value:
    """Copy an aggregate so a later store cannot change it (``a, b = b, a``).

    A scalar is already a copy, but must forget the local it was read from:
    ``k, m[0] = 0, k`` would otherwise hand the helper k's slot, by then 0.
    """
    if not v.ty.aggregate:
        return Value(v.ty, v.ref)
    copy = fb.temp_aggregate(v.ty, zero=False)
    fb.b.memcpy(copy.ref, v.ref, v.ty.size, v.ty.align)
    return copy


def stmt_ann_assign(fb: FunctionBuilder, stmt: ast.AnnAssign) -> None:
    if not isinstance(stmt.target, ast.Name):
        raise fb.err(stmt, "annotations are only for declaring locals: x: u32 = 0")
    name = stmt.target.id
    ty = resolve_type(fb.model, stmt.annotation)
    if ty is None:
        raise fb.err(stmt.annotation, f"unknown type for '{name}'",
                     "use u8..u64, i8..i64, bool, c_char * N or a @struct class")
    if name in fb.global_names:
        raise fb.err(stmt, f"'{name}' is declared global; its type is set at module level")
    existing = fb.locals.get(name)
    if existing is not None and existing.ty != ty:
        raise fb.err(stmt, f"'{name}' is already a {show(existing.ty)}")
    if existing is None:
        declare_local(fb, name, ty)
    empty_list = isinstance(stmt.value, ast.List) and not stmt.value.elts
    if stmt.value is not None and not (empty_list and isinstance(ty, ArrayType)):
        if not construct_in_place(fb, stmt.target, stmt.value):
            assign(fb, stmt.target, fb.expr(stmt.value), stmt)
    elif ty.aggregate:  # no value, or `[]`: an array's zero in the spelling type checkers accept
        fb.b.memset(fb.locals[name].ptr, ty.size, ty.align)


def declare_local(fb: FunctionBuilder, name: str, ty: BpfType, storage: str | None = None) -> Local:
    """A new local, zero on every path from the function's start (Python would raise
    UnboundLocalError on a path that skips the assignment; BPF reads a defined zero)."""
    if storage is None:
        storage = fb.alloca(ty, name)
    fb.b.zero_at_entry(ty, storage)
    local = Local(ty, storage)
    fb.locals[name] = local
    return local


def assign(fb: FunctionBuilder, target: ast.expr, value: Value, stmt: ast.stmt) -> None:
    if isinstance(target, ast.Name):
        assign_name(fb, target, value)
    elif isinstance(target, ast.Attribute):
        base = expressions.assigned_base(fb, target)
        if packet.is_header_ref(base):  # eth.h_dest = ..., ip.ttl = 64: a packet store
            packet.store_field(fb, base, target, value)
            return
        if context.is_context(base) and packet.access_of(fb) is not None:  # ctx.mark = 1
            packet.store_context(fb, base, target, value)
            return
        ptr, ty = expressions.field_address_of(fb, base, target)
        check_writable(fb, target)
        fb.store(value, ty, ptr, target)
    elif isinstance(target, ast.Subscript):
        decl = fb.map_of(target.value)
        if decl is not None:
            maps.map_update(fb, decl, fb.expr(target.slice), value, 0, target)
            return
        base = expressions.aggregate_ref(fb, target.value)
        if not isinstance(base.ty, ArrayType):
            raise fb.err(target, f"a {show(base.ty)} cannot be indexed")
        check_writable(fb, target)
        expressions.element(fb, base, target.slice, target, value)
    else:
        raise fb.err(target, "cannot assign to this expression",
                     "assign to a name, a field (s.x), an element (a[i]) or a map entry (m[k])")


def assign_name(fb: FunctionBuilder, target: ast.Name, value: Value) -> None:
    name = target.id
    if name in fb.global_names:
        g = fb.model.globals[name]
        if g.final:
            raise final_error(fb, target, name)
        fb.store(value, g.ty, f"@{name}", target)
        return
    if name in fb.model.maps or name in fb.model.functions:
        raise fb.err(target, f"cannot rebind '{name}', a module-level map or function",
                     "choose another name for the local")
    local = fb.locals.get(name)
    if isinstance(value.ty, StrType) and (local is None or not local.ty.aggregate):
        bind_string(fb, target, value, local is None)
        return
    if local is None:
        ty = fb.default_type(value)
        if isinstance(ty, AddrType) and fb.assigned.get(name, 0) != 1:
            ty = U64  # where it points is known only for a local bound once
        if ty.aggregate and value.ref in fb.fresh:
            fb.fresh.discard(value.ref)  # adopted once: b = a must copy, and so must a = b = S()
            declare_local(fb, name, ty, value.ref)  # adopt the temporary, no copy
            return
        if packet.is_header_ref(value):  # tested or not, the local holds either
            assert isinstance(ty, PtrType)
            ty = PtrType(ty.pointee, nullable=True, space=ty.space)
        local = declare_local(fb, name, ty)
        packet.bound(fb, name, value, local.ty, target)
    elif packet.is_header_ref(Value(local.ty, "")):
        packet.bound(fb, name, value, local.ty, target)
    elif (isinstance(local.ty, MapRefType) or isinstance(value.ty, MapRefType)) \
            and local.ty != value.ty and not isinstance(value.ty, NoneType_):
        raise fb.err(target, f"'{name}' holds a {show(local.ty)} and cannot be rebound to a "
                     f"{show(value.ty)}", "use another name for the local")
    elif isinstance(local.ty, PtrType) and not local.ty.nullable and local.ty != value.ty \
            and (local.ty.space == "ctx" or _kernel_struct_pointer(local.ty)
                 or _kernel_struct_pointer(value.ty)):
        if local.ty.space != "ctx":
            raise fb.err(target, f"'{name}' holds a {show(local.ty)} and cannot be rebound to a "
                         f"{show(value.ty)}", "use another name for the local")
        raise fb.err(target, f"'{name}' is the program's context and cannot be rebound",
                     "use another name for the local")
    elif isinstance(local.ty, PtrType) and not local.ty.nullable and not isinstance(value.ty, PtrType):
        raise fb.err(target, f"'{name}' is a {show(local.ty)} and cannot be rebound to a "
                     f"{show(value.ty)}", "use another name, or convert explicitly: "
                     f"{name} = UserPtr[T](address)")
    elif isinstance(local.ty, PtrType) and not isinstance(value.ty, PtrType):
        if not isinstance(value.ty, NoneType_):
            raise fb.err(target, f"'{name}' holds a map value reference and cannot be "
                         f"rebound to a {show(value.ty)}",
                         f"write through it ({name}.field = ...) or use another name")
    fb.store(value, local.ty, local.ptr, target)


def _kernel_struct_pointer(ty: BpfType) -> bool:
    """A pointer to a kernel struct (``current_task()``): its type is fixed, space and all."""
    return isinstance(ty, PtrType) and isinstance(ty.pointee, KernelStructType)


def bind_string(fb: FunctionBuilder, target: ast.Name, value: Value, new: bool) -> None:
    """``s = "text"`` names a constant (pythonbpf programs print such locals).

    Only a name bound exactly once: with two bindings, which one a later
    read sees depends on the path taken, which a constant cannot follow.
    """
    name = target.id
    if not new or fb.assigned.get(name, 0) != 1:
        raise fb.err(target, f"'{name}' is given a string, so it must be assigned only once",
                     "strings in BPF code are constants; use another name, or a c_char * N "
                     "field for text that changes")
    fb.string_locals[name] = value


def final_error(fb: FunctionBuilder, node: ast.AST, name: str) -> Exception:
    return fb.err(node, f"'{name}' is Final: BPF code cannot change it",
                  f"set it from user space before loading: mod.{name}.value = ...")


def check_writable(fb: FunctionBuilder, target: ast.expr) -> None:
    packet.check_element_store(fb, target)
    root = target
    while isinstance(root, (ast.Attribute, ast.Subscript)):
        root = root.value
    if isinstance(root, ast.Name) and root.id not in fb.locals:
        g = fb.model.globals.get(root.id)
        if g is not None and g.final:
            raise final_error(fb, target, root.id)


def construct_in_place(fb: FunctionBuilder, target: ast.expr, value: ast.expr) -> bool:
    """``e.comm = comm()`` and ``key = Key(...)`` write straight into the destination."""
    if not isinstance(value, ast.Call) or not isinstance(target, (ast.Attribute, ast.Name)):
        return False
    kind = calls.in_place_kind(fb, value)
    if kind is None or reads_root(value, target):
        return False  # S(a=s.b, b=s.a) must read s before it is overwritten
    if isinstance(target, ast.Name):
        local = fb.locals.get(target.id)
        if local is None or target.id in fb.global_names or not local.ty.aggregate:
            return False
        ptr, ty = local.ptr, local.ty
    else:
        ptr, ty = expressions.field_address(fb, target)
        check_writable(fb, target)
    return calls.build_into(fb, kind, value, ptr, ty)


def stmt_aug_assign(fb: FunctionBuilder, stmt: ast.AugAssign) -> None:
    target = stmt.target
    if isinstance(target, ast.Subscript):
        decl = fb.map_of(target.value)
        if decl is not None:
            maps.map_augment(fb, decl, fb.expr(target.slice), stmt.op, fb.expr(stmt.value), stmt)
            return
        base = expressions.aggregate_ref(fb, target.value)
        if not isinstance(base.ty, ArrayType):
            raise fb.err(target, f"a {show(base.ty)} cannot be indexed")
        check_writable(fb, target)
        elem, shared = base.ty.elem, is_shared(fb, target.value)
        index = fb.numeric(fb.expr(target.slice), target.slice)  # once, before the value
        value = fb.expr(stmt.value)
        expressions.at_element(fb, base, index, target.slice,
                               lambda ptr: operators.update_at(fb, ptr, elem, stmt.op, value, stmt, shared))
        return
    if isinstance(target, ast.Name):
        name = target.id
        local = fb.locals.get(name)
        if local is not None and isinstance(local.ty, PtrType) and not local.ty.nullable:
            raise fb.err(target, f"'{name}' is a {show(local.ty)}; it cannot be updated in place",
                         f"compute an address instead: addr = {name} + n (bytes), then read it "
                         "with read_user/read_kernel")
        if local is not None and isinstance(local.ty, PtrType) and local.ty.pointee is not None:
            ptr = fb.load(local.ty, local.ptr).ref  # write through a map value reference
            update_in_memory(fb, ptr, local.ty.pointee, stmt.op, stmt.value, stmt, shared=True)
            return
        if local is None and name in fb.global_names:
            g = fb.model.globals[name]
            if g.final:
                raise final_error(fb, target, name)
            update_in_memory(fb, f"@{name}", g.ty, stmt.op, stmt.value, stmt, shared=True)
            return
        if local is None:
            if name in fb.model.globals:
                raise fb.err(target, f"'{name}' is a module global: declare 'global {name}' "
                             "in this function to change it")
            raise fb.err(target, f"local variable '{name}' is used before it is assigned")
        current = fb.load(local.ty, local.ptr)
        fb.store(operators.binop(fb, stmt.op, current, fb.expr(stmt.value), stmt), local.ty, local.ptr, stmt)
        return
    if isinstance(target, ast.Attribute):
        base = expressions.assigned_base(fb, target)
        if packet.is_header_ref(base):  # ip.ttl -= 1
            packet.update_field(fb, base, target, stmt.op, fb.expr(stmt.value), stmt)
            return
        if context.is_context(base) and packet.access_of(fb) is not None:  # ctx.mark |= 1
            packet.update_context(fb, base, target, stmt.op, fb.expr(stmt.value), stmt)
            return
        ptr, ty = expressions.field_address_of(fb, base, target)
        check_writable(fb, target)
        update_in_memory(fb, ptr, ty, stmt.op, stmt.value, stmt, shared=is_shared(fb, target.value))
        return
    raise fb.err(target, "cannot update this expression in place")


def is_shared(fb: FunctionBuilder, base: ast.expr) -> bool:
    """Does ``base`` live in a map value or a global, where other CPUs see it?"""
    root = base
    while isinstance(root, (ast.Attribute, ast.Subscript)):
        root = root.value
    if isinstance(root, ast.Name):
        local = fb.locals.get(root.id)
        if local is None:
            return root.id in fb.model.globals
        return isinstance(local.ty, PtrType)
    return True


def update_in_memory(fb: FunctionBuilder, ptr: str, ty: BpfType, op: ast.operator,
                     value_node: ast.expr, stmt: ast.stmt, shared: bool) -> None:
    """``*ptr op= value`` (a field, a global, a map value through a reference)."""
    operators.update_at(fb, ptr, ty, op, fb.expr(value_node), stmt, shared)


def stmt_if(fb: FunctionBuilder, stmt: ast.If) -> None:
    """``if``/``else``; what each branch proves about header references (``eth is None``) holds
    in it, and after the statement what every branch that falls through proves."""
    then = fb.b.new_block("if.then")
    done = fb.b.new_block("if.end")
    other = fb.b.new_block("if.else") if stmt.orelse else done
    yes, no = packet.narrowing(fb, stmt.test)
    expressions.cond(fb, stmt.test, then, other)
    before, stale = fb.narrowed, fb.stale  # after the test: it may call a helper too
    fb.b.position(then)
    fb.narrowed = before | yes
    fb.block_of(stmt.body)
    ends = [] if fb.b.block.terminated else [(fb.narrowed, fb.stale)]
    fb.b.br(done)
    fb.narrowed, fb.stale = before | no, stale
    if stmt.orelse:
        fb.b.position(other)
        fb.block_of(stmt.orelse)
        if not fb.b.block.terminated:
            ends.append((fb.narrowed, fb.stale))
        fb.b.br(done)
    else:
        ends.append((fb.narrowed, fb.stale))
    fb.b.position(done)
    if ends:  # tested on every path here; stale on any
        fb.narrowed = frozenset.intersection(*(n for n, _ in ends))
        fb.stale = {k: v for _, s in ends for k, v in s.items()}
    else:  # every branch returned, broke or continued: nothing falls through to here
        fb.narrowed = before
        fb.b.terminate("unreachable")


def stmt_while(fb: FunctionBuilder, stmt: ast.While) -> None:
    head = fb.b.new_block("while.cond")
    body = fb.b.new_block("while.body")
    done = fb.b.new_block("while.end")
    orelse = fb.b.new_block("while.else") if stmt.orelse else done
    fb.b.br(head)
    fb.b.position(head)
    fb.at(stmt)
    expressions.cond(fb, stmt.test, body, orelse)
    fb.b.position(body)
    fb.loops.append(Loop(head, done))
    outside, stale = forget_assigned(fb, stmt), fb.stale
    fb.block_of(stmt.body)
    fb.narrowed, fb.stale = outside, {**stale, **fb.stale}
    fb.loops.pop()
    fb.b.br(head)
    if stmt.orelse:
        fb.b.position(orelse)
        fb.block_of(stmt.orelse)
        fb.b.br(done)
    fb.b.position(done)


def stmt_for(fb: FunctionBuilder, stmt: ast.For) -> None:
    """``for i in range(...)``: the counter never wraps, so the loop runs exactly as Python's.

    After each pass the loop continues while the distance left to ``stop``
    exceeds the step; ``i + step`` is never compared with ``stop``, because
    it may wrap around the counter's width (``range(0, n, 2)`` with ``n: u8 = 255``).
    """
    it = stmt.iter
    if not (isinstance(it, ast.Call) and fb.builtin(it.func) == "range"):
        raise fb.err(it, "for loops iterate over range(...) only",
                     "for i in range(n): ... (the bound keeps the verifier happy)")
    if it.keywords or not 1 <= len(it.args) <= 3:
        raise fb.err(it, "range() takes 1 to 3 arguments")
    if not isinstance(stmt.target, ast.Name):
        raise fb.err(stmt.target, "the loop variable must be a plain name")
    args = [fb.numeric(fb.expr(a), a) for a in it.args]
    start, stop = (args[0], args[1]) if len(args) > 1 else (Value(LitType(0), "0"), args[0])
    step = 1
    if len(args) == 3:
        if not isinstance(args[2].ty, LitType) or args[2].ty.value == 0:
            raise fb.err(it.args[2], "range()'s step must be a non-zero constant")
        step = args[2].ty.value
    ty = range_type(fb, stmt.target.id, start, stop, it)
    start_v = fb.coerce(start, ty, it)
    stop_v = fb.coerce(stop, ty, it)
    counter = fb.alloca(ty, "i")
    fb.b.store(ty.llvm, start_v.ref, counter, ty.align)
    head = fb.b.new_block("for.cond")
    body = fb.b.new_block("for.body")
    step_block = fb.b.new_block("for.step")
    done = fb.b.new_block("for.end")
    orelse = fb.b.new_block("for.else") if stmt.orelse else done
    fb.b.br(head)
    fb.b.position(head)
    current = fb.b.load(ty.llvm, counter, ty.align)
    pred = ("slt" if step > 0 else "sgt") if ty.signed else ("ult" if step > 0 else "ugt")
    fb.b.cbr(fb.b.icmp(pred, ty.llvm, current, stop_v.ref), body, orelse)
    fb.b.position(body)
    assign_name(fb, stmt.target, Value(ty, fb.b.load(ty.llvm, counter, ty.align)))
    fb.loops.append(Loop(step_block, done))
    outside, stale = forget_assigned(fb, stmt), fb.stale
    name = stmt.target.id
    outer = fb.bounds.pop(name, None)
    known = counter_bounds(start, stop, step)
    if known is not None and name not in fb.global_names and not stores_to(stmt.body, name):
        fb.bounds[name] = known
    fb.block_of(stmt.body)
    fb.narrowed, fb.stale = outside, {**stale, **fb.stale}
    fb.bounds.pop(name, None)
    if outer is not None:
        fb.bounds[name] = outer
    fb.loops.pop()
    fb.b.br(step_block)
    fb.b.position(step_block)
    fb.at(stmt)
    current = fb.b.load(ty.llvm, counter, ty.align)
    left = (stop_v.ref, current) if step > 0 else (current, stop_v.ref)
    distance = fb.b.binop("sub", ty.llvm, *left)  # exact as an unsigned number
    if abs(step) > IntType(ty.bits, False).max:
        more = "false"
    else:
        more = fb.b.icmp("ugt", ty.llvm, distance, str(abs(step)))
    nxt = fb.b.binop("add", ty.llvm, current, str(IntType(ty.bits, True).wrap(step)))
    fb.b.store(ty.llvm, nxt, counter, ty.align)
    expressions.branch(fb, Value(BOOL, more), body, orelse)
    if stmt.orelse:
        fb.b.position(orelse)
        fb.block_of(stmt.orelse)
        fb.b.br(done)
    fb.b.position(done)


def forget_assigned(fb: FunctionBuilder, loop: ast.While | ast.For) -> frozenset[str]:
    """A loop may run its body again after assigning a header reference: a reference tested
    before the loop stays tested in and after it only if the loop never assigns it."""
    assigned = {n.id for s in loop.body + loop.orelse for n in ast.walk(s)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    fb.narrowed = fb.narrowed - assigned
    return fb.narrowed


def counter_bounds(start: Value, stop: Value, step: int) -> tuple[int, int] | None:
    """The least and greatest value a ``range()`` counter takes, when both bounds are constants."""
    if not (isinstance(start.ty, LitType) and isinstance(stop.ty, LitType)):
        return None
    values = range(start.ty.value, stop.ty.value, step)
    if not values:
        return None
    return min(values[0], values[-1]), max(values[0], values[-1])


def stores_to(body: list[ast.stmt], name: str) -> bool:
    """Whether ``body`` assigns or deletes ``name`` anywhere (then its loop bounds say nothing)."""
    return any(
        isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, (ast.Store, ast.Del))
        for stmt in body for node in ast.walk(stmt)
    )


def range_type(fb: FunctionBuilder, name: str, start: Value, stop: Value, node: ast.AST) -> IntType:
    """The counter's type: exact for both bounds (``range(i32, u32)`` counts in ``i64``).

    An existing loop variable keeps its type, so a bound it cannot hold is an error
    rather than a loop that silently runs differently from Python's.
    """
    existing = fb.locals.get(name)
    if existing is not None and isinstance(existing.ty, IntType):
        for bound in (start, stop):
            if isinstance(bound.ty, IntType) and not (existing.ty.fits(bound.ty.min)
                                                      and existing.ty.fits(bound.ty.max)):
                raise fb.err(node, f"loop variable '{name}' is a {existing.ty}, which cannot hold "
                             f"every {bound.ty} bound of this range()", "use a new name for the loop variable")
        return existing.ty
    ty = fb.unify(start, stop)
    if isinstance(start.ty, LitType) or isinstance(stop.ty, LitType):
        return ty
    ta, tb = fb.int_type_of(start), fb.int_type_of(stop)
    if ta.signed != tb.signed and ty.bits < 64:
        return I64
    return ty


def stmt_break(fb: FunctionBuilder, stmt: ast.Break) -> None:
    if not fb.loops:
        raise fb.err(stmt, "'break' outside a loop")
    fb.b.br(fb.loops[-1].brk)


def stmt_continue(fb: FunctionBuilder, stmt: ast.Continue) -> None:
    if not fb.loops:
        raise fb.err(stmt, "'continue' outside a loop")
    fb.b.br(fb.loops[-1].cont)


def root_name(node: ast.expr) -> str | None:
    """The variable an lvalue like ``o.i.q`` or ``a[i].x`` lives in."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def reads_root(value: ast.expr, target: ast.expr) -> bool:
    """Does ``value`` mention the variable ``target`` writes into?"""
    root = root_name(target)
    return root is not None and any(
        isinstance(n, ast.Name) and n.id == root for n in ast.walk(value))


STATEMENTS: StmtTable = {
    ast.Pass: stmt_pass,
    ast.Global: stmt_global,
    ast.Expr: stmt_expr,
    ast.Assert: stmt_assert,
    ast.Return: stmt_return,
    ast.Delete: stmt_delete,
    ast.Assign: stmt_assign,
    ast.AnnAssign: stmt_ann_assign,
    ast.AugAssign: stmt_aug_assign,
    ast.If: stmt_if,
    ast.While: stmt_while,
    ast.For: stmt_for,
    ast.Break: stmt_break,
    ast.Continue: stmt_continue,
}
