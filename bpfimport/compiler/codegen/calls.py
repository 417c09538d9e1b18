"""Calls: registry helpers, casts, struct construction, subprograms, print and map methods.

Helpers come from the registry (``compiler/helpers.py``): one without
arguments is lowered from its entry (:data:`GENERIC_HELPERS`), the others by
their function here (:data:`SPECIAL_HELPERS`, keyed by ``HelperDecl.lower``).
Map methods go to the module of the map's family (:data:`MAP_FAMILIES`).
"""

from __future__ import annotations

from ...headers import ADDRESS_FUNCTIONS
from .. import pyast as ast
from ..core import (
    ENUM_VALUE,
    ENUM_VALUE_EXISTS,
    FIELD_BYTE_SIZE,
    FIELD_EXISTS,
    TYPE_EXISTS,
    TYPE_SIZE,
)
from ..frontend.model import MapDecl
from ..frontend.resolve import resolve_type
from ..helpers import HELPERS, Helper, HelperDecl
from ..types import (
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
    PlaceType,
    PtrType,
    StructType,
)
from . import (
    context,
    events,
    expressions,
    kernel,
    maps,
    memory,
    packet,
    packet_helpers,
    stacks,
    strings,
)
from .builder import FunctionBuilder
from .ir import Value
from .values import LitType, StrType, lit, show

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds of every compile
if TYPE_CHECKING:
    from collections.abc import Callable

COMM_LEN = 16
MAX_PRINTK_ARGS = 3
MAX_VPRINTK_ARGS = 12


def expr_call(fb: FunctionBuilder, node: ast.Call) -> Value:
    """A call: a map method, a subprogram, a @struct constructor, a helper, a builtin or a cast."""
    func = node.func
    if isinstance(func, ast.Attribute):
        decl = fb.map_of(func.value)
        if decl is not None:
            return call_map_method(fb, decl, func.attr, node)
        if fb.builtin(func.value) == "kernel":  # kernel.sock(address): a typed kernel pointer
            ty = resolve_type(fb.model, func)
            assert ty is not None
            return cast_call(fb, ty, node)
        if func.attr == "startswith":
            return strings.startswith(fb, node)
        if func.attr == "header" and isinstance(func.value, ast.Name) and func.value.id in fb.locals:
            base = fb.expr(func.value)
            if context.is_context(base):  # ctx.header(T, offset)
                return packet.header_call(fb, base, node)
    if fb.map_of(node) is not None:
        raise fb.err(node, "a map cannot be used as a value", "call a method: m().lookup(key)")
    if isinstance(func, ast.Name) and func.id not in fb.locals:
        if func.id in fb.model.functions:
            return call_function(fb, func.id, node)
        if func.id in fb.model.structs:
            return construct(fb, fb.model.structs[func.id], node)
    if isinstance(func, ast.Subscript) and isinstance(cast := resolve_type(fb.model, func), PtrType):
        return cast_call(fb, cast, node)  # UserPtr[c_char](addr)
    name = fb.builtin(func)
    if name is None:
        raise fb.err(node, f"cannot call '{ast.unparse(func)}'",
                     "BPF code can call helpers from bpfimport.lang, module-level functions, "
                     "@struct constructors, map methods and type casts")
    return call_builtin(fb, name, node)


def call_map_method(fb: FunctionBuilder, decl: MapDecl, method: str, node: ast.Call) -> Value:
    """``m.method(...)``, lowered by the module of the map's family (``MapKind.family``)."""
    if node.keywords:
        raise fb.err(node, f"{method}() takes positional arguments in BPF code")
    return MAP_FAMILIES[decl.map_kind.family](fb, decl, method, node)


