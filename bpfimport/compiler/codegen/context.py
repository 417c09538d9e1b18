"""The program's context: what ``ctx.NAME`` reads, one function per program kind.

* ``@tracepoint("CAT/EVENT")``: ``ctx.FIELD`` is a field of the event's record, read
  with a direct load from the context.  Where the kernel's BTF describes the record
  (``trace_event_raw_<class>``, ``syscall_trace_enter``/``_exit``) the field's offset is
  CO-RE relocated like any kernel struct's; otherwise it is the offset the tracefs format
  file gives, and the object then depends on this kernel's layout (its spec records the
  kernel's identity: ``ModuleCodegen.fixed_layout``).  ``__data_loc`` strings read as char
  arrays; a syscall's pointer arguments are user pointers.
* ``@raw_tracepoint("NAME")``: ``ctx.args[i]`` is the i-th raw u64 argument, and the
  names of the kernel's ``btf_trace_NAME`` prototype read it typed (``ctx.prev.pid`` on
  ``sched_switch``: a kernel task_struct pointer).

What a record holds comes from ``bpfimport.btf.tracepoints`` (kernel BTF, tracefs format
files, the syscall table); this module only lowers the reads.
"""

from __future__ import annotations

from .. import pyast as ast
from ..core import KernelTypeError, closest_first, show_names
from ..types import (
    BOOL,
    CHAR,
    U64,
    ArrayType,
    BoolType,
    BpfType,
    CharType,
    IntType,
    KernelStructType,
    PlaceType,
    PtrType,
)
from .builder import FunctionBuilder
from .ir import Value
from .kernel import DATA_LOC_LEN, element, kernel_types, member, read
from .packet import PACKET_DECORATORS, access_of, context_field

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds of every compile
if TYPE_CHECKING:
    from collections.abc import Callable

    from ...btf.tracepoints import TpField, TpRecord


def is_context(v: Value) -> bool:
    """The program's context parameter (an untyped ``ctx`` pointer)."""
    return isinstance(v.ty, PtrType) and v.ty.space == "ctx" and v.ty.pointee is None


def field(fb: FunctionBuilder, base: Value, node: ast.Attribute) -> Value:
    """``ctx.NAME`` in a program whose kind gives its context fields names."""
    lower = CONTEXTS.get(fb.decl.decorator or "")
    if lower is None and access_of(fb) is not None:  # @section("xdp.frags") and the like
        lower = context_field
    if lower is None:
        raise opaque_pointer_error(fb, node.value)
    return lower(fb, base, node)


def opaque_pointer_error(fb: FunctionBuilder, node: ast.expr) -> Exception:
    """``ctx.field`` / ``ctx[i]``: say what works today instead of "a pointer has no fields"."""
    what = f"'{node.id}'" if isinstance(node, ast.Name) else "this pointer"
    return fb.err(node, f"{what} points at memory whose type the compiler does not know, "
                  "so it has no fields or elements in BPF code",
                  f"copy what you need into a @struct, then read its fields: s = S(); "
                  f"probe_read_kernel(s, 16, {ast.unparse(node)}); s.field "
                  "(typed contexts: ctx.FIELD in @tracepoint programs, ctx.args[i] in "
                  "@raw_tracepoint; kernel.T(address) names a kernel struct)")


# ---------------------------------------------------------------- tracepoints

def _record(fb: FunctionBuilder, node: ast.AST) -> TpRecord:
    """The record of this program's tracepoint, or a CompileError naming what exists."""
    section = fb.decl.section or ""
    category, _, event = section.partition("/")[2].partition("/")
    from ...btf import tracepoints

    try:
        return tracepoints.tracepoint_record(category, event)
    except LookupError as e:  # UnknownTracepoint, or an event BTF cannot place (not root)
        raise fb.err(_decorator_argument(fb), str(e), getattr(e, "hint", None)) from None
    except OSError as e:  # no BTF, and no readable format file
        raise fb.err(node, f"cannot read the layout of tracepoint {category}/{event}: {e}",
                     "tracepoint fields come from the kernel's BTF and /sys/kernel/tracing") from None


def _decorator_argument(fb: FunctionBuilder) -> ast.AST:
    """Where the program names its tracepoint (``@tracepoint("CAT/EVENT")``'s argument)."""
    for deco in fb.decl.node.decorator_list:
        if isinstance(deco, ast.Call) and deco.args:
            return deco.args[0]
    return fb.decl.node


