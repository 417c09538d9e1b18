"""Calls: BPF helpers, casts, struct construction, subprograms, print and map operations."""

from __future__ import annotations

import ast
from collections.abc import Callable

from ..frontend.model import MapDecl
from ..frontend.resolve import builtin_name, resolve_type
from ..helpers import Helper
from ..tables import BPF_NOEXIST
from ..types import (
    BOOL,
    CHAR,
    I64,
    U32,
    U64,
    VOID,
    ArrayType,
    BoolType,
    BpfType,
    CharType,
    IntType,
    PtrType,
    StructType,
)
from .ir import Value
from .values import LitType, StrType, lit, show

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds of every compile
if TYPE_CHECKING:
    from .function import FunctionCodegen
COMM_LEN = 16
MAX_PRINTK_ARGS = 3
MAX_VPRINTK_ARGS = 12


def _helper_u64(helper: int) -> Callable[[FunctionCodegen], Value]:
    def lower(fc: FunctionCodegen) -> Value:
        return Value(U64, fc.b.call_helper(helper, "i64", []))
    return lower


def _helper_u32(helper: int, high: bool) -> Callable[[FunctionCodegen], Value]:
    """The low or high half of a helper's 64-bit result (pid_tgid, uid_gid)."""
    def lower(fc: FunctionCodegen) -> Value:
        r = fc.b.call_helper(helper, "i64", [])
        if high:
            r = fc.b.binop("lshr", "i64", r, "32")
        return Value(U32, fc.b.cast("trunc", "i64", r, "i32"))
    return lower


# Helpers that take no arguments: name -> lowering.
_SIMPLE_HELPERS: dict[str, Callable[[FunctionCodegen], Value]] = {
    "ktime": _helper_u64(Helper.KTIME_GET_NS),
    "get_current_cgroup_id": _helper_u64(Helper.GET_CURRENT_CGROUP_ID),
    "pid": _helper_u32(Helper.GET_CURRENT_PID_TGID, high=False),
    "tid": _helper_u32(Helper.GET_CURRENT_PID_TGID, high=False),
    "tgid": _helper_u32(Helper.GET_CURRENT_PID_TGID, high=True),
    "uid": _helper_u32(Helper.GET_CURRENT_UID_GID, high=False),
    "gid": _helper_u32(Helper.GET_CURRENT_UID_GID, high=True),
    "random": _helper_u32(Helper.GET_PRANDOM_U32, high=False),
    "smp_processor_id": _helper_u32(Helper.GET_SMP_PROCESSOR_ID, high=False),
}
# probe_read family: name -> (helper, takes a size argument)
_PROBE_READS = {
    "probe_read": (Helper.PROBE_READ, True),
    "probe_read_user": (Helper.PROBE_READ_USER, True),
    "probe_read_kernel": (Helper.PROBE_READ_KERNEL, True),
    "probe_read_str": (Helper.PROBE_READ_STR, False),
    "probe_read_user_str": (Helper.PROBE_READ_USER_STR, False),
    "probe_read_kernel_str": (Helper.PROBE_READ_KERNEL_STR, False),
}
_LATER = {
    "get_stack": "stacks arrive with the stack-trace issue",
    "get_stackid": "stacks arrive with the stack-trace issue",
}


def same_bytes(a: BpfType, b: BpfType) -> bool:
    """Do values of ``a`` and ``b`` look the same in memory (``u32`` and ``i32`` do)?"""
    if isinstance(a, IntType) and isinstance(b, IntType):
        return a.bits == b.bits
    return a == b


