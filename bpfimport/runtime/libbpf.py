"""The only module that knows libbpf's C ABI.

Everything here is ctypes: the library is found and configured lazily, on the
first call that needs the kernel, so importing bpfimport (and building a module
of handles on a cache hit) never dlopens ``libbpf.so.1``.

Conventions of libbpf >= 1.0 that callers rely on:

* pointer-returning calls give NULL and set ``errno`` (read it with
  :func:`ctypes.get_errno`, hence ``use_errno=True``);
* int-returning calls give ``-errno`` directly;
* every ``*_opts`` struct starts with ``sz``, which must be set, and libbpf
  refuses non-zero bytes past the size it knows, so the structs below stop at
  the last field libbpf 1.0/1.1 has.

libbpf's own log (``libbpf_set_print``) is captured per thread into a list, so
an error can quote what libbpf said while loading or attaching.
"""

from __future__ import annotations

import _thread
import ctypes
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import BpfError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

c_void_p = ctypes.c_void_p
c_char_p = ctypes.c_char_p
c_int = ctypes.c_int
c_uint32 = ctypes.c_uint32
c_uint64 = ctypes.c_uint64
c_size_t = ctypes.c_size_t

SONAME = "libbpf.so.1"
MIN_VERSION = (1, 0)
INSTALL_HINT = "apt-get install libbpf1"

# enum libbpf_print_level
LIBBPF_WARN, LIBBPF_INFO, LIBBPF_DEBUG = 0, 1, 2

BPF_F_MMAPABLE = 1 << 10


class MapCreateOpts(ctypes.Structure):
    """``struct bpf_map_create_opts`` (libbpf 1.0-1.1 layout): for ``bpf_map_create``."""

    _fields_ = [
        ("sz", c_size_t),
        ("btf_fd", c_uint32),
        ("btf_key_type_id", c_uint32),
        ("btf_value_type_id", c_uint32),
        ("btf_vmlinux_value_type_id", c_uint32),
        ("inner_map_fd", c_uint32),
        ("map_flags", c_uint32),
        ("map_extra", c_uint64),
        ("numa_node", c_uint32),
        ("map_ifindex", c_uint32),
    ]


class ObjectOpenOpts(ctypes.Structure):
    """``struct bpf_object_open_opts`` up to ``kernel_log_level`` (libbpf 1.0-1.1 layout)."""

    _fields_ = [
        ("sz", c_size_t),
        ("object_name", c_char_p),
        ("relaxed_maps", ctypes.c_bool),
        ("pin_root_path", c_char_p),
        ("_removed_attach_prog_fd", c_uint32),
        ("kconfig", c_char_p),
        ("btf_custom_path", c_char_p),
        ("kernel_log_buf", c_void_p),
        ("kernel_log_size", c_size_t),
        ("kernel_log_level", c_uint32),
    ]


class MapInfo(ctypes.Structure):
    """The head of ``struct bpf_map_info`` (the kernel fills as much as it is given)."""

    _fields_ = [
        ("type", c_uint32),
        ("id", c_uint32),
        ("key_size", c_uint32),
        ("value_size", c_uint32),
        ("max_entries", c_uint32),
        ("map_flags", c_uint32),
        ("name", ctypes.c_char * 16),
    ]


class TestRunOpts(ctypes.Structure):
    """``struct bpf_test_run_opts`` (unchanged since libbpf 0.7)."""

    __test__ = False  # not a pytest class, despite the name

    _fields_ = [
        ("sz", c_size_t),
        ("data_in", c_void_p),
        ("data_out", c_void_p),
        ("data_size_in", c_uint32),
        ("data_size_out", c_uint32),
        ("ctx_in", c_void_p),
        ("ctx_out", c_void_p),
        ("ctx_size_in", c_uint32),
        ("ctx_size_out", c_uint32),
        ("retval", c_uint32),
        ("repeat", c_int),
        ("duration", c_uint32),
        ("flags", c_uint32),
        ("cpu", c_uint32),
        ("batch_size", c_uint32),
    ]


