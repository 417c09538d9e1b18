"""Data, not if-chains: helper ids, program decorators and their sections, import names."""

from __future__ import annotations

from ..spec import BPF_ANY, BPF_EXIST, BPF_NOEXIST  # the map update flags, defined once

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


def importable(module: str) -> bool:
    """Whether BPF code may name ``module``: the one import whitelist (imports and attributes)."""
    return module in LANG_MODULES or module == CTYPES_MODULE or module in TYPING_MODULES

# Named constants of bpfimport.lang (the kernel's values), folded at compile time.
LANG_CONSTANTS: dict[str, int] = {
    "BPF_ANY": BPF_ANY, "BPF_NOEXIST": BPF_NOEXIST, "BPF_EXIST": BPF_EXIST,
    "XDP_ABORTED": 0, "XDP_DROP": 1, "XDP_PASS": 2, "XDP_TX": 3, "XDP_REDIRECT": 4,
    "TC_ACT_UNSPEC": -1, "TC_ACT_OK": 0, "TC_ACT_SHOT": 2, "TC_ACT_PIPE": 3, "TC_ACT_REDIRECT": 7,
}



def _lang_names() -> frozenset[str]:
    """Every name ``bpfimport.lang`` exports: its ``__all__``, the one list of them.

    Read from lang.py's text rather than imported: importing lang costs
    ~10 ms (typing, ctypes) that compiling does not otherwise pay.
    """
    import sys

    lang = sys.modules.get("bpfimport.lang")
    if lang is None:
        import os

        try:
            with open(os.path.join(os.path.dirname(os.path.dirname(__file__)), "lang.py"),
                      encoding="utf-8") as f:
                text = f.read()
            start = text.index("\n__all__ = [") + len("\n__all__ = ")
            import ast

            return frozenset(ast.literal_eval(text[start : text.index("]", start) + 1]))
        except (OSError, ValueError, SyntaxError):  # not a plain file (a zip): import it after all
            from .. import lang
    return frozenset(lang.__all__)


LANG_NAMES = _lang_names()

# Names a module's handles use; programs, maps and globals may not take them.
RESERVED_NAMES = {"load", "close", "loaded"}