def call_builtin(fb: FunctionBuilder, name: str, node: ast.Call) -> Value:
    """A helper of the registry (compiler/helpers.py), a Python builtin, or a type cast."""
    helper = HELPERS.get(name)
    if helper is not None:
        return call_helper(fb, helper, node)
    builtin = PYTHON_BUILTINS.get(name)
    if builtin is not None:
        return builtin(fb, node)
    if name in ADDRESS_FUNCTIONS:  # ip4("10.0.0.1"): a constant
        return packet.address_call(fb, name, node)
    cast = resolve_type(fb.model, node.func)
    if cast is not None:
        return cast_call(fb, cast, node)
    raise fb.err(node, f"'{name}' cannot be called in BPF code")


def call_helper(fb: FunctionBuilder, helper: HelperDecl, node: ast.Call) -> Value:
    """Lower a registry helper: generically from its entry, or by its own function."""
    if helper.unsupported is not None:
        raise fb.err(node, f"{helper.name}() is not supported yet", helper.unsupported)
    generic = GENERIC_HELPERS.get(helper.lower)
    if generic is not None:
        fb.no_args(node, helper.name)
        return generic(fb, helper)
    return SPECIAL_HELPERS[helper.lower](fb, helper, node)


def helper_id(helper: HelperDecl) -> int:
    """The BPF helper a registry entry calls (entries lowered inline have none)."""
    assert helper.helper_id is not None, helper.name
    return helper.helper_id


def helper_u64(fb: FunctionBuilder, helper: HelperDecl) -> Value:
    """A helper's 64-bit result as it is."""
    return Value(U64, fb.b.call_helper(helper_id(helper), "i64", []))


def helper_low32(fb: FunctionBuilder, helper: HelperDecl) -> Value:
    """The low half of a helper's 64-bit result (pid of pid_tgid, uid of uid_gid)."""
    r = fb.b.call_helper(helper_id(helper), "i64", [])
    return Value(U32, fb.b.cast("trunc", "i64", r, "i32"))


def helper_high32(fb: FunctionBuilder, helper: HelperDecl) -> Value:
    """The high half of a helper's 64-bit result (tgid of pid_tgid, gid of uid_gid)."""
    r = fb.b.binop("lshr", "i64", fb.b.call_helper(helper_id(helper), "i64", []), "32")
    return Value(U32, fb.b.cast("trunc", "i64", r, "i32"))


def range_call(fb: FunctionBuilder, node: ast.Call) -> Value:
    raise fb.err(node, "range() only drives a for loop", "for i in range(n): ...")


def cast_call(fb: FunctionBuilder, ty: BpfType, node: ast.Call) -> Value:
    """``u64(x)``, ``c_int32(0)``, ``bool(x)``: explicit conversions (they wrap, never fail)."""
    if isinstance(ty, StructType):  # a struct of bpfimport.lang: FibLookup(family=AF_INET)
        return construct(fb, ty, node)
    if ty.aggregate:
        raise fb.err(node, f"{ty} cannot be constructed by a call", "declare a local: buf: c_char * 16")
    if not node.args:
        if node.keywords:
            raise fb.err(node, "casts take one positional argument")
        return fb.coerce(lit(0), ty, node, True)
    arg = fb.one_arg(node, str(ty))
    v = fb.expr(arg)
    if isinstance(ty, BoolType):
        return fb.truth(v, arg)
    return fb.coerce(v, ty, arg, explicit=True)


def construct(fb: FunctionBuilder, struct: StructType, node: ast.Call) -> Value:
    tmp = fb.temp_aggregate(struct)
    fill_struct(fb, struct, tmp.ref, node)
    return tmp