class MapBatchOpts(ctypes.Structure):
    """``struct bpf_map_batch_opts``."""

    _fields_ = [("sz", c_size_t), ("elem_flags", c_uint64), ("flags", c_uint64)]


class UprobeOpts(ctypes.Structure):
    """``struct bpf_uprobe_opts`` up to ``func_name`` (libbpf 0.8-1.1 layout)."""

    _fields_ = [
        ("sz", c_size_t),
        ("ref_ctr_offset", c_size_t),
        ("bpf_cookie", c_uint64),
        ("retprobe", ctypes.c_bool),
        ("func_name", c_char_p),
    ]


class LinkCreateOpts(ctypes.Structure):
    """``struct bpf_link_create_opts`` up to ``target_btf_id``: an XDP link needs only
    ``flags`` (the mode); the union after it is left out, so libbpf sees it zeroed."""

    _fields_ = [
        ("sz", c_size_t),
        ("flags", c_uint32),
        ("iter_info", c_void_p),
        ("iter_info_len", c_uint32),
        ("target_btf_id", c_uint32),
    ]


class TcHook(ctypes.Structure):
    """``struct bpf_tc_hook`` (unchanged since libbpf 0.4)."""

    _fields_ = [("sz", c_size_t), ("ifindex", c_int), ("attach_point", c_int),
                ("parent", c_uint32)]


class TcOpts(ctypes.Structure):
    """``struct bpf_tc_opts`` (unchanged since libbpf 0.4); attach fills handle and priority."""

    _fields_ = [("sz", c_size_t), ("prog_fd", c_int), ("flags", c_uint32),
                ("prog_id", c_uint32), ("handle", c_uint32), ("priority", c_uint32)]


# enum bpf_tc_attach_point
BPF_TC_INGRESS, BPF_TC_EGRESS = 1 << 0, 1 << 1
# enum bpf_attach_type
BPF_XDP, BPF_TCX_INGRESS, BPF_TCX_EGRESS = 37, 46, 47
# XDP_FLAGS_* (linux/if_link.h): the mode of an XDP attachment
XDP_FLAGS_SKB_MODE, XDP_FLAGS_DRV_MODE, XDP_FLAGS_HW_MODE = 1 << 1, 1 << 2, 1 << 3


class PerfEventAttr(ctypes.Structure):
    """``struct perf_event_attr`` up to ``config1`` (PERF_ATTR_SIZE_VER0, 64 bytes): what a
    perf buffer's events need; the kernel takes an attr of an older, shorter size."""

    _fields_ = [
        ("type", c_uint32),
        ("size", c_uint32),
        ("config", c_uint64),
        ("sample_period", c_uint64),
        ("sample_type", c_uint64),
        ("read_format", c_uint64),
        ("flags", c_uint64),  # bit fields: disabled, inherit, ..., watermark (bit 14), ...
        ("wakeup_events", c_uint32),  # or wakeup_watermark, with the watermark flag
        ("bp_type", c_uint32),
        ("config1", c_uint64),
    ]


PERF_TYPE_SOFTWARE = 1
PERF_COUNT_SW_BPF_OUTPUT = 10
PERF_SAMPLE_RAW = 1 << 10
PERF_FLAG_WATERMARK = 1 << 14  # perf_event_attr.watermark: wakeup_events counts bytes

PRINT_FN = ctypes.CFUNCTYPE(c_int, c_int, c_char_p, c_void_p)

