"""perf_event programs: ``prog.attach(sample_freq=49)`` samples on every online CPU.

A ``@perf_event`` program runs when a perf event overflows: here one sampling
event per online CPU (``perf_event_open`` with ``pid=-1, cpu=N``), the
software CPU clock unless another event is asked for, each attached with
``bpf_program__attach_perf_event``.  The links are handed back as one
:class:`~bpfimport.runtime.link.LinkGroup`: detaching it (or closing the
module) destroys every link, and libbpf closes each perf event's fd with its
link.  A failure part-way closes what was opened so far.

``perf_event_open`` is called through libc's ``syscall()``: libbpf 1.1 has no
wrapper for it, and the attribute struct is small and stable (its ``size``
field lets the kernel accept an older layout; this one is
``PERF_ATTR_SIZE_VER5``).
"""

from __future__ import annotations

import ctypes
import errno as E
import os

from ..errors import BpfError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .link import LinkGroup
    from .object import BpfObject

_PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241, "riscv64": 241, "ppc64le": 319, "s390x": 331}
PERF_TYPE_HARDWARE = 0
PERF_TYPE_SOFTWARE = 1
PERF_FLAG_FD_CLOEXEC = 1 << 3
_DISABLED = 1 << 0  # attr flag bits: start disabled (libbpf enables it once the program is set)
_INHERIT = 1 << 1  # follow the threads and children the task starts afterwards
_FREQ = 1 << 10  # sample_freq instead of sample_period
ONLINE_CPUS = "/sys/devices/system/cpu/online"

# perf's event names -> (perf type, config): the software ones every kernel has, and the
# generic hardware ones (absent in most virtual machines: opening them gives ENOENT)
EVENTS: dict[str, tuple[int, int]] = {
    "cpu-clock": (PERF_TYPE_SOFTWARE, 0),
    "task-clock": (PERF_TYPE_SOFTWARE, 1),
    "page-faults": (PERF_TYPE_SOFTWARE, 2),
    "context-switches": (PERF_TYPE_SOFTWARE, 3),
    "cpu-migrations": (PERF_TYPE_SOFTWARE, 4),
    "minor-faults": (PERF_TYPE_SOFTWARE, 5),
    "major-faults": (PERF_TYPE_SOFTWARE, 6),
    "cpu-cycles": (PERF_TYPE_HARDWARE, 0),
    "cycles": (PERF_TYPE_HARDWARE, 0),
    "instructions": (PERF_TYPE_HARDWARE, 1),
    "cache-references": (PERF_TYPE_HARDWARE, 2),
    "cache-misses": (PERF_TYPE_HARDWARE, 3),
    "branch-instructions": (PERF_TYPE_HARDWARE, 4),
    "branch-misses": (PERF_TYPE_HARDWARE, 5),
    "bus-cycles": (PERF_TYPE_HARDWARE, 6),
    "ref-cycles": (PERF_TYPE_HARDWARE, 9),
}


class PerfEventAttr(ctypes.Structure):
    """``struct perf_event_attr`` up to ``sample_max_stack`` (PERF_ATTR_SIZE_VER5, 112 bytes)."""

    _fields_ = [
        ("type", ctypes.c_uint32),
        ("size", ctypes.c_uint32),
        ("config", ctypes.c_uint64),
        ("sample_period_or_freq", ctypes.c_uint64),
        ("sample_type", ctypes.c_uint64),
        ("read_format", ctypes.c_uint64),
        ("flags", ctypes.c_uint64),
        ("wakeup_events", ctypes.c_uint32),
        ("bp_type", ctypes.c_uint32),
        ("config1", ctypes.c_uint64),
        ("config2", ctypes.c_uint64),
        ("branch_sample_type", ctypes.c_uint64),
        ("sample_regs_user", ctypes.c_uint64),
        ("sample_stack_user", ctypes.c_uint32),
        ("clockid", ctypes.c_int32),
        ("sample_regs_intr", ctypes.c_uint64),
        ("aux_watermark", ctypes.c_uint32),
        ("sample_max_stack", ctypes.c_uint16),
        ("reserved_2", ctypes.c_uint16),
    ]


def online_cpus(path: str = ONLINE_CPUS) -> list[int]:
    """The online CPUs, from the kernel's list (``0-3,6,8-9``)."""
    with open(path, encoding="ascii") as f:
        text = f.read().strip()
    cpus: list[int] = []
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


def event_config(event: str | tuple[int, int]) -> tuple[int, int]:
    """(perf type, config) of an event name of :data:`EVENTS`, or a (type, config) pair as is."""
    if isinstance(event, tuple) and len(event) == 2 and all(isinstance(x, int) for x in event):
        return event
    if isinstance(event, str) and event in EVENTS:
        return EVENTS[event]
    raise ValueError(f"unknown perf event {event!r}: use one of {', '.join(EVENTS)}, "
                     f"or a (type, config) pair of perf_event_open(2)")


