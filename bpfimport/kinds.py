"""Map kinds and program kinds as data: one record per kind, read by every layer.

Why one table: a map kind used to be half a table (``spec.MAP_KINDS``) and half
string comparisons spread over the frontend, the codegen and the runtime.  A
record here says everything a layer needs to know about its kind, so adding a
kind is one row here plus its own implementation (its handle class, or a
codegen function for a BPF-side operation it adds).

This module is on the cache-hit import path (``bpfimport.spec`` re-exports
``MAP_KINDS``): it imports nothing, and its records are plain slotted classes
rather than dataclasses (importing ``dataclasses``/``typing`` costs
milliseconds there).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~4 ms to import, and this is on the cache-hit path
if TYPE_CHECKING:
    from typing import Any


class _Kind:
    """An immutable record: keyword arguments over class-level defaults.

    The values given are stored in one ``__dict__.update`` (no per-field
    ``__init__`` work), because ``bpfimport.runtime`` reads this table when it
    binds maps, and every microsecond of import counts there.
    """

    _fields: frozenset[str] = frozenset()
    _required: frozenset[str] = frozenset()

    def __init__(self, **values: Any) -> None:
        if not values.keys() <= self._fields or not self._required <= values.keys():
            unknown = sorted(values.keys() - self._fields)
            missing = sorted(self._required - values.keys())
            raise TypeError(f"{type(self).__name__}: unknown {unknown}, missing {missing}")
        self.__dict__.update(values)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __repr__(self) -> str:
        args = ", ".join(f"{n}={getattr(self, n)!r}" for n in sorted(self._fields))
        return f"{type(self).__name__}({args})"


# ---------------------------------------------------------------- maps

# What BPF code may call on a map of each family (codegen dispatches on these names).
KEYED_OPS = ("lookup", "get", "update", "delete")
RING_OPS = ("output", "reserve", "submit", "discard")
PERF_OPS = ("output",)
QUEUE_OPS = ("push", "pop", "peek")  # queue and stack maps: no keys
BLOOM_OPS = ("push", "peek")  # `v in bloom` is a peek
STACK_TRACE_OPS = ("get_stackid",)  # the verifier allows nothing else on a stack trace map
PROG_ARRAY_OPS = ("tail_call",)  # nor on a program array
MAP_OF_MAPS_OPS = ("lookup",)  # the kernel lets BPF code only look inner maps up


class MapKind(_Kind):
    """One map flavour, as the frontend, the codegen and the runtime each need it.

    * ``type_id``: the kernel's ``BPF_MAP_TYPE_*`` number (written into BTF).
    * ``percpu``/``array``/``keyless``/``events``/``batch``: how user space sees it
      (``array``: every index exists, delete is refused; ``events``: read with poll();
      ``batch``: the kernel has BPF_MAP_LOOKUP_BATCH for it).
    * ``key``/``value``: the declaration rule for that argument: ``"required"``,
      ``"optional"``, ``"none"`` (not taken), ``"int4"`` (the kernel fixes a
      4-byte int, given as a size, not a type) or ``"map"`` (a map declared above: the
      template of the inner maps of a map of maps; user space reads u32 map ids).
    * ``default_key``/``default_value``/``fixed_value``: type names the compiler uses when
      the key / the value is omitted, or always uses for the value (a ProgArray holds u32
      program fds); ``"u64[127]"`` is an array.
    * ``shape``: a check of the key/value types beyond "a type" (``"lpm"``: a struct key
      starting with a u32 prefix length; ``"stack_trace"``: a u32 key and u64 addresses;
      ``"array_of_maps"``: a u32 key;
      ``"redirect"``: a u32 key and a value of the sizes the kernel takes).
    * ``required_flags``: map flags the kernel insists on, added to the declared ones
      (an LPM trie must be created with BPF_F_NO_PREALLOC).
    * ``example``: the declaration an error hint shows; ``note``: what it means, if not obvious.
    * ``entries``: ``"required"`` or ``"cpus"`` (libbpf sizes it to the CPU count).
    * ``family``: which codegen lowers its operations: ``"keyed"`` (codegen/maps.py: also
      queues, bloom filters, program arrays), ``"ring"`` or ``"perf"`` (codegen/events.py),
      ``"stack"`` (codegen/stacks.py), ``"redirect"`` (codegen/packet_helpers.py).
    * ``ops``: the methods BPF code may call on it.
    * ``handle``: the name of the user-side handle class in ``bpfimport.runtime.maps``
      (a string: the runtime resolves it, so this module imports nothing).
    """

    name: str
    type_id: int
    percpu = False
    array = False
    keyless = False
    events = False
    batch = False
    key = "required"
    value = "required"
    default_key: str | None = None
    default_value: str | None = None
    fixed_value: str | None = None
    shape: str | None = None
    required_flags = 0
    example: str | None = None
    note: str | None = None
    entries = "required"
    family = "keyed"
    ops: tuple[str, ...] = KEYED_OPS
    handle = "Map"
    _required = frozenset({"name", "type_id"})
    _fields = _required | {"percpu", "array", "keyless", "events", "batch", "key", "value",
                           "default_key", "default_value", "fixed_value", "shape",
                           "required_flags", "example", "note", "entries", "family",
                           "ops", "handle"}

    def declaration_example(self) -> str:
        """What a declaration of this kind looks like, for error hints."""
        text = f"{self.name}({self.example or 'key=u32, value=u64, max_entries=1024'})"
        return f"{text}: {self.note}" if self.note else text


def _map_kinds(*kinds: MapKind) -> dict[str, MapKind]:
    return {k.name: k for k in kinds}


# The names bpfimport.lang exports, with the kernel's BPF_MAP_TYPE_* numbers.
MAP_KINDS: dict[str, MapKind] = _map_kinds(
    MapKind(name="HashMap", type_id=1, batch=True),
    MapKind(name="ArrayMap", type_id=2, array=True, batch=True),
    MapKind(name="ProgArray", type_id=3, key="optional", value="optional",
            default_key="u32", fixed_value="u32", example="max_entries=8", ops=PROG_ARRAY_OPS,
            handle="ProgArrayMap"),
    MapKind(name="PerfEventArray", type_id=4, array=True, events=True, key="int4", value="int4",
            entries="cpus", family="perf", ops=PERF_OPS, handle="PerfEventArrayMap", example=""),
    MapKind(name="PerCpuHashMap", type_id=5, percpu=True, batch=True),
    MapKind(name="PerCpuArrayMap", type_id=6, percpu=True, array=True, batch=True),
    MapKind(name="StackTraceMap", type_id=7, key="optional", value="optional",
            default_key="u32", default_value="u64[127]", shape="stack_trace",
            family="stack", ops=STACK_TRACE_OPS, handle="StackTraceMap",
            example="max_entries=1024",
            note="key and value are implied: a u32 stack id and an array of u64 addresses, "
                 "127 deep (the kernel's perf_event_max_stack); value=u64 * N chooses the depth"),
    MapKind(name="LruHashMap", type_id=9, batch=True),
    MapKind(name="LruPerCpuHashMap", type_id=10, percpu=True, batch=True),
    MapKind(name="LpmTrieMap", type_id=11, shape="lpm", required_flags=1,
            example="key=Prefix, value=u64, max_entries=1024",
            note="Prefix is a @struct whose first field is the prefix length in bits (u32), "
                 "followed by the data (e.g. addr: u32 or c_uint8 * 16)"),
    MapKind(name="ArrayOfMaps", type_id=12, value="map", ops=MAP_OF_MAPS_OPS, shape="array_of_maps",
            handle="MapOfMapsMap", example="key=u32, value=inner, max_entries=8",
            note="inner is a map declared above: every map the slots hold has its kind, "
                 "key, value and max_entries"),
    MapKind(name="HashOfMaps", type_id=13, value="map", ops=MAP_OF_MAPS_OPS,
            handle="MapOfMapsMap", example="key=u32, value=inner, max_entries=8",
            note="inner is a map declared above: every map the slots hold has its kind, "
                 "key, value and max_entries"),
    MapKind(name="QueueMap", type_id=22, keyless=True, key="optional", ops=QUEUE_OPS,
            example="value=u64, max_entries=1024"),
    MapKind(name="StackMap", type_id=23, keyless=True, key="optional", ops=QUEUE_OPS,
            example="value=u64, max_entries=1024"),
    MapKind(name="RingBuffer", type_id=27, keyless=True, events=True, key="none", value="none",
            family="ring", ops=RING_OPS, handle="RingBufferMap", example="max_entries=256 * 1024"),
    MapKind(name="BloomFilterMap", type_id=30, keyless=True, key="optional", handle="BloomFilterMap",
            ops=BLOOM_OPS, example="value=u64, max_entries=1024"),
)


# ---------------------------------------------------------------- packet redirect targets
# Maps redirect_map(map, key, flags) sends packets through (XDP): BPF code only redirects through
# them (family "redirect": codegen/packet_helpers.py); user space fills their slots. Their keys are u32 slots (DevMapHash:
# any u32), their values u32: an interface index (DevMap, DevMapHash: or a struct of ifindex and
# a program fd, uapi's bpf_devmap_val), a queue size (CpuMap: or bpf_cpumap_val), an AF_XDP
# socket's fd (XskMap). None supports the batch syscalls.
REDIRECT_OPS = ("redirect",)  # m.redirect(key, flags) is redirect_map(m, key, flags)

MAP_KINDS.update(_map_kinds(
    MapKind(name="DevMap", type_id=14, key="optional", value="optional", default_key="u32",
            default_value="u32", family="redirect", shape="redirect", ops=REDIRECT_OPS, handle="SlotMap", example="max_entries=64",
            note="slot -> interface index; redirect_map(ports, slot) sends the packet there"),
    MapKind(name="CpuMap", type_id=16, key="optional", value="optional", default_key="u32",
            default_value="u32", family="redirect", shape="redirect", ops=REDIRECT_OPS, handle="SlotMap", example="max_entries=4",
            note="CPU -> queue size; redirect_map(cpus, cpu) hands the packet to that CPU"),
    MapKind(name="XskMap", type_id=17, key="optional", value="optional", default_key="u32",
            default_value="u32", family="redirect", shape="redirect", ops=REDIRECT_OPS, handle="SlotMap", example="max_entries=64",
            note="queue -> AF_XDP socket; redirect_map(xsks, queue) delivers the packet to it"),
    MapKind(name="DevMapHash", type_id=25, key="optional", value="optional", default_key="u32",
            default_value="u32", family="redirect", shape="redirect", ops=REDIRECT_OPS, handle="SlotMap", example="max_entries=64",
            note="any u32 key -> interface index; redirect_map(ports, key) sends the packet there"),
))


# ---------------------------------------------------------------- programs


class ProgramKind(_Kind):
    """One program decorator of ``bpfimport.lang``.

    * ``decorator``: its name; ``args``: how many string arguments it takes (0: bare).
    * ``section``: a format over those arguments, the ELF section libbpf reads.
    * ``prog_type``: libbpf's program type name for that section.
    * ``context``: what the program's one parameter points at (the kernel's type).
    * ``attach``: how ``prog.attach()`` attaches it: ``"auto"`` (from the section),
      ``"target"`` (needs a target: an interface, a cgroup, a perf event) or ``None``.
    * ``test_run``: ``"repeat"`` (BPF_PROG_TEST_RUN with data and repeat), ``"once"``
      (runs once, no data), ``"ctx_in_place"`` (once, writes the context back) or ``None``.
    * ``arguments``: what its strings name, checked before libbpf sees them:
      ``"tracepoint"`` (category/name), ``"symbol"`` (a kernel function[+offset]),
      ``"binary:symbol"`` (a path and a function in it) or ``None``.
    * ``returns``: it runs at function return, so a symbol takes no +offset.
    * ``parameters``: what parameters after the context are: ``"registers"`` (the probed
      function's arguments, by the host's calling convention), ``"return"`` (one: its return
      value) or ``None`` (the program takes the context only).
    * ``pointers``: the memory a pointer parameter points into (``"kernel"``, ``"user"``).
    * ``hooks``: the names its one argument may take (``arguments="hook"``): a cgroup hook,
      whose section (``cgroup/connect4``) also gives libbpf the expected attach type.
    """

    decorator: str
    args: int
    section: str
    prog_type: str | None
    context: str
    attach: str | None = "auto"
    test_run: str | None = None
    arguments: str | None = None
    returns = False
    parameters: str | None = None
    pointers: str | None = None
    hooks: tuple[str, ...] = ()
    _required = frozenset({"decorator", "args", "section", "prog_type", "context"})
    _fields = _required | {"attach", "test_run", "arguments", "returns", "parameters", "pointers",
                           "hooks"}


# The cgroup hooks of socket address programs (libbpf's section names cgroup/HOOK; the
# kernel's BPF_CGROUP_INET{4,6}_{BIND,CONNECT,GETPEERNAME,GETSOCKNAME}, BPF_CGROUP_UDP{4,6}_*MSG)
SOCK_ADDR_HOOKS = tuple(f"{op}{v}" for op in ("bind", "connect", "getpeername", "getsockname",
                                              "sendmsg", "recvmsg") for v in (4, 6))
# ... and of socket programs (BPF_CGROUP_INET_SOCK_CREATE/_RELEASE, BPF_CGROUP_INET{4,6}_POST_BIND)
SOCK_HOOKS = ("sock_create", "sock_release", "post_bind4", "post_bind6")


def _program_kinds(*kinds: ProgramKind) -> dict[str, ProgramKind]:
    return {k.decorator: k for k in kinds}


PROGRAM_KINDS: dict[str, ProgramKind] = _program_kinds(
    ProgramKind(decorator="section", args=1, section="{0}", prog_type=None, context="void *",
                attach="auto"),
    ProgramKind(decorator="tracepoint", args=1, section="tracepoint/{0}", prog_type="tracepoint",
                context="struct trace_event_raw_<event> *", arguments="tracepoint"),
    ProgramKind(decorator="raw_tracepoint", args=1, section="raw_tracepoint/{0}",
                prog_type="raw_tracepoint", context="struct bpf_raw_tracepoint_args *",
                test_run="once"),
    ProgramKind(decorator="kprobe", args=1, section="kprobe/{0}", prog_type="kprobe",
                context="struct pt_regs *", arguments="symbol", parameters="registers",
                pointers="kernel"),
    ProgramKind(decorator="kretprobe", args=1, section="kretprobe/{0}", prog_type="kprobe",
                context="struct pt_regs *", arguments="symbol", returns=True, parameters="return",
                pointers="kernel"),
    ProgramKind(decorator="uprobe", args=2, section="uprobe/{0}:{1}", prog_type="kprobe",
                context="struct pt_regs *", arguments="binary:symbol", parameters="registers",
                pointers="user"),
    ProgramKind(decorator="uretprobe", args=2, section="uretprobe/{0}:{1}", prog_type="kprobe",
                context="struct pt_regs *", arguments="binary:symbol", returns=True,
                parameters="return", pointers="user"),
    ProgramKind(decorator="fentry", args=1, section="fentry/{0}", prog_type="tracing",
                context="u64 * (the traced function's arguments)", test_run="once"),
    ProgramKind(decorator="fexit", args=1, section="fexit/{0}", prog_type="tracing",
                context="u64 * (the traced function's arguments and return value)",
                test_run="once"),
    ProgramKind(decorator="lsm", args=1, section="lsm/{0}", prog_type="lsm",
                context="u64 * (the hook's arguments)"),
    ProgramKind(decorator="cgroup_skb", args=1, section="cgroup_skb/{0}", prog_type="cgroup_skb",
                context="struct __sk_buff *", attach="target", test_run="repeat"),
    ProgramKind(decorator="cgroup_sock_addr", args=1, section="cgroup/{0}",
                prog_type="cgroup_sock_addr", context="struct bpf_sock_addr *", attach="target",
                arguments="hook", hooks=SOCK_ADDR_HOOKS),
    ProgramKind(decorator="cgroup_sock", args=1, section="cgroup/{0}", prog_type="cgroup_sock",
                context="struct bpf_sock *", attach="target", arguments="hook", hooks=SOCK_HOOKS),
    ProgramKind(decorator="xdp", args=0, section="xdp", prog_type="xdp", context="struct xdp_md *",
                attach="target", test_run="repeat"),
    ProgramKind(decorator="socket_filter", args=0, section="socket", prog_type="socket_filter",
                context="struct __sk_buff *", attach="target", test_run="repeat"),
    ProgramKind(decorator="tc", args=0, section="tc", prog_type="sched_cls",
                context="struct __sk_buff *", attach="target", test_run="repeat"),
    ProgramKind(decorator="syscall", args=0, section="syscall", prog_type="syscall",
                context="the bytes passed to test_run()", attach=None, test_run="ctx_in_place"),
    ProgramKind(decorator="perf_event", args=0, section="perf_event", prog_type="perf_event",
                context="struct bpf_perf_event_data *", attach="target"),
)

__all__ = ["BLOOM_OPS", "KEYED_OPS", "MAP_KINDS", "MAP_OF_MAPS_OPS", "PERF_OPS", "PROGRAM_KINDS",
           "PROG_ARRAY_OPS", "QUEUE_OPS", "REDIRECT_OPS", "RING_OPS", "SOCK_ADDR_HOOKS", "SOCK_HOOKS",
           "STACK_TRACE_OPS", "MapKind", "ProgramKind"]
