"""One BPF object per module: opened and loaded on first kernel use, closed explicitly.

A :class:`BpfObject` owns the libbpf ``struct bpf_object`` and everything hung
off it: program and map fds, the links attached from its programs, ring
buffers polled from its maps, and mmaps of its global-data maps.  ``close()``
tears them down in dependency order (links, event buffers, mmaps, then the
object) and returns the object to its unloaded state, so the next use loads a
fresh copy.  Handles (Program, Map, Global) only keep a reference to the
object and a name, so they stay valid across close/load cycles.

Why operations go through ``obj.using(name)``: an fd is only a number.  If a
thread read a map's fd, then another thread's ``close()`` freed it and another
object was loaded, the kernel would give that object the same number, and
the first thread's syscall would act on the wrong map.  So each load is a
:class:`Loaded` with a count of its users; an operation holds it for the
whole of its syscalls (``with obj.using(name) as live: live.map_fd(name)``),
and ``close()`` detaches the links and unbinds it at once but frees its fds
only when the last user lets go.  Closing never waits, not even for a
``poll()`` in progress, and an operation never sees its fds closed under it.

This module is imported on the first use of a module's handle, not by a
cache-hit ``import NAME_bpf`` (see :mod:`.module`).  It knows nothing of the
handles hung off the object: links, event readers and global sections are
reached through the small protocols below, so none of them is imported here.
"""

from __future__ import annotations

import os
import struct
import sys
from _thread import RLock  # not `threading`: the first use of a handle must stay cheap

from ..errors import BpfError
from ._lazy import ctypes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Literal, Protocol, overload

    from ..spec import ObjectSpec
    from .codec import TypeSystem

    class Closable(Protocol):
        """A ring/perf buffer reader or a mapped section: closed before the object."""

        def close(self) -> None: ...

    class Detachable(Protocol):
        """A link (:class:`bpfimport.runtime.link.Link`): detached by close()."""

        def detach(self) -> None: ...

    class PendingWrites(Protocol):
        """The globals written before load (:class:`bpfimport.runtime.globals.DataSections`)."""

        def apply_pending(self, maps: dict[str, int]) -> None: ...

# The verifier log buffer: one for the whole object (libbpf's object-level
# kernel_log_buf, also used for BTF), written only when a load fails (libbpf
# loads with logging off, then retries a failed program with it on).  One per
# program cost 1 MiB of RSS each.  The kernel keeps the log's tail when it overflows.
VERIFIER_LOG_SIZE = 1 << 20

_FAILED_PROG = r"prog '([^']+)': (?:failed to load|BPF program load failed)"
_BTF_IGNORED = ("BTF is optional, ignoring", "Error loading .BTF into kernel",
                "Ignored and continue")


def _log_buffer(size: int) -> Any:
    """A zeroed ``c_char`` array for the kernel's log that costs nothing until written.

    The kernel writes a verifier log only when a load fails (libbpf then loads again
    with ``log_level`` 1), yet ``create_string_buffer`` zeroes all of it, touching 256
    fresh pages per load: 0.5-8 ms on the development VM, where a fresh page can cost the
    host a fault of its own.  An anonymous mapping's pages are zero until written.
    """
    import mmap

    return (ctypes.c_char * size).from_buffer(mmap.mmap(-1, size))