def fill_struct(fb: FunctionBuilder, struct: StructType, ptr: str, node: ast.Call) -> None:
    if len(node.args) > len(struct.fields):
        raise fb.err(node, f"{struct.name}() takes at most {len(struct.fields)} positional arguments")
    values: dict[str, ast.expr] = {}
    for f, arg in zip(struct.fields, node.args):
        values[f.name] = arg
    for kw in node.keywords:
        if kw.arg is None or struct.field(kw.arg) is None:
            names = ", ".join(f.name for f in struct.fields)
            raise fb.err(kw.value, f"struct {struct.name} has no field '{kw.arg}'", f"its fields are: {names}")
        if kw.arg in values:
            raise fb.err(kw.value, f"field '{kw.arg}' is given twice")
        values[kw.arg] = kw.value
    for fname, arg in values.items():
        field = struct.field(fname)
        assert field is not None
        dest = fb.b.byte_gep(ptr, field.offset)
        if isinstance(arg, ast.Call) and (kind := in_place_kind(fb, arg)) is not None \
                and build_into(fb, kind, arg, dest, field.type):
            continue
        fb.store(value_into(fb, arg, dest, field.type), field.type, dest, arg)


def value_into(fb: FunctionBuilder, node: ast.expr, dest: str, ty: BpfType) -> Value:
    """``node``'s value for a store to ``dest``; kernel memory that can be read straight into
    ``dest`` (a char array: ``e.comm = t.comm``, ``e.filename = ctx.filename``) is, and the
    result is then the destination itself (the store sees nothing left to copy)."""
    v = expressions.operand(fb, node)
    if isinstance(v.ty, PlaceType):
        if kernel.read_into(fb, v, dest, ty, node):
            return Value(ty, dest)
        return kernel.read(fb, v, node)
    return v


def in_place_kind(fb: FunctionBuilder, node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name) and node.func.id in fb.model.structs and node.func.id not in fb.locals:
        return "struct"
    if fb.builtin(node.func) == "comm" and not node.args:
        return "comm"
    return None


def build_into(fb: FunctionBuilder, kind: str, node: ast.Call, ptr: str, ty: BpfType) -> bool:
    """Construct ``node`` directly at ``ptr``; False when the types don't match."""
    if kind == "struct":
        struct = fb.model.structs[node.func.id]  # type: ignore[attr-defined]
        if struct != ty:
            return False
        fb.b.memset(ptr, struct.size, struct.align)
        fill_struct(fb, struct, ptr, node)
        return True
    if kind == "comm":
        if not (isinstance(ty, ArrayType) and ty.elem == CHAR and ty.length >= COMM_LEN):
            return False
        fb.b.call_helper(Helper.GET_CURRENT_COMM, "i64", [("ptr", ptr), ("i32", str(ty.size))])
        return True
    return False


def call_function(fb: FunctionBuilder, name: str, node: ast.Call) -> Value:
    callee = fb.model.functions[name]
    if callee.section is not None:
        raise fb.err(node, f"'{name}' is a BPF program and cannot be called",
                     "move the shared code into an undecorated function with annotated parameters")
    if node.keywords:
        raise fb.err(node, "keyword arguments are not supported in BPF function calls")
    if len(node.args) != len(callee.params):
        raise fb.err(node, f"{name}() takes {len(callee.params)} argument(s), got {len(node.args)}")
    args = []
    for arg, (_name, pty) in zip(node.args, callee.params):
        v = fb.coerce(fb.expr(arg), pty, arg)
        args.append((pty.llvm, v.ref))
    ref = fb.b.call(callee.ret.llvm, name, args)
    return Value(callee.ret, ref or "")


def comm_call(fb: FunctionBuilder, helper: HelperDecl, node: ast.Call) -> Value:
    """``comm()``: the task name as a new c_char * 16; ``comm(buf)``: written into buf."""
    if not node.args:
        tmp = fb.temp_aggregate(ArrayType(CHAR, COMM_LEN), zero=False)
        fb.b.call_helper(Helper.GET_CURRENT_COMM, "i64", [("ptr", tmp.ref), ("i32", str(COMM_LEN))])
        return tmp
    buf = buffer_arg(fb, fb.one_arg(node, "comm"), "comm")
    r = fb.b.call_helper(Helper.GET_CURRENT_COMM, "i64", [("ptr", buf.ref), ("i32", str(buf.ty.size))])
    return Value(I64, r)


