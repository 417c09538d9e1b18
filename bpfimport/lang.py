"""The names a ``.bpf.py`` file imports: types, map kinds, decorators and helpers.

A ``.bpf.py`` file is never executed by Python: bpfimport parses it and compiles
it to BPF.  This module exists so that the file is still ordinary, well-typed
Python: editors complete these names, linters resolve them and type checkers
understand map and helper calls.  Calling a helper or a map method here, in
user space, raises :class:`NotInKernelError` with a pointer to the right API.

    from bpfimport.lang import *

    counts = HashMap(key=u32, value=u64, max_entries=1024)

    @tracepoint("syscalls/sys_enter_execve")
    def count_exec(ctx) -> int:
        counts[tgid()] += 1
        return 0
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from ctypes import (
    c_bool,
    c_char,
    c_char_p,
    c_int8,
    c_int16,
    c_int32,
    c_int64,
    c_uint8,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)
from typing import TYPE_CHECKING, Annotated, Any, Final, Generic, TypeAlias, TypeVar, overload

from . import _kernel as kernel  # kernel.task_struct: the kernel's types, by name
from ._kernel import NotInKernelError
from .headers import HEADERS as _HEADERS
from .headers import ip4, ip6, mac  # address literals: constants in BPF code, functions here
from .spec import BPF_ANY, BPF_EXIST, BPF_NOEXIST  # flags of m.update(key, value, flags)

K = TypeVar("K")
V = TypeVar("V")
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

if sys.version_info >= (3, 11):
    from typing import dataclass_transform
elif TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:  # 3.10 at run time: the marker only informs type checkers, so no dependency for it

    def dataclass_transform(**_: Any) -> Callable[[T], T]:
        return lambda obj: obj

if TYPE_CHECKING:
    from typing_extensions import Self

    # To a type checker the short names are ``int``: BPF code computes with them as Python
    # ints (``Key(pid=tgid())``, ``counts[k] += 1``, ``u64(x) + 1``), never as ctypes objects.
    # The ctypes names stay ctypes classes, so ``c_uint16 * 4`` types as a map's value.
    u8: TypeAlias = int
    u16: TypeAlias = int
    u32: TypeAlias = int
    u64: TypeAlias = int
    i8: TypeAlias = int
    i16: TypeAlias = int
    i32: TypeAlias = int
    i64: TypeAlias = int
else:
    u8 = c_uint8
    u16 = c_uint16
    u32 = c_uint32
    u64 = c_uint64
    i8 = c_int8
    i16 = c_int16
    i32 = c_int32
    i64 = c_int64

# What an @xdp program returns.
XDP_ABORTED: Final = 0
XDP_DROP: Final = 1
XDP_PASS: Final = 2
XDP_TX: Final = 3
XDP_REDIRECT: Final = 4

# What a @tc program returns.
TC_ACT_UNSPEC: Final = -1
TC_ACT_OK: Final = 0
TC_ACT_SHOT: Final = 2
TC_ACT_PIPE: Final = 3
TC_ACT_REDIRECT: Final = 7

# Packets: EtherTypes, IP protocol numbers, IpHdr.frag_off flags (bpfimport.headers has the
# values the compiler folds; tests/compiler/test_packets.py checks the two agree).
ETH_P_IP: Final = 0x0800
ETH_P_ARP: Final = 0x0806
ETH_P_8021Q: Final = 0x8100
ETH_P_8021AD: Final = 0x88A8
ETH_P_IPV6: Final = 0x86DD
ETH_HLEN: Final = 14
ETH_ALEN: Final = 6
IPPROTO_IP: Final = 0
IPPROTO_ICMP: Final = 1
IPPROTO_TCP: Final = 6
IPPROTO_UDP: Final = 17
IPPROTO_IPV6: Final = 41
IPPROTO_ROUTING: Final = 43
IPPROTO_FRAGMENT: Final = 44
IPPROTO_GRE: Final = 47
IPPROTO_ICMPV6: Final = 58
IPPROTO_NONE: Final = 59
IPPROTO_DSTOPTS: Final = 60
IPPROTO_SCTP: Final = 132
IP_CE: Final = 0x8000
IP_DF: Final = 0x4000
IP_MF: Final = 0x2000
IP_OFFSET: Final = 0x1FFF

# Flags of get_stackid() / get_stack(): the low 8 bits skip that many innermost frames.
BPF_F_SKIP_FIELD_MASK: Final = 0xFF
BPF_F_USER_STACK: Final = 1 << 8  # the user-space stack instead of the kernel's
BPF_F_FAST_STACK_CMP: Final = 1 << 9  # get_stackid: compare stacks by their hash only
BPF_F_REUSE_STACKID: Final = 1 << 10  # get_stackid: a new stack replaces one with its hash
BPF_F_USER_BUILD_ID: Final = 1 << 11  # get_stack: build id + offset records (not addresses)

# ---- packet helper flags and results (include/uapi/linux/bpf.h; see the packet helpers below)
# store_bytes / skb_store_bytes flags
BPF_F_RECOMPUTE_CSUM: Final = 1 << 0
BPF_F_INVALIDATE_HASH: Final = 1 << 1
# l3_csum_replace / l4_csum_replace: the low 4 bits are the field's size (2 or 4)
BPF_F_HDR_FIELD_MASK: Final = 0xF
BPF_F_PSEUDO_HDR: Final = 1 << 4  # l4_csum_replace: the field is part of the pseudo-header
BPF_F_MARK_MANGLED_0: Final = 1 << 5  # l4_csum_replace: UDP, where a 0 checksum means none
BPF_F_MARK_ENFORCE: Final = 1 << 6
# redirect / clone_redirect: to the interface's ingress instead of its egress
BPF_F_INGRESS: Final = 1 << 0
# skb_adjust_room modes and flags
BPF_ADJ_ROOM_NET: Final = 0
BPF_ADJ_ROOM_MAC: Final = 1
BPF_F_ADJ_ROOM_FIXED_GSO: Final = 1 << 0
BPF_F_ADJ_ROOM_ENCAP_L3_IPV4: Final = 1 << 1
BPF_F_ADJ_ROOM_ENCAP_L3_IPV6: Final = 1 << 2
BPF_F_ADJ_ROOM_ENCAP_L4_GRE: Final = 1 << 3
BPF_F_ADJ_ROOM_ENCAP_L4_UDP: Final = 1 << 4
BPF_F_ADJ_ROOM_NO_CSUM_RESET: Final = 1 << 5
BPF_F_ADJ_ROOM_ENCAP_L2_ETH: Final = 1 << 6
BPF_F_ADJ_ROOM_DECAP_L3_IPV4: Final = 1 << 7
BPF_F_ADJ_ROOM_DECAP_L3_IPV6: Final = 1 << 8
# fib_lookup flags
BPF_FIB_LOOKUP_DIRECT: Final = 1 << 0  # the table of the interface, skipping policy rules
BPF_FIB_LOOKUP_OUTPUT: Final = 1 << 1  # an egress lookup (ifindex is the egress interface)
BPF_FIB_LOOKUP_SKIP_NEIGH: Final = 1 << 2  # do not look the next hop's MAC address up
BPF_FIB_LOOKUP_TBID: Final = 1 << 3  # look in table params.tbid (with DIRECT)
BPF_FIB_LOOKUP_SRC: Final = 1 << 4  # also fill in the source address
BPF_FIB_LOOKUP_MARK: Final = 1 << 5  # use params.mark for policy routing
# fib_lookup results
BPF_FIB_LKUP_RET_SUCCESS: Final = 0  # forward: ifindex, smac and dmac are filled in
BPF_FIB_LKUP_RET_BLACKHOLE: Final = 1
BPF_FIB_LKUP_RET_UNREACHABLE: Final = 2
BPF_FIB_LKUP_RET_PROHIBIT: Final = 3
BPF_FIB_LKUP_RET_NOT_FWDED: Final = 4  # not forwarded (e.g. local delivery)
BPF_FIB_LKUP_RET_FWD_DISABLED: Final = 5
BPF_FIB_LKUP_RET_UNSUPP_LWT: Final = 6
BPF_FIB_LKUP_RET_NO_NEIGH: Final = 7  # no neighbour entry for the next hop
BPF_FIB_LKUP_RET_FRAG_NEEDED: Final = 8  # the packet is over the MTU (params.mtu_result)
BPF_FIB_LKUP_RET_NO_SRC_ADDR: Final = 9
# address families (FibLookup.family) and skb_change_type's packet types
AF_INET: Final = 2
AF_INET6: Final = 10
PACKET_HOST: Final = 0
PACKET_BROADCAST: Final = 1
PACKET_MULTICAST: Final = 2
PACKET_OTHERHOST: Final = 3


def _kernel_only(name: str) -> NotInKernelError:
    return NotInKernelError(
        f"{name}() runs inside the kernel only: it is compiled from a .bpf.py file, "
        "not called from Python. From user space, use the handles of the imported module "
        "(e.g. mod.counts[k], mod.prog.attach())."
    )


# ---------------------------------------------------------------- maps


class _Map(Generic[K, V]):
    """A map declaration.  Only its arguments matter; the compiler reads them.

    Generic in the key and value *types* given (``HashMap(key=u32, value=Event)`` is a
    ``HashMap[int, Event]``), so a type checker infers a declaration without an
    annotation and checks what programs index and store: a map of integers reads and
    takes ``int`` (``u64`` is ``int`` to a type checker), a map of structs the struct.
    """

    def __init__(
        self,
        key: type[K] | None = None,
        value: type[V] | None = None,
        max_entries: int = 0,
        flags: int = 0,
        *,
        key_type: type[K] | None = None,
        value_type: type[V] | None = None,
        key_size: Any = None,
        value_size: Any = None,
    ) -> None:
        self.key = key if key is not None else key_type
        self.value = value if value is not None else value_type
        self.max_entries = max_entries
        self.flags = flags

    def lookup(self, key: K) -> V | None:
        raise _kernel_only("lookup")

    def update(self, key: K, value: V, flags: int = 0) -> int:
        raise _kernel_only("update")

    def delete(self, key: K) -> int:
        raise _kernel_only("delete")

    def get(self, key: K, default: V | int = 0) -> V:
        raise _kernel_only("get")

    def __getitem__(self, key: K) -> V:
        raise _kernel_only("map[key]")

    def __setitem__(self, key: K, value: V) -> None:
        raise _kernel_only("map[key] = value")

    def __delitem__(self, key: K) -> None:
        raise _kernel_only("del map[key]")

    def __contains__(self, key: object) -> bool:
        raise _kernel_only("key in map")

    def __call__(self) -> Self:
        """pythonbpf spelling: ``m().lookup(k)`` is ``m.lookup(k)``."""
        return self


class HashMap(_Map[K, V]):
    pass


class ArrayMap(_Map[K, V]):
    pass


class PerCpuHashMap(_Map[K, V]):
    pass


class PerCpuArrayMap(_Map[K, V]):
    pass


class LruHashMap(_Map[K, V]):
    pass


class LruPerCpuHashMap(_Map[K, V]):
    pass


class LpmTrieMap(_Map[K, V]):
    """Longest-prefix match: the key is a @struct of a u32 prefix length (in bits) and the
    data; a lookup finds the entry with the longest prefix matching the key's data."""