def _positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def make_attr(event: str | tuple[int, int], sample_freq: int | None,
              sample_period: int | None, inherit: bool = False) -> PerfEventAttr:
    """The attribute of one sampling event: every ``sample_period`` events, or
    ``sample_freq`` times a second (the kernel adjusts the period to hit it)."""
    if (sample_freq is None) == (sample_period is None):
        raise ValueError("a perf_event program samples either sample_freq times a second or "
                         "every sample_period events: give exactly one, e.g. "
                         "prog.attach(sample_freq=49)")
    ptype, config = event_config(event)
    attr = PerfEventAttr(type=ptype, size=ctypes.sizeof(PerfEventAttr), config=config,
                         flags=_DISABLED | (_INHERIT if inherit else 0))
    if sample_freq is not None:
        attr.sample_period_or_freq = _positive("sample_freq", sample_freq)
        attr.flags |= _FREQ
    else:
        attr.sample_period_or_freq = _positive("sample_period", sample_period)
    return attr


_MACHINE = os.uname().machine
_syscall = ctypes.CDLL(None, use_errno=True).syscall  # libc's (no wrapper in libbpf 1.1)


def perf_event_open(attr: PerfEventAttr, pid: int, cpu: int) -> int:
    """A perf event's fd (close-on-exec), or OSError with the kernel's errno."""
    nr = _PERF_EVENT_OPEN.get(_MACHINE)
    if nr is None:
        raise BpfError(f"perf_event_open: unknown system call number on {_MACHINE}")
    fd = _syscall(nr, ctypes.byref(attr), pid, cpu, -1, PERF_FLAG_FD_CLOEXEC)
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return int(fd)


def open_error(program: str, event: str | tuple[int, int], cpu: int, err: int) -> BpfError:
    """Why perf_event_open failed, with the fix where one is known."""
    what = f"cannot open perf event {event!r} on CPU {cpu} for program '{program}'"
    if err == E.ENOENT:
        hint = ("this machine does not count that event (hardware events are often missing in "
                "virtual machines); the software 'cpu-clock' always exists")
    elif err in (E.EACCES, E.EPERM):
        hint = "needs root (or CAP_PERFMON, or a lower kernel.perf_event_paranoid)"
    elif err == E.EINVAL:
        hint = ("the kernel refused the attributes: is sample_freq above "
                "kernel.perf_event_max_sample_rate?")
    elif err == E.ESRCH:
        hint = "no such process (pid)"
    elif err == E.ENODEV:
        hint = "no such CPU"
    else:
        hint = os.strerror(err)
    return BpfError(f"{what}: {hint}", err)


def attach_perf_event(obj: BpfObject, name: str, section: str, prog_type: str,
                      sample_freq: int | None = None,
                      sample_period: int | None = None,
                      event: str | tuple[int, int] = "cpu-clock", pid: int = -1,
                      cpu: int | None = None) -> LinkGroup:
    """Attach program ``name`` of ``obj`` to one sampling event per online CPU (or on ``cpu`` only), counting
    every task or only ``pid``'s; one :class:`LinkGroup` holds them all.

    ``pid`` is a task as ``perf_event_open`` takes it: a process's pid is its main
    thread, and the events are inherited by the threads and children it starts after
    the attach (threads running already are not followed: attach before starting them).
    """
    from . import errors as rterrors
    from . import libbpf as L
    from .link import LinkGroup

    if prog_type != "perf_event":
        raise TypeError(f"sample_freq/sample_period attach @perf_event programs; "
                        f"'{name}' is a {prog_type} program")
    if isinstance(pid, bool) or not isinstance(pid, int) or pid < -1:
        raise ValueError(f"pid must be a process id, or -1 for every process; got {pid!r}")
    attr = make_attr(event, sample_freq, sample_period, inherit=pid != -1)
    cpus = online_cpus()
    if cpu is not None:
        if isinstance(cpu, bool) or not isinstance(cpu, int) or cpu not in cpus:
            raise ValueError(f"cpu must be an online CPU ({', '.join(map(str, cpus))}), "
                             f"got {cpu!r}")
        cpus = [cpu]
    ptrs: list[int] = []
    try:
        with obj._lock, obj.using(name) as live, L.capture() as lines:
            prog_ptr = live.program_ptr(name)
            for c in cpus:
                try:
                    pfd = perf_event_open(attr, pid, c)
                except OSError as e:
                    raise open_error(name, event, c, e.errno or 0) from None
                link = L.lib().bpf_program__attach_perf_event(prog_ptr, pfd)
                if not link:
                    err = L.last_errno()
                    os.close(pfd)
                    raise rterrors.attach_error(name, section, err,
                                                L.log_text(lines, L.LIBBPF_WARN))
                ptrs.append(link)
            group = LinkGroup(obj, ptrs, name)
            obj.add_link(group)
            return group
    except BaseException:
        for link in ptrs:
            L.lib().bpf_link__destroy(link)
        raise


__all__ = ["EVENTS", "PerfEventAttr", "attach_perf_event", "event_config", "make_attr",
           "online_cpus", "perf_event_open"]