class Loaded:
    """One load of the object: the libbpf object, its fds and what hangs off them.

    ``users`` counts the operations in progress (see the module docstring);
    once ``closed`` and unused, :meth:`free` closes everything.  Only touched
    under the owning BpfObject's lock, except the fd lookups, which read
    dictionaries that do not change after load.
    """

    __slots__ = ("name", "ptr", "buf", "progs", "maps", "fds", "resources", "sections", "users",
                 "closed")

    def __init__(self, name: str, ptr: int, buf: Any, progs: dict[str, int],
                 maps: dict[str, int]) -> None:
        self.name = name
        self.ptr = ptr
        self.buf = buf  # the ELF image: libbpf keeps pointers into it
        self.progs = progs
        self.maps = maps
        self.fds: dict[str, int] = {}
        self.resources: list[Closable] = []  # ring/perf buffers: closed before the object
        self.sections: dict[str, Any] = {}  # globals._LiveSection by section (mmaps)
        self.users = 0
        self.closed = False

    def map_fd(self, name: str) -> int:
        """The fd of map ``name`` (valid while this load is in use)."""
        fd = self.fds.get(name)
        if fd is None:
            from . import libbpf as L

            fd = self.fds[name] = L.lib().bpf_map__fd(self.map_ptr(name))
        return fd

    def map_ptr(self, name: str) -> int:
        ptr = self.maps.get(name)
        if ptr is None:
            raise BpfError(f"BPF object '{self.name}' has no map '{name}'")
        return ptr

    def program_ptr(self, name: str) -> int:
        ptr = self.progs.get(name)
        if ptr is None:
            raise BpfError(f"BPF object '{self.name}' has no program '{name}'")
        return ptr

    def program_fd(self, name: str) -> int:
        """The fd of program ``name`` (valid while this load is in use)."""
        from . import libbpf as L

        return L.lib().bpf_program__fd(self.program_ptr(name))

    def free(self) -> list[BaseException]:
        """Close event buffers, mmaps, then the object; the errors met on the way."""
        from . import libbpf as L

        errors: list[BaseException] = []
        resources, self.resources = self.resources, []
        sections, self.sections = self.sections, {}
        for res in [*reversed(resources), *sections.values()]:
            try:
                res.close()
            except BaseException as e:  # noqa: BLE001 - keep closing the rest
                errors.append(e)
        ptr, self.ptr = self.ptr, 0
        if ptr:
            L.lib().bpf_object__close(ptr)
        return errors

    def __del__(self) -> None:
        # The safety net of ``users``: an exception raised by a signal handler between an
        # operation's acquire and its release (KeyboardInterrupt, an alarm) leaves the count
        # up, and close() then leaves the freeing to a user that never comes.  Once nothing
        # can reach this load any more, nothing can use it: free it now.  Not while the
        # interpreter shuts down (imports fail then): the process's exit closes every fd.
        if self.ptr and not sys.is_finalizing():
            self.free()


class _Use:
    """``with obj.using(name) as live``: hold one load of ``obj`` for the block (see above)."""

    __slots__ = ("obj", "name", "load", "live")

    def __init__(self, obj: BpfObject, name: str, load: bool) -> None:
        self.obj = obj
        self.name = name
        self.load = load
        self.live: Loaded | None = None

    def __enter__(self) -> Loaded | None:
        self.live = self.obj._acquire(self.name, self.load)
        return self.live

    def __exit__(self, *exc: object) -> None:
        live, self.live = self.live, None
        if live is not None:
            self.obj._release(live)


if TYPE_CHECKING:
    class _Loading(_Use):
        """What ``obj.using(name)`` gives when it loads: the block always gets the load."""

        def __enter__(self) -> Loaded: ...