def tracepoint_field(fb: FunctionBuilder, base: Value, node: ast.Attribute) -> Value:
    record = _record(fb, node)
    f = record.field(node.attr)
    if f is None:
        names = [x.name for x in record.fields if x.name not in COMMON]
        raise fb.err(node, f"tracepoint {record.category}/{record.event} has no field "
                     f"'{node.attr}'", "its fields, closest first: "
                     + show_names(closest_first(node.attr, names), 40))
    if f.name in COMMON:
        # A BPF program's record starts with a pt_regs pointer the kernel writes over the
        # common fields (perf_trace_run_bpf_submit), and the verifier refuses offsets below 8
        raise fb.err(node, f"'{f.name}' is not visible to BPF programs: the kernel overwrites "
                     "a record's common fields before the program runs",
                     COMMON_HINTS.get(f.name, "the other fields are readable"))
    place = None
    if record.btf_struct is not None and f.access is not None:
        place = _relocated(fb, base, record.btf_struct, f.access, node)
    if place is None:  # a 'format' record, or one a module's BTF describes: this kernel's offsets
        place = _fixed(fb, base, f)
    if f.data_loc:
        assert isinstance(place.ty, PlaceType)
        return Value(place.ty.but(target=ArrayType(CHAR, DATA_LOC_LEN),
                                  how="rel_loc" if f.rel_loc else "data_loc"), base.ref)
    if record.source == "syscalls" and f.name != "__syscall_nr":
        return _syscall_value(fb, place, f, node)
    return place


COMMON_HINTS = {"common_pid": "tid() is the thread id and tgid() the process id of the task "
                              "the event happens in"}
COMMON = ("common_type", "common_flags", "common_preempt_count", "common_pid")


def _relocated(fb: FunctionBuilder, ctx: Value, struct_name: str, path: tuple[str | int, ...],
               node: ast.Attribute) -> Value | None:
    """The field as a place in the context, CO-RE relocated against the record's BTF type
    (None when the compiler cannot use that type: a second module's, see core.KernelTypeSystem)."""
    kt = kernel_types(fb, node)
    try:
        struct = kt.struct(struct_name)
    except KernelTypeError:
        return None
    place = Value(PtrType(struct, space="ctx"), ctx.ref)
    for step in path:
        if isinstance(step, int):
            place = element(fb, place, step, node, node)
        else:
            place = member(fb, place, ast.Attribute(value=node.value, attr=step, ctx=ast.Load(),
                                                     lineno=node.lineno, col_offset=node.col_offset))
    return place


def _fixed(fb: FunctionBuilder, ctx: Value, f: TpField) -> Value:
    """The field at the offset this kernel's format file gives (not relocatable)."""
    fb.module.fixed_layout(f"tracepoint {fb.decl.section}: field {f.name} at offset {f.offset}")
    return Value(PlaceType(_format_type(f), "ctx", ctx.ref, 8 * f.offset), ctx.ref)


def _format_type(f: TpField) -> BpfType:
    """A field's type from its format-file description (size, signedness, C type)."""
    size, signed, ctype = f.size, f.signed, f.ctype
    if f.array_len:
        elem = size // f.array_len
        if ctype.startswith(("char", "unsigned char", "u8")) or elem not in (1, 2, 4, 8):
            return ArrayType(CHAR, size)
        return ArrayType(IntType(8 * elem, signed), f.array_len)
    if "*" in ctype:
        return PtrType(CHAR if ctype.replace("const", "").strip().startswith("char") else None,
                       space="kernel")
    if size in (1, 2, 4, 8):
        return IntType(8 * size, signed)
    return ArrayType(CHAR, size)


def _syscall_value(fb: FunctionBuilder, place: Value, f: TpField, node: ast.AST) -> Value:
    """A syscall argument: its unsigned long slot, as the argument's C type (pointers are user
    memory: ``ctx.filename`` on sys_enter_openat is a user ``char *``)."""
    raw = read(fb, place, node)
    ctype = f.ctype
    if "*" in ctype or "[]" in ctype or f.user_pointer:
        return fb.coerce(raw, _user_pointer(fb, ctype, node), node, explicit=True)
    ty = _scalar_ctype(fb, ctype, node) or (IntType(8 * f.size, bool(f.signed))
                                            if f.size in (1, 2, 4, 8) else U64)
    if isinstance(ty, BoolType):
        return fb.truth(raw, node)
    return fb.coerce(raw, ty, node, explicit=True)


