"""Structs ``bpfimport.lang`` provides, with the layout of the kernel's uapi ones.

``FibLookup`` is ``struct bpf_fib_lookup`` (include/uapi/linux/bpf.h), what
``fib_lookup(ctx, params, flags)`` reads and fills in.  The uapi struct is made of
unions; here every member of a union is a field at the union's offset (``tos``,
``flowinfo`` and ``rt_metric`` all at byte 12), so each reads and writes as its
own type.  A struct's fields are reached by offset (``types.StructType``), so the
overlap needs nothing more.
"""

from __future__ import annotations

from .types import U8, U16, U32, ArrayType, BpfType, Field, StructType

# struct bpf_fib_lookup, 64 bytes: (name, type, byte offset). Fields marked __be16/__be32 in
# uapi hold network byte order: sport, dport, flowinfo, ipv4_src, ipv4_dst, h_vlan_proto,
# h_vlan_TCI; ipv6_src/ipv6_dst are the address bytes as four u32 words.
FIB_LOOKUP_FIELDS: tuple[tuple[str, BpfType, int], ...] = (
    ("family", U8, 0),  # AF_INET or AF_INET6
    ("l4_protocol", U8, 1),
    ("sport", U16, 2),
    ("dport", U16, 4),
    ("tot_len", U16, 6),  # input: the packet's length (for the MTU check)
    ("mtu_result", U16, 6),  # output: the route's MTU when BPF_FIB_LKUP_RET_FRAG_NEEDED
    ("ifindex", U32, 8),  # input: the ingress interface; output: the egress one
    ("tos", U8, 12),  # IPv4 input
    ("flowinfo", U32, 12),  # IPv6 input
    ("rt_metric", U32, 12),  # output
    ("ipv4_src", U32, 16),
    ("ipv6_src", ArrayType(U32, 4), 16),
    ("ipv4_dst", U32, 32),
    ("ipv6_dst", ArrayType(U32, 4), 32),
    ("tbid", U32, 48),  # input with BPF_FIB_LOOKUP_TBID: the table to look in
    ("h_vlan_proto", U16, 48),  # output
    ("h_vlan_TCI", U16, 50),  # output
    ("mark", U32, 52),  # input with BPF_FIB_LOOKUP_MARK
    ("smac", ArrayType(U8, 6), 52),  # output: the egress interface's MAC address
    ("dmac", ArrayType(U8, 6), 58),  # output: the next hop's MAC address
)
FIB_LOOKUP_SIZE = 64


def fib_lookup() -> StructType:
    fields = [Field(name, ty, offset) for name, ty, offset in FIB_LOOKUP_FIELDS]
    return StructType("FibLookup", fields, 0, FIB_LOOKUP_SIZE, 4)


# name in bpfimport.lang -> its struct type (built when first named)
LANG_STRUCTS = {"FibLookup": fib_lookup}
_built: dict[str, StructType] = {}


def lang_struct(name: str) -> StructType | None:
    """The struct ``bpfimport.lang`` exports as ``name``, or None."""
    make = LANG_STRUCTS.get(name)
    if make is None:
        return None
    if name not in _built:
        _built[name] = make()
    return _built[name]


__all__ = ["FIB_LOOKUP_FIELDS", "LANG_STRUCTS", "lang_struct"]
