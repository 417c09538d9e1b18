"""Data, not if-chains: helper ids, program decorators and their sections, import names."""

from __future__ import annotations

# ---------------------------------------------------------------- BPF helpers
# Numbers from include/uapi/linux/bpf.h (___BPF_FUNC_MAPPER order).


class Helper:
    MAP_LOOKUP_ELEM = 1
    MAP_UPDATE_ELEM = 2
    MAP_DELETE_ELEM = 3
    PROBE_READ = 4
    KTIME_GET_NS = 5
    TRACE_PRINTK = 6
    GET_PRANDOM_U32 = 7
    GET_SMP_PROCESSOR_ID = 8
    GET_CURRENT_PID_TGID = 14
    GET_CURRENT_UID_GID = 15
    GET_CURRENT_COMM = 16
    PERF_EVENT_OUTPUT = 25
    GET_STACKID = 27
    PROBE_READ_STR = 45
    GET_STACK = 67
    GET_CURRENT_CGROUP_ID = 80
    PROBE_READ_USER = 112
    PROBE_READ_KERNEL = 113
    PROBE_READ_USER_STR = 114
    PROBE_READ_KERNEL_STR = 115
    RINGBUF_OUTPUT = 130
    RINGBUF_RESERVE = 131
    RINGBUF_SUBMIT = 132
    RINGBUF_DISCARD = 133
    TRACE_VPRINTK = 177


# The kernel's limit on a program's stack, and what to do instead of a large local.
STACK_LIMIT = 512
STACK_HINT = ("keep large structs in a map (e.g. a PerCpuArrayMap with one entry) "
              "and work on the map value")

# map update flags
BPF_ANY = 0
BPF_NOEXIST = 1
BPF_EXIST = 2

# ---------------------------------------------------------------- programs


class ProgramKind:
    """A program decorator: how many string arguments it takes and the section it makes."""

    __slots__ = ("args", "section")

    def __init__(self, args: int, section: str) -> None:
        self.args = args  # string arguments; 0 means a bare decorator (@xdp)
        self.section = section  # a format over the arguments


PROGRAM_KINDS: dict[str, ProgramKind] = {
    "section": ProgramKind(1, "{0}"),
    "tracepoint": ProgramKind(1, "tracepoint/{0}"),
    "raw_tracepoint": ProgramKind(1, "raw_tracepoint/{0}"),
    "kprobe": ProgramKind(1, "kprobe/{0}"),
    "kretprobe": ProgramKind(1, "kretprobe/{0}"),
    "uprobe": ProgramKind(2, "uprobe/{0}:{1}"),
    "uretprobe": ProgramKind(2, "uretprobe/{0}:{1}"),
    "fentry": ProgramKind(1, "fentry/{0}"),
    "fexit": ProgramKind(1, "fexit/{0}"),
    "lsm": ProgramKind(1, "lsm/{0}"),
    "cgroup_skb": ProgramKind(1, "cgroup_skb/{0}"),
    "xdp": ProgramKind(0, "xdp"),
    "socket_filter": ProgramKind(0, "socket"),
    "tc": ProgramKind(0, "tc"),
    "syscall": ProgramKind(0, "syscall"),
    "perf_event": ProgramKind(0, "perf_event"),
}

# Decorators accepted and ignored (pythonbpf's markers).
IGNORED_DECORATORS = {"bpf"}

# ---------------------------------------------------------------- imports
# Modules a .bpf.py may import from; each maps to the names it provides
# (None: every name bpfimport.lang knows).
LANG_MODULES = {
    "bpfimport.lang",
    "bpfimport",
    "pythonbpf",
    "pythonbpf.helper",
    "pythonbpf.helpers",
    "pythonbpf.maps",
}
CTYPES_MODULE = "ctypes"
TYPING_MODULES = {"typing", "typing_extensions"}
IGNORED_IMPORTS = {"__future__"}

# Named constants of bpfimport.lang (the kernel's values), folded at compile time.
LANG_CONSTANTS: dict[str, int] = {
    "BPF_ANY": BPF_ANY, "BPF_NOEXIST": BPF_NOEXIST, "BPF_EXIST": BPF_EXIST,
    "XDP_ABORTED": 0, "XDP_DROP": 1, "XDP_PASS": 2, "XDP_TX": 3, "XDP_REDIRECT": 4,
    "TC_ACT_UNSPEC": -1, "TC_ACT_OK": 0, "TC_ACT_SHOT": 2, "TC_ACT_PIPE": 3, "TC_ACT_REDIRECT": 7,
}

# Every name bpfimport.lang exports (tests/test_compile_errors.py keeps this in step with
# lang.__all__); a copy, so compiling never imports lang and, through it, typing and ctypes.
LANG_NAMES = frozenset({
    "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT",
    "TC_ACT_UNSPEC", "TC_ACT_OK", "TC_ACT_SHOT", "TC_ACT_PIPE", "TC_ACT_REDIRECT",
    "ArrayMap", "BPF_ANY", "BPF_EXIST", "BPF_NOEXIST", "BloomFilterMap", "Final", "HashMap",
    "LpmTrieMap", "LruHashMap", "LruPerCpuHashMap", "NotInKernelError", "PerCpuArrayMap",
    "PerCpuHashMap", "PerfEventArray", "ProgArray", "QueueMap", "RingBuffer", "StackMap",
    "StackTraceMap", "bpf", "bpfglobal", "c_bool", "c_char", "c_int16", "c_int32", "c_int64",
    "c_int8", "c_uint16", "c_uint32", "c_uint64", "c_uint8", "c_void_p", "cgroup_skb", "comm",
    "compile", "deref", "fentry", "fexit", "get_current_cgroup_id", "get_stack", "get_stackid",
    "gid", "i16", "i32", "i64", "i8", "kprobe", "kretprobe", "ktime", "log2", "lsm", "map",
    "perf_event", "pid", "probe_read", "probe_read_kernel", "probe_read_str",
    "probe_read_user", "probe_read_user_str", "random", "raw_tracepoint", "section",
    "smp_processor_id", "socket_filter", "struct", "syscall", "tc", "tgid", "tid",
    "tracepoint", "u16", "u32", "u64", "u8", "uid", "uprobe", "uretprobe", "xdp",
})

# Names a module's handles use; programs, maps and globals may not take them.
RESERVED_NAMES = {"load", "close", "loaded"}