def buffer_arg(fb: FunctionBuilder, node: ast.expr, fname: str) -> Value:
    """A destination buffer: a local or field that is a struct or array."""
    v = fb.expr(node)
    if isinstance(v.ty, PtrType) and v.ty.nullable and v.ty.pointee is not None:
        return Value(v.ty.pointee, v.ref)
    if not v.ty.aggregate:
        raise fb.err(node, f"{fname}() writes into a buffer: pass a c_char * N local or field",
                     "e.g. buf: c_char * 16 = ...; or an @struct field")
    return v


def probe_read_call(fb: FunctionBuilder, decl: HelperDecl, node: ast.Call) -> Value:
    """The probe_read family: (dst, size, src), or (dst, src) for the _str forms."""
    name, helper, sized = decl.name, helper_id(decl), len(decl.params) == 3
    want = 3 if sized else 2
    if len(node.args) != want or node.keywords:
        sig = "dst, size, src" if sized else "dst, src"
        raise fb.err(node, f"{name}() takes ({sig})")
    dst = buffer_arg(fb, node.args[0], name)
    if sized:
        size = fb.coerce(fb.expr(node.args[1]), U32, node.args[1])
        if size.ref.isdigit() and int(size.ref) > dst.ty.size:
            raise fb.err(node.args[1], f"size {size.ref} is larger than the {dst.ty.size}-byte buffer")
        src_node = node.args[2]
    else:
        size = Value(U32, str(dst.ty.size))
        src_node = node.args[1]
    src_ptr = memory.source_address(fb, src_node, decl, helper)
    r = fb.b.call_helper(helper, "i64", [("ptr", dst.ref), ("i32", size.ref), ("ptr", src_ptr)])
    return Value(I64, r)


def current_task_call(fb: FunctionBuilder, helper: HelperDecl, node: ast.Call) -> Value:
    """``current_task()``: the running task_struct as a kernel pointer (codegen/kernel.py)."""
    fb.no_args(node, helper.name)
    return kernel.current_task(fb, node)


def field_info_call(fb: FunctionBuilder, helper: HelperDecl, node: ast.Call) -> Value:
    """``field_exists(x.f)``, ``field_size(x.f)``: relocated facts about a kernel field."""
    arg = fb.one_arg(node, helper.name)
    return kernel.field_relocation(fb, expressions.operand(fb, arg), CORE_FIELD_INFO[helper.name], arg)


def type_info_call(fb: FunctionBuilder, helper: HelperDecl, node: ast.Call) -> Value:
    """``type_exists(kernel.T)``, ``type_size(kernel.T)``: relocated facts about a kernel type."""
    arg = fb.one_arg(node, helper.name)
    return kernel.type_relocation(fb, arg, CORE_TYPE_INFO[helper.name], node)


def enum_info_call(fb: FunctionBuilder, helper: HelperDecl, node: ast.Call) -> Value:
    """``enum_value(kernel.E.V)``, ``enum_exists(kernel.E.V)``: an enum value on the running kernel."""
    arg = fb.one_arg(node, helper.name)
    return kernel.enum_relocation(fb, arg, CORE_ENUM_INFO[helper.name], node)


# helper name -> the CO-RE relocation kind it asks for (compiler/core.py)
CORE_FIELD_INFO = {"field_exists": FIELD_EXISTS, "field_size": FIELD_BYTE_SIZE}
CORE_TYPE_INFO = {"type_exists": TYPE_EXISTS, "type_size": TYPE_SIZE}
CORE_ENUM_INFO = {"enum_exists": ENUM_VALUE_EXISTS, "enum_value": ENUM_VALUE}


