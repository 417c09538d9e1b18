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
    SKB_STORE_BYTES = 9
    L3_CSUM_REPLACE = 10
    L4_CSUM_REPLACE = 11
    TAIL_CALL = 12
    CLONE_REDIRECT = 13
    GET_CURRENT_PID_TGID = 14
    GET_CURRENT_UID_GID = 15
    GET_CURRENT_COMM = 16
    REDIRECT = 23
    PERF_EVENT_OUTPUT = 25
    SKB_LOAD_BYTES = 26
    GET_STACKID = 27
    CSUM_DIFF = 28
    SKB_CHANGE_TYPE = 32
    GET_HASH_RECALC = 34
    GET_CURRENT_TASK = 35
    SKB_CHANGE_TAIL = 38
    CSUM_UPDATE = 40
    SKB_CHANGE_HEAD = 43
    XDP_ADJUST_HEAD = 44
    PROBE_READ_STR = 45
    SKB_ADJUST_ROOM = 50
    REDIRECT_MAP = 51
    XDP_ADJUST_META = 54
    XDP_ADJUST_TAIL = 65
    GET_STACK = 67
    FIB_LOOKUP = 69
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
    XDP_LOAD_BYTES = 189
    XDP_STORE_BYTES = 190


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
    * ``program_types``: for a helper only some program types may call, ``(type, helper id)``
      pairs, libbpf's program type names (``"xdp"``, ``"sched_cls"``...): the BPF helper it
      calls in each (``adjust_tail`` is ``bpf_xdp_adjust_tail`` in XDP and
      ``bpf_skb_change_tail`` in tc); a call from any other program type is a CompileError.
      Empty: every program type (the kernel's verifier has the last word).
    """

    __slots__ = ("name", "helper_id", "params", "ret", "lower", "doc", "unsupported",
                 "program_types")
    name: str
    helper_id: int | None
    params: tuple[tuple[str, str], ...]
    ret: str
    lower: str
    doc: str
    unsupported: str | None
    program_types: tuple[tuple[str, int], ...]

    def __init__(self, name: str, helper_id: int | None, params: tuple[tuple[str, str], ...],
                 ret: str, lower: str, doc: str, unsupported: str | None = None,
                 program_types: tuple[tuple[str, int], ...] = ()) -> None:
        set_ = object.__setattr__  # the record is immutable; __init__ is the one writer
        set_(self, "name", name)
        set_(self, "helper_id", helper_id)
        set_(self, "params", params)
        set_(self, "ret", ret)
        set_(self, "lower", lower)
        set_(self, "doc", doc)
        set_(self, "unsupported", unsupported)
        set_(self, "program_types", program_types)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("HelperDecl is immutable")

    def signature(self) -> str:
        """``probe_read(dst, size, src)``, as the docs show it (``[flags]``: optional)."""
        names = (f"[{p}]" if "=" in t else p for p, t in self.params)
        return f"{self.name}({', '.join(names)})"


# ---------------------------------------------------------------- packet helpers
# Helpers of the networking program types; each lists the program types that may call it and
# the BPF helper it is in each (HelperDecl.program_types). codegen/packet_helpers.py lowers them all.
XDP = "xdp"
SKB_TC = ("sched_cls", "sched_act")  # @tc, and SEC("action")
SKB_ANY = (*SKB_TC, "socket_filter", "cgroup_skb")


def _in(helper: int, *types: str) -> tuple[tuple[str, int], ...]:
    return tuple((t, helper) for t in types)


PACKET_HELPERS: tuple[HelperDecl, ...] = (
    HelperDecl("adjust_head", Helper.XDP_ADJUST_HEAD, (("ctx", "Any"), ("delta", "int")), "i64",
               "packet", "move the packet's start by delta bytes (negative: room for a new "
               "header, positive: strip bytes); 0 or a negative errno. XDP only (tc: "
               "skb_change_head, skb_adjust_room)", program_types=_in(Helper.XDP_ADJUST_HEAD, XDP)),
    HelperDecl("adjust_tail", Helper.XDP_ADJUST_TAIL, (("ctx", "Any"), ("delta", "int")), "i64",
               "packet", "grow (positive) or shrink (negative) the packet at its end by delta "
               "bytes; 0 or a negative errno (tc: bpf_skb_change_tail to ctx.len + delta)",
               program_types=(*_in(Helper.XDP_ADJUST_TAIL, XDP),
                              *_in(Helper.SKB_CHANGE_TAIL, *SKB_TC))),
    HelperDecl("adjust_meta", Helper.XDP_ADJUST_META, (("ctx", "Any"), ("delta", "int")), "i64",
               "packet", "move the start of the metadata area before the packet by delta bytes "
               "(negative: grow it); 0 or a negative errno. XDP only",
               program_types=_in(Helper.XDP_ADJUST_META, XDP)),
    HelperDecl("skb_change_head", Helper.SKB_CHANGE_HEAD,
               (("ctx", "Any"), ("length", "int"), ("flags", "int = 0")), "i64", "packet",
               "grow the packet by length bytes of headroom at its start; 0 or a negative errno. tc "
               "only", program_types=_in(Helper.SKB_CHANGE_HEAD, *SKB_TC)),
    HelperDecl("skb_change_tail", Helper.SKB_CHANGE_TAIL,
               (("ctx", "Any"), ("length", "int"), ("flags", "int = 0")), "i64", "packet",
               "resize the packet to length bytes (new bytes are zero); 0 or a negative errno. tc "
               "only", program_types=_in(Helper.SKB_CHANGE_TAIL, *SKB_TC)),
    HelperDecl("skb_adjust_room", Helper.SKB_ADJUST_ROOM,
               (("ctx", "Any"), ("len_diff", "int"), ("mode", "int"), ("flags", "int = 0")),
               "i64", "packet", "grow or shrink the room after the network header "
               "(BPF_ADJ_ROOM_NET) or the MAC header (BPF_ADJ_ROOM_MAC) by len_diff bytes; 0 or "
               "a negative errno. tc only", program_types=_in(Helper.SKB_ADJUST_ROOM, *SKB_TC)),
    HelperDecl("load_bytes", Helper.SKB_LOAD_BYTES,
               (("ctx", "Any"), ("offset", "int"), ("buf", "Any")), "i64", "packet",
               "copy len(buf) bytes of the packet from offset into buf (a char array, array or "
               "@struct); 0 or a negative errno",
               program_types=(*_in(Helper.XDP_LOAD_BYTES, XDP),
                              *_in(Helper.SKB_LOAD_BYTES, *SKB_ANY))),
    HelperDecl("skb_load_bytes", Helper.SKB_LOAD_BYTES,
               (("ctx", "Any"), ("offset", "int"), ("buf", "Any")), "i64", "packet",
               "load_bytes for socket buffer programs (tc, socket filters, cgroup skb)",
               program_types=_in(Helper.SKB_LOAD_BYTES, *SKB_ANY)),
    HelperDecl("store_bytes", Helper.SKB_STORE_BYTES,
               (("ctx", "Any"), ("offset", "int"), ("data", "Any"), ("flags", "int = 0")), "i64",
               "packet", "write data (an array, @struct or typed integer such as u16(x)) into "
               "the packet at offset; 0 or a negative errno (flags, tc only: "
               "BPF_F_RECOMPUTE_CSUM, BPF_F_INVALIDATE_HASH)",
               program_types=(*_in(Helper.XDP_STORE_BYTES, XDP),
                              *_in(Helper.SKB_STORE_BYTES, *SKB_TC))),
    HelperDecl("skb_store_bytes", Helper.SKB_STORE_BYTES,
               (("ctx", "Any"), ("offset", "int"), ("data", "Any"), ("flags", "int = 0")), "i64",
               "packet", "store_bytes for tc programs",
               program_types=_in(Helper.SKB_STORE_BYTES, *SKB_TC)),
    HelperDecl("csum_diff", Helper.CSUM_DIFF,
               (("from_", "Any"), ("to", "Any"), ("seed", "int = 0")), "i64", "packet",
               "the 32-bit one's complement sum of to minus that of from, added to seed (buffers "
               "whose size is a multiple of 4, or None): the checksum change of replacing from "
               "by to", program_types=_in(Helper.CSUM_DIFF, XDP, *SKB_TC)),
    HelperDecl("l3_csum_replace", Helper.L3_CSUM_REPLACE,
               (("ctx", "Any"), ("offset", "int"), ("from_", "int"), ("to", "int"),
                ("size", "int")), "i64", "packet",
               "fix the IP checksum at offset for a field changed from from_ to to (size 2 or 4 "
               "bytes, values as on the wire; or from_ 0 and to a csum_diff() with size 0); 0 or "
               "a negative errno. tc only", program_types=_in(Helper.L3_CSUM_REPLACE, *SKB_TC)),
    HelperDecl("l4_csum_replace", Helper.L4_CSUM_REPLACE,
               (("ctx", "Any"), ("offset", "int"), ("from_", "int"), ("to", "int"),
                ("flags", "int")), "i64", "packet",
               "fix the TCP/UDP checksum at offset for a field changed from from_ to to (flags: "
               "the size 2 or 4, | BPF_F_PSEUDO_HDR for pseudo-header fields, | "
               "BPF_F_MARK_MANGLED_0 for UDP); 0 or a negative errno. tc only",
               program_types=_in(Helper.L4_CSUM_REPLACE, *SKB_TC)),
    HelperDecl("csum_update", Helper.CSUM_UPDATE, (("ctx", "Any"), ("csum", "int")), "i64",
               "packet", "add csum (a csum_diff()) to the packet's CHECKSUM_COMPLETE sum; the new "
               "sum, or a negative errno. tc only", program_types=_in(Helper.CSUM_UPDATE, *SKB_TC)),
    HelperDecl("redirect", Helper.REDIRECT, (("ifindex", "int"), ("flags", "int = 0")), "i64",
               "packet", "send the packet to interface ifindex (tc: BPF_F_INGRESS for its "
               "ingress); the verdict to return: XDP_REDIRECT / TC_ACT_REDIRECT, or XDP_ABORTED / "
               "TC_ACT_SHOT on bad flags", program_types=_in(Helper.REDIRECT, XDP, *SKB_TC)),
    HelperDecl("redirect_map", Helper.REDIRECT_MAP,
               (("map", "Any"), ("key", "int"), ("flags", "int = 0")), "i64", "packet",
               "send the packet to the target in slot key of a DevMap, DevMapHash, CpuMap or "
               "XskMap; the verdict to return: XDP_REDIRECT, or the low two bits of flags (e.g. "
               "XDP_PASS) when the slot is empty. XDP only",
               program_types=_in(Helper.REDIRECT_MAP, XDP)),
    HelperDecl("clone_redirect", Helper.CLONE_REDIRECT,
               (("ctx", "Any"), ("ifindex", "int"), ("flags", "int = 0")), "i64", "packet",
               "send a copy of the packet to interface ifindex (BPF_F_INGRESS: its ingress); 0 or "
               "a negative errno. tc only", program_types=_in(Helper.CLONE_REDIRECT, *SKB_TC)),
    HelperDecl("fib_lookup", Helper.FIB_LOOKUP,
               (("ctx", "Any"), ("params", "Any"), ("flags", "int = 0")), "i64", "packet",
               "look the route of params (a FibLookup) up in the kernel's forwarding table and "
               "fill in its output fields; a BPF_FIB_LKUP_RET_* code or a negative errno",
               program_types=_in(Helper.FIB_LOOKUP, XDP, *SKB_TC)),
    HelperDecl("get_hash_recalc", Helper.GET_HASH_RECALC, (("ctx", "Any"),), "u32", "packet",
               "the packet's flow hash, computed if not known yet. tc only",
               program_types=_in(Helper.GET_HASH_RECALC, *SKB_TC)),
    HelperDecl("htons", None, (("x", "int"),), "u16", "byteorder",
               "x (wrapped to 16 bits) with its two bytes swapped: a host-order number as the "
               "packet holds it, for store_bytes() and the checksum helpers (also in user space)"),
    HelperDecl("ntohs", None, (("x", "int"),), "u16", "byteorder",
               "the inverse of htons(): 16 bits read raw from the packet as a number"),
    HelperDecl("htonl", None, (("x", "int"),), "u32", "byteorder",
               "x (wrapped to 32 bits) with its four bytes reversed: a host-order number as the "
               "packet holds it, e.g. l3_csum_replace(ctx, 24, htonl(old), htonl(new), 4)"),
    HelperDecl("ntohl", None, (("x", "int"),), "u32", "byteorder",
               "the inverse of htonl(): 32 bits read raw from the packet as a number"),
    HelperDecl("skb_change_type", Helper.SKB_CHANGE_TYPE, (("ctx", "Any"), ("type_", "int")),
               "i64", "packet", "set the packet's type (PACKET_HOST, PACKET_BROADCAST, "
               "PACKET_MULTICAST, PACKET_OTHERHOST); 0 or a negative errno. tc only",
               program_types=_in(Helper.SKB_CHANGE_TYPE, *SKB_TC)),
)


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
) + PACKET_HELPERS}


def markdown_list() -> str:
    """The helper list of docs/language.md (its ``<!-- helpers -->`` block), one line each."""
    kernel = {v: f"bpf_{k.lower()}" for k, v in vars(Helper).items() if isinstance(v, int)}
    lines = []
    for h in HELPERS.values():
        how = f"`{kernel[h.helper_id]}`" if h.helper_id is not None else "compiled inline"
        if h.program_types:  # `bpf_xdp_adjust_tail` in xdp; `bpf_skb_change_tail` in sched_cls...
            by_id: dict[int, list[str]] = {}
            for ptype, hid in h.program_types:
                by_id.setdefault(hid, []).append(ptype)
            how = "; ".join(f"`{kernel[hid]}` in {', '.join(ts)}" for hid, ts in by_id.items())
        lines.append(f"- `{h.signature()}` → `{h.ret}`: {h.doc} ({how})")
    return "\n".join(lines)


__all__ = ["HELPERS", "Helper", "HelperDecl", "markdown_list"]


if __name__ == "__main__":  # python -m bpfimport.compiler.helpers: the docs' helper list
    print(markdown_list())