class BpfObject:
    """The live kernel side of one compiled module: load, access for handles, close.

    ``data`` is the ELF object, ``spec`` what it declares, ``name`` the
    object name libbpf uses (it prefixes the global-data map names).
    Making one touches neither libbpf nor the kernel.
    """

    def __init__(self, data: bytes, spec: ObjectSpec, name: str) -> None:
        self.data = data
        self.spec = spec
        self.name = name
        self.libbpf_log = ""  # what libbpf said during the last load
        self._types: TypeSystem | None = None
        # globals.DataSections, made by the first use of a global (globals.sections_of)
        self._sections: PendingWrites | None = None
        self._lock = RLock()
        # Loaded while loaded: the libbpf object, its fds and what hangs off them;
        # it outlives close() until the last operation using it returns (see above)
        self._live: Loaded | None = None
        self._links: dict[int, Detachable] = {}
        self.after_load: list[Callable[[], object]] = []  # run after each successful load
        self.retired_from: str | None = None  # the module that was rebound to a new object
        self.btf_custom_path: str | None = None  # CO-RE target BTF instead of the kernel's
        self.pin_root: str | None = None  # maps pinned by name under it (runtime/pinning.py)

    @property
    def types(self) -> TypeSystem:
        """The module's codecs and ctypes classes (built on first use, not at bind)."""
        if self._types is None:
            from .codec import TypeSystem

            self._types = TypeSystem(self.spec)
        return self._types

    @property
    def loaded(self) -> bool:
        return self._live is not None

    @property
    def links(self) -> list[Detachable]:
        """The links attached from this object's programs and not detached yet."""
        return list(self._links.values())

    def __repr__(self) -> str:
        state = "loaded" if self.loaded else "not loaded"
        return f"<BpfObject {self.name!r} {state}, {len(self._links)} links>"

    def __enter__(self) -> BpfObject:
        self.load()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass

    def retire(self, module_name: str) -> None:
        """Close for good: ``module_name`` now has a new object (``importlib.reload``).

        Handles kept from before the reload still point here; loading again
        would give them a private copy that the module's ``close()`` never
        reaches, so they raise instead, saying to look the handle up again.
        """
        self.retired_from = module_name
        self.close()

    # ---- load ----------------------------------------------------------------

    def load(self, btf_custom_path: str | None = None, pin_root: str | None = None) -> BpfObject:
        """Open and load the object into the kernel (no-op when already loaded).

        ``btf_custom_path``: a raw BTF file that CO-RE relocations use instead of the
        running kernel's BTF (libbpf's open option of that name), kept for later loads.
        ``pin_root``: a folder on bpffs where the maps are pinned by name, and where a
        later load finds them again (runtime/pinning.py); kept for later loads.
        Raises VerifierError when the verifier rejects a program, BpfError for
        everything else; a failed load leaves no fd open.
        """
        if btf_custom_path is not None:
            self.btf_custom_path = btf_custom_path
        if pin_root is not None:
            pin_root = os.path.abspath(os.fspath(pin_root))
            with self._lock:
                if self._live is not None and pin_root != self.pin_root:
                    raise BpfError(f"BPF object '{self.name}' is already loaded without "
                                   f"pin_root={pin_root!r}: close() it first")
                self.pin_root = pin_root
        if self._live is not None:
            return self
        with self._lock:
            if self._live is None:
                self.check_current()
                self._load()
        return self

    def check_current(self, name: str = "NAME") -> None:
        """Refuse a handle from before ``importlib.reload`` (see ``BpfObject.retire``)."""
        if self.retired_from is not None:
            mod = self.retired_from
            raise BpfError(f"module '{mod}' was reloaded; this handle belongs to the object "
                           f"it had before: use {mod}.{name} again")

    def _load(self) -> Loaded:
        """Load with the caller's ``btf_custom_path``, else with the object's own BTF as
        the CO-RE target when its layouts are the running kernel's (:meth:`_own_btf`)."""
        if self.btf_custom_path is not None:
            return self._load_with(self.btf_custom_path)
        own = self._own_btf()
        if own is None:
            return self._load_with(None)
        try:
            return self._load_with(f"/proc/self/fd/{own}")
        except BpfError:
            # whatever went wrong, the kernel's own BTF decides: the same load against vmlinux
            return self._load_with(None)
        finally:
            os.close(own)

    def _own_btf(self) -> int | None:
        """A memfd holding the object's ``.BTF`` when that can stand in for the kernel's.

        A CO-RE relocation names a type and a path of members; libbpf finds the type
        of that name in the kernel's BTF and reads the offsets there, which means
        reading and indexing all 5.5 MB of vmlinux (~14 MB of a tool's peak RSS).  The
        compiler wrote the object's types from the kernel's BTF, recording which kernel
        (``spec.CORE_KERNEL_KEY``): on that kernel they hold the same offsets, so
        libbpf may relocate against the object's own BTF (its ``btf_custom_path``) and
        never reads vmlinux.  None on any other kernel (or without the record): libbpf
        relocates against vmlinux as usual.
        """
        from ..spec import CORE_KERNEL_KEY

        wanted = self.spec.extra.get(CORE_KERNEL_KEY)
        if not isinstance(wanted, str) or not hasattr(os, "memfd_create"):
            return None
        from ..btf.boot import vmlinux_identity

        if vmlinux_identity() != wanted:
            return None
        from ..elf import Elf

        try:
            elf = Elf(self.data)
            section = elf.section(".BTF")
        except (ValueError, IndexError, struct.error):
            return None
        if section is None:
            return None
        fd = os.memfd_create("bpfimport-btf", os.MFD_CLOEXEC)
        try:
            data = memoryview(elf.body(section))
            while data:
                data = data[os.write(fd, data):]
        except OSError:
            os.close(fd)
            return None
        return fd

    def _load_with(self, btf_custom_path: str | None) -> Loaded:
        from . import errors as rterrors
        from . import libbpf as L

        lb = L.lib()
        buf = ctypes.create_string_buffer(self.data, len(self.data))
        log = _log_buffer(VERIFIER_LOG_SIZE)
        opts = L.ObjectOpenOpts()
        opts.sz = ctypes.sizeof(opts)
        opts.object_name = self.name.encode()
        opts.kernel_log_buf = ctypes.cast(log, ctypes.c_void_p)
        opts.kernel_log_size = VERIFIER_LOG_SIZE
        opts.kernel_log_level = 0
        custom = os.fsencode(btf_custom_path) if btf_custom_path is not None else None
        opts.btf_custom_path = custom
        with L.capture() as lines:
            ptr = lb.bpf_object__open_mem(buf, len(self.data), ctypes.byref(opts))
            if not ptr:
                err = L.last_errno()
                raise BpfError(rterrors.with_log(
                    f"cannot open BPF object '{self.name}': {rterrors.strerror(err)}",
                    L.log_text(lines, L.LIBBPF_WARN)), err)
            try:
                progs = self._collect_programs(lb, ptr)
                maps = self._collect_maps(lb, ptr)
                if self._sections is not None:  # globals written before load
                    self._sections.apply_pending(maps)
                if self.pin_root is not None:
                    from . import pinning

                    pinning.prepare(self.pin_root, self.spec, maps, lb)
                rc = lb.bpf_object__load(ptr)
            except BaseException:
                lb.bpf_object__close(ptr)
                raise
        self.libbpf_log = L.log_text(lines)  # everything, for debugging
        warnings = L.log_text(lines, L.LIBBPF_WARN)  # what errors quote
        if rc < 0 and self.pin_root is not None:
            from . import pinning

            mismatch = pinning.reuse_error(self.name, warnings, maps, lb)
            if mismatch is not None:
                lb.bpf_object__close(ptr)
                raise mismatch
        if rc < 0:
            failed = self._failed_from_log()
            ptype = None
            vlog = ""
            if failed is not None and failed in progs:
                ptype = L.prog_type_str(lb.bpf_program__type(progs[failed]))
                vlog = log.value.decode("utf-8", "replace")  # the failed program's: loading stops there
            lb.bpf_object__close(ptr)
            raise rterrors.load_error(self.name, rc, warnings, failed, ptype, vlog)
        if any(marker in self.libbpf_log for marker in _BTF_IGNORED):
            lb.bpf_object__close(ptr)
            btf_text = log.value.decode("utf-8", "replace").strip()
            # the kernel's complaint is the last line of its BTF dump
            tail = "\n".join(f"  {ln}" for ln in btf_text.splitlines()[-3:])
            detail = f"\nkernel BTF log (end):\n{tail}" if btf_text else ""
            raise BpfError(rterrors.with_log(
                f"the kernel rejected the BTF of '{self.name}' (libbpf would load it without "
                f"BTF, losing source lines and map types; this is a compiler bug){detail}",
                warnings))
        self._live = live = Loaded(self.name, ptr, buf, progs, maps)
        try:
            for hook in self.after_load:
                hook()
        except BaseException:
            self.close()
            raise
        return live

    @staticmethod
    def _collect_programs(lb: Any, ptr: int) -> dict[str, int]:
        progs: dict[str, int] = {}
        prog = lb.bpf_object__next_program(ptr, None)
        while prog:
            progs[lb.bpf_program__name(prog).decode()] = prog
            prog = lb.bpf_object__next_program(ptr, prog)
        return progs

    def _collect_maps(self, lb: Any, ptr: int) -> dict[str, int]:
        """Maps by the spec's name: user maps by name, global-data maps by section (.rodata...)."""
        maps: dict[str, int] = {}
        m = lb.bpf_object__next_map(ptr, None)
        while m:
            maps[lb.bpf_map__name(m).decode()] = m
            m = lb.bpf_object__next_map(ptr, m)
        for section in (".rodata", ".data", ".bss"):
            found = lb.bpf_object__find_map_by_name(ptr, section.encode())
            if found:
                maps[section] = found
        return maps

    def _failed_from_log(self) -> str | None:
        """The program libbpf's log names as failed (no verifier log: e.g. a refused type)."""
        import re

        m = re.search(_FAILED_PROG, self.libbpf_log)
        return m.group(1) if m else None

    # ---- access for handles ----------------------------------------------------

    if TYPE_CHECKING:  # with load=True (the default) the block's ``live`` is never None
        @overload
        def using(self, name: str = ..., load: Literal[True] = ...) -> _Loading: ...
        @overload
        def using(self, name: str, load: bool) -> _Use: ...

    def using(self, name: str = "NAME", load: bool = True) -> _Use:
        """``with obj.using(name) as live:`` hold the loaded object for the block's syscalls.

        Loads it first (``load=False``: ``live`` is None when not loaded).
        ``name`` is the handle's, for the message when the object was retired.
        A concurrent ``close()`` unbinds the load but frees its fds only after
        the block, so no fd used inside can be handed to another object.
        """
        return _Use(self, name, load)

    if TYPE_CHECKING:  # with load=True (the default) the result is never None
        @overload
        def _acquire(self, name: str, load: Literal[True] = ...) -> Loaded: ...
        @overload
        def _acquire(self, name: str, load: bool) -> Loaded | None: ...

    def _acquire(self, name: str, load: bool = True) -> Loaded | None:
        with self._lock:
            if self.retired_from is not None:
                self.check_current(name)
            live = self._live
            if live is None:
                if not load:
                    return None
                live = self._load()
            live.users += 1
            return live

    def _current(self) -> Loaded:
        """The current load, made now if there is none (the caller holds the lock)."""
        live = self._live
        return live if live is not None else self._load()

    def _release(self, live: Loaded) -> None:
        with self._lock:
            live.users -= 1
            if live.users or not live.closed:
                return
            errors = live.free()  # closed while in use: the last user frees it
        if errors:
            raise errors[0]

    def program_ptr(self, name: str) -> int:
        """The libbpf program pointer of the current load (valid until close())."""
        with self._lock:
            self.check_current(name)
            ptr = self._current().progs.get(name)
        if ptr is None:
            raise BpfError(f"BPF object '{self.name}' has no program '{name}'")
        return ptr

    def program_fd(self, name: str) -> int:
        """The program's fd: a number that stays this program's only until close()."""
        with self.using(name) as live:
            return live.program_fd(name)

    def map_ptr(self, name: str) -> int:
        """The libbpf map pointer of the current load (valid until close())."""
        with self._lock:
            self.check_current(name)
            ptr = self._current().maps.get(name)
        if ptr is None:
            raise BpfError(f"BPF object '{self.name}' has no map '{name}'")
        return ptr

    def map_fd(self, name: str) -> int:
        """The map's fd: a number that stays this map's only until close()."""
        with self.using(name) as live:
            return live.map_fd(name)

    def add_link(self, link: Detachable) -> None:
        with self._lock:
            self._links[id(link)] = link

    def forget_link(self, link: Detachable) -> None:
        with self._lock:
            self._links.pop(id(link), None)

    def add_resource(self, res: Closable) -> None:
        """Something (a ring buffer) to close with the current load, before the object itself."""
        with self._lock:
            if self._live is None:
                raise BpfError(f"BPF object '{self.name}' is not loaded")
            self._live.resources.append(res)

    # ---- close -------------------------------------------------------------------

    def close(self) -> None:
        """Detach every link, free event buffers and mmaps, close every fd. Idempotent."""
        with self._lock:
            if self._live is None and not self._links:
                return  # never loaded, or already closed: nothing to free
            self._close_locked()

    def _close_locked(self) -> None:
        """BpfObject.close() once it holds the lock and knows there is something to free.

        Links are detached now; the load's fds, buffers and mmaps are freed now
        if no operation is using them, else by the last one to finish.
        """
        errors: list[BaseException] = []
        for link in list(self._links.values()):
            try:
                link.detach()
            except BaseException as e:  # noqa: BLE001 - keep closing the rest
                errors.append(e)
        self._links.clear()
        live, self._live = self._live, None
        if live is not None:
            live.closed = True
            if not live.users:
                errors += live.free()
        if errors:
            raise errors[0]


__all__ = ["VERIFIER_LOG_SIZE", "BpfObject", "Loaded"]
