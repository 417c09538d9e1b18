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

# Flags of get_stackid() / get_stack(): the low 8 bits skip that many innermost frames.
BPF_F_SKIP_FIELD_MASK: Final = 0xFF
BPF_F_USER_STACK: Final = 1 << 8  # the user-space stack instead of the kernel's
BPF_F_FAST_STACK_CMP: Final = 1 << 9  # get_stackid: compare stacks by their hash only
BPF_F_REUSE_STACKID: Final = 1 << 10  # get_stackid: a new stack replaces one with its hash
BPF_F_USER_BUILD_ID: Final = 1 << 11  # get_stack: build id + offset records (not addresses)


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
    "uretprobe", "fentry", "fexit", "lsm", "cgroup_skb", "xdp", "socket_filter", "tc",
    "syscall", "perf_event", "struct", "bpf", "map", "bpfglobal", "compile",
    "ktime", "pid", "tgid", "tid", "uid", "gid", "comm", "random", "smp_processor_id",
    "get_current_cgroup_id", "get_current_task", "current_task", "field_exists", "field_size",
    "type_exists", "type_size", "enum_exists", "enum_value", "probe_read", "probe_read_str",
    "probe_read_user", "probe_read_user_str", "probe_read_kernel", "probe_read_kernel_str",
    "read_user", "read_kernel", "get_stack", "get_stackid", "deref", "log2",
    "kernel", "NotInKernelError",
]