class ProgArray(_Map[int, Any]):
    """Programs to tail-call: ``progs.tail_call(ctx, i)``; user space fills the slots
    (``mod.progs[i] = mod.prog``). Key and value are implied (u32 slots of program fds)."""

    def __init__(self, key: Any = None, value: Any = None, max_entries: int = 0, flags: int = 0,
                 **kw: Any) -> None:
        super().__init__(key, value, max_entries, flags, **kw)

    def tail_call(self, ctx: Any, index: int) -> int:
        """Continue in program ``index``, never returning; a negative errno when the slot is
        empty (or the chain is 33 calls deep)."""
        raise _kernel_only("tail_call")


class StackTraceMap(_Map[int, Any]):
    """Stack traces by id (key and value implied): ``stacks.get_stackid(ctx, flags)``."""

    def __init__(self, key: Any = None, value: Any = None, max_entries: int = 0, flags: int = 0,
                 **kw: Any) -> None:
        super().__init__(key, value, max_entries, flags, **kw)

    def get_stackid(self, ctx: Any, flags: int = 0) -> int:
        """Store the current stack (BPF_F_USER_STACK: the user-space one); its id, or a
        negative errno."""
        raise _kernel_only("get_stackid")


# Maps without keys: generic in the value only, so a type checker infers QueueMap(value=u32).
class _Queue(_Map[Any, V]):
    def push(self, value: V, flags: int = 0) -> int:
        """Add a value (flags=BPF_EXIST: push out the oldest when full); 0 or a negative errno."""
        raise _kernel_only("push")

    def pop(self) -> V | None:
        """Take the next value out (a reference, None when empty)."""
        raise _kernel_only("pop")

    def peek(self) -> V | None:
        """The next value without taking it (a reference, None when empty)."""
        raise _kernel_only("peek")


