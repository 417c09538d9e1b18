"""One BPF object per module: opened and loaded on first kernel use, closed explicitly.

A :class:`BpfObject` owns the libbpf ``struct bpf_object`` and everything hung
off it: program and map fds, the links attached from its programs, ring
buffers polled from its maps, and mmaps of its global-data maps.  ``close()``
tears them down in dependency order (links, event buffers, mmaps, then the
object) and returns the object to its unloaded state, so the next use loads a
fresh copy.  Handles (Program, Map, Global) only keep a reference to the
object and a name, so they stay valid across close/load cycles.

The class itself is in :mod:`bpfimport.runtime.handles` (what binding a
module needs); this module is its cold half, installed on the class when it
is first needed (see ``module`` for why).
"""

from __future__ import annotations

from ..errors import BpfError
from ._lazy import ctypes
from .handles import BpfObject, install_cold_half

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol

    from .globals import DataSections
    from .link import Link

    class Closable(Protocol):
        def close(self) -> None: ...

# Per-program verifier log buffer.  Only used when a load fails (libbpf retries
# with logging on), and the kernel keeps the log's tail when it overflows.
VERIFIER_LOG_SIZE = 1 << 20
BTF_LOG_SIZE = 1 << 16

_FAILED_PROG = r"prog '([^']+)': (?:failed to load|BPF program load failed)"
_BTF_IGNORED = ("BTF is optional, ignoring", "Error loading .BTF into kernel",
                "Ignored and continue")