def deref_call(fb: FunctionBuilder, helper: HelperDecl, node: ast.Call) -> Value:
    arg = fb.one_arg(node, "deref")
    v = fb.expr(arg)
    ty = v.ty
    if memory.readable(v) and isinstance(ty, PtrType):  # deref(p) on a user/kernel pointer: p[0]
        if ty.pointee is None:
            raise memory.pointer_error(fb, arg, v, "value to dereference")
        return memory.read_at(fb, ty.pointee, v.ref, ty.space, node)
    if isinstance(v.ty, PtrType) and v.ty.nullable and v.ty.pointee is not None:
        return fb.load(v.ty.pointee, v.ref)
    raise fb.err(arg, "deref() reads through a map value reference or a typed pointer",
                 "for an address use read_user(T, addr) / read_kernel(T, addr)")


def len_call(fb: FunctionBuilder, node: ast.Call) -> Value:
    arg = fb.one_arg(node, "len")
    v = fb.expr(arg)
    if isinstance(v.ty, ArrayType):
        return lit(v.ty.length)
    raise fb.err(arg, "len() works on fixed-size arrays only")


def log2_call(fb: FunctionBuilder, helper: HelperDecl, node: ast.Call) -> Value:
    """floor(log2(x)) for x > 0, 0 for 0: the bucket index of a power-of-two histogram."""
    arg = fb.one_arg(node, "log2")
    v = fb.coerce(fb.numeric(fb.expr(arg), arg), U64, arg)
    x = v.ref
    result = "0"
    for shift in (32, 16, 8, 4, 2, 1):
        big = fb.b.icmp("ugt", "i64", x, str((1 << shift) - 1))
        step = fb.b.select(big, "i64", str(shift), "0")
        x = fb.b.binop("lshr", "i64", x, step)
        result = step if result == "0" else fb.b.binop("or", "i64", result, step)
    return Value(U64, result)


def min_max_call(fb: FunctionBuilder, node: ast.Call, better: ast.cmpop) -> Value:
    """``min(a, b, ...)`` / ``max(...)`` of integers, as Python: exact between signed and
    unsigned, in a type that holds every operand (the first of equal ones wins)."""
    name = "min" if isinstance(better, ast.Lt) else "max"
    if len(node.args) < 2 or node.keywords:
        raise fb.err(node, f"{name}() takes two or more numbers in BPF code",
                     f"e.g. {name}(x // 10, 99) for the last bucket of a linear histogram")
    values = [fb.numeric(fb.expr(a), a) for a in node.args]
    if all(isinstance(v.ty, LitType) for v in values):
        pick = min if name == "min" else max
        return lit(pick(v.ty.value for v in values))  # type: ignore[attr-defined]
    ty = expressions.join_type(fb, values, node)
    if not isinstance(ty, IntType):
        ty = fb.int_type_of(values[0])
    best = fb.coerce(values[0], ty, node.args[0])
    for v, arg in zip(values[1:], node.args[1:]):
        wins = expressions.compare(fb, better, v, best, arg)
        best = Value(ty, fb.b.select(wins.ref, ty.llvm, fb.coerce(v, ty, arg).ref, best.ref))
    return best