class QueueMap(_Queue[V]):
    """First in, first out: ``push(v)``, ``pop()``, ``peek()``."""


class StackMap(_Queue[V]):
    """Last in, first out: ``push(v)``, ``pop()``, ``peek()``."""


class BloomFilterMap(_Map[Any, V]):
    """``push(v)`` adds a value; ``v in bloom`` is False when it was surely never added."""

    def push(self, value: V, flags: int = 0) -> int:
        raise _kernel_only("push")

    def peek(self, value: V) -> int:
        """0 when the value may have been added, a negative errno when it surely was not."""
        raise _kernel_only("peek")


M = TypeVar("M", bound=_Map[Any, Any])


class _MapOfMaps(Generic[K, M]):
    """A map whose values are maps: ``value=`` names a map declared above, the template of
    every inner map (same kind, key, value and max_entries).  BPF code looks an inner map
    up (``inner = outer[k]`` or ``outer.lookup(k)``: the map, or None) and uses it as that
    map; user space puts maps in (``mod.outer[k] = mod.other``) and swaps them at run time.
    """

    def __init__(self, key: type[K] | None = None, value: M | None = None, max_entries: int = 0,
                 flags: int = 0, *, key_type: type[K] | None = None,
                 value_type: M | None = None,
                 initial: list[M | None] | dict[int, M] | None = None) -> None:
        """``initial=[a, None, b]`` / ``initial={0: a, 2: b}``: maps (declared above, like the
        template) in those slots from load on."""
        self.key = key if key is not None else key_type
        self.value = value if value is not None else value_type
        self.max_entries = max_entries
        self.flags = flags
        self.initial = initial

    def lookup(self, key: K) -> M | None:
        """The inner map in slot ``key``, or None when the slot is empty."""
        raise _kernel_only("lookup")

    def __getitem__(self, key: K) -> M:
        """The inner map in slot ``key`` (None when empty, which ``if inner:`` tests): each
        operation on it does nothing on an empty slot, so ``outer[k][x] += 1`` is safe."""
        raise _kernel_only("map[key]")

    def __contains__(self, key: object) -> bool:
        raise _kernel_only("key in map")


class ArrayOfMaps(_MapOfMaps[K, M]):
    """Slots 0..max_entries-1, each holding a map like the template (or nothing)."""


class HashOfMaps(_MapOfMaps[K, M]):
    """Keys of any type, each holding a map like the template."""


class RingBuffer(_Map[Any, Any]):
    def reserve(self, type_: type[T]) -> T | None:
        raise _kernel_only("reserve")

    def submit(self, obj: Any, flags: int = 0) -> None:
        raise _kernel_only("submit")

    def discard(self, obj: Any, flags: int = 0) -> None:
        raise _kernel_only("discard")

    def output(self, obj: Any, flags: int = 0) -> int:
        raise _kernel_only("output")


class PerfEventArray(_Map[Any, Any]):
    def output(self, obj: Any, flags: int = 0) -> int:
        raise _kernel_only("output")


# ---- packet redirect targets: redirect_map(m, key, flags) sends packets through them


class _RedirectMap(_Map[int, V]):
    """Key and value default to u32; BPF code only redirects packets through the map."""

    def __init__(self, key: Any = None, value: Any = None, max_entries: int = 0, flags: int = 0,
                 **kw: Any) -> None:
        super().__init__(key, value, max_entries, flags, **kw)

    def redirect(self, key: int, flags: int = 0) -> int:
        """redirect_map(self, key, flags): XDP_REDIRECT, or flags' verdict when the slot is
        empty. XDP only."""
        raise _kernel_only("redirect")


class DevMap(_RedirectMap[int]):
    """Slot -> interface index (or a struct of ifindex and a program fd, uapi's
    bpf_devmap_val): ``redirect_map(ports, slot)`` sends the packet out of that interface."""


class DevMapHash(_RedirectMap[int]):
    """As DevMap with any u32 key (e.g. the ifindex itself) instead of slots 0..N-1."""


class CpuMap(_RedirectMap[int]):
    """CPU -> queue size: ``redirect_map(cpus, cpu)`` hands the packet to that CPU."""


class XskMap(_RedirectMap[int]):
    """Queue -> AF_XDP socket: ``redirect_map(xsks, queue)`` delivers the packet to user space."""


# ---------------------------------------------------------------- pointers


class _Pointer(Generic[T]):
    """What both pointer kinds spell: ``p[i]``, ``p.field``, ``p + n``, ``Ptr[T](addr)``."""

    def __init__(self, addr: Any = 0) -> None:
        self.addr = addr

    def __getitem__(self, index: int) -> T:
        raise _kernel_only(f"{type(self).__name__}[...][i]")

    def __getattr__(self, field: str) -> Any:  # p.field of a @struct (p[0].field is typed)
        raise _kernel_only("pointer.field")

    def __add__(self, n: int) -> int:
        raise _kernel_only("pointer + n")

    def __bool__(self) -> bool:
        raise _kernel_only("bool(pointer)")

    def __int__(self) -> int:
        raise _kernel_only("int(pointer)")


class UserPtr(_Pointer[T]):
    """A pointer into user memory (the traced process) to a ``T``.

    ``p[i]`` reads the i-th ``T`` from there (``argv[i]``), ``p.field`` one field of a
    @struct, both with ``bpf_probe_read_user``; ``p + n`` is the address ``n`` bytes on.
    ``UserPtr[T](addr)`` makes one from an integer address.  The compiler refuses to read it
    with the kernel family (``probe_read_kernel*``, ``read_kernel``).
    """