# name -> (restype, argtypes); every function bpfimport calls, nothing else.
_SIGNATURES: dict[str, tuple[object, list[object]]] = {
    "libbpf_major_version": (c_uint32, []),
    "libbpf_minor_version": (c_uint32, []),
    "libbpf_set_print": (c_void_p, [PRINT_FN]),
    "libbpf_strerror": (c_int, [c_int, c_char_p, c_size_t]),
    "libbpf_num_possible_cpus": (c_int, []),
    "libbpf_bpf_prog_type_str": (c_char_p, [c_int]),
    "libbpf_prog_type_by_name": (c_int, [c_char_p, ctypes.POINTER(c_int), ctypes.POINTER(c_int)]),
    "bpf_object__open_mem": (c_void_p, [c_void_p, c_size_t, ctypes.POINTER(ObjectOpenOpts)]),
    "bpf_object__load": (c_int, [c_void_p]),
    "bpf_object__close": (None, [c_void_p]),
    "bpf_object__find_map_by_name": (c_void_p, [c_void_p, c_char_p]),
    "bpf_object__next_program": (c_void_p, [c_void_p, c_void_p]),
    "bpf_object__next_map": (c_void_p, [c_void_p, c_void_p]),
    "bpf_program__name": (c_char_p, [c_void_p]),
    "bpf_program__fd": (c_int, [c_void_p]),
    "bpf_program__type": (c_int, [c_void_p]),
    "bpf_program__set_log_buf": (c_int, [c_void_p, c_void_p, c_size_t]),
    "bpf_program__attach": (c_void_p, [c_void_p]),
    "bpf_program__attach_uprobe_opts": (
        c_void_p, [c_void_p, c_int, c_char_p, c_size_t, ctypes.POINTER(UprobeOpts)]),
    "bpf_program__attach_perf_event": (c_void_p, [c_void_p, c_int]),
    "bpf_program__attach_kprobe": (c_void_p, [c_void_p, ctypes.c_bool, c_char_p]),
    "bpf_program__attach_cgroup": (c_void_p, [c_void_p, c_int]),
    "bpf_link_create": (c_int, [c_int, c_int, c_int, ctypes.POINTER(LinkCreateOpts)]),
    "bpf_tc_hook_create": (c_int, [ctypes.POINTER(TcHook)]),
    "bpf_tc_hook_destroy": (c_int, [ctypes.POINTER(TcHook)]),
    "bpf_tc_attach": (c_int, [ctypes.POINTER(TcHook), ctypes.POINTER(TcOpts)]),
    "bpf_tc_detach": (c_int, [ctypes.POINTER(TcHook), ctypes.POINTER(TcOpts)]),
    "bpf_link__destroy": (c_int, [c_void_p]),
    "bpf_link__fd": (c_int, [c_void_p]),
    "bpf_link__pin": (c_int, [c_void_p, c_char_p]),
    "bpf_link__unpin": (c_int, [c_void_p]),
    "bpf_link__open": (c_void_p, [c_char_p]),
    "bpf_map__fd": (c_int, [c_void_p]),
    "bpf_map__name": (c_char_p, [c_void_p]),
    "bpf_map__value_size": (c_uint32, [c_void_p]),
    "bpf_map__map_flags": (c_uint32, [c_void_p]),
    "bpf_map__initial_value": (c_void_p, [c_void_p, ctypes.POINTER(c_size_t)]),
    "bpf_map__set_initial_value": (c_int, [c_void_p, c_void_p, c_size_t]),
    "bpf_map__set_pin_path": (c_int, [c_void_p, c_char_p]),
    "bpf_map__type": (c_int, [c_void_p]),
    "bpf_map__key_size": (c_uint32, [c_void_p]),
    "bpf_map__max_entries": (c_uint32, [c_void_p]),
    "bpf_obj_get": (c_int, [c_char_p]),
    "bpf_obj_pin": (c_int, [c_int, c_char_p]),
    "bpf_obj_get_info_by_fd": (c_int, [c_int, c_void_p, ctypes.POINTER(c_uint32)]),
    "bpf_map_create": (c_int, [c_int, c_char_p, c_uint32, c_uint32, c_uint32,
                               ctypes.POINTER(MapCreateOpts)]),
    "bpf_map_lookup_elem": (c_int, [c_int, c_void_p, c_void_p]),
    "bpf_map_update_elem": (c_int, [c_int, c_void_p, c_void_p, c_uint64]),
    "bpf_map_delete_elem": (c_int, [c_int, c_void_p]),
    "bpf_map_get_next_key": (c_int, [c_int, c_void_p, c_void_p]),
    "bpf_map_lookup_and_delete_elem": (c_int, [c_int, c_void_p, c_void_p]),
    "bpf_map_lookup_batch": (
        c_int,
        [c_int, c_void_p, c_void_p, c_void_p, c_void_p, ctypes.POINTER(c_uint32),
         ctypes.POINTER(MapBatchOpts)],
    ),
    "bpf_map_delete_batch": (
        c_int, [c_int, c_void_p, ctypes.POINTER(c_uint32), ctypes.POINTER(MapBatchOpts)],
    ),
    "bpf_map_update_batch": (
        c_int, [c_int, c_void_p, c_void_p, ctypes.POINTER(c_uint32), ctypes.POINTER(MapBatchOpts)],
    ),
    "bpf_prog_test_run_opts": (c_int, [c_int, ctypes.POINTER(TestRunOpts)]),
    # the event readers read the buffers themselves (runtime/events.py): libbpf makes and
    # frees a perf buffer and tells where its rings are; its callbacks are NULL, never called
    "perf_buffer__new_raw": (
        c_void_p, [c_int, c_size_t, ctypes.POINTER(PerfEventAttr), c_void_p, c_void_p, c_void_p],
    ),
    "perf_buffer__free": (None, [c_void_p]),
    "perf_buffer__epoll_fd": (c_int, [c_void_p]),
    "perf_buffer__buffer_cnt": (c_size_t, [c_void_p]),
    "perf_buffer__buffer": (
        c_int, [c_void_p, c_int, ctypes.POINTER(c_void_p), ctypes.POINTER(c_size_t)],
    ),
}

