"""Probes opened before their program is loaded: ``prepare_uprobe()`` / ``prepare_kprobe()``,
then ``attach(probe=)``.

Why: the kernel's first uprobe registration on a file sleeps ~10-15 ms (``uprobe_register``
takes ``dup_mmap_sem`` for writing, which waits for an RCU grace period), and a tool that
compiles or loads its program first, then attaches, waits for both one after the other.
The uprobe's perf event needs no program: it is a file, an offset and a process.  So
:func:`prepare_uprobe` finds the function's file offset (:func:`bpfimport.elf.func_offset`,
libbpf 1.1's rules) and opens the event in a background thread (the ``syscall()`` through
ctypes releases the GIL) while the caller goes on loading; ``prog.attach(probe=p)`` then
hands the ready event to libbpf (``bpf_program__attach_perf_event``), which takes 0.1 ms.
A kprobe's event is a kernel function's name: :func:`prepare_kprobe` opens it the same way,
and one pair of programs serves both (uprobe and kprobe programs are one BPF program type:
a tool that traces either compiles one pair, not two).

The events are opened as libbpf 1.1 opens them (``perf_event_open_probe``): the ``uprobe``
or ``kprobe`` PMU's type, the ``retprobe`` bit its format names, ``config1`` the path (the
function's name for a kprobe), ``config2`` the offset (0 for a kprobe: its entry); for
``pid == -1`` every process on CPU 0's list (``pid -1, cpu 0``: a probe fires on any CPU),
else that process on any CPU; close-on-exec.

Whenever something is not as expected (a name not found, an offset the reader cannot
tell, no such PMU, the open failing), the probe has no event and ``attach(probe=p)``
attaches through libbpf exactly as ``attach(binary=, symbol=, pid=)`` (or, for a kprobe,
``bpf_program__attach_kprobe``) would, so libbpf stays the reference and its error message
is the one the user sees.  Part of the runtime: no compiler import; ctypes is imported when
an event is about to be opened (by the caller, so that the thread only makes the system call).
"""

from __future__ import annotations

import _thread
import os

TYPE_CHECKING = False  # not typing's (milliseconds of a tool's start)
if TYPE_CHECKING:
    from typing import Any

UPROBE_PMU = "/sys/bus/event_source/devices/uprobe"
KPROBE_PMU = "/sys/bus/event_source/devices/kprobe"

_pmus: dict[str, tuple[int, int] | None] = {}  # PMU folder -> what probe_pmu() read there

# The opens running now (their ``_done`` locks), and the process that started them.
_opening: set[Any] = set()
_opening_pid: int | None = None


def _track_open(done: Any) -> None:
    """Remember an open about to start, so that the interpreter's exit waits for it.

    A process that exits while a thread is inside ``perf_event_open`` kills that thread in
    the kernel's uprobe registration, which then cannot undo itself: the kernel logs
    "failed to unregister, leaking uprobe" and keeps the uprobe for good.  That happens
    to a program that prepares a probe and ends (an exception, say) before the open is
    done: the wait is the kernel's grace period, tens of milliseconds at most.
    """
    global _opening_pid
    if _opening_pid != os.getpid():  # the first open here, or in a forked child
        if _opening_pid is None:
            import atexit

            atexit.register(_wait_for_opens)
        _opening.clear()  # a parent's opens: their threads are not in this process
        _opening_pid = os.getpid()
    _opening.add(done)


def _wait_for_opens() -> None:
    """At exit: wait until no open of this process is running (see :func:`_track_open`)."""
    if _opening_pid != os.getpid():
        return
    for done in list(_opening):
        with done:
            pass


def probe_pmu(root: str) -> tuple[int, int] | None:
    """(perf type, retprobe bit) of the probe PMU at ``root`` (:data:`UPROBE_PMU`,
    :data:`KPROBE_PMU`), or None without one (then libbpf would make a legacy tracefs
    event: that case is left to it).  The kernel's folders are read once."""
    if root in _pmus:
        return _pmus[root]
    try:
        # read as bytes: a text file's codec import costs a tool's start ~0.2 ms
        with open(os.path.join(root, "type"), "rb") as f:
            ptype = int(f.read())
        with open(os.path.join(root, "format", "retprobe"), "rb") as f:
            field, _, bit = f.read().strip().partition(b":")  # "config:0"
        found: tuple[int, int] | None = (ptype, int(bit)) if field == b"config" else None
    except (OSError, ValueError):
        found = None
    if root in (UPROBE_PMU, KPROBE_PMU):
        _pmus[root] = found
    return found