class KernelPtr(_Pointer[T]):
    """A pointer into kernel memory to a ``T``: as :class:`UserPtr`, read with
    ``bpf_probe_read_kernel``; the user family (``probe_read_user*``, ``read_user``) is refused.
    """


# ---------------------------------------------------------------- decorators


def _tag(kind: str, *args: Any) -> Callable[[F], F]:
    def mark(fn: F) -> F:
        fn.__bpf_program__ = (kind, args)  # type: ignore[attr-defined]
        return fn

    return mark


def section(name: str) -> Callable[[F], F]:
    return _tag("section", name)


def tracepoint(name: str) -> Callable[[F], F]:
    return _tag("tracepoint", name)


def raw_tracepoint(name: str) -> Callable[[F], F]:
    return _tag("raw_tracepoint", name)


def kprobe(fn: str) -> Callable[[F], F]:
    return _tag("kprobe", fn)


def kretprobe(fn: str) -> Callable[[F], F]:
    return _tag("kretprobe", fn)


def uprobe(path: str, symbol: str) -> Callable[[F], F]:
    return _tag("uprobe", path, symbol)


def uretprobe(path: str, symbol: str) -> Callable[[F], F]:
    return _tag("uretprobe", path, symbol)


def fentry(fn: str) -> Callable[[F], F]:
    return _tag("fentry", fn)


def fexit(fn: str) -> Callable[[F], F]:
    return _tag("fexit", fn)


def lsm(hook: str) -> Callable[[F], F]:
    return _tag("lsm", hook)


def cgroup_skb(direction: str) -> Callable[[F], F]:
    return _tag("cgroup_skb", direction)


def cgroup_sock_addr(hook: str) -> Callable[[F], F]:
    return _tag("cgroup_sock_addr", hook)


def cgroup_sock(hook: str) -> Callable[[F], F]:
    return _tag("cgroup_sock", hook)


def xdp(fn: F) -> F:
    return fn


def socket_filter(fn: F) -> F:
    return fn


def tc(fn: F) -> F:
    return fn


def syscall(fn: F) -> F:
    return fn


def perf_event(fn: F) -> F:
    return fn


@overload
def struct(cls: type[T], /) -> type[T]: ...