class CallsMixin:
    # ------------------------------------------------------------ name helpers
    def builtin(self: FunctionCodegen, node: ast.expr) -> str | None:
        if isinstance(node, ast.Name) and node.id in self.locals:
            return None
        return builtin_name(self.model, node)

    def map_of(self: FunctionCodegen, node: ast.expr) -> MapDecl | None:
        """The map an expression names: ``m`` or pythonbpf's ``m()``."""
        if isinstance(node, ast.Call) and not node.args and not node.keywords:
            node = node.func
        if isinstance(node, ast.Name) and node.id not in self.locals:
            return self.model.maps.get(node.id)
        return None

    # ------------------------------------------------------------ dispatch
    def expr_Call(self: FunctionCodegen, node: ast.Call) -> Value:
        func = node.func
        if isinstance(func, ast.Attribute):
            decl = self.map_of(func.value)
            if decl is not None:
                return self.map_method(decl, func.attr, node)
        if self.map_of(node) is not None:
            raise self.err(node, "a map cannot be used as a value", "call a method: m().lookup(key)")
        if isinstance(func, ast.Name) and func.id not in self.locals:
            if func.id in self.model.functions:
                return self.call_function(func.id, node)
            if func.id in self.model.structs:
                return self.construct(self.model.structs[func.id], node)
        name = self.builtin(func)
        if name is None:
            raise self.err(node, f"cannot call '{ast.unparse(func)}'",
                           "BPF code can call helpers from bpfimport.lang, module-level functions, "
                           "@struct constructors, map methods and type casts")
        return self.call_builtin(name, node)

    def call_builtin(self: FunctionCodegen, name: str, node: ast.Call) -> Value:
        if name in _SIMPLE_HELPERS:
            self.no_args(node, name)
            return _SIMPLE_HELPERS[name](self)
        if name == "print":
            return self.print_call(node)
        if name == "comm":
            return self.comm_call(node)
        if name in _PROBE_READS:
            return self.probe_read_call(name, node)
        if name == "log2":
            return self.log2_call(node)
        if name == "deref":
            return self.deref_call(node)
        if name == "len":
            return self.len_call(node)
        if name == "range":
            raise self.err(node, "range() only drives a for loop", "for i in range(n): ...")
        if name in _LATER:
            raise self.err(node, f"{name}() is not supported yet", _LATER[name])
        cast = resolve_type(self.model, node.func)
        if cast is not None:
            return self.cast_call(cast, node)
        raise self.err(node, f"'{name}' cannot be called in BPF code")

    def no_args(self: FunctionCodegen, node: ast.Call, name: str) -> None:
        if node.args or node.keywords:
            raise self.err(node, f"{name}() takes no arguments")

    def one_arg(self: FunctionCodegen, node: ast.Call, name: str) -> ast.expr:
        if len(node.args) != 1 or node.keywords:
            raise self.err(node, f"{name}() takes exactly one argument")
        return node.args[0]

    # ------------------------------------------------------------ casts and constructors
    def cast_call(self: FunctionCodegen, ty: BpfType, node: ast.Call) -> Value:
        """``u64(x)``, ``c_int32(0)``, ``bool(x)``: explicit conversions (they wrap, never fail)."""
        if ty.aggregate:
            raise self.err(node, f"{ty} cannot be constructed by a call", "declare a local: buf: c_char * 16")
        if not node.args:
            if node.keywords:
                raise self.err(node, "casts take one positional argument")
            return self.coerce(lit(0), ty, node, True)
        arg = self.one_arg(node, str(ty))
        v = self.expr(arg)
        if isinstance(ty, BoolType):
            return self.truth(v, arg)
        return self.coerce(v, ty, arg, explicit=True)

    def construct(self: FunctionCodegen, struct: StructType, node: ast.Call) -> Value:
        tmp = self.temp_aggregate(struct)
        self.fill_struct(struct, tmp.ref, node)
        return tmp

    def fill_struct(self: FunctionCodegen, struct: StructType, ptr: str, node: ast.Call) -> None:
        if len(node.args) > len(struct.fields):
            raise self.err(node, f"{struct.name}() takes at most {len(struct.fields)} positional arguments")
        values: dict[str, ast.expr] = {}
        for f, arg in zip(struct.fields, node.args):
            values[f.name] = arg
        for kw in node.keywords:
            if kw.arg is None or struct.field(kw.arg) is None:
                names = ", ".join(f.name for f in struct.fields)
                raise self.err(kw.value, f"struct {struct.name} has no field '{kw.arg}'", f"its fields are: {names}")
            if kw.arg in values:
                raise self.err(kw.value, f"field '{kw.arg}' is given twice")
            values[kw.arg] = kw.value
        for fname, arg in values.items():
            f = struct.field(fname)
            assert f is not None
            dest = self.b.byte_gep(ptr, f.offset)
            kind = self.in_place_kind(arg) if isinstance(arg, ast.Call) else None
            if kind is not None and self.build_into(kind, arg, dest, f.type):
                continue
            self.store(self.expr(arg), f.type, dest, arg)

    def in_place_kind(self: FunctionCodegen, node: ast.Call) -> str | None:
        if isinstance(node.func, ast.Name) and node.func.id in self.model.structs and node.func.id not in self.locals:
            return "struct"
        if self.builtin(node.func) == "comm" and not node.args:
            return "comm"
        return None

    def build_into(self: FunctionCodegen, kind: str, node: ast.Call, ptr: str, ty: BpfType) -> bool:
        """Construct ``node`` directly at ``ptr``; False when the types don't match."""
        if kind == "struct":
            struct = self.model.structs[node.func.id]  # type: ignore[attr-defined]
            if struct != ty:
                return False
            self.b.memset(ptr, struct.size, struct.align)
            self.fill_struct(struct, ptr, node)
            return True
        if kind == "comm":
            if not (isinstance(ty, ArrayType) and ty.elem == CHAR and ty.length >= COMM_LEN):
                return False
            self.b.call_helper(Helper.GET_CURRENT_COMM, "i64", [("ptr", ptr), ("i32", str(ty.size))])
            return True
        return False

    # ------------------------------------------------------------ subprograms
    def call_function(self: FunctionCodegen, name: str, node: ast.Call) -> Value:
        callee = self.model.functions[name]
        if callee.section is not None:
            raise self.err(node, f"'{name}' is a BPF program and cannot be called",
                           "move the shared code into an undecorated function with annotated parameters")
        if node.keywords:
            raise self.err(node, "keyword arguments are not supported in BPF function calls")
        if len(node.args) != len(callee.params):
            raise self.err(node, f"{name}() takes {len(callee.params)} argument(s), got {len(node.args)}")
        args = []
        for arg, (_name, pty) in zip(node.args, callee.params):
            v = self.coerce(self.expr(arg), pty, arg)
            args.append((pty.llvm, v.ref))
        ref = self.b.call(callee.ret.llvm, name, args)
        return Value(callee.ret, ref or "")

    # ------------------------------------------------------------ helpers with arguments
    def comm_call(self: FunctionCodegen, node: ast.Call) -> Value:
        if not node.args:
            tmp = self.temp_aggregate(ArrayType(CHAR, COMM_LEN), zero=False)
            self.b.call_helper(Helper.GET_CURRENT_COMM, "i64", [("ptr", tmp.ref), ("i32", str(COMM_LEN))])
            return tmp
        buf = self.buffer_arg(self.one_arg(node, "comm"), "comm")
        r = self.b.call_helper(Helper.GET_CURRENT_COMM, "i64", [("ptr", buf.ref), ("i32", str(buf.ty.size))])
        return Value(I64, r)

    def buffer_arg(self: FunctionCodegen, node: ast.expr, fname: str) -> Value:
        """A destination buffer: a local or field that is a struct or array."""
        v = self.expr(node)
        if isinstance(v.ty, PtrType) and v.ty.nullable and v.ty.pointee is not None:
            return Value(v.ty.pointee, v.ref)
        if not v.ty.aggregate:
            raise self.err(node, f"{fname}() writes into a buffer: pass a c_char * N local or field",
                           "e.g. buf: c_char * 16 = ...; or an @struct field")
        return v

    def probe_read_call(self: FunctionCodegen, name: str, node: ast.Call) -> Value:
        helper, sized = _PROBE_READS[name]
        want = 3 if sized else 2
        if len(node.args) != want or node.keywords:
            sig = "dst, size, src" if sized else "dst, src"
            raise self.err(node, f"{name}() takes ({sig})")
        dst = self.buffer_arg(node.args[0], name)
        if sized:
            size = self.coerce(self.expr(node.args[1]), U32, node.args[1])
            if size.ref.isdigit() and int(size.ref) > dst.ty.size:
                raise self.err(node.args[1], f"size {size.ref} is larger than the {dst.ty.size}-byte buffer")
            src_node = node.args[2]
        else:
            size = Value(U32, str(dst.ty.size))
            src_node = node.args[1]
        src = self.expr(src_node)
        src_ptr = self.coerce(src, PtrType(), src_node, explicit=True)
        r = self.b.call_helper(helper, "i64", [("ptr", dst.ref), ("i32", size.ref), ("ptr", src_ptr.ref)])
        return Value(I64, r)

    def deref_call(self: FunctionCodegen, node: ast.Call) -> Value:
        arg = self.one_arg(node, "deref")
        v = self.expr(arg)
        if isinstance(v.ty, PtrType) and v.ty.pointee is not None:
            return self.load(v.ty.pointee, v.ref)
        raise self.err(arg, "deref() reads through a map value reference",
                       "for kernel or user memory use probe_read_kernel / probe_read_user")

    def len_call(self: FunctionCodegen, node: ast.Call) -> Value:
        arg = self.one_arg(node, "len")
        v = self.expr(arg)
        if isinstance(v.ty, ArrayType):
            return lit(v.ty.length)
        raise self.err(arg, "len() works on fixed-size arrays only")

    def log2_call(self: FunctionCodegen, node: ast.Call) -> Value:
        """floor(log2(x)) for x > 0, 0 for 0: the bucket index of a power-of-two histogram."""
        arg = self.one_arg(node, "log2")
        v = self.coerce(self.numeric(self.expr(arg), arg), U64, arg)
        x = v.ref
        result = "0"
        for shift in (32, 16, 8, 4, 2, 1):
            big = self.b.icmp("ugt", "i64", x, str((1 << shift) - 1))
            step = self.b.select(big, "i64", str(shift), "0")
            x = self.b.binop("lshr", "i64", x, step)
            result = step if result == "0" else self.b.binop("or", "i64", result, step)
        return Value(U64, result)

    # ------------------------------------------------------------ print
    def print_call(self: FunctionCodegen, node: ast.Call) -> Value:
        """print(...) → bpf_trace_printk (more than 3 values: bpf_trace_vprintk)."""
        for kw in node.keywords:
            raise self.err(kw.value, f"print() does not take '{kw.arg}=' in BPF code",
                           "build the whole line in one f-string")
        fmt: list[str] = []
        args: list[str] = []
        for i, arg in enumerate(node.args):
            if i:
                fmt.append(" ")
            if isinstance(arg, ast.JoinedStr):
                for part in arg.values:
                    if isinstance(part, ast.Constant):
                        self.src.utf8(arg, str(part.value), "this f-string")
                        fmt.append(str(part.value).replace("%", "%%"))
                    else:
                        assert isinstance(part, ast.FormattedValue)
                        self.format_value(part.value, self.format_spec(part), fmt, args)
            else:
                self.format_value(arg, "", fmt, args)
        text = ("".join(fmt) + "\n").encode("utf-8", "surrogateescape")
        if b"\0" in text:
            raise self.err(node, "print() text holds a NUL character; the kernel would print the "
                           "line only up to it", "remove the \\0")
        if len(args) > MAX_VPRINTK_ARGS:
            raise self.err(node, f"print() can show at most {MAX_VPRINTK_ARGS} values, got {len(args)}",
                           "split it into several print() calls")
        fmt_ptr = self.module.string_constant(text + b"\0")
        size = str(len(text) + 1)
        if len(args) <= MAX_PRINTK_ARGS:
            call_args = [("ptr", fmt_ptr), ("i32", size)] + [("i64", a) for a in args]
            self.b.call_helper(Helper.TRACE_PRINTK, "i64", call_args)
        else:
            data = self.alloca(ArrayType(U64, len(args)), "printk.args")
            for j, a in enumerate(args):
                self.b.store("i64", a, self.b.byte_gep(data, 8 * j), 8)
            self.b.call_helper(Helper.TRACE_VPRINTK, "i64",
                               [("ptr", fmt_ptr), ("i32", size), ("ptr", data), ("i32", str(8 * len(args)))])
        return Value(VOID, "")

    def format_spec(self: FunctionCodegen, part: ast.FormattedValue) -> str:
        if part.conversion not in (-1, None):
            raise self.err(part, "!r / !s / !a conversions are not supported in BPF print")
        if part.format_spec is None:
            return ""
        spec = part.format_spec
        if isinstance(spec, ast.JoinedStr) and all(isinstance(v, ast.Constant) for v in spec.values):
            return "".join(str(v.value) for v in spec.values)  # type: ignore[attr-defined]
        raise self.err(part, "format specs must be constant in BPF print", "e.g. {x:x}")

    def format_value(self: FunctionCodegen, node: ast.expr, spec: str, fmt: list[str], args: list[str]) -> None:
        v = self.expr(node)
        if isinstance(v.ty, StrType):
            fmt.append(v.ty.text.replace("%", "%%"))
            return
        if isinstance(v.ty, PtrType) and v.ty.nullable and v.ty.pointee is not None:
            v = self.load(v.ty.pointee, v.ref)
        if isinstance(v.ty, ArrayType) and isinstance(v.ty.elem, CharType):
            if spec not in ("", "s"):
                raise self.err(node, f"format spec '{spec}' does not apply to a string")
            fmt.append("%s")
            args.append(self.b.cast("ptrtoint", "ptr", v.ref, "i64"))
            return
        if isinstance(v.ty, CharType) and spec in ("", "c"):
            fmt.append("%c")
            args.append(self.coerce(Value(U32, self.b.cast("zext", "i8", v.ref, "i32")), U64, node).ref)
            return
        if v.ty.aggregate:
            raise self.err(node, f"a {show(v.ty)} cannot be printed whole", "print its fields")
        v = self.numeric(v, node)
        if isinstance(v.ty, LitType):
            try:  # a constant is formatted now, exactly as Python would
                fmt.append(format(v.ty.value, spec).replace("%", "%%"))
            except ValueError as e:
                raise self.err(node, f"format spec '{spec}' does not apply to an integer: {e}") from None
            return
        if isinstance(v.ty, BoolType) and spec == "":
            fmt.append("%s")  # True / False, as Python prints a bool
            args.append(self.choose_string(v.ref, b"True", b"False"))
            return
        ty = self.int_type_of(v) if not isinstance(v.ty, BoolType) else IntType(32, False)
        conv = {"": "d" if ty.signed else "u", "d": "d" if ty.signed else "u", "x": "x",
                "u": "u", "i": "d"}.get(spec)
        if conv is None:  # the kernel's printk refuses %X: nothing would be printed
            raise self.err(node, f"format spec '{spec}' is not supported by bpf_trace_printk",
                           "use {x}, {x:d} or {x:x} (lowercase hex)")
        wide = self.coerce(self.coerce(v, ty, node), IntType(64, ty.signed), node).ref
        if conv == "x" and ty.signed:  # Python writes -0x2 as '-2', not as two's complement
            negative = self.b.icmp("slt", "i64", wide, "0")
            fmt.append("%s%llx")
            args.append(self.choose_string(negative, b"-", b""))
            args.append(self.b.select(negative, "i64", self.b.binop("sub", "i64", "0", wide), wide))
            return
        fmt.append("%ll" + conv if ty.bits == 64 else "%" + conv)
        args.append(wide)

    def choose_string(self: FunctionCodegen, cond: str, yes: bytes, no: bytes) -> str:
        """The address of one of two constant strings, as a printk ``%s`` argument."""
        refs = [self.b.cast("ptrtoint", "ptr", self.module.string_constant(t + b"\0"), "i64") for t in (yes, no)]
        return self.b.select(cond, "i64", *refs)

    # ------------------------------------------------------------ maps
    def map_method(self: FunctionCodegen, decl: MapDecl, method: str, node: ast.Call) -> Value:
        if node.keywords:
            raise self.err(node, f"{method}() takes positional arguments in BPF code")
        if decl.kind in ("RingBuffer", "PerfEventArray"):
            return self.event_method(decl, method, node)
        n = len(node.args)
        if method == "lookup" and n == 1:
            return self.map_lookup(decl, self.expr(node.args[0]), node)
        if method == "get" and n in (1, 2):
            default = self.expr(node.args[1]) if n == 2 else None
            return self.map_get(decl, self.expr(node.args[0]), default, node)
        if method == "update" and n in (2, 3):
            flags = 0
            if n == 3:
                from ..frontend.resolve import const_int

                f = const_int(self.model, node.args[2])
                if f is None or f < 0:
                    raise self.err(node.args[2], "update() flags must be a constant (0, 1 or 2)")
                flags = f
            return self.map_update(decl, self.expr(node.args[0]), self.expr(node.args[1]), flags, node)
        if method == "delete" and n == 1:
            return self.map_delete(decl, self.expr(node.args[0]), node)
        if method in ("lookup", "get", "update", "delete"):
            raise self.err(node, f"wrong number of arguments to {decl.name}.{method}()")
        raise self.err(node, f"{decl.kind} '{decl.name}' has no method '{method}' (yet)",
                       "maps support lookup, get, update, delete, m[k], m[k] = v, del m[k], k in m")

    def check_keyed(self: FunctionCodegen, decl: MapDecl, node: ast.AST) -> tuple[BpfType, BpfType]:
        if decl.key is None or decl.value is None:
            raise self.err(node, f"{decl.kind} '{decl.name}' has no keys and values to look up")
        return decl.key, decl.value

    def slot(self: FunctionCodegen, role: str, ty: BpfType) -> str:
        key = (role, ty.spec)
        if key not in self.scratch:
            self.scratch[key] = self.alloca(ty, role)
        return self.scratch[key]

    def operand_ptr(self: FunctionCodegen, role: str, ty: BpfType, v: Value, node: ast.AST) -> str:
        """Memory holding ``v`` as a ``ty``, as map helpers take keys and values by pointer."""
        if ty.aggregate:
            src = self.coerce_aggregate(v, ty, node)
            if src is None:
                ptr = self.slot(role, ty)
                self.b.memset(ptr, ty.size, ty.align)
                return ptr
            return src.ref
        if v.home is not None and same_bytes(v.ty, ty):
            return v.home
        ptr = self.slot(role, ty)
        self.store(v, ty, ptr, node)
        return ptr

    def map_lookup(self: FunctionCodegen, decl: MapDecl, key: Value, node: ast.AST) -> Value:
        kty, vty = self.check_keyed(decl, node)
        kp = self.operand_ptr("key", kty, key, node)
        r = self.b.call_helper(Helper.MAP_LOOKUP_ELEM, "ptr", [("ptr", f"@{decl.name}"), ("ptr", kp)])
        return Value(PtrType(vty, nullable=True), r)

    def map_contains(self: FunctionCodegen, decl: MapDecl, key: Value, node: ast.AST) -> Value:
        p = self.map_lookup(decl, key, node)
        return Value(BOOL, self.b.icmp("ne", "ptr", p.ref, "null"))

    def map_get(self: FunctionCodegen, decl: MapDecl, key: Value, default: Value | None, node: ast.AST) -> Value:
        """``m[k]`` / ``m.get(k, d)``: the value, or zero (the default) when missing."""
        p = self.map_lookup(decl, key, node)
        vty = decl.value
        assert vty is not None
        if vty.aggregate:
            out = self.temp_aggregate(vty, zero=default is None)
            if default is not None:
                self.store(default, vty, out.ref, node)
            found, done = self.b.new_block("get.found"), self.b.new_block("get.done")
            self.b.cbr(self.b.icmp("ne", "ptr", p.ref, "null"), found, done)
            self.b.position(found)
            self.b.memcpy(out.ref, p.ref, vty.size, vty.align)
            self.b.br(done)
            self.b.position(done)
            return out
        fallback = self.coerce(default, vty, node) if default is not None else None
        before = self.b.block
        found, done = self.b.new_block("get.found"), self.b.new_block("get.done")
        self.b.cbr(self.b.icmp("ne", "ptr", p.ref, "null"), found, done)
        self.b.position(found)
        v = self.load(vty, p.ref)
        end = self.b.block
        self.b.br(done)
        self.b.position(done)
        zero = fallback.ref if fallback is not None else ("false" if isinstance(vty, BoolType) else "0")
        return Value(vty, self.b.phi(v.llvm, [(v.ref, end), (zero, before)]))

    def map_update(self: FunctionCodegen, decl: MapDecl, key: Value, value: Value, flags: int,
                   node: ast.AST) -> Value:
        kty, vty = self.check_keyed(decl, node)
        kp = self.operand_ptr("key", kty, key, node)
        vp = self.operand_ptr("value", vty, value, node)
        r = self.b.call_helper(Helper.MAP_UPDATE_ELEM, "i64",
                               [("ptr", f"@{decl.name}"), ("ptr", kp), ("ptr", vp), ("i64", str(flags))])
        return Value(I64, r)

    def map_delete(self: FunctionCodegen, decl: MapDecl, key: Value, node: ast.AST) -> Value:
        kty, _ = self.check_keyed(decl, node)
        if decl.is_array:
            raise self.err(node, f"entries of {decl.kind} '{decl.name}' cannot be deleted",
                           "array maps hold every index; store 0 instead")
        kp = self.operand_ptr("key", kty, key, node)
        r = self.b.call_helper(Helper.MAP_DELETE_ELEM, "i64", [("ptr", f"@{decl.name}"), ("ptr", kp)])
        return Value(I64, r)

    def map_augment(self: FunctionCodegen, decl: MapDecl, key: Value, op: ast.operator, value: Value,
                    node: ast.AST) -> None:
        """``m[k] += n``: insert 0 when missing, then update in place (atomically for + - | & ^)."""
        kty, vty = self.check_keyed(decl, node)
        if not isinstance(vty, IntType):
            raise self.err(node, f"'{decl.name}[k] op= ...' needs integer values, not {show(vty)}")
        kp = self.operand_ptr("key", kty, key, node)
        mp = f"@{decl.name}"
        p = self.b.call_helper(Helper.MAP_LOOKUP_ELEM, "ptr", [("ptr", mp), ("ptr", kp)])
        have = self.b.block
        if not decl.is_array:
            missing, done = self.b.new_block("aug.insert"), self.b.new_block("aug.have")
            self.b.cbr(self.b.icmp("eq", "ptr", p, "null"), missing, done)
            self.b.position(missing)
            zero = self.slot("value", vty)
            self.b.store(vty.llvm, "0", zero, vty.align)
            self.b.call_helper(Helper.MAP_UPDATE_ELEM, "i64",
                               [("ptr", mp), ("ptr", kp), ("ptr", zero), ("i64", str(BPF_NOEXIST))])
            p2 = self.b.call_helper(Helper.MAP_LOOKUP_ELEM, "ptr", [("ptr", mp), ("ptr", kp)])
            end = self.b.block
            self.b.br(done)
            self.b.position(done)
            p = self.b.phi("ptr", [(p, have), (p2, end)])
        ok, skip = self.b.new_block("aug.update"), self.b.new_block("aug.end")
        self.b.cbr(self.b.icmp("ne", "ptr", p, "null"), ok, skip)
        self.b.position(ok)
        self.update_at(p, vty, op, value, node, shared=True)
        self.b.br(skip)
        self.b.position(skip)


__all__ = ["CallsMixin"]