def uprobe_pmu(root: str = UPROBE_PMU) -> tuple[int, int] | None:
    """:func:`probe_pmu` of the ``uprobe`` PMU."""
    return probe_pmu(root)


def kprobe_pmu(root: str = KPROBE_PMU) -> tuple[int, int] | None:
    """:func:`probe_pmu` of the ``kprobe`` PMU (absent where the kernel has no kprobes)."""
    return probe_pmu(root)


class PreparedProbe:
    """A uprobe's or kprobe's perf event (or a return probe's), being opened (or open) before
    its program is loaded.  ``kernel``: a kprobe on the kernel function ``symbol`` (``binary``
    is then "").

    ``prog.attach(probe=p)`` attaches a loaded kprobe/uprobe-type program to it and the
    returned link owns the event (detaching closes it); one probe serves one attach.
    ``close()`` closes an event never attached (it waits for the open to finish first);
    closing after the attach does nothing.  ``fd`` is the event's fd once opened, None
    when there is none (``error`` then says why, as an errno, when the open failed).
    """

    __slots__ = ("binary", "symbol", "retprobe", "pid", "path", "offset", "kernel", "error",
                 "_fd", "_done", "_lock", "_path_bytes", "__weakref__")

    def __init__(self, binary: str, symbol: str, retprobe: bool, pid: int,
                 path: str | None = None, offset: int | None = None, *,
                 kernel: bool = False) -> None:
        self.binary, self.symbol, self.retprobe, self.pid = binary, symbol, retprobe, pid
        self.path, self.offset = path, offset  # the file and offset of the event, if any
        self.kernel = kernel
        self.error: int | None = None
        self._fd: int | None = None
        self._lock = _thread.allocate_lock()
        self._done = _thread.allocate_lock()  # held while the open runs
        self._path_bytes = b""
        if kernel and offset is not None:
            self._path_bytes = symbol.encode()  # config1: the kernel function's name
        elif path is not None and offset is not None:
            self._path_bytes = os.fsencode(path)  # config1 points at it: it must outlive the call
        if self._path_bytes:
            self._done.acquire()
            try:
                _track_open(self._done)
                _thread.start_new_thread(self._open, self._open_call())
            except BaseException as e:  # no event (the attach goes through libbpf)
                self.error = 0
                _opening.discard(self._done)
                self._done.release()
                if not isinstance(e, Exception):
                    raise  # Ctrl-C: nothing is left waiting for an open that never started

    def _open_call(self) -> tuple[object, ...]:
        """The ``perf_event_open`` call's arguments, made here, in the caller's thread.

        The thread then only makes the system call: importing ctypes and the attribute's
        struct there took it 3-10 ms before the kernel's ~10-15 ms wait could begin, as
        it competed for the GIL with the caller's import and load (which need ctypes next
        anyway).
        """
        import ctypes

        from .perf import PerfEventAttr, perf_event_open

        pmu = kprobe_pmu() if self.kernel else uprobe_pmu()
        assert pmu is not None and self.offset is not None
        path = ctypes.create_string_buffer(self._path_bytes)  # config1: kept alive with attr
        attr = PerfEventAttr(type=pmu[0], size=ctypes.sizeof(PerfEventAttr),
                             config=(1 << pmu[1]) if self.retprobe else 0,
                             config1=ctypes.addressof(path), config2=self.offset)
        pid, cpu = (-1, 0) if self.pid == -1 else (self.pid, -1)
        return perf_event_open, attr, path, pid, cpu

    def _open(self, *call: Any) -> None:
        """The background thread: open the event, keep the fd or the errno."""
        try:
            perf_event_open, attr, _path, pid, cpu = call
            fd = perf_event_open(attr, pid, cpu)
            with self._lock:
                self._fd = fd
        except OSError as e:
            self.error = e.errno or 0
        except BaseException:  # anything else: no event, and the attach goes through libbpf
            self.error = 0
        finally:
            _opening.discard(self._done)
            self._done.release()

    def wait(self) -> None:
        """Wait until the background open has finished (at once when there is none)."""
        with self._done:
            pass

    @property
    def fd(self) -> int | None:
        self.wait()
        with self._lock:
            return self._fd

    def take(self) -> int | None:
        """The event's fd, which the caller now owns (None when there is none, or when it
        was taken or closed already): what ``attach(probe=)`` does with it."""
        self.wait()
        with self._lock:
            fd, self._fd = self._fd, None
        return fd

    def close(self) -> None:
        """Close the event if it was never attached. Idempotent."""
        fd = self.take()
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> PreparedProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # an unattached event dropped without close(): close it, unless the open still runs
        # (never wait in a finalizer)
        try:
            if self._done.acquire(False):
                self._done.release()
                with self._lock:
                    fd, self._fd = self._fd, None
                if fd is not None:
                    os.close(fd)
        except (AttributeError, OSError):
            pass

    @property
    def kind(self) -> str:
        """"uprobe", "uretprobe", "kprobe" or "kretprobe"."""
        return ("k" if self.kernel else "u") + ("retprobe" if self.retprobe else "probe")

    def __repr__(self) -> str:
        if self.kernel:
            where = "perf event" if self.offset is not None else "via libbpf"
            return f"<PreparedProbe {self.kind} {self.symbol} ({where})>"
        where = f"{self.path}+{self.offset:#x}" if self.offset is not None else "via libbpf"
        return f"<PreparedProbe {self.kind} {self.binary}:{self.symbol} ({where}) pid={self.pid}>"