def _user_pointer(fb: FunctionBuilder, ctype: str, node: ast.AST) -> PtrType:
    """A syscall's pointer argument as a user pointer to what its C type says: ``char *`` a
    string, ``const char *const *argv`` an array of strings (``ctx.argv[i]``, each a user
    pointer once read), ``int *`` ints; a struct or ``void`` target has no type here."""
    words = ctype.replace("*", " * ").replace("[]", " * ").split()
    words = [w for w in words if w not in ("const", "volatile", "__user", "restrict")]
    stars = words.count("*") or 1
    base = " ".join(w for w in words if w != "*")
    pointee: BpfType | None = CHAR if base == "char" else _scalar_ctype(fb, base, node)
    for _ in range(stars - 1):  # the inner pointers' memory: that of the pointer read them from
        pointee = PtrType(pointee)
    return PtrType(pointee, space="user")


_C_INTS = {
    "char": IntType(8, True), "signed char": IntType(8, True), "unsigned char": IntType(8, False),
    "short": IntType(16, True), "unsigned short": IntType(16, False),
    "int": IntType(32, True), "unsigned int": IntType(32, False), "unsigned": IntType(32, False),
    "long": IntType(64, True), "unsigned long": IntType(64, False),
    "long long": IntType(64, True), "unsigned long long": IntType(64, False), "bool": BOOL,
}


def _scalar_ctype(fb: FunctionBuilder, ctype: str, node: ast.AST) -> BpfType | None:
    """``int``, ``size_t``, ``umode_t``...: C's names, then the kernel's typedefs."""
    bare = " ".join(w for w in ctype.split() if w not in ("const", "volatile", "__user"))
    bare = bare.replace(" int", "") if bare.startswith(("long", "short", "unsigned long", "unsigned short")) else bare
    if bare in _C_INTS:
        return _C_INTS[bare]
    try:
        ty = kernel_types(fb, node).named(bare)
    except (KernelTypeError, SyntaxError):
        return None
    return ty if isinstance(ty, (IntType, BoolType, CharType)) else None


# ---------------------------------------------------------------- raw tracepoints

RAW_TP_MAX_ARGS = 12  # MAX_BPF_FUNC_ARGS: what the verifier lets a raw tracepoint read


def raw_tracepoint_field(fb: FunctionBuilder, base: Value, node: ast.Attribute) -> Value:
    """``ctx.args`` (the raw u64 arguments) or an argument by its name in ``btf_trace_NAME``."""
    name = (fb.decl.section or "").partition("/")[2]
    if node.attr == "args":  # needs no BTF: the count bounds a constant index where it is known
        params = raw_tracepoint_params(name)
        count = len(params) if params is not None else RAW_TP_MAX_ARGS
        return Value(PlaceType(ArrayType(U64, count), "ctx", base.ref), base.ref)
    kt = kernel_types(fb, node)
    params = raw_tracepoint_params(name)
    if params is None:
        raise fb.err(node, f"the kernel's BTF does not describe raw tracepoint '{name}' "
                     f"(no btf_trace_{name}), so its arguments have no names",
                     "read them as ctx.args[0], ctx.args[1], ...")
    names = [p for p, _ in params]
    if node.attr not in names:
        raise fb.err(node, f"raw tracepoint '{name}' has no argument '{node.attr}'",
                     "its arguments, closest first: " + show_names(closest_first(node.attr, names))
                     + "; or ctx.args[i]")
    index = names.index(node.attr)
    raw = fb.load(U64, fb.b.byte_gep(base.ref, 8 * index))
    try:
        ty = kt.compiler_type(params[index][1])
    except KernelTypeError as e:
        raise fb.err(node, e.message, e.hint) from None
    if isinstance(ty, BoolType):
        return fb.truth(raw, node)
    if isinstance(ty, (ArrayType, KernelStructType)):
        raise fb.err(node, f"argument '{node.attr}' is passed by value ({ty}), which a raw "
                     "tracepoint cannot read", "read ctx.args[i] as a number")
    return fb.coerce(raw, ty, node, explicit=True)


def raw_tracepoint_params(name: str) -> list[tuple[str, int]] | None:
    """``(name, BTF type id)`` of each argument (the probe prototype's after its ``void *``:
    ``bpfimport.btf.tracepoints.raw_tracepoint_args``), or None when the kernel's BTF does not
    describe the tracepoint (or there is no BTF)."""
    from ...btf.tracepoints import raw_tracepoint_args

    return raw_tracepoint_args(name)


# program kind (ProgramKind.decorator) -> what ctx.NAME reads
CONTEXTS: dict[str, Callable[[FunctionBuilder, Value, ast.Attribute], Value]] = {
    "tracepoint": tracepoint_field,
    "raw_tracepoint": raw_tracepoint_field,
    **{decorator: context_field for decorator in PACKET_DECORATORS},  # codegen/packet.py
}

__all__ = ["CONTEXTS", "field", "is_context"]