def print_call(fb: FunctionBuilder, node: ast.Call) -> Value:
    """print(...) → bpf_trace_printk (more than 3 values: bpf_trace_vprintk)."""
    for kw in node.keywords:
        raise fb.err(kw.value, f"print() does not take '{kw.arg}=' in BPF code",
                     "build the whole line in one f-string")
    fmt: list[str] = []
    args: list[str] = []
    for i, arg in enumerate(node.args):
        if i:
            fmt.append(" ")
        if isinstance(arg, ast.JoinedStr):
            for part in arg.values:
                if isinstance(part, ast.Constant):
                    fb.src.utf8(arg, str(part.value), "this f-string")
                    fmt.append(str(part.value).replace("%", "%%"))
                else:
                    assert isinstance(part, ast.FormattedValue)
                    format_value(fb, part.value, format_spec(fb, part), fmt, args)
        else:
            format_value(fb, arg, "", fmt, args)
    text = ("".join(fmt) + "\n").encode("utf-8", "surrogateescape")
    if b"\0" in text:
        raise fb.err(node, "print() text holds a NUL character; the kernel would print the "
                     "line only up to it", "remove the \\0")
    if len(args) > MAX_VPRINTK_ARGS:
        raise fb.err(node, f"print() can show at most {MAX_VPRINTK_ARGS} values, got {len(args)}",
                     "split it into several print() calls")
    fmt_ptr = fb.module.string_constant(text + b"\0")
    size = str(len(text) + 1)
    if len(args) <= MAX_PRINTK_ARGS:
        call_args = [("ptr", fmt_ptr), ("i32", size)] + [("i64", a) for a in args]
        fb.b.call_helper(Helper.TRACE_PRINTK, "i64", call_args)
    else:
        data = fb.alloca(ArrayType(U64, len(args)), "printk.args")
        for j, a in enumerate(args):
            fb.b.store("i64", a, fb.b.byte_gep(data, 8 * j), 8)
        fb.b.call_helper(Helper.TRACE_VPRINTK, "i64",
                         [("ptr", fmt_ptr), ("i32", size), ("ptr", data), ("i32", str(8 * len(args)))])
    return Value(VOID, "")


def format_spec(fb: FunctionBuilder, part: ast.FormattedValue) -> str:
    if part.conversion not in (-1, None):
        raise fb.err(part, "!r / !s / !a conversions are not supported in BPF print")
    if part.format_spec is None:
        return ""
    spec = part.format_spec
    if isinstance(spec, ast.JoinedStr) and all(isinstance(v, ast.Constant) for v in spec.values):
        return "".join(str(v.value) for v in spec.values)  # type: ignore[attr-defined]
    raise fb.err(part, "format specs must be constant in BPF print", "e.g. {x:x}")


def format_value(fb: FunctionBuilder, node: ast.expr, spec: str, fmt: list[str], args: list[str]) -> None:
    v = decoded(fb, node) or fb.expr(node)
    if isinstance(v.ty, StrType):
        fmt.append(v.ty.text.replace("%", "%%"))
        return
    if isinstance(v.ty, PtrType) and v.ty.nullable and v.ty.pointee is not None:
        v = fb.load(v.ty.pointee, v.ref)
    if isinstance(v.ty, ArrayType) and isinstance(v.ty.elem, CharType):
        if spec not in ("", "s"):
            raise fb.err(node, f"format spec '{spec}' does not apply to a string")
        fmt.append("%s")
        args.append(fb.b.cast("ptrtoint", "ptr", v.ref, "i64"))
        return
    if isinstance(v.ty, CharType) and spec in ("", "c"):
        fmt.append("%c")
        args.append(fb.coerce(Value(U32, fb.b.cast("zext", "i8", v.ref, "i32")), U64, node).ref)
        return
    if v.ty.aggregate:
        raise fb.err(node, f"a {show(v.ty)} cannot be printed whole", "print its fields")
    v = fb.numeric(v, node)
    if isinstance(v.ty, LitType):
        try:  # a constant is formatted now, exactly as Python would
            fmt.append(format(v.ty.value, spec).replace("%", "%%"))
        except ValueError as e:
            raise fb.err(node, f"format spec '{spec}' does not apply to an integer: {e}") from None
        return
    if isinstance(v.ty, BoolType) and spec == "":
        fmt.append("%s")  # True / False, as Python prints a bool
        args.append(choose_string(fb, v.ref, b"True", b"False"))
        return
    ty = fb.int_type_of(v) if not isinstance(v.ty, BoolType) else IntType(32, False)
    conv = {"": "d" if ty.signed else "u", "d": "d" if ty.signed else "u", "x": "x",
            "u": "u", "i": "d"}.get(spec)
    if conv is None:  # the kernel's printk refuses %X: nothing would be printed
        raise fb.err(node, f"format spec '{spec}' is not supported by bpf_trace_printk",
                     "use {x}, {x:d} or {x:x} (lowercase hex)")
    wide = fb.coerce(fb.coerce(v, ty, node), IntType(64, ty.signed), node).ref
    if conv == "x" and ty.signed:  # Python writes -0x2 as '-2', not as two's complement
        negative = fb.b.icmp("slt", "i64", wide, "0")
        fmt.append("%s%llx")
        args.append(choose_string(fb, negative, b"-", b""))
        args.append(fb.b.select(negative, "i64", fb.b.binop("sub", "i64", "0", wide), wide))
        return
    fmt.append("%ll" + conv if ty.bits == 64 else "%" + conv)
    args.append(wide)