def prepare_uprobe(binary: str, symbol: str, *, retprobe: bool = False,
                   pid: int = -1) -> PreparedProbe:
    """Start opening a uprobe (``retprobe=True``: a uretprobe) on ``symbol`` of ``binary``.

    ``binary`` is a path or a bare name found as ``attach(binary=)`` finds it
    (:func:`~bpfimport.runtime.libpath.resolve_binary`); ``pid`` limits the probe to one
    process (-1: every process).  It returns at once; the event opens in a background
    thread while the caller loads its module, and ``prog.attach(probe=p)`` attaches the
    loaded program to it.  When the function's offset cannot be told here (see
    :func:`bpfimport.elf.func_offset`) or the open fails, the probe still works: the attach
    goes through libbpf as ``attach(binary=, symbol=, pid=)`` does, and raises its error.
    """
    from ..elf import func_offset
    from . import libpath

    if not isinstance(binary, str) or not isinstance(symbol, str):
        raise TypeError("prepare_uprobe(binary, symbol) takes the binary and the function "
                        "as strings")
    if isinstance(pid, bool) or not isinstance(pid, int):
        raise TypeError(f"pid must be a process id, or -1 for every process; got {pid!r}")
    path = offset = None
    if pid >= -1 and uprobe_pmu() is not None:
        try:
            path = libpath.resolve_binary(binary)
        except libpath.NotFound:
            path = None  # the attach says so, through libbpf's path
        offset = func_offset(path, symbol) if path is not None else None
    return PreparedProbe(binary, symbol, bool(retprobe), pid, path, offset)


def prepare_kprobe(function: str, *, retprobe: bool = False) -> PreparedProbe:
    """Start opening a kprobe (``retprobe=True``: a kretprobe) on the kernel function ``function``.

    As :func:`prepare_uprobe`: it returns at once, the event opens in a background thread,
    and ``prog.attach(probe=p)`` attaches a loaded uprobe- or kprobe-type program to it.
    Without a ``kprobe`` PMU (a kernel without kprobes) or when the open fails, the attach
    goes through libbpf's ``bpf_program__attach_kprobe``, and raises its error.
    """
    if not isinstance(function, str) or not function:
        raise TypeError(f"prepare_kprobe(function) takes the kernel function's name; got {function!r}")
    opened = kprobe_pmu() is not None and "\0" not in function
    return PreparedProbe("", function, bool(retprobe), -1, None, 0 if opened else None, kernel=True)


__all__ = ["KPROBE_PMU", "UPROBE_PMU", "PreparedProbe", "kprobe_pmu", "prepare_kprobe",
           "prepare_uprobe", "probe_pmu", "uprobe_pmu"]