_lock = _thread.allocate_lock()
_lib: ctypes.CDLL | None = None
_print_cb = None  # keeps the ctypes callback alive for the life of the process
_PRINT_BYTES = 8192  # longest libbpf message kept (vsnprintf truncates the rest)
_capture = _thread._local()  # threading.local (importing threading costs ~1 ms)
_vsnprintf: Any = None  # libc's vsnprintf (a ctypes function), set by _load()


def lib() -> ctypes.CDLL:
    """libbpf, loaded and configured on first use.

    Raises BpfError with the install command when the library is missing or
    older than 1.0 (the error conventions above only hold from 1.0 on).
    """
    global _lib
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is None:
            _lib = _load()
    return _lib


def _load() -> ctypes.CDLL:
    global _print_cb, _vsnprintf
    if not sys.platform.startswith("linux"):
        raise BpfError(f"BPF needs Linux; this is {sys.platform}")
    try:
        handle = ctypes.CDLL(SONAME, use_errno=True)
    except OSError as e:
        raise BpfError(
            f"libbpf ({SONAME}) is not installed; install it with `{INSTALL_HINT}` ({e})"
        ) from None
    try:
        major = handle.libbpf_major_version()
        minor = handle.libbpf_minor_version()
    except AttributeError:
        major = minor = 0
    if (major, minor) < MIN_VERSION:
        raise BpfError(
            f"libbpf {major}.{minor} is too old (bpfimport needs >= 1.0); "
            f"install a newer one with `{INSTALL_HINT}`"
        )
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(handle, name, None)
        if fn is None:
            continue  # missing from this 1.x: calling it raises AttributeError
        fn.restype = restype
        fn.argtypes = argtypes
    libc = ctypes.CDLL(None)
    _vsnprintf = libc.vsnprintf
    _vsnprintf.restype = c_int
    _vsnprintf.argtypes = [c_char_p, c_size_t, c_char_p, c_void_p]
    _print_cb = PRINT_FN(_on_print)
    handle.libbpf_set_print(_print_cb)
    return handle


def _on_print(level: int, fmt: bytes, ap: int) -> int:
    """libbpf's print callback: format the message and hand it to the thread's capture.

    Called from C; it must never raise.  Debug messages are kept too (they are
    cheap and explain failures), but only WARN ones are echoed, and only when
    BPFIMPORT_DEBUG is set, so libbpf never prints to stderr behind the user's back.
    """
    try:
        buf = getattr(_capture, "buffer", None)
        if buf is None:  # one per thread, reused: a new zeroed 8 KiB buffer per message cost
            buf = _capture.buffer = ctypes.create_string_buffer(_PRINT_BYTES)  # ~60 us, x~80/load
        _vsnprintf(buf, _PRINT_BYTES, fmt, ap)
        text = buf.value.decode("utf-8", "replace")
        sink = getattr(_capture, "lines", None)
        if sink is not None:
            sink.append((level, text))
        if os.environ.get("BPFIMPORT_DEBUG") and (level == LIBBPF_WARN or
                                                  os.environ["BPFIMPORT_DEBUG"] == "2"):
            sys.stderr.write(f"libbpf: {text}")
    except Exception:  # noqa: BLE001 - a C callback must not raise
        pass
    return 0