def decoded(fb: FunctionBuilder, node: ast.expr) -> Value | None:
    """The text of ``print(f"{buf.decode()}")``: ``buf``, a char array or byte string.

    BPF prints ``{buf}`` as text already, but to a type checker a char array is ``bytes``,
    which Python would print as ``b'...'``: mypy refuses ``f"{buf}"`` and asks to decode.
    """
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "decode"):
        return None
    if node.args or node.keywords:
        raise fb.err(node, "decode() takes no arguments in BPF print", "write buf.decode()")
    v = fb.expr(node.func.value)
    ty = v.ty.pointee if isinstance(v.ty, PtrType) and v.ty.nullable else v.ty
    if not (isinstance(ty, StrType) or isinstance(ty, ArrayType) and isinstance(ty.elem, CharType)):
        raise fb.err(node, f"only text can be decoded, not a {show(v.ty)}",
                     "decode a char array (c_char * N, Annotated[bytes, N]) or print the value")
    return v


def choose_string(fb: FunctionBuilder, cond: str, yes: bytes, no: bytes) -> str:
    """The address of one of two constant strings, as a printk ``%s`` argument."""
    refs = [fb.b.cast("ptrtoint", "ptr", fb.module.string_constant(t + b"\0"), "i64") for t in (yes, no)]
    return fb.b.select(cond, "i64", *refs)


# MapKind.family -> the module that lowers its methods
MAP_FAMILIES: dict[str, Callable[[FunctionBuilder, MapDecl, str, ast.Call], Value]] = {
    "keyed": maps.map_method,
    "ring": events.event_method,
    "perf": events.event_method,
    "stack": stacks.stack_method,
    "redirect": packet_helpers.redirect_method,
}
# HelperDecl.lower -> lowering, for helpers without arguments
GENERIC_HELPERS: dict[str, Callable[[FunctionBuilder, HelperDecl], Value]] = {
    "u64": helper_u64,
    "low32": helper_low32,
    "high32": helper_high32,
}
# HelperDecl.lower -> lowering, for helpers with their own codegen
SPECIAL_HELPERS: dict[str, Callable[[FunctionBuilder, HelperDecl, ast.Call], Value]] = {
    "comm": comm_call,
    "current_task": current_task_call,
    "core_field": field_info_call,
    "core_type": type_info_call,
    "core_enum": enum_info_call,
    "probe_read": probe_read_call,
    "deref": deref_call,
    "log2": log2_call,
    "read": memory.read_call,
    "get_stackid": stacks.get_stackid_call,
    "get_stack": stacks.get_stack_call,
    "packet": packet_helpers.packet_call,  # adjust_head, load/store bytes, checksums, redirects...
    "byteorder": packet_helpers.byteorder_call,  # htons, htonl, ntohs, ntohl
}
# Python builtins BPF code may call (besides int() and bool(), which are casts)
PYTHON_BUILTINS: dict[str, Callable[[FunctionBuilder, ast.Call], Value]] = {
    "print": print_call,
    "len": len_call,
    "range": range_call,
    "min": lambda fb, node: min_max_call(fb, node, ast.Lt()),
    "max": lambda fb, node: min_max_call(fb, node, ast.Gt()),
}
