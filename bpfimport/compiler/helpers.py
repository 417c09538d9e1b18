"""The helper registry: one declaration per helper a ``.bpf.py`` can call.

Everything else about helpers comes from here: the codegen lowers a call from
its entry (``codegen/calls.py``), ``bpfimport.lang`` exports exactly these
names with these parameters (checked by ``tests/compiler/test_helper_registry.py``),
and the helper list of ``docs/language.md`` is :func:`markdown_list`'s output
(checked by the same test).  Adding a helper is one :class:`HelperDecl` here,
plus a lowering function in ``codegen/calls.py`` when the generic one (call
the BPF helper with no arguments, return its value or a 32-bit half of it)
does not fit.

Plain data with no imports: ``bpfimport.lang`` reads it too.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds of every compile
if TYPE_CHECKING:
    from typing import Any


class Helper:
    """BPF helper numbers, from include/uapi/linux/bpf.h (``___BPF_FUNC_MAPPER`` order)."""

    MAP_LOOKUP_ELEM = 1
    MAP_UPDATE_ELEM = 2
    MAP_DELETE_ELEM = 3
    PROBE_READ = 4
    KTIME_GET_NS = 5
    TRACE_PRINTK = 6
    GET_PRANDOM_U32 = 7
    GET_SMP_PROCESSOR_ID = 8
    TAIL_CALL = 12
    GET_CURRENT_PID_TGID = 14
    GET_CURRENT_UID_GID = 15
    GET_CURRENT_COMM = 16
    PERF_EVENT_OUTPUT = 25
    GET_STACKID = 27
    GET_CURRENT_TASK = 35
    PROBE_READ_STR = 45
    GET_STACK = 67
    GET_CURRENT_CGROUP_ID = 80
    MAP_PUSH_ELEM = 87
    MAP_POP_ELEM = 88
    MAP_PEEK_ELEM = 89
    PROBE_READ_USER = 112
    PROBE_READ_KERNEL = 113
    PROBE_READ_USER_STR = 114
    PROBE_READ_KERNEL_STR = 115
    RINGBUF_OUTPUT = 130
    RINGBUF_RESERVE = 131
    RINGBUF_SUBMIT = 132
    RINGBUF_DISCARD = 133
    TRACE_VPRINTK = 177


class HelperDecl:
    """One helper of ``bpfimport.lang``.

    * ``name``: its spelling in ``bpfimport.lang``.
    * ``helper_id``: the BPF helper it calls (``None``: pure codegen, e.g. ``log2``).
    * ``params``: ``(name, type)`` pairs as ``bpfimport.lang`` spells them; a type
      ending in ``=`` plus a value marks an optional parameter (``"buf=None"``).
    * ``ret``: the type of its result (``"u64"``, ``"u32"``, ``"i64"``, ``"c_char * 16"``...).
    * ``lower``: how the codegen lowers a call: ``"u64"`` (the helper's value),
      ``"low32"``/``"high32"`` (a half of it), or the name of a function in
      ``codegen/calls.py``'s ``SPECIAL_HELPERS`` table.
    * ``doc``: one line for ``bpfimport.lang`` and the docs.
    * ``unsupported``: why a call refuses to compile for now (the error's hint), or ``None``.
    """

    __slots__ = ("name", "helper_id", "params", "ret", "lower", "doc", "unsupported")
    name: str
    helper_id: int | None
    params: tuple[tuple[str, str], ...]
    ret: str
    lower: str
    doc: str
    unsupported: str | None

    def __init__(self, name: str, helper_id: int | None, params: tuple[tuple[str, str], ...],
                 ret: str, lower: str, doc: str, unsupported: str | None = None) -> None:
        set_ = object.__setattr__  # the record is immutable; __init__ is the one writer
        set_(self, "name", name)
        set_(self, "helper_id", helper_id)
        set_(self, "params", params)
        set_(self, "ret", ret)
        set_(self, "lower", lower)
        set_(self, "doc", doc)
        set_(self, "unsupported", unsupported)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("HelperDecl is immutable")

    def signature(self) -> str:
        """``probe_read(dst, size, src)``, as the docs show it (``[flags]``: optional)."""
        names = (f"[{p}]" if "=" in t else p for p, t in self.params)
        return f"{self.name}({', '.join(names)})"


HELPERS: dict[str, HelperDecl] = {h.name: h for h in (
    HelperDecl("ktime", Helper.KTIME_GET_NS, (), "u64", "u64",
               "monotonic nanoseconds since boot"),
    HelperDecl("pid", Helper.GET_CURRENT_PID_TGID, (), "u32", "low32",
               "the kernel's pid, i.e. the thread id (pythonbpf's meaning)"),
    HelperDecl("tid", Helper.GET_CURRENT_PID_TGID, (), "u32", "low32", "the thread id"),
    HelperDecl("tgid", Helper.GET_CURRENT_PID_TGID, (), "u32", "high32",
               "the process id, what os.getpid() returns"),
    HelperDecl("uid", Helper.GET_CURRENT_UID_GID, (), "u32", "low32", "the current user id"),
    HelperDecl("gid", Helper.GET_CURRENT_UID_GID, (), "u32", "high32", "the current group id"),
    HelperDecl("comm", Helper.GET_CURRENT_COMM, (("buf", "Any = None"),), "c_char * 16", "comm",
               "the task's name as c_char * 16 (written in place when assigned to a field), "
               "or written into buf"),
    HelperDecl("random", Helper.GET_PRANDOM_U32, (), "u32", "low32", "a pseudo-random number"),
    HelperDecl("smp_processor_id", Helper.GET_SMP_PROCESSOR_ID, (), "u32", "low32",
               "the CPU the program runs on"),
    HelperDecl("get_current_cgroup_id", Helper.GET_CURRENT_CGROUP_ID, (), "u64", "u64",
               "the current task's cgroup v2 id"),
    HelperDecl("get_current_task", Helper.GET_CURRENT_TASK, (), "u64", "u64",
               "the address of the current task_struct (read it with probe_read_kernel)"),
    HelperDecl("current_task", Helper.GET_CURRENT_TASK, (), "kernel.task_struct", "current_task",
               "the running task's task_struct, a kernel pointer whose fields read CO-RE "
               "relocated: current_task().real_parent.tgid"),
    HelperDecl("field_exists", None, (("field", "Any"),), "bool", "core_field",
               "whether the running kernel has this field (a CO-RE relocation): "
               "field_exists(current_task().loginuid)"),
    HelperDecl("field_size", None, (("field", "Any"),), "u32", "core_field",
               "the field's size in bytes on the running kernel: field_size(current_task().comm)"),
    HelperDecl("type_exists", None, (("type_", "Any"),), "bool", "core_type",
               "whether the running kernel has this type: type_exists(kernel.bpf_map)"),
    HelperDecl("type_size", None, (("type_", "Any"),), "u32", "core_type",
               "the type's size in bytes on the running kernel: type_size(kernel.task_struct)"),
    HelperDecl("enum_exists", None, (("value", "Any"),), "bool", "core_enum",
               "whether the running kernel has this enum value: "
               "enum_exists(kernel.bpf_map_type.BPF_MAP_TYPE_ARENA)"),
    HelperDecl("enum_value", None, (("value", "Any"),), "i64", "core_enum",
               "the enum value's number on the running kernel: "
               "enum_value(kernel.bpf_map_type.BPF_MAP_TYPE_HASH)"),
    HelperDecl("probe_read", Helper.PROBE_READ, (("dst", "Any"), ("size", "int"), ("src", "Any")),
               "i64", "probe_read", "copy size bytes from src into dst (0 or a negative errno)"),
    HelperDecl("probe_read_user", Helper.PROBE_READ_USER,
               (("dst", "Any"), ("size", "int"), ("src", "Any")), "i64", "probe_read",
               "probe_read from user memory"),
    HelperDecl("probe_read_kernel", Helper.PROBE_READ_KERNEL,
               (("dst", "Any"), ("size", "int"), ("src", "Any")), "i64", "probe_read",
               "probe_read from kernel memory"),
    HelperDecl("probe_read_str", Helper.PROBE_READ_STR, (("dst", "Any"), ("src", "Any")), "i64",
               "probe_read", "copy a NUL-terminated string into dst (its length with the NUL)"),
    HelperDecl("probe_read_user_str", Helper.PROBE_READ_USER_STR, (("dst", "Any"), ("src", "Any")),
               "i64", "probe_read", "probe_read_str from user memory"),
    HelperDecl("probe_read_kernel_str", Helper.PROBE_READ_KERNEL_STR,
               (("dst", "Any"), ("src", "Any")), "i64", "probe_read",
               "probe_read_str from kernel memory"),
    HelperDecl("read_user", Helper.PROBE_READ_USER, (("type_", "Any"), ("addr", "Any")), "type_",
               "read", "one value of the given type (an integer, a pointer, a @struct...) from user "
               "memory at addr; 0 when the read faults"),
    HelperDecl("read_kernel", Helper.PROBE_READ_KERNEL, (("type_", "Any"), ("addr", "Any")),
               "type_", "read", "one value of the given type from kernel memory at addr; 0 when "
               "the read faults"),
    HelperDecl("get_stack", Helper.GET_STACK,
               (("ctx", "Any"), ("buf", "Any"), ("flags", "int = 0")), "i64", "get_stack",
               "copy the current stack's addresses (kernel, or user with BPF_F_USER_STACK) into "
               "buf, a u64 array; the number of bytes written or a negative errno"),
    HelperDecl("get_stackid", Helper.GET_STACKID,
               (("ctx", "Any"), ("stack_map", "Any"), ("flags", "int = 0")), "i64",
               "get_stackid", "store the current stack in a StackTraceMap; its id (>= 0) or a "
               "negative errno (same as stack_map.get_stackid(ctx, flags))"),
    HelperDecl("deref", None, (("p", "Any"),), "the value's type", "deref",
               "the value a map value reference points at"),
    HelperDecl("log2", None, (("x", "int"),), "u64", "log2",
               "floor(log2(x)) of x as a u64, and 0 for 0, like libbpf-tools' log2l(); bcc's "
               "bpf_log2l(x) is one more for x > 0 and 1 for 0"),
)}


def markdown_list() -> str:
    """The helper list of docs/language.md (its ``<!-- helpers -->`` block), one line each."""
    kernel = {v: f"bpf_{k.lower()}" for k, v in vars(Helper).items() if isinstance(v, int)}
    lines = []
    for h in HELPERS.values():
        how = f"`{kernel[h.helper_id]}`" if h.helper_id is not None else "compiled inline"
        lines.append(f"- `{h.signature()}` → `{h.ret}`: {h.doc} ({how})")
    return "\n".join(lines)


__all__ = ["HELPERS", "Helper", "HelperDecl", "markdown_list"]


if __name__ == "__main__":  # python -m bpfimport.compiler.helpers: the docs' helper list
    print(markdown_list())
