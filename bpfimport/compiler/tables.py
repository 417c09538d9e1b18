"""Data, not if-chains: helper ids, limits, flags and import names (kinds: bpfimport.kinds)."""

from __future__ import annotations

# BPF helper numbers and the helpers of bpfimport.lang: compiler/helpers.py.
from ..kinds import MAP_KINDS, PROGRAM_KINDS
from .helpers import HELPERS

# The hint of an internal compiler error.
BUG_HINT = "this is a bug in bpfimport; please report it with the .bpf.py file"

# The kernel's limit on a program's stack, and what to do instead of a large local.
STACK_LIMIT = 512
STACK_HINT = ("keep large structs in a map (e.g. a PerCpuArrayMap with one entry) "
              "and work on the map value")

# map update flags
BPF_ANY = 0
BPF_NOEXIST = 1
BPF_EXIST = 2

# ---------------------------------------------------------------- programs
# Program decorators and their sections: bpfimport.kinds.PROGRAM_KINDS.

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

# Every name bpfimport.lang exports (tests/test_helper_registry.py keeps this in step with
# lang.__all__); built from the tables, so compiling never imports lang and, through it,
# typing and ctypes.  Helpers, map kinds and decorators come from their registries.
LANG_NAMES = frozenset({
    "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT",
    "TC_ACT_UNSPEC", "TC_ACT_OK", "TC_ACT_SHOT", "TC_ACT_PIPE", "TC_ACT_REDIRECT",
    "BPF_ANY", "BPF_EXIST", "BPF_NOEXIST", "Final", "NotInKernelError",
    "bpf", "bpfglobal", "map", "compile", "struct",
    "c_bool", "c_char", "c_int16", "c_int32", "c_int64", "c_int8", "c_uint16", "c_uint32",
    "c_uint64", "c_uint8", "c_void_p", "i16", "i32", "i64", "i8", "u16", "u32", "u64", "u8",
}) | frozenset(HELPERS) | frozenset(MAP_KINDS) | frozenset(PROGRAM_KINDS)

# Names a module's handles use; programs, maps and globals may not take them.
RESERVED_NAMES = {"load", "close", "loaded"}