@overload
def struct(*, packed: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform()
def struct(cls: type[T] | None = None, /, *, packed: bool = False) -> Any:
    """Mark a class as a C struct; its annotated fields give the layout.

    ``@struct(packed=True)`` lays the fields out without padding (alignment 1, as C's
    ``__attribute__((packed))``), for wire and record formats.  ``dataclass_transform``
    tells type checkers that ``Key(pid=..., comm=...)`` takes the fields as parameters,
    as the compiler does. A field may default to its zero (``pid: u32 = 0``,
    ``comm: Annotated[bytes, 16] = b""``, ``inner: Inner = Inner()``): the struct starts
    zeroed anyway, and the default lets checkers accept ``Key()`` and ``Key(pid=1)``. The
    compiler refuses any other default.
    """
    if cls is None:
        return lambda c: c
    return cls


# ---------------------------------------------------------------- packet headers


class _Header:
    """A packet header (Linux's uapi layout, ``bpfimport.headers``).

    In BPF code, ``ctx.header(IpHdr, 14)`` is a reference into the packet (or None) and its
    fields read and write the packet; multi-byte fields are big-endian on the wire and read
    as ordinary integers.  In user space the same class decodes and builds those bytes:
    ``IpHdr.parse(data, 14).daddr == ip4("10.0.0.1")``, ``bytes(UdpHdr(dest=53, len=8))``.
    """

    _name = ""
    _union: bytearray  # the bytes of a C union's members (headers that have one)

    def __init__(self, **fields: Any) -> None:
        layout = _HEADERS[self._name]
        unknown = set(fields) - {f.name for f in layout.fields}
        if unknown:
            raise TypeError(f"{self._name} has no field {sorted(unknown)[0]!r}")
        if layout.aliased:  # a union's members read its bytes: zero until one is given
            object.__setattr__(self, "_union", bytearray(layout.size))
        for f in layout.fields:
            if f.name in fields or f.name not in layout.aliased:
                setattr(self, f.name, fields.get(f.name, b"\0" * f.size if f.array else 0))
            elif f.name not in self.__dict__:
                object.__setattr__(self, f.name, layout.get(self._union, f))

    def __setattr__(self, name: str, value: Any) -> None:
        """A member of a C union (IcmpHdr's id/sequence, gateway, mtu) writes the bytes the
        union shares, and the other members read them again, as in the packet."""
        layout = _HEADERS[self._name]
        if name not in layout.aliased:
            object.__setattr__(self, name, value)
            return
        raw = self._union
        layout.put(raw, layout.field(name), value)  # type: ignore[arg-type]
        for f in layout.fields:
            if f.name in layout.aliased:
                object.__setattr__(self, f.name, layout.get(raw, f))

    @classmethod
    def parse(cls, data: bytes, offset: int = 0) -> Self:
        """The header at ``offset`` in ``data`` (ValueError if the data is too short)."""
        return cls(**_HEADERS[cls._name].decode(data, offset))

    def __bytes__(self) -> bytes:
        layout = _HEADERS[self._name]
        return layout.encode({f.name: getattr(self, f.name) for f in layout.fields})

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and bytes(self) == bytes(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        layout = _HEADERS[self._name]
        inner = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in layout.fields)
        return f"{self._name}({inner})"

    @classmethod
    def size(cls) -> int:
        """The header's size in bytes (sizeof(struct ...))."""
        return _HEADERS[cls._name].size


class EthHdr(_Header):
    """struct ethhdr: 14 bytes."""

    _name = "EthHdr"
    h_dest: bytes = b""
    h_source: bytes = b""
    h_proto: int = 0


class VlanHdr(_Header):
    """struct vlan_hdr (802.1Q tag after EthHdr): 4 bytes."""

    _name = "VlanHdr"
    h_vlan_TCI: int = 0
    h_vlan_encapsulated_proto: int = 0


class IpHdr(_Header):
    """struct iphdr: 20 bytes without options (``ihl * 4`` with them)."""

    _name = "IpHdr"
    version: int = 0
    ihl: int = 0
    tos: int = 0
    tot_len: int = 0
    id: int = 0
    frag_off: int = 0
    ttl: int = 0
    protocol: int = 0
    check: int = 0
    saddr: int = 0
    daddr: int = 0


class Ipv6Hdr(_Header):
    """struct ipv6hdr: 40 bytes."""

    _name = "Ipv6Hdr"
    version: int = 0
    priority: int = 0
    flow_lbl: bytes = b""
    payload_len: int = 0
    nexthdr: int = 0
    hop_limit: int = 0
    saddr: bytes = b""
    daddr: bytes = b""


class TcpHdr(_Header):
    """struct tcphdr: 20 bytes without options (``doff * 4`` with them)."""

    _name = "TcpHdr"
    source: int = 0
    dest: int = 0
    seq: int = 0
    ack_seq: int = 0
    doff: int = 0
    res1: int = 0
    ae: int = 0
    cwr: int = 0
    ece: int = 0
    urg: int = 0
    ack: int = 0
    psh: int = 0
    rst: int = 0
    syn: int = 0
    fin: int = 0
    window: int = 0
    check: int = 0
    urg_ptr: int = 0


class UdpHdr(_Header):
    """struct udphdr: 8 bytes."""

    _name = "UdpHdr"
    source: int = 0
    dest: int = 0
    len: int = 0
    check: int = 0


class IcmpHdr(_Header):
    """struct icmphdr: 8 bytes; ``id``/``sequence`` (echo), ``gateway`` and ``mtu`` (frag)
    are the members of its ``un`` union, so they overlap."""

    _name = "IcmpHdr"
    type: int = 0
    code: int = 0
    checksum: int = 0
    id: int = 0
    sequence: int = 0
    gateway: int = 0
    mtu: int = 0


class Icmp6Hdr(_Header):
    """struct icmp6hdr: 8 bytes; ``icmp6_identifier``/``icmp6_sequence``, ``icmp6_mtu`` and
    ``icmp6_pointer`` overlap (the uapi's names for its ``icmp6_dataun`` union)."""

    _name = "Icmp6Hdr"
    icmp6_type: int = 0
    icmp6_code: int = 0
    icmp6_cksum: int = 0
    icmp6_identifier: int = 0
    icmp6_sequence: int = 0
    icmp6_mtu: int = 0
    icmp6_pointer: int = 0


H = TypeVar("H", bound=_Header)


class PacketContext:
    """What ``ctx`` is in @xdp, @tc, @cgroup_skb and @socket_filter programs, for type
    checkers (annotate ``def f(ctx: PacketContext) -> int``; the compiler reads the program's
    own context struct: xdp_md or __sk_buff)."""

    # struct xdp_md
    data: int
    data_end: int
    data_meta: int
    ingress_ifindex: int
    rx_queue_index: int
    egress_ifindex: int
    # struct __sk_buff (which of them a program type may read or write: docs/language.md)
    len: int
    pkt_type: int
    mark: int
    queue_mapping: int
    protocol: int
    vlan_present: int
    vlan_tci: int
    vlan_proto: int
    priority: int
    ifindex: int
    tc_index: int
    cb: list[int]
    hash: int
    tc_classid: int
    napi_id: int
    family: int
    remote_ip4: int
    local_ip4: int
    remote_ip6: list[int]
    local_ip6: list[int]
    remote_port: int
    local_port: int
    tstamp: int
    wire_len: int
    gso_segs: int
    gso_size: int
    hwtstamp: int

    def header(self, type_: type[H], offset: int = 0) -> H | None:
        """The header at ``offset`` bytes into the packet, or None when the packet is shorter."""
        raise _kernel_only("ctx.header")


class SockAddrContext:
    """What ``ctx`` is in @cgroup_sock_addr programs (``struct bpf_sock_addr``), for type
    checkers. ``user_ip4``, ``user_port`` and ``msg_src_ip4`` read and assign as ordinary
    integers (``ctx.user_port == 53``); the IPv6 addresses are four u32 words as stored."""

    user_family: int
    user_ip4: int
    user_ip6: list[int]
    user_port: int
    family: int
    type: int
    protocol: int
    msg_src_ip4: int
    msg_src_ip6: list[int]


class SockContext:
    """What ``ctx`` is in @cgroup_sock programs (``struct bpf_sock``), for type checkers."""

    bound_dev_if: int
    family: int
    type: int
    protocol: int
    mark: int
    priority: int
    src_ip4: int
    src_ip6: list[int]
    src_port: int
    dst_port: int
    dst_ip4: int
    dst_ip6: list[int]
    state: int


# pythonbpf spellings, accepted and ignored by the compiler
def bpf(obj: T) -> T:
    return obj


def map(fn: F) -> F:  # noqa: A001 - the pythonbpf name
    return fn


def bpfglobal(fn: F) -> F:
    return fn


def compile() -> None:  # noqa: A001 - the pythonbpf name; a trailing call is ignored
    """Accepted for pythonbpf compatibility; compilation happens on import."""


# ---------------------------------------------------------------- helpers
# One typed stub per entry of bpfimport.compiler.helpers.HELPERS, the registry the
# compiler lowers them from; tests/compiler/test_helper_registry.py checks that their names,
# parameters and docstrings are the registry's.


def ktime() -> int:
    """monotonic nanoseconds since boot"""
    raise _kernel_only("ktime")


def pid() -> int:
    """the kernel's pid, i.e. the thread id (pythonbpf's meaning)"""
    raise _kernel_only("pid")


def tgid() -> int:
    """the process id, what os.getpid() returns"""
    raise _kernel_only("tgid")


def tid() -> int:
    """the thread id"""
    raise _kernel_only("tid")


def uid() -> int:
    """the current user id"""
    raise _kernel_only("uid")


def gid() -> int:
    """the current group id"""
    raise _kernel_only("gid")


def comm(buf: Any = None) -> bytes:
    """the task's name as c_char * 16 (written in place when assigned to a field), or written
    into buf
    """
    raise _kernel_only("comm")


def random() -> int:
    """a pseudo-random number"""
    raise _kernel_only("random")


def smp_processor_id() -> int:
    """the CPU the program runs on"""
    raise _kernel_only("smp_processor_id")


def get_current_cgroup_id() -> int:
    """the current task's cgroup v2 id"""
    raise _kernel_only("get_current_cgroup_id")


def get_current_task() -> int:
    """the address of the current task_struct (read it with probe_read_kernel)"""
    raise _kernel_only("get_current_task")


def current_task() -> kernel.task_struct:
    """the running task's task_struct, a kernel pointer whose fields read CO-RE relocated:
    current_task().real_parent.tgid
    """
    raise _kernel_only("current_task")


def field_exists(field: Any) -> bool:
    """whether the running kernel has this field (a CO-RE relocation):
    field_exists(current_task().loginuid)
    """
    raise _kernel_only("field_exists")


def field_size(field: Any) -> int:
    """the field's size in bytes on the running kernel: field_size(current_task().comm)"""
    raise _kernel_only("field_size")


def type_exists(type_: Any) -> bool:
    """whether the running kernel has this type: type_exists(kernel.bpf_map)"""
    raise _kernel_only("type_exists")


def type_size(type_: Any) -> int:
    """the type's size in bytes on the running kernel: type_size(kernel.task_struct)"""
    raise _kernel_only("type_size")


def enum_exists(value: Any) -> bool:
    """whether the running kernel has this enum value:
    enum_exists(kernel.bpf_map_type.BPF_MAP_TYPE_ARENA)
    """
    raise _kernel_only("enum_exists")


def enum_value(value: Any) -> int:
    """the enum value's number on the running kernel:
    enum_value(kernel.bpf_map_type.BPF_MAP_TYPE_HASH)
    """
    raise _kernel_only("enum_value")


def probe_read(dst: Any, size: int, src: Any) -> int:
    """copy size bytes from src into dst (0 or a negative errno)"""
    raise _kernel_only("probe_read")


def probe_read_str(dst: Any, src: Any) -> int:
    """copy a NUL-terminated string into dst (its length with the NUL)"""
    raise _kernel_only("probe_read_str")


def probe_read_user(dst: Any, size: int, src: Any) -> int:
    """probe_read from user memory"""
    raise _kernel_only("probe_read_user")


def probe_read_user_str(dst: Any, src: Any) -> int:
    """probe_read_str from user memory"""
    raise _kernel_only("probe_read_user_str")


def probe_read_kernel(dst: Any, size: int, src: Any) -> int:
    """probe_read from kernel memory"""
    raise _kernel_only("probe_read_kernel")


def probe_read_kernel_str(dst: Any, src: Any) -> int:
    """probe_read_str from kernel memory"""
    raise _kernel_only("probe_read_kernel_str")


def read_user(type_: type[T], addr: Any) -> T:
    """one value of the given type (an integer, a pointer, a @struct...) from user memory at
    addr; 0 when the read faults
    """
    raise _kernel_only("read_user")


def read_kernel(type_: type[T], addr: Any) -> T:
    """one value of the given type from kernel memory at addr; 0 when the read faults"""
    raise _kernel_only("read_kernel")


def get_stack(ctx: Any, buf: Any, flags: int = 0) -> int:
    """copy the current stack's addresses (kernel, or user with BPF_F_USER_STACK) into buf, a
    u64 array; the number of bytes written or a negative errno
    """
    raise _kernel_only("get_stack")


def get_stackid(ctx: Any, stack_map: Any, flags: int = 0) -> int:
    """store the current stack in a StackTraceMap; its id (>= 0) or a negative errno (same as
    stack_map.get_stackid(ctx, flags))
    """
    raise _kernel_only("get_stackid")


def deref(p: Any) -> Any:
    """the value a map value reference points at"""
    raise _kernel_only("deref")


def log2(x: int) -> int:
    """floor(log2(x)) of x as a u64, and 0 for 0, like libbpf-tools' log2l(); bcc's
    bpf_log2l(x) is one more for x > 0 and 1 for 0
    """
    raise _kernel_only("log2")


# ---------------------------------------------------------------- packet helpers
# Stubs of compiler.helpers.PACKET_HELPERS: each works in the program types its docstring or
# docs/language.md ("Packet helpers") names; anywhere else it is a CompileError.


def adjust_head(ctx: Any, delta: int) -> int:
    """move the packet's start by delta bytes (negative: room for a new header, positive: strip
    bytes); 0 or a negative errno. XDP only (tc: skb_change_head, skb_adjust_room)
    """
    raise _kernel_only("adjust_head")


def adjust_tail(ctx: Any, delta: int) -> int:
    """grow (positive) or shrink (negative) the packet at its end by delta bytes; 0 or a negative
    errno (tc: bpf_skb_change_tail to ctx.len + delta)
    """
    raise _kernel_only("adjust_tail")


def adjust_meta(ctx: Any, delta: int) -> int:
    """move the start of the metadata area before the packet by delta bytes (negative: grow it); 0
    or a negative errno. XDP only
    """
    raise _kernel_only("adjust_meta")


def skb_change_head(ctx: Any, length: int, flags: int = 0) -> int:
    """grow the packet by length bytes of headroom at its start; 0 or a negative errno. tc only"""
    raise _kernel_only("skb_change_head")


def skb_change_tail(ctx: Any, length: int, flags: int = 0) -> int:
    """resize the packet to length bytes (new bytes are zero); 0 or a negative errno. tc only"""
    raise _kernel_only("skb_change_tail")


def skb_adjust_room(ctx: Any, len_diff: int, mode: int, flags: int = 0) -> int:
    """grow or shrink the room after the network header (BPF_ADJ_ROOM_NET) or the MAC header
    (BPF_ADJ_ROOM_MAC) by len_diff bytes; 0 or a negative errno. tc only
    """
    raise _kernel_only("skb_adjust_room")


def load_bytes(ctx: Any, offset: int, buf: Any) -> int:
    """copy len(buf) bytes of the packet from offset into buf (a char array, array or @struct); 0
    or a negative errno
    """
    raise _kernel_only("load_bytes")


def skb_load_bytes(ctx: Any, offset: int, buf: Any) -> int:
    """load_bytes for socket buffer programs (tc, socket filters, cgroup skb)"""
    raise _kernel_only("skb_load_bytes")


def store_bytes(ctx: Any, offset: int, data: Any, flags: int = 0) -> int:
    """write data (an array, @struct or typed integer such as u16(x)) into the packet at offset; 0
    or a negative errno (flags, tc only: BPF_F_RECOMPUTE_CSUM, BPF_F_INVALIDATE_HASH)
    """
    raise _kernel_only("store_bytes")


def skb_store_bytes(ctx: Any, offset: int, data: Any, flags: int = 0) -> int:
    """store_bytes for tc programs"""
    raise _kernel_only("skb_store_bytes")


def csum_diff(from_: Any, to: Any, seed: int = 0) -> int:
    """the 32-bit one's complement sum of to minus that of from, added to seed (buffers whose size
    is a multiple of 4, or None): the checksum change of replacing from by to
    """
    raise _kernel_only("csum_diff")


def l3_csum_replace(ctx: Any, offset: int, from_: int, to: int, size: int) -> int:
    """fix the IP checksum at offset for a field changed from from_ to to (size 2 or 4 bytes,
    values as on the wire; or from_ 0 and to a csum_diff() with size 0); 0 or a negative errno.
    tc only
    """
    raise _kernel_only("l3_csum_replace")


def l4_csum_replace(ctx: Any, offset: int, from_: int, to: int, flags: int) -> int:
    """fix the TCP/UDP checksum at offset for a field changed from from_ to to (flags: the size 2
    or 4, | BPF_F_PSEUDO_HDR for pseudo-header fields, | BPF_F_MARK_MANGLED_0 for UDP); 0 or a
    negative errno. tc only
    """
    raise _kernel_only("l4_csum_replace")


def csum_update(ctx: Any, csum: int) -> int:
    """add csum (a csum_diff()) to the packet's CHECKSUM_COMPLETE sum; the new sum, or a negative
    errno. tc only
    """
    raise _kernel_only("csum_update")


def redirect(ifindex: int, flags: int = 0) -> int:
    """send the packet to interface ifindex (tc: BPF_F_INGRESS for its ingress); the verdict to
    return: XDP_REDIRECT / TC_ACT_REDIRECT, or XDP_ABORTED / TC_ACT_SHOT on bad flags
    """
    raise _kernel_only("redirect")


def redirect_map(map: Any, key: int, flags: int = 0) -> int:
    """send the packet to the target in slot key of a DevMap, DevMapHash, CpuMap or XskMap; the
    verdict to return: XDP_REDIRECT, or the low two bits of flags (e.g. XDP_PASS) when the slot
    is empty. XDP only
    """
    raise _kernel_only("redirect_map")


def clone_redirect(ctx: Any, ifindex: int, flags: int = 0) -> int:
    """send a copy of the packet to interface ifindex (BPF_F_INGRESS: its ingress); 0 or a negative
    errno. tc only
    """
    raise _kernel_only("clone_redirect")


def fib_lookup(ctx: Any, params: Any, flags: int = 0) -> int:
    """look the route of params (a FibLookup) up in the kernel's forwarding table and fill in its
    output fields; a BPF_FIB_LKUP_RET_* code or a negative errno
    """
    raise _kernel_only("fib_lookup")


def get_hash_recalc(ctx: Any) -> int:
    """the packet's flow hash, computed if not known yet. tc only"""
    raise _kernel_only("get_hash_recalc")


def htons(x: int) -> int:
    """x (wrapped to 16 bits) with its two bytes swapped: a host-order number as the packet
    holds it, for store_bytes() and the checksum helpers (also in user space)
    """
    return int.from_bytes((x & 0xFFFF).to_bytes(2, "little"), "big")


def ntohs(x: int) -> int:
    """the inverse of htons(): 16 bits read raw from the packet as a number"""
    return htons(x)


def htonl(x: int) -> int:
    """x (wrapped to 32 bits) with its four bytes reversed: a host-order number as the packet
    holds it, e.g. l3_csum_replace(ctx, 24, htonl(old), htonl(new), 4)
    """
    return int.from_bytes((x & 0xFFFFFFFF).to_bytes(4, "little"), "big")


def ntohl(x: int) -> int:
    """the inverse of htonl(): 32 bits read raw from the packet as a number"""
    return htonl(x)


def skb_change_type(ctx: Any, type_: int) -> int:
    """set the packet's type (PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST, PACKET_OTHERHOST); 0
    or a negative errno. tc only
    """
    raise _kernel_only("skb_change_type")


@struct
class FibLookup:
    """uapi's ``struct bpf_fib_lookup``, what ``fib_lookup(ctx, params, flags)`` reads and fills.

    Members of the uapi unions are fields at the same offset (``tos``/``flowinfo``/``rt_metric``,
    ``ipv4_src``/``ipv6_src``...). ``sport``, ``dport``, ``flowinfo``, ``ipv4_src``, ``ipv4_dst``,
    ``h_vlan_proto`` and ``h_vlan_TCI`` hold network byte order, as the packet does.
    """

    family: u8 = 0  # AF_INET or AF_INET6
    l4_protocol: u8 = 0
    sport: u16 = 0
    dport: u16 = 0
    tot_len: u16 = 0  # input: the packet's length, for the MTU check
    mtu_result: u16 = 0  # output, with BPF_FIB_LKUP_RET_FRAG_NEEDED (same bytes as tot_len)
    ifindex: u32 = 0  # input: the ingress interface; output: the egress interface
    tos: u8 = 0  # IPv4 input
    flowinfo: u32 = 0  # IPv6 input (same bytes as tos)
    rt_metric: u32 = 0  # output (same bytes as tos)
    ipv4_src: u32 = 0
    ipv6_src: Annotated[list[u32], 4] = []
    ipv4_dst: u32 = 0
    ipv6_dst: Annotated[list[u32], 4] = []
    tbid: u32 = 0  # input with BPF_FIB_LOOKUP_TBID
    h_vlan_proto: u16 = 0  # output (same bytes as tbid)
    h_vlan_TCI: u16 = 0  # output
    mark: u32 = 0  # input with BPF_FIB_LOOKUP_MARK
    smac: Annotated[list[u8], 6] = []  # output: the egress interface's MAC
    dmac: Annotated[list[u8], 6] = []  # output: the next hop's MAC


__all__ = [
    "Final", "Annotated",
    "c_bool", "c_char", "c_int8", "c_int16", "c_int32", "c_int64",
    "c_uint8", "c_uint16", "c_uint32", "c_uint64", "c_void_p", "c_char_p",
    "UserPtr", "KernelPtr",
    "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64",
    "BPF_ANY", "BPF_NOEXIST", "BPF_EXIST",
    "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT",
    "TC_ACT_UNSPEC", "TC_ACT_OK", "TC_ACT_SHOT", "TC_ACT_PIPE", "TC_ACT_REDIRECT",
    "BPF_F_SKIP_FIELD_MASK", "BPF_F_USER_STACK", "BPF_F_FAST_STACK_CMP", "BPF_F_REUSE_STACKID",
    "BPF_F_USER_BUILD_ID",
    "HashMap", "ArrayMap", "PerCpuHashMap", "PerCpuArrayMap", "LruHashMap",
    "LruPerCpuHashMap", "LpmTrieMap", "ProgArray", "StackTraceMap", "QueueMap",
    "StackMap", "BloomFilterMap", "ArrayOfMaps", "HashOfMaps", "RingBuffer", "PerfEventArray",
    "section", "tracepoint", "raw_tracepoint", "kprobe", "kretprobe", "uprobe",
    "uretprobe", "fentry", "fexit", "lsm", "cgroup_skb", "cgroup_sock_addr", "cgroup_sock",
    "xdp", "socket_filter", "tc",
    "syscall", "perf_event", "struct", "bpf", "map", "bpfglobal", "compile",
    "ktime", "pid", "tgid", "tid", "uid", "gid", "comm", "random", "smp_processor_id",
    "get_current_cgroup_id", "get_current_task", "current_task", "field_exists", "field_size",
    "type_exists", "type_size", "enum_exists", "enum_value", "probe_read", "probe_read_str",
    "probe_read_user", "probe_read_user_str", "probe_read_kernel", "probe_read_kernel_str",
    "read_user", "read_kernel", "get_stack", "get_stackid", "deref", "log2",
    "kernel", "NotInKernelError",
    # packet helpers, their flags and results, redirect maps, FibLookup
    "adjust_head", "adjust_tail", "adjust_meta", "skb_change_head", "skb_change_tail",
    "skb_adjust_room", "load_bytes", "skb_load_bytes", "store_bytes", "skb_store_bytes",
    "csum_diff", "l3_csum_replace", "l4_csum_replace", "csum_update", "redirect", "redirect_map",
    "clone_redirect", "fib_lookup", "get_hash_recalc", "skb_change_type", "FibLookup",
    "htons", "ntohs", "htonl", "ntohl",
    "DevMap", "DevMapHash", "CpuMap", "XskMap",
    "BPF_F_RECOMPUTE_CSUM", "BPF_F_INVALIDATE_HASH", "BPF_F_HDR_FIELD_MASK", "BPF_F_PSEUDO_HDR",
    "BPF_F_MARK_MANGLED_0", "BPF_F_MARK_ENFORCE", "BPF_F_INGRESS", "BPF_ADJ_ROOM_NET",
    "BPF_ADJ_ROOM_MAC", "BPF_F_ADJ_ROOM_FIXED_GSO", "BPF_F_ADJ_ROOM_ENCAP_L3_IPV4",
    "BPF_F_ADJ_ROOM_ENCAP_L3_IPV6", "BPF_F_ADJ_ROOM_ENCAP_L4_GRE", "BPF_F_ADJ_ROOM_ENCAP_L4_UDP",
    "BPF_F_ADJ_ROOM_NO_CSUM_RESET", "BPF_F_ADJ_ROOM_ENCAP_L2_ETH", "BPF_F_ADJ_ROOM_DECAP_L3_IPV4",
    "BPF_F_ADJ_ROOM_DECAP_L3_IPV6", "BPF_FIB_LOOKUP_DIRECT", "BPF_FIB_LOOKUP_OUTPUT",
    "BPF_FIB_LOOKUP_SKIP_NEIGH", "BPF_FIB_LOOKUP_TBID", "BPF_FIB_LOOKUP_SRC", "BPF_FIB_LOOKUP_MARK",
    "BPF_FIB_LKUP_RET_SUCCESS", "BPF_FIB_LKUP_RET_BLACKHOLE", "BPF_FIB_LKUP_RET_UNREACHABLE",
    "BPF_FIB_LKUP_RET_PROHIBIT", "BPF_FIB_LKUP_RET_NOT_FWDED", "BPF_FIB_LKUP_RET_FWD_DISABLED",
    "BPF_FIB_LKUP_RET_UNSUPP_LWT", "BPF_FIB_LKUP_RET_NO_NEIGH", "BPF_FIB_LKUP_RET_FRAG_NEEDED",
    "BPF_FIB_LKUP_RET_NO_SRC_ADDR", "AF_INET", "AF_INET6", "PACKET_HOST", "PACKET_BROADCAST",
    "PACKET_MULTICAST", "PACKET_OTHERHOST",
    # packets (bpfimport.headers)
    "EthHdr", "VlanHdr", "IpHdr", "Ipv6Hdr", "TcpHdr", "UdpHdr", "IcmpHdr", "Icmp6Hdr",
    "PacketContext", "SockAddrContext", "SockContext", "ip4", "ip6", "mac",
    "ETH_P_IP", "ETH_P_ARP", "ETH_P_8021Q", "ETH_P_8021AD", "ETH_P_IPV6", "ETH_HLEN", "ETH_ALEN",
    "IPPROTO_IP", "IPPROTO_ICMP", "IPPROTO_TCP", "IPPROTO_UDP", "IPPROTO_IPV6",
    "IPPROTO_ROUTING", "IPPROTO_FRAGMENT", "IPPROTO_GRE", "IPPROTO_ICMPV6", "IPPROTO_NONE",
    "IPPROTO_DSTOPTS", "IPPROTO_SCTP", "IP_CE", "IP_DF", "IP_MF", "IP_OFFSET",
]
