"""Statements: assignment, control flow, loops, return, del, assert."""

from __future__ import annotations

import ast

from ..types import BOOL, I64, ArrayType, BoolType, BpfType, IntType, PtrType, mem_llvm
from .ir import Value
from .values import LitType, Local, Loop, NoneType_, StrType, show

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds of every compile
if TYPE_CHECKING:
    from .function import FunctionCodegen
_UNSUPPORTED = {
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
# Operations a shared location (map value, global) can do atomically at 32 and 64 bits.
_ATOMIC = {ast.Add: "add", ast.Sub: "add", ast.BitOr: "or", ast.BitAnd: "and", ast.BitXor: "xor"}


class StatementsMixin:
    def block_of(self: FunctionCodegen, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.statement(stmt)

    def statement(self: FunctionCodegen, stmt: ast.stmt) -> None:
        self.at(stmt)
        handler = getattr(self, "stmt_" + type(stmt).__name__, None)
        if handler is None:
            what, hint = _UNSUPPORTED.get(type(stmt).__name__, (type(stmt).__name__, None))
            raise self.err(stmt, f"{what} is not supported in BPF code", hint)
        handler(stmt)

    # ------------------------------------------------------------ simple statements
    def stmt_Pass(self: FunctionCodegen, stmt: ast.Pass) -> None:
        return

    def stmt_Global(self: FunctionCodegen, stmt: ast.Global) -> None:
        return  # collected before the body is lowered

    def stmt_Expr(self: FunctionCodegen, stmt: ast.Expr) -> None:
        if isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
            return  # a docstring
        self.expr(stmt.value)

    def stmt_Assert(self: FunctionCodegen, stmt: ast.Assert) -> None:
        test = self.expr(stmt.test)
        if isinstance(test.ty, LitType):
            holds = test.ty.value != 0
        elif isinstance(test.ty, BoolType) and test.ref in ("true", "false"):
            holds = test.ref == "true"
        else:
            raise self.err(stmt, "assert needs a condition known at compile time",
                           "BPF cannot raise: check at run time with 'if not cond: return 0'")
        if not holds:
            msg = ast.unparse(stmt.msg) if stmt.msg is not None else ast.unparse(stmt.test)
            raise self.err(stmt, f"assertion failed at compile time: {msg}")

    def stmt_Return(self: FunctionCodegen, stmt: ast.Return) -> None:
        ret = self.decl.ret
        if stmt.value is None or (isinstance(stmt.value, ast.Constant) and stmt.value.value is None):
            self.return_default()
            return
        if ret.llvm == "void":
            raise self.err(stmt, f"'{self.decl.name}' returns a value but is annotated '-> None'")
        v = self.expr(stmt.value)
        if isinstance(v.ty, NoneType_):
            self.return_default()
            return
        v = self.coerce(v, ret, stmt.value, explicit=self.is_cast_call(stmt.value))
        self.b.ret(ret.llvm, v.ref)

    def is_cast_call(self: FunctionCodegen, node: ast.expr) -> bool:
        """``return c_int64(0)`` (pythonbpf) states the type explicitly."""
        from ..frontend.resolve import resolve_type

        return isinstance(node, ast.Call) and resolve_type(self.model, node.func) is not None

    def stmt_Delete(self: FunctionCodegen, stmt: ast.Delete) -> None:
        for target in stmt.targets:
            decl = self.map_of(target.value) if isinstance(target, ast.Subscript) else None
            if decl is None:
                raise self.err(target, "del only removes map entries: del some_map[key]",
                               "locals cannot be deleted in BPF code")
            self.map_delete(decl, self.expr(target.slice), target)

    # ------------------------------------------------------------ assignment
    def stmt_Assign(self: FunctionCodegen, stmt: ast.Assign) -> None:
        if len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Tuple):
            self.unpack(stmt.targets[0], stmt.value, stmt)
            return
        if len(stmt.targets) == 1 and self.construct_in_place(stmt.targets[0], stmt.value):
            return
        value = self.expr(stmt.value)
        for target in stmt.targets:
            if isinstance(target, ast.Tuple):
                raise self.err(target, "tuple unpacking must be the only target")
            self.assign(target, value, stmt)

    def unpack(self: FunctionCodegen, target: ast.Tuple, value: ast.expr, stmt: ast.stmt) -> None:
        if not isinstance(value, ast.Tuple):
            raise self.err(value, "only a tuple of values can be unpacked", "a, b = x, y")
        if len(value.elts) != len(target.elts):
            raise self.err(stmt, f"cannot unpack {len(value.elts)} values into {len(target.elts)} names")
        values = [self.snapshot(self.expr(v)) for v in value.elts]  # all right sides first, as Python
        for t, v in zip(target.elts, values):
            if isinstance(t, (ast.Tuple, ast.Starred)):
                raise self.err(t, "nested or starred unpacking is not supported")
            self.assign(t, v, stmt)

    def snapshot(self: FunctionCodegen, v: Value) -> Value:
        """Copy an aggregate so a later store cannot change it (``a, b = b, a``).

        A scalar is already a copy, but must forget the local it was read from:
        ``k, m[0] = 0, k`` would otherwise hand the helper k's slot, by then 0.
        """
        if not v.ty.aggregate:
            return Value(v.ty, v.ref)
        copy = self.temp_aggregate(v.ty, zero=False)
        self.b.memcpy(copy.ref, v.ref, v.ty.size, v.ty.align)
        return copy

    def stmt_AnnAssign(self: FunctionCodegen, stmt: ast.AnnAssign) -> None:
        from ..frontend.resolve import resolve_type

        if not isinstance(stmt.target, ast.Name):
            raise self.err(stmt, "annotations are only for declaring locals: x: u32 = 0")
        name = stmt.target.id
        ty = resolve_type(self.model, stmt.annotation)
        if ty is None:
            raise self.err(stmt.annotation, f"unknown type for '{name}'",
                           "use u8..u64, i8..i64, bool, c_char * N or a @struct class")
        if name in self.global_names:
            raise self.err(stmt, f"'{name}' is declared global; its type is set at module level")
        existing = self.locals.get(name)
        if existing is not None and existing.ty != ty:
            raise self.err(stmt, f"'{name}' is already a {show(existing.ty)}")
        if existing is None:
            self.declare_local(name, ty)
        if stmt.value is not None:
            if not self.construct_in_place(stmt.target, stmt.value):
                self.assign(stmt.target, self.expr(stmt.value), stmt)
        elif ty.aggregate:
            self.b.memset(self.locals[name].ptr, ty.size, ty.align)

    def declare_local(self: FunctionCodegen, name: str, ty: BpfType, storage: str | None = None):
        """A new local, zero on every path from the function's start (Python would raise
        UnboundLocalError on a path that skips the assignment; BPF reads a defined zero)."""
        if storage is None:
            storage = self.alloca(ty, name)
        if ty.aggregate:
            self.fn.allocas.append(f"  call void @llvm.memset.p0.i64(ptr align {ty.align} {storage}, "
                                   f"i8 0, i64 {ty.size}, i1 false)")
        else:
            zero = "0" if not isinstance(ty, PtrType) else "null"
            self.fn.allocas.append(f"  store {mem_llvm(ty)} {zero}, ptr {storage}")
        local = Local(ty, storage)
        self.locals[name] = local
        return local

    def assign(self: FunctionCodegen, target: ast.expr, value: Value, stmt: ast.stmt) -> None:
        if isinstance(target, ast.Name):
            self.assign_name(target, value)
        elif isinstance(target, ast.Attribute):
            ptr, ty = self.field_address(target)
            self.check_writable(target)
            self.store(value, ty, ptr, target)
        elif isinstance(target, ast.Subscript):
            decl = self.map_of(target.value)
            if decl is not None:
                self.map_update(decl, self.expr(target.slice), value, 0, target)
                return
            base = self.aggregate_ref(target.value)
            if not isinstance(base.ty, ArrayType):
                raise self.err(target, f"a {show(base.ty)} cannot be indexed")
            self.check_writable(target)
            self.element(base, target.slice, target, value)
        else:
            raise self.err(target, "cannot assign to this expression",
                           "assign to a name, a field (s.x), an element (a[i]) or a map entry (m[k])")

    def assign_name(self: FunctionCodegen, target: ast.Name, value: Value) -> None:
        name = target.id
        if name in self.global_names:
            g = self.model.globals[name]
            if g.final:
                raise self.final_error(target, name)
            self.store(value, g.ty, f"@{name}", target)
            return
        if name in self.model.maps or name in self.model.functions:
            raise self.err(target, f"cannot rebind '{name}', a module-level map or function",
                           "choose another name for the local")
        local = self.locals.get(name)
        if isinstance(value.ty, StrType) and (local is None or not local.ty.aggregate):
            self.bind_string(target, value, local is None)
            return
        if local is None:
            ty = self.default_type(value)
            if ty.aggregate and value.ref in self.fresh:
                self.fresh.discard(value.ref)  # adopted once: b = a must copy, and so must a = b = S()
                self.declare_local(name, ty, value.ref)  # adopt the temporary, no copy
                return
            local = self.declare_local(name, ty)
        elif isinstance(local.ty, PtrType) and not local.ty.nullable and local.ty != value.ty:
            raise self.err(target, f"'{name}' is the program's context and cannot be rebound",
                           "use another name for the local")
        elif isinstance(local.ty, PtrType) and not isinstance(value.ty, PtrType):
            if not isinstance(value.ty, NoneType_):
                raise self.err(target, f"'{name}' holds a map value reference and cannot be "
                               f"rebound to a {show(value.ty)}",
                               f"write through it ({name}.field = ...) or use another name")
        self.store(value, local.ty, local.ptr, target)

    def bind_string(self: FunctionCodegen, target: ast.Name, value: Value, new: bool) -> None:
        """``s = "text"`` names a constant (pythonbpf programs print such locals).

        Only a name bound exactly once: with two bindings, which one a later
        read sees depends on the path taken, which a constant cannot follow.
        """
        name = target.id
        if not new or self.assigned.get(name, 0) != 1:
            raise self.err(target, f"'{name}' is given a string, so it must be assigned only once",
                           "strings in BPF code are constants; use another name, or a c_char * N "
                           "field for text that changes")
        self.string_locals[name] = value

    def final_error(self: FunctionCodegen, node: ast.AST, name: str) -> Exception:
        return self.err(node, f"'{name}' is Final: BPF code cannot change it",
                        f"set it from user space before loading: mod.{name}.value = ...")

    def check_writable(self: FunctionCodegen, target: ast.expr) -> None:
        root = target
        while isinstance(root, (ast.Attribute, ast.Subscript)):
            root = root.value
        if isinstance(root, ast.Name) and root.id not in self.locals:
            g = self.model.globals.get(root.id)
            if g is not None and g.final:
                raise self.final_error(target, root.id)

    def construct_in_place(self: FunctionCodegen, target: ast.expr, value: ast.expr) -> bool:
        """``e.comm = comm()`` and ``key = Key(...)`` write straight into the destination."""
        if not isinstance(value, ast.Call) or not isinstance(target, (ast.Attribute, ast.Name)):
            return False
        kind = self.in_place_kind(value)
        if kind is None or reads_root(value, target):
            return False  # S(a=s.b, b=s.a) must read s before it is overwritten
        if isinstance(target, ast.Name):
            local = self.locals.get(target.id)
            if local is None or target.id in self.global_names or not local.ty.aggregate:
                return False
            ptr, ty = local.ptr, local.ty
        else:
            ptr, ty = self.field_address(target)
            self.check_writable(target)
        return self.build_into(kind, value, ptr, ty)

    # ------------------------------------------------------------ augmented assignment
    def stmt_AugAssign(self: FunctionCodegen, stmt: ast.AugAssign) -> None:
        target = stmt.target
        if isinstance(target, ast.Subscript):
            decl = self.map_of(target.value)
            if decl is not None:
                self.map_augment(decl, self.expr(target.slice), stmt.op, self.expr(stmt.value), stmt)
                return
            base = self.aggregate_ref(target.value)
            if not isinstance(base.ty, ArrayType):
                raise self.err(target, f"a {show(base.ty)} cannot be indexed")
            self.check_writable(target)
            elem, shared = base.ty.elem, self.is_shared(target.value)
            index = self.numeric(self.expr(target.slice), target.slice)  # once, before the value
            value = self.expr(stmt.value)
            self.at_element(base, index, target.slice,
                            lambda ptr: self.update_at(ptr, elem, stmt.op, value, stmt, shared))
            return
        if isinstance(target, ast.Name):
            name = target.id
            local = self.locals.get(name)
            if local is not None and isinstance(local.ty, PtrType) and local.ty.pointee is not None:
                ptr = self.load(local.ty, local.ptr).ref  # write through a map value reference
                self.update_in_memory(ptr, local.ty.pointee, stmt.op, stmt.value, stmt, shared=True)
                return
            if local is None and name in self.global_names:
                g = self.model.globals[name]
                if g.final:
                    raise self.final_error(target, name)
                self.update_in_memory(f"@{name}", g.ty, stmt.op, stmt.value, stmt, shared=True)
                return
            if local is None:
                if name in self.model.globals:
                    raise self.err(target, f"'{name}' is a module global: declare 'global {name}' "
                                   "in this function to change it")
                raise self.err(target, f"local variable '{name}' is used before it is assigned")
            current = self.load(local.ty, local.ptr)
            self.store(self.binop(stmt.op, current, self.expr(stmt.value), stmt), local.ty, local.ptr, stmt)
            return
        if isinstance(target, ast.Attribute):
            ptr, ty = self.field_address(target)
            self.check_writable(target)
            self.update_in_memory(ptr, ty, stmt.op, stmt.value, stmt, shared=self.is_shared(target.value))
            return
        raise self.err(target, "cannot update this expression in place")

    def is_shared(self: FunctionCodegen, base: ast.expr) -> bool:
        """Does ``base`` live in a map value or a global, where other CPUs see it?"""
        root = base
        while isinstance(root, (ast.Attribute, ast.Subscript)):
            root = root.value
        if isinstance(root, ast.Name):
            local = self.locals.get(root.id)
            if local is None:
                return root.id in self.model.globals
            return isinstance(local.ty, PtrType)
        return True

    def update_in_memory(self: FunctionCodegen, ptr: str, ty: BpfType, op: ast.operator,
                         value_node: ast.expr, stmt: ast.stmt, shared: bool) -> None:
        """``*ptr op= value`` (a field, a global, a map value through a reference)."""
        self.update_at(ptr, ty, op, self.expr(value_node), stmt, shared)

    def update_at(self: FunctionCodegen, ptr: str, ty: BpfType, op: ast.operator, value: Value,
                  node: ast.AST, shared: bool) -> None:
        """``*ptr op= value``: one atomic instruction where the location is shared and BPF has one.

        Add and subtract are atomic on every CPU version (subtract adds the
        negation: BPF has no atomic subtract); or/and/xor from v3.  8- and
        16-bit values, and the other operators, are read, changed and written.
        """
        atomic = self.atomic_op(op, ty) if shared else None
        if atomic is None:
            current = self.load(ty, ptr)
            self.store(self.binop(op, current, value, node), ty, ptr, node)
            return
        # wrapping like the read-modify-write would (hits += -1 on a u64 subtracts one)
        v = self.coerce(self.numeric(value, node), ty, node, explicit=True)
        ref = v.ref
        if isinstance(op, ast.Sub):
            ref = self.b.binop("sub", ty.llvm, "0", ref)
        self.b.atomicrmw(atomic, ptr, ty.llvm, ref, ty.align)

    def atomic_op(self: FunctionCodegen, op: ast.operator, ty: BpfType) -> str | None:
        if not isinstance(ty, IntType) or ty.bits < 32:
            return None
        name = _ATOMIC.get(type(op))
        if name in ("or", "and", "xor") and not self.module.has_atomics:
            return None
        return name

    # ------------------------------------------------------------ control flow
    def stmt_If(self: FunctionCodegen, stmt: ast.If) -> None:
        then = self.b.new_block("if.then")
        done = self.b.new_block("if.end")
        other = self.b.new_block("if.else") if stmt.orelse else done
        self.cond(stmt.test, then, other)
        self.b.position(then)
        self.block_of(stmt.body)
        self.b.br(done)
        if stmt.orelse:
            self.b.position(other)
            self.block_of(stmt.orelse)
            self.b.br(done)
        self.b.position(done)

    def stmt_While(self: FunctionCodegen, stmt: ast.While) -> None:
        head = self.b.new_block("while.cond")
        body = self.b.new_block("while.body")
        done = self.b.new_block("while.end")
        orelse = self.b.new_block("while.else") if stmt.orelse else done
        self.b.br(head)
        self.b.position(head)
        self.at(stmt)
        self.cond(stmt.test, body, orelse)
        self.b.position(body)
        self.loops.append(Loop(head, done))
        self.block_of(stmt.body)
        self.loops.pop()
        self.b.br(head)
        if stmt.orelse:
            self.b.position(orelse)
            self.block_of(stmt.orelse)
            self.b.br(done)
        self.b.position(done)

    def stmt_For(self: FunctionCodegen, stmt: ast.For) -> None:
        """``for i in range(...)``: the counter never wraps, so the loop runs exactly as Python's.

        After each pass the loop continues while the distance left to ``stop``
        exceeds the step; ``i + step`` is never compared with ``stop``, because
        it may wrap around the counter's width (``range(0, n, 2)`` with ``n: u8 = 255``).
        """
        it = stmt.iter
        if not (isinstance(it, ast.Call) and self.builtin(it.func) == "range"):
            raise self.err(it, "for loops iterate over range(...) only",
                           "for i in range(n): ... (the bound keeps the verifier happy)")
        if it.keywords or not 1 <= len(it.args) <= 3:
            raise self.err(it, "range() takes 1 to 3 arguments")
        if not isinstance(stmt.target, ast.Name):
            raise self.err(stmt.target, "the loop variable must be a plain name")
        args = [self.numeric(self.expr(a), a) for a in it.args]
        start, stop = (args[0], args[1]) if len(args) > 1 else (Value(LitType(0), "0"), args[0])
        step = 1
        if len(args) == 3:
            if not isinstance(args[2].ty, LitType) or args[2].ty.value == 0:
                raise self.err(it.args[2], "range()'s step must be a non-zero constant")
            step = args[2].ty.value
        ty = self.range_type(stmt.target.id, start, stop, it)
        start_v = self.coerce(start, ty, it)
        stop_v = self.coerce(stop, ty, it)
        counter = self.alloca(ty, "i")
        self.b.store(ty.llvm, start_v.ref, counter, ty.align)
        head = self.b.new_block("for.cond")
        body = self.b.new_block("for.body")
        step_block = self.b.new_block("for.step")
        done = self.b.new_block("for.end")
        orelse = self.b.new_block("for.else") if stmt.orelse else done
        self.b.br(head)
        self.b.position(head)
        current = self.b.load(ty.llvm, counter, ty.align)
        pred = ("slt" if step > 0 else "sgt") if ty.signed else ("ult" if step > 0 else "ugt")
        self.b.cbr(self.b.icmp(pred, ty.llvm, current, stop_v.ref), body, orelse)
        self.b.position(body)
        self.assign_name(stmt.target, Value(ty, self.b.load(ty.llvm, counter, ty.align)))
        self.loops.append(Loop(step_block, done))
        self.block_of(stmt.body)
        self.loops.pop()
        self.b.br(step_block)
        self.b.position(step_block)
        self.at(stmt)
        current = self.b.load(ty.llvm, counter, ty.align)
        left = (stop_v.ref, current) if step > 0 else (current, stop_v.ref)
        distance = self.b.binop("sub", ty.llvm, *left)  # exact as an unsigned number
        if abs(step) > IntType(ty.bits, False).max:
            more = "false"
        else:
            more = self.b.icmp("ugt", ty.llvm, distance, str(abs(step)))
        nxt = self.b.binop("add", ty.llvm, current, str(IntType(ty.bits, True).wrap(step)))
        self.b.store(ty.llvm, nxt, counter, ty.align)
        self.branch(Value(BOOL, more), body, orelse)
        if stmt.orelse:
            self.b.position(orelse)
            self.block_of(stmt.orelse)
            self.b.br(done)
        self.b.position(done)

    def range_type(self: FunctionCodegen, name: str, start: Value, stop: Value, node: ast.AST) -> IntType:
        """The counter's type: exact for both bounds (``range(i32, u32)`` counts in ``i64``).

        An existing loop variable keeps its type, so a bound it cannot hold is an error
        rather than a loop that silently runs differently from Python's.
        """
        existing = self.locals.get(name)
        if existing is not None and isinstance(existing.ty, IntType):
            for bound in (start, stop):
                if isinstance(bound.ty, IntType) and not (existing.ty.fits(bound.ty.min)
                                                          and existing.ty.fits(bound.ty.max)):
                    raise self.err(node, f"loop variable '{name}' is a {existing.ty}, which cannot hold "
                                   f"every {bound.ty} bound of this range()", "use a new name for the loop variable")
            return existing.ty
        ty = self.unify(start, stop)
        if isinstance(start.ty, LitType) or isinstance(stop.ty, LitType):
            return ty
        ta, tb = self.int_type_of(start), self.int_type_of(stop)
        if ta.signed != tb.signed and ty.bits < 64:
            return I64
        return ty

    def stmt_Break(self: FunctionCodegen, stmt: ast.Break) -> None:
        if not self.loops:
            raise self.err(stmt, "'break' outside a loop")
        self.b.br(self.loops[-1].brk)

    def stmt_Continue(self: FunctionCodegen, stmt: ast.Continue) -> None:
        if not self.loops:
            raise self.err(stmt, "'continue' outside a loop")
        self.b.br(self.loops[-1].cont)


__all__ = ["StatementsMixin"]


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