class _BpfObjectColdHalf:
    """Installed on :class:`BpfObject`: loading, access for handles, closing."""

    @property
    def sections(self) -> DataSections:
        """Pending and live values of the globals (made on first use of a global)."""
        if self._sections is None:
            from .globals import DataSections

            self._sections = DataSections(self)
        return self._sections

    # ---- load ----------------------------------------------------------------

    def load(self) -> BpfObject:
        """Open and load the object into the kernel (no-op when already loaded).

        Raises VerifierError when the verifier rejects a program, BpfError for
        everything else; a failed load leaves no fd open.
        """
        if self._ptr is not None:
            return self
        with self._lock:
            if self._ptr is None:
                self.check_current()
                self._load()
        return self

    def check_current(self, name: str = "NAME") -> None:
        """Refuse a handle from before ``importlib.reload`` (see ``BpfObject.retire``)."""
        if self.retired_from is not None:
            mod = self.retired_from
            raise BpfError(f"module '{mod}' was reloaded; this handle belongs to the object "
                           f"it had before: use {mod}.{name} again")

    def _load(self) -> None:
        from . import errors as rterrors
        from . import libbpf as L

        lb = L.lib()
        buf = ctypes.create_string_buffer(self.data, len(self.data))
        btf_log = ctypes.create_string_buffer(BTF_LOG_SIZE)
        opts = L.ObjectOpenOpts()
        opts.sz = ctypes.sizeof(opts)
        opts.object_name = self.name.encode()
        opts.kernel_log_buf = ctypes.cast(btf_log, ctypes.c_void_p)
        opts.kernel_log_size = BTF_LOG_SIZE
        opts.kernel_log_level = 0
        with L.capture() as lines:
            ptr = lb.bpf_object__open_mem(buf, len(self.data), ctypes.byref(opts))
            if not ptr:
                err = L.last_errno()
                raise BpfError(rterrors.with_log(
                    f"cannot open BPF object '{self.name}': {rterrors.strerror(err)}",
                    L.log_text(lines, L.LIBBPF_WARN)), err)
            try:
                progs, logs = self._collect_programs(lb, ptr)
                maps = self._collect_maps(lb, ptr)
                if self._sections is not None:  # globals written before load
                    self._sections.apply_pending(maps)
                rc = lb.bpf_object__load(ptr)
            except BaseException:
                lb.bpf_object__close(ptr)
                raise
        self.libbpf_log = L.log_text(lines)  # everything, for debugging
        warnings = L.log_text(lines, L.LIBBPF_WARN)  # what errors quote
        if rc < 0:
            failed = self._failed_program(logs) or self._failed_from_log()
            ptype = None
            vlog = ""
            if failed is not None and failed in progs:
                ptype = L.prog_type_str(lb.bpf_program__type(progs[failed]))
                vlog = logs[failed].value.decode("utf-8", "replace")
            lb.bpf_object__close(ptr)
            raise rterrors.load_error(self.name, rc, warnings, failed, ptype, vlog)
        if any(marker in self.libbpf_log for marker in _BTF_IGNORED):
            lb.bpf_object__close(ptr)
            btf_text = btf_log.value.decode("utf-8", "replace").strip()
            # the kernel's complaint is the last line of its BTF dump
            tail = "\n".join(f"  {ln}" for ln in btf_text.splitlines()[-3:])
            detail = f"\nkernel BTF log (end):\n{tail}" if btf_text else ""
            raise BpfError(rterrors.with_log(
                f"the kernel rejected the BTF of '{self.name}' (libbpf would load it without "
                f"BTF, losing source lines and map types; this is a compiler bug){detail}",
                warnings))
        for prog in progs.values():  # libbpf keeps the pointer: hand the buffers back
            lb.bpf_program__set_log_buf(prog, None, 0)
        self._ptr = ptr
        self._buf = buf
        self._progs = progs
        self._maps = maps
        try:
            if self._sections is not None:
                self._sections.on_loaded()
            for hook in self.after_load:
                hook()
        except BaseException:
            self.close()
            raise

    def _collect_programs(self, lb: Any, ptr: int) -> tuple[dict[str, int], dict[str, Any]]:
        progs: dict[str, int] = {}
        logs: dict[str, Any] = {}
        prog = lb.bpf_object__next_program(ptr, None)
        while prog:
            name = lb.bpf_program__name(prog).decode()
            progs[name] = prog
            logs[name] = log = ctypes.create_string_buffer(VERIFIER_LOG_SIZE)
            lb.bpf_program__set_log_buf(prog, log, VERIFIER_LOG_SIZE)
            prog = lb.bpf_object__next_program(ptr, prog)
        return progs, logs

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

    @staticmethod
    def _failed_program(logs: dict[str, Any]) -> str | None:
        """The program whose load failed: the one the verifier wrote a log for (if any)."""
        for name, log in logs.items():
            if log.value:
                return name
        return None

    def _failed_from_log(self) -> str | None:
        """The program libbpf's log names as failed (no verifier log: e.g. a refused type)."""
        import re

        m = re.search(_FAILED_PROG, self.libbpf_log)
        return m.group(1) if m else None

    # ---- access for handles ----------------------------------------------------

    def program_ptr(self, name: str) -> int:
        # under the lock: a close() in another thread between load() and the lookup
        # would otherwise report a program that exists as missing
        with self._lock:
            self.check_current(name)
            self.load()
            ptr = self._progs.get(name)
        if ptr is None:
            raise BpfError(f"BPF object '{self.name}' has no program '{name}'")
        return ptr

    def program_fd(self, name: str) -> int:
        from . import libbpf as L

        return L.lib().bpf_program__fd(self.program_ptr(name))

    def map_ptr(self, name: str) -> int:
        with self._lock:  # as in program_ptr
            self.check_current(name)
            self.load()
            ptr = self._maps.get(name)
        if ptr is None:
            raise BpfError(f"BPF object '{self.name}' has no map '{name}'")
        return ptr

    def map_fd(self, name: str) -> int:
        from . import libbpf as L

        return L.lib().bpf_map__fd(self.map_ptr(name))

    def add_link(self, link: Link) -> None:
        self._links[id(link)] = link

    def forget_link(self, link: Link) -> None:
        self._links.pop(id(link), None)

    def add_resource(self, res: Closable) -> None:
        """Something (a ring buffer, an mmap) to close before the object itself."""
        self._resources.append(res)

    # ---- close -------------------------------------------------------------------

    def _close_locked(self) -> None:
        """BpfObject.close() once it holds the lock and knows there is something to free."""
        errors: list[BaseException] = []
        for link in list(self._links.values()):
            try:
                link.detach()
            except BaseException as e:  # noqa: BLE001 - keep closing the rest
                errors.append(e)
        self._links.clear()
        resources, self._resources = self._resources, []
        for res in reversed(resources):
            try:
                res.close()
            except BaseException as e:  # noqa: BLE001
                errors.append(e)
        if self._sections is not None:
            self._sections.on_closed()
        ptr, self._ptr = self._ptr, None
        self._progs = {}
        self._maps = {}
        self._buf = None
        if ptr is not None:
            from . import libbpf as L

            L.lib().bpf_object__close(ptr)
        if errors:
            raise errors[0]


install_cold_half(BpfObject, _BpfObjectColdHalf)

__all__ = ["BTF_LOG_SIZE", "VERIFIER_LOG_SIZE", "BpfObject"]