@contextmanager
def capture() -> Iterator[list[tuple[int, str]]]:
    """Collect libbpf's messages emitted by this thread inside the block.

    Nested captures each see the messages of their own block (the outer one
    gets the inner block's lines too), so a load inside an attach keeps both.
    """
    lines: list[tuple[int, str]] = []
    outer = getattr(_capture, "lines", None)
    _capture.lines = lines
    try:
        yield lines
    finally:
        if outer is not None:
            outer.extend(lines)
        _capture.lines = outer


def log_text(lines: list[tuple[int, str]], min_level: int = LIBBPF_DEBUG) -> str:
    """The captured messages as one string (all levels up to ``min_level``)."""
    return "".join(text for level, text in lines if level <= min_level)


def strerror(err: int) -> str:
    """libbpf's text for an error number, including its own 4000+ codes."""
    err = abs(err)
    if err < 4000:
        return os.strerror(err)
    buf = ctypes.create_string_buffer(256)
    lib().libbpf_strerror(err, buf, len(buf))
    return buf.value.decode("utf-8", "replace")


_mmap: Any = None  # libc's mmap and munmap (ctypes functions), set on first use
_munmap: Any = None
_PROT_READ, _PROT_WRITE, _MAP_SHARED = 1, 2, 1
_MAP_FAILED = ctypes.c_void_p(-1).value


def mmap_shared(fd: int, length: int, offset: int, writable: bool) -> tuple[int, int]:
    """``mmap(MAP_SHARED)`` of ``fd``: (address, 0), or (0, errno).

    libc's, not Python's ``mmap`` module: the event readers read the memory
    through addresses (``ctypes.string_at``), and an address taken from a
    Python mmap is a buffer export that keeps it from being closed.
    """
    global _mmap, _munmap
    if _mmap is None:
        libc = ctypes.CDLL(None, use_errno=True)
        mm, unmap = libc.mmap, libc.munmap
        mm.restype = c_void_p
        mm.argtypes = [c_void_p, c_size_t, c_int, c_int, c_int, ctypes.c_long]
        unmap.restype = c_int
        unmap.argtypes = [c_void_p, c_size_t]
        _munmap, _mmap = unmap, mm
    prot = _PROT_READ | (_PROT_WRITE if writable else 0)
    addr = _mmap(None, length, prot, _MAP_SHARED, fd, offset)
    if addr is None or addr == _MAP_FAILED:
        return 0, ctypes.get_errno() or 22
    return addr, 0


def munmap(addr: int, length: int) -> None:
    """Undo :func:`mmap_shared`."""
    _munmap(addr, length)


def last_errno() -> int:
    """errno after a pointer-returning libbpf call gave NULL."""
    return ctypes.get_errno() or 0


_possible_cpus: int | None = None


def num_possible_cpus() -> int:
    """The number of possible CPUs: per-CPU map values have one slot per possible CPU."""
    global _possible_cpus
    if _possible_cpus is None:
        n = lib().libbpf_num_possible_cpus()
        if n <= 0:
            raise BpfError("could not read the number of possible CPUs", -n)
        _possible_cpus = n
    return _possible_cpus


def prog_type_str(type_id: int) -> str | None:
    name = lib().libbpf_bpf_prog_type_str(type_id)
    return name.decode() if name else None


def prog_type_by_section(section: str) -> int | None:
    """libbpf's program type for a section name, or None when libbpf does not know it."""
    ptype, atype = c_int(), c_int()
    if lib().libbpf_prog_type_by_name(section.encode(), ctypes.byref(ptype), ctypes.byref(atype)):
        return None
    return ptype.value
