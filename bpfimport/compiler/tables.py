"""Data, not if-chains: helper ids, limits, flags and import names (kinds: bpfimport.kinds)."""

from __future__ import annotations

# BPF helper numbers and the helpers of bpfimport.lang: compiler/helpers.py.
from ..headers import PACKET_CONSTANTS  # EtherTypes, IP protocols (bpfimport.lang's too)
from ..spec import BPF_ANY, BPF_EXIST, BPF_NOEXIST  # the map update flags, defined once

# The hint of an internal compiler error.
BUG_HINT = "this is a bug in bpfimport; please report it with the .bpf.py file"

# The kernel's limit on a program's stack, and what to do instead of a large local.
STACK_LIMIT = 512
STACK_HINT = ("keep large structs in a map (e.g. a PerCpuArrayMap with one entry) "
              "and work on the map value")


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

# Python builtins BPF code may name (casts, print, range, len, min, max): codegen/calls.py
# lowers them (PYTHON_BUILTINS; int() and bool() are casts)
PYTHON_BUILTIN_NAMES = frozenset({"int", "bool", "str", "print", "range", "len", "min", "max"})

# Named constants of bpfimport.lang (the kernel's values), folded at compile time.
LANG_CONSTANTS: dict[str, int] = {
    "BPF_ANY": BPF_ANY, "BPF_NOEXIST": BPF_NOEXIST, "BPF_EXIST": BPF_EXIST,
    "XDP_ABORTED": 0, "XDP_DROP": 1, "XDP_PASS": 2, "XDP_TX": 3, "XDP_REDIRECT": 4,
    "TC_ACT_UNSPEC": -1, "TC_ACT_OK": 0, "TC_ACT_SHOT": 2, "TC_ACT_PIPE": 3, "TC_ACT_REDIRECT": 7,
    # flags of get_stackid / get_stack (the low 8 bits: how many innermost frames to skip)
    "BPF_F_SKIP_FIELD_MASK": 0xFF, "BPF_F_USER_STACK": 1 << 8, "BPF_F_FAST_STACK_CMP": 1 << 9,
    "BPF_F_REUSE_STACKID": 1 << 10, "BPF_F_USER_BUILD_ID": 1 << 11,
    **PACKET_CONSTANTS,
}

# The packet helpers' flags and results (the values of bpfimport.lang's packet block).
PACKET_HELPER_CONSTANTS: dict[str, int] = {
    "BPF_F_RECOMPUTE_CSUM": 1 << 0,
    "BPF_F_INVALIDATE_HASH": 1 << 1,
    "BPF_F_HDR_FIELD_MASK": 0xF,
    "BPF_F_PSEUDO_HDR": 1 << 4,
    "BPF_F_MARK_MANGLED_0": 1 << 5,
    "BPF_F_MARK_ENFORCE": 1 << 6,
    "BPF_F_INGRESS": 1 << 0,
    "BPF_ADJ_ROOM_NET": 0,
    "BPF_ADJ_ROOM_MAC": 1,
    "BPF_F_ADJ_ROOM_FIXED_GSO": 1 << 0,
    "BPF_F_ADJ_ROOM_ENCAP_L3_IPV4": 1 << 1,
    "BPF_F_ADJ_ROOM_ENCAP_L3_IPV6": 1 << 2,
    "BPF_F_ADJ_ROOM_ENCAP_L4_GRE": 1 << 3,
    "BPF_F_ADJ_ROOM_ENCAP_L4_UDP": 1 << 4,
    "BPF_F_ADJ_ROOM_NO_CSUM_RESET": 1 << 5,
    "BPF_F_ADJ_ROOM_ENCAP_L2_ETH": 1 << 6,
    "BPF_F_ADJ_ROOM_DECAP_L3_IPV4": 1 << 7,
    "BPF_F_ADJ_ROOM_DECAP_L3_IPV6": 1 << 8,
    "BPF_FIB_LOOKUP_DIRECT": 1 << 0,
    "BPF_FIB_LOOKUP_OUTPUT": 1 << 1,
    "BPF_FIB_LOOKUP_SKIP_NEIGH": 1 << 2,
    "BPF_FIB_LOOKUP_TBID": 1 << 3,
    "BPF_FIB_LOOKUP_SRC": 1 << 4,
    "BPF_FIB_LOOKUP_MARK": 1 << 5,
    "BPF_FIB_LKUP_RET_SUCCESS": 0,
    "BPF_FIB_LKUP_RET_BLACKHOLE": 1,
    "BPF_FIB_LKUP_RET_UNREACHABLE": 2,
    "BPF_FIB_LKUP_RET_PROHIBIT": 3,
    "BPF_FIB_LKUP_RET_NOT_FWDED": 4,
    "BPF_FIB_LKUP_RET_FWD_DISABLED": 5,
    "BPF_FIB_LKUP_RET_UNSUPP_LWT": 6,
    "BPF_FIB_LKUP_RET_NO_NEIGH": 7,
    "BPF_FIB_LKUP_RET_FRAG_NEEDED": 8,
    "BPF_FIB_LKUP_RET_NO_SRC_ADDR": 9,
    "AF_INET": 2,
    "AF_INET6": 10,
    "PACKET_HOST": 0,
    "PACKET_BROADCAST": 1,
    "PACKET_MULTICAST": 2,
    "PACKET_OTHERHOST": 3,
}
LANG_CONSTANTS.update(PACKET_HELPER_CONSTANTS)


def importable(module: str) -> bool:
    """Whether BPF code may name ``module``: the one import whitelist (imports and attributes)."""
    return module in LANG_MODULES or module == CTYPES_MODULE or module in TYPING_MODULES


def _string_list(text: str) -> list[str]:
    """The strings of a list display of string literals (``ast.literal_eval`` without
    importing ``ast``; see :mod:`.pyast`); ValueError for anything else."""
    from .pyast import Constant, List, parse

    tree = parse(text, mode="eval").body
    if not isinstance(tree, List):
        raise ValueError("not a list")
    names = []
    for e in tree.elts:
        if not isinstance(e, Constant) or not isinstance(e.value, str):
            raise ValueError("not a list of strings")
        names.append(e.value)
    return names


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
            return frozenset(_string_list(text[start : text.index("]", start) + 1]))
        except (OSError, ValueError, SyntaxError):  # not a plain file (a zip): import it after all
            from .. import lang as imported

            return frozenset(imported.__all__)
    return frozenset(lang.__all__)


LANG_NAMES = _lang_names()

# Names a module's handles use; programs, maps and globals may not take them.
RESERVED_NAMES = {"load", "close", "loaded"}
