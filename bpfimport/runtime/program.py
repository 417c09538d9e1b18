"""Program handles: name, section and type without the kernel; attach and test_run with it.

Imported on the first use of a module's handle, not by a cache-hit import
(see :mod:`.module`); libbpf and ctypes only when a program touches the kernel.
"""

from __future__ import annotations

import errno as E
import os

from ..errors import BpfError
from ._lazy import ctypes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..spec import ProgramSpec
    from .link import Link
    from .object import BpfObject
    from .probes import PreparedProbe

# Section prefix -> libbpf's program type name (libbpf_bpf_prog_type_str), so
# `.type` needs neither libbpf nor the kernel for the common sections.
_SECTION_TYPES = {
    "socket": "socket_filter",
    "kprobe": "kprobe", "kretprobe": "kprobe", "uprobe": "kprobe", "uretprobe": "kprobe",
    "uprobe.s": "kprobe", "uretprobe.s": "kprobe", "ksyscall": "kprobe",
    "kretsyscall": "kprobe", "usdt": "kprobe", "kprobe.multi": "kprobe",
    "kretprobe.multi": "kprobe",
    "tc": "sched_cls", "classifier": "sched_cls", "action": "sched_act",
    "tracepoint": "tracepoint", "tp": "tracepoint",
    "raw_tracepoint": "raw_tracepoint", "raw_tp": "raw_tracepoint",
    "raw_tracepoint.w": "raw_tracepoint_writable", "raw_tp.w": "raw_tracepoint_writable",
    "tp_btf": "tracing", "fentry": "tracing", "fexit": "tracing", "fmod_ret": "tracing",
    "fentry.s": "tracing", "fexit.s": "tracing", "fmod_ret.s": "tracing", "iter": "tracing",
    "iter.s": "tracing", "freplace": "ext",
    "lsm": "lsm", "lsm.s": "lsm", "lsm_cgroup": "lsm",
    "xdp": "xdp", "xdp.frags": "xdp",
    "perf_event": "perf_event",
    "cgroup_skb": "cgroup_skb",
    "syscall": "syscall",
    "sk_skb": "sk_skb", "sk_msg": "sk_msg", "sockops": "sock_ops",
    "flow_dissector": "flow_dissector", "sk_lookup": "sk_lookup",
    "lwt_in": "lwt_in", "lwt_out": "lwt_out", "lwt_xmit": "lwt_xmit",
    "lwt_seg6local": "lwt_seg6local", "struct_ops": "struct_ops",
    "netfilter": "netfilter",
}

# Types whose BPF_PROG_TEST_RUN runs once and refuses repeat/duration/data, and
# ctx_out too (the same kernel code path: bpf_prog_test_run_raw_tp/_syscall/_tracing).
_RUN_ONCE = {"raw_tracepoint", "raw_tracepoint_writable", "syscall", "tracing"}
# Types whose test run writes the context back into ctx_in (no ctx_out allowed).
_CTX_IN_PLACE = {"syscall"}
_XDP_HEADROOM = 256


# program type -> which packet attach it uses; cgroup types (_is_cgroup) take cgroup=
_NET_ATTACH = {"xdp": "xdp", "sched_cls": "tc", "socket_filter": "socket"}
_NET_ARGS = {"xdp": {"ifname=", "ifindex=", "mode="}, "tc": {"ifname=", "ifindex=", "direction=", "tcx="},
             "socket": {"a socket"}, "cgroup": {"cgroup="}}
_NET_TAKES = {"xdp": "ifname= or ifindex=, and mode='skb'|'drv'|'hw'",
              "tc": "ifname= or ifindex=, direction='ingress'|'egress' and tcx=True|False",
              "socket": "a socket object or fd: attach(sock)",
              "cgroup": "cgroup= (a cgroup v2 folder or its fd)"}


def _is_cgroup(ptype: str) -> bool:
    """Program types attached to a cgroup (cgroup_skb, cgroup_sock, ..., sock_ops)."""
    return ptype.startswith("cgroup") or ptype == "sock_ops"


def section_type(section: str) -> str | None:
    """libbpf's program type name for a section, from the section's first component
    (``cgroup/HOOK``: from the hook, for the hooks of ``bpfimport.kinds``)."""
    head, _, rest = section.partition("/")
    if head == "cgroup":
        from ..kinds import PROGRAM_KINDS

        return next((k.prog_type for k in PROGRAM_KINDS.values() if rest in k.hooks), None)
    if head.startswith("cgroup") and head != "cgroup_skb":
        return None  # another cgroup section; ask libbpf
    return _SECTION_TYPES.get(head)


# uprobe section prefixes -> whether the probe fires at function return
_UPROBES = {"uprobe": False, "uretprobe": True, "uprobe.s": False, "uretprobe.s": True}


def uprobe_target(section: str) -> tuple[str, str, int, bool] | None:
    """(binary, function, offset, at return) of a uprobe section whose binary is a bare name.

    Such a section (``uprobe/libc.so.6:getenv``) is attached here rather than by libbpf,
    whose search for the name misses multiarch library folders (see :mod:`.libpath`); a
    section naming a path (``uprobe//usr/bin/bash:readline``) is libbpf's, as written.
    """
    target = uprobe_parts(section)
    if target is None or not target[0] or "/" in target[0]:
        return None
    return target


def uprobe_parts(section: str) -> tuple[str, str, int, bool] | None:
    """(binary, function, offset, at return) of any uprobe section, path or bare name.

    A section without a target (``uprobe``) gives empty binary and function: an
    ``attach(binary=..., symbol=...)`` says where.  None for other sections.
    """
    kind, _, rest = section.partition("/")
    if kind not in _UPROBES:
        return None
    if ":" not in rest:
        return ("", "", 0, _UPROBES[kind]) if not rest else None
    binary, _, where = rest.partition(":")
    func, _, offset = where.partition("+")
    try:  # as C's %li reads it: 0x hex, 0-prefixed octal, or decimal
        if offset[:2].lower() == "0x":
            off = int(offset, 16)
        else:
            off = int(offset, 8 if offset.startswith("0") else 10) if offset else 0
    except ValueError:
        return None  # leave anything unusual to libbpf and its message
    return binary, func, off, _UPROBES[kind]


class TestRunResult:
    """What one BPF_PROG_TEST_RUN gave back.

    ``retval`` is the program's return value (as a signed 32-bit int), ``data``
    the output packet (None without input data), ``ctx`` the output context (same
    type as the input ctx: bytes or the ctypes instance's class), ``duration_ns``
    the kernel's average run time per repetition (0 for run-once types).
    """

    __test__ = False  # not a pytest class, despite the name
    __slots__ = ("retval", "data", "ctx", "duration_ns")

    def __init__(self, retval: int, data: bytes | None, ctx: Any, duration_ns: int) -> None:
        self.retval = retval
        self.data = data
        self.ctx = ctx
        self.duration_ns = duration_ns

    def __repr__(self) -> str:
        return (f"TestRunResult(retval={self.retval}, data={self.data!r}, ctx={self.ctx!r}, "
                f"duration_ns={self.duration_ns})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TestRunResult):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]


def _check_test_run_args(data: Any, ctx: Any, repeat: Any, data_size_out: Any) -> None:
    """Say what to pass before ``bytes()`` or ctypes give an error about their own internals."""
    if data is not None and not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"test_run(data=...) takes the packet as bytes, got {type(data).__name__}")
    if ctx is not None and not isinstance(ctx, (bytes, bytearray, memoryview, ctypes.Structure,
                                                ctypes.Array, ctypes.Union)):
        raise TypeError(f"test_run(ctx=...) takes bytes or a ctypes instance (a Structure, or "
                        f"(c_uint64 * N)(...) for raw tracepoints), got {type(ctx).__name__}")
    for name, v in (("repeat", repeat), ("data_size_out", data_size_out)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise TypeError(f"test_run({name}=...) takes a non-negative int, got {v!r}")


class Program:
    """A program of the module (``skel.NAME``): ``.name .section .type``, ``attach()``, ``test_run()``."""

    __slots__ = ("_obj", "spec", "_type")

    def __init__(self, obj: BpfObject, spec: ProgramSpec) -> None:
        self._obj = obj
        self.spec = spec
        self._type: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def section(self) -> str:
        return self.spec.section

    @property
    def fd(self) -> int:
        """The program's fd (loads the module's object on first use)."""
        return self._obj.program_fd(self.spec.name)

    def __repr__(self) -> str:
        return f"<Program {self.name!r} section={self.section!r}>"

    @property
    def type(self) -> str:
        """libbpf's program type name (``tracepoint``, ``xdp``, ``syscall``, ...)."""
        if self._type is None:
            t = section_type(self.spec.section)
            if t is None:
                from . import libbpf as L

                with self._obj.using(self.name, load=False) as live:
                    if live is not None:
                        tid = L.lib().bpf_program__type(live.program_ptr(self.name))
                    else:
                        tid = L.prog_type_by_section(self.spec.section)
                t = L.prog_type_str(tid) if tid is not None else None
            self._type = t or "unspec"
        return self._type

    def attach(self, target: Any = None, *, ifname: str | None = None,
               ifindex: int | None = None, mode: str | None = None,
               direction: str | None = None, cgroup: Any = None, tcx: bool = False,
               sample_freq: int | None = None, sample_period: int | None = None,
               event: str | tuple[int, int] = "cpu-clock", pid: int = -1,
               cpu: int | None = None, binary: str | None = None,
               symbol: str | None = None, probe: PreparedProbe | None = None) -> Link:
        """Attach where the section says (tracepoint, raw_tracepoint, kprobe, uprobe, ...).

        Loads the module's object first if needed.  The link stays attached
        until ``detach()`` or the module's ``close()``.

        A uprobe or uretprobe program may be attached elsewhere than its section
        says, chosen at run time (a tool's ``LIB:FUNC`` argument): ``binary=`` (a
        path, or a bare name found as for sections) and ``symbol=`` replace the
        section's, and ``pid=`` limits it to one process.  A kprobe or kretprobe
        takes ``symbol=``, the kernel function.

        ``probe=`` takes a uprobe or kprobe opened before the module was loaded
        (:func:`~bpfimport.runtime.probes.prepare_uprobe`, which overlaps the kernel's
        slow first uprobe registration with the load, or
        :func:`~bpfimport.runtime.probes.prepare_kprobe`) and attaches this
        kprobe/uprobe-type program to it (either kind of probe: they are one program type);
        the link owns the probe's perf event from then on.

        A ``@perf_event`` program samples instead: ``sample_freq=49`` times a
        second or every ``sample_period`` events of ``event`` (the software
        CPU clock by default; perf's names such as ``"cpu-cycles"`` or a
        ``(type, config)`` pair), on every online CPU or only on ``cpu``, for
        every process or only ``pid``.  It returns one link for all the CPUs
        (a :class:`~bpfimport.runtime.link.LinkGroup`).

        Packet programs attach where they are told (:mod:`.netattach`): ``@xdp`` to
        ``ifname="eth0"`` (or ``ifindex=``) with ``mode="skb"``, ``"drv"`` or ``"hw"``
        (default: the kernel chooses); ``@tc`` to an interface's ``direction="ingress"``
        (default) or ``"egress"``, as a clsact filter or with ``tcx=True`` a tcx link
        (Linux >= 6.6); ``@socket_filter`` to ``target``, a socket object or
        fd; ``@cgroup_skb(...)`` and other cgroup programs to ``cgroup=``, a cgroup v2
        folder (path or fd).
        """
        from . import libbpf as L
        from .link import Link

        if probe is not None:
            others = (target, ifname, ifindex, mode, direction, cgroup, sample_freq,
                      sample_period, cpu, binary, symbol)
            if any(v is not None for v in others) or tcx or pid != -1 or event != "cpu-clock":
                raise TypeError("attach(probe=...) takes no other argument: the prepared probe "
                                "says where, and pid= goes to prepare_uprobe()")
            return self._attach_prepared(probe)
        net = (target, ifname, ifindex, mode, direction, cgroup)
        if any(v is not None for v in net) or tcx or self.type in _NET_ATTACH or _is_cgroup(self.type):
            return self._attach_packet(target, ifname, ifindex, mode, direction, cgroup, tcx)
        if sample_freq is not None or sample_period is not None or self.type == "perf_event":
            from .perf import attach_perf_event

            return attach_perf_event(self._obj, self.name, self.section, self.type, sample_freq,
                                     sample_period, event, pid, cpu)
        if binary is not None or symbol is not None or (pid != -1 and self.type == "kprobe"):
            if event == "cpu-clock" and cpu is None:
                return self._attach_probe(binary, symbol, pid)
        if event != "cpu-clock" or pid != -1 or cpu is not None:
            raise TypeError(f"event=, pid= and cpu= choose what a @perf_event program samples; "
                            f"'{self.name}' is a {self.type} program")

        # Under the object's lock: a close() in another thread waits for the attach, then
        # detaches the new link with the others (it cannot outlive the close).
        target = uprobe_target(self.spec.section)
        binary = None
        if target is not None:  # a bare library name: found as the dynamic loader would
            from . import libpath

            try:
                binary = libpath.resolve_binary(target[0])
            except libpath.NotFound as e:
                raise BpfError(f"cannot attach program '{self.name}' to {self.section}: {e}",
                               E.ENOENT) from None
        with self._obj._lock, self._obj.using(self.name) as live, L.capture() as lines:
            prog = live.program_ptr(self.name)
            if target is not None and binary is not None:
                opts = L.UprobeOpts(sz=ctypes.sizeof(L.UprobeOpts), retprobe=target[3],
                                    func_name=target[1].encode())
                link = L.lib().bpf_program__attach_uprobe_opts(prog, -1, os.fsencode(binary),
                                                               target[2], ctypes.byref(opts))
            else:
                link = L.lib().bpf_program__attach(prog)
            err = L.last_errno() if not link else 0
            if link:
                handle = Link(self._obj, link, self.name)
                self._obj.add_link(handle)
                return handle
        from . import errors as rterrors

        raise rterrors.attach_error(self.name, self.section, err, L.log_text(lines, L.LIBBPF_WARN))

    def _attach_packet(self, target: Any, ifname: str | None, ifindex: int | None,
                       mode: str | None, direction: str | None, cgroup: Any,
                       tcx: bool = False) -> Link:
        """``attach()`` of a packet or cgroup program: check that the arguments fit its type."""
        from . import netattach

        ptype = self.type
        kind = "cgroup" if _is_cgroup(ptype) else _NET_ATTACH.get(ptype)
        given = {name for name, v in (("a socket", target), ("ifname=", ifname),
                                      ("ifindex=", ifindex), ("mode=", mode),
                                      ("direction=", direction), ("cgroup=", cgroup),
                                      ("tcx=", tcx or None))
                 if v is not None}
        wrong = sorted(given - _NET_ARGS.get(kind or "", set()))
        if wrong:
            takes = _NET_TAKES.get(kind or "", "no packet attach arguments")
            raise TypeError(f"program '{self.name}' ({ptype}) does not take {', '.join(wrong)}; "
                            f"it takes {takes}")
        if kind == "xdp":
            return netattach.attach_xdp(self._obj, self.name, ifname, ifindex, mode)
        if kind == "tc":
            return netattach.attach_tc(self._obj, self.name, ifname, ifindex,
                                       direction if direction is not None else "ingress", tcx)
        if kind == "socket":
            if target is None:
                raise TypeError(f"socket filter '{self.name}' attaches to a socket: "
                                f"attach(sock) with a socket object or its fd")
            return netattach.attach_socket(self._obj, self.name, target)
        if cgroup is None:
            raise TypeError(f"program '{self.name}' ({ptype}) attaches to a cgroup: pass "
                            f"cgroup='/sys/fs/cgroup/NAME' (a cgroup v2 folder) or its fd")
        return netattach.attach_cgroup(self._obj, self.name, self.section, cgroup)

    def _attach_probe(self, binary: str | None, symbol: str | None, pid: int) -> Link:
        """``attach(binary=, symbol=, pid=)`` of a uprobe, ``attach(symbol=)`` of a kprobe."""
        from . import libpath

        target = uprobe_parts(self.spec.section)
        kind = self.spec.section.split("/", 1)[0]
        path = ""
        if target is None:
            if kind not in ("kprobe", "kretprobe") or binary is not None or pid != -1:
                raise TypeError(f"binary= and pid= place a uprobe, symbol= a uprobe or kprobe; "
                                f"'{self.name}' is a program of section '{self.section}'")
            func = symbol or ""
            if not func:
                raise ValueError("symbol= names the kernel function to probe")
        else:
            path = binary if binary is not None else target[0]
            func = symbol if symbol is not None else target[1]
            if not path or not func:
                raise ValueError(f"program '{self.name}' (section '{self.section}') needs "
                                 f"binary= and symbol= to say where to attach")
            try:
                path = libpath.resolve_binary(path)
            except libpath.NotFound as e:
                raise BpfError(f"cannot attach program '{self.name}' to {path}:{func}: {e}",
                               E.ENOENT) from None
        if target is not None:
            offset = target[2] if func == target[1] else 0
            return self._attach_uprobe(path, func, offset, target[3], pid, kind)
        return self._attach_kprobe(func, kind == "kretprobe")

    def _attach_kprobe(self, func: str, retprobe: bool) -> Link:
        """libbpf's kprobe attach (it opens the event on kernel function ``func``, attaches)."""
        from . import libbpf as L
        from .link import Link

        with self._obj._lock, self._obj.using(self.name) as live, L.capture() as lines:
            prog = live.program_ptr(self.name)
            link = L.lib().bpf_program__attach_kprobe(prog, retprobe, func.encode())
            err = L.last_errno() if not link else 0
            if link:
                handle = Link(self._obj, link, self.name)
                self._obj.add_link(handle)
                return handle
        from . import errors as rterrors

        where = f"{'kretprobe' if retprobe else 'kprobe'}/{func}"
        raise rterrors.attach_error(self.name, where, err, L.log_text(lines, L.LIBBPF_WARN))

    def _attach_uprobe(self, path: str, func: str, offset: int, retprobe: bool, pid: int,
                       kind: str) -> Link:
        """libbpf's uprobe attach (it finds ``func``'s offset, opens the event, attaches)."""
        from . import libbpf as L
        from .link import Link

        with self._obj._lock, self._obj.using(self.name) as live, L.capture() as lines:
            opts = L.UprobeOpts(sz=ctypes.sizeof(L.UprobeOpts), retprobe=retprobe,
                                func_name=func.encode())
            link = L.lib().bpf_program__attach_uprobe_opts(live.program_ptr(self.name), pid,
                                                           os.fsencode(path), offset,
                                                           ctypes.byref(opts))
            err = L.last_errno() if not link else 0
            if link:
                handle = Link(self._obj, link, self.name)
                self._obj.add_link(handle)
                return handle
        from . import errors as rterrors

        raise rterrors.attach_error(self.name, f"{kind}/{path}:{func}", err,
                                    L.log_text(lines, L.LIBBPF_WARN))

    def _attach_prepared(self, probe: PreparedProbe) -> Link:
        """``attach(probe=)``: this program on a uprobe or kprobe event opened before the load.

        libbpf's ``bpf_program__attach_perf_event`` makes the link; from then on the link
        owns the event (``bpf_link__destroy`` closes it), and a failed attach leaves it to
        us, closed here.  A probe without an event attaches through libbpf instead.
        """
        from . import libbpf as L
        from . import libpath
        from .link import Link
        from .probes import PreparedProbe

        if not isinstance(probe, PreparedProbe):
            raise TypeError(f"attach(probe=...) takes what prepare_uprobe() or prepare_kprobe() returns, got "
                            f"{type(probe).__name__}")
        if self.type != "kprobe":
            raise TypeError(f"attach(probe=...) attaches uprobe and kprobe programs; "
                            f"'{self.name}' is a {self.type} program")
        parts = uprobe_parts(self.spec.section)
        kind = probe.kind
        if parts is None and self.spec.section.split("/", 1)[0] in ("kprobe", "kretprobe"):
            parts = ("", "", 0, self.spec.section.startswith("kretprobe"))
        if parts is not None and parts[3] != probe.retprobe:
            want = "retprobe=True" if parts[3] else "retprobe=False"
            raise ValueError(f"program '{self.name}' (section '{self.section}') runs at the "
                             f"function's {'return' if parts[3] else 'entry'}, but the probe "
                             f"is a {kind}: prepare it with {want}")
        try:
            with self._obj._lock, self._obj.using(self.name) as live, L.capture() as lines:
                prog = live.program_ptr(self.name)  # loads first: the open overlaps the load
                pfd = probe.take()
                if pfd is not None:
                    link = None
                    try:
                        link = L.lib().bpf_program__attach_perf_event(prog, pfd)
                        err = L.last_errno() if not link else 0
                    finally:
                        if not link:
                            os.close(pfd)  # libbpf leaves a failed attach's event to us
                    if link:
                        handle = Link(self._obj, link, self.name)
                        self._obj.add_link(handle)
                        return handle
        finally:
            probe.close()  # used up, attached or not (a load that failed, say)
        if pfd is None and probe.kernel:  # no event opened here: libbpf does it all
            return self._attach_kprobe(probe.symbol, probe.retprobe)
        if pfd is None:
            try:
                path = libpath.resolve_binary(probe.binary)
            except libpath.NotFound as e:
                raise BpfError(f"cannot attach program '{self.name}' to "
                               f"{probe.binary}:{probe.symbol}: {e}", E.ENOENT) from None
            return self._attach_uprobe(path, probe.symbol, 0, probe.retprobe, probe.pid, kind)
        from . import errors as rterrors

        where = f"{kind}/{probe.symbol}" if probe.kernel else f"{kind}/{probe.path}:{probe.symbol}"
        raise rterrors.attach_error(self.name, where, err, L.log_text(lines, L.LIBBPF_WARN))

    def test_run(
        self,
        data: bytes | bytearray | None = None,
        ctx: Any = None,
        repeat: int | None = None,
        data_size_out: int | None = None,
        flags: int = 0,
        cpu: int = 0,
    ) -> TestRunResult:
        """Run the program once (or ``repeat`` times) in the kernel with BPF_PROG_TEST_RUN.

        ``data`` is the packet for XDP/tc/socket programs; ``ctx`` the context
        (bytes or a ctypes instance: the u64 argument array for raw
        tracepoints, the argument struct for syscall programs, which may change
        it; the result's ``ctx`` holds it afterwards).  Raw tracepoint and
        syscall programs run exactly once; ``repeat`` must then be 0 or 1.
        """
        from . import libbpf as L

        _check_test_run_args(data, ctx, repeat, data_size_out)
        ptype = self.type
        run_once = ptype in _RUN_ONCE
        if repeat is None:
            repeat = 0 if run_once else 1
        elif run_once:
            if repeat not in (0, 1):
                raise ValueError(f"{ptype} programs run once per test_run; repeat must be 0 or 1")
            repeat = 0
        opts = L.TestRunOpts()
        opts.sz = ctypes.sizeof(opts)
        opts.repeat = repeat
        opts.flags = flags
        opts.cpu = cpu
        keep: list[Any] = []
        data_out = None
        if data is not None:
            data = bytes(data)
            din = ctypes.create_string_buffer(data, len(data))
            size_out = data_size_out if data_size_out is not None else len(data) + _XDP_HEADROOM
            data_out = ctypes.create_string_buffer(max(size_out, 1))
            keep += [din, data_out]
            opts.data_in = ctypes.cast(din, ctypes.c_void_p)
            opts.data_size_in = len(data)
            opts.data_out = ctypes.cast(data_out, ctypes.c_void_p)
            opts.data_size_out = len(data_out)
        ctx_in = ctx_out = None
        ctx_cls = type(ctx) if isinstance(ctx, (ctypes.Structure, ctypes.Array, ctypes.Union)) else None
        if ctx is not None:
            raw = bytes(ctx)
            ctx_in = ctypes.create_string_buffer(raw, len(raw))
            opts.ctx_in = ctypes.cast(ctx_in, ctypes.c_void_p)
            opts.ctx_size_in = len(raw)
            if not run_once:
                ctx_out = ctypes.create_string_buffer(len(raw))
                opts.ctx_out = ctypes.cast(ctx_out, ctypes.c_void_p)
                opts.ctx_size_out = len(raw)
        with self._obj.using(self.name) as live:  # the fd stays this program's during the run
            rc = L.lib().bpf_prog_test_run_opts(live.program_fd(self.name), ctypes.byref(opts))
        if rc < 0:
            raise self._test_run_error(-rc, ptype, data)
        out_data = None
        if data_out is not None:
            out_data = data_out.raw[:opts.data_size_out]
        out_ctx: Any = None
        if ctx_out is not None:
            out_ctx = ctx_out.raw[:opts.ctx_size_out]
        elif ctx_in is not None and ptype in _CTX_IN_PLACE:
            out_ctx = ctx_in.raw  # the kernel wrote the context back in place
        if out_ctx is not None and ctx_cls is not None and len(out_ctx) >= ctypes.sizeof(ctx_cls):
            out_ctx = ctx_cls.from_buffer_copy(out_ctx)
        retval = opts.retval
        if retval >= 1 << 31:
            retval -= 1 << 32
        return TestRunResult(retval, out_data, out_ctx, opts.duration)

    def _test_run_error(self, err: int, ptype: str, data: bytes | None) -> BpfError:
        from . import errors as rterrors

        what = f"test_run of program '{self.name}' ({ptype})"
        if err in (E.ENOTSUP, E.EOPNOTSUPP, 524):
            return BpfError(f"{what}: the kernel cannot test-run {ptype} programs "
                            f"(attach it and trigger the event instead)", err)
        if err == E.ENOSPC:
            return BpfError(f"{what}: the output is larger than data_size_out; pass a larger "
                            f"data_size_out", err)
        if err == E.EINVAL:
            hint = ""
            if ptype == "xdp" and (data is None or len(data) < 14):
                hint = ": XDP programs need data of at least 14 bytes (an Ethernet header)"
            elif ptype in ("sched_cls", "socket_filter", "cgroup_skb") and data is None:
                hint = ": packet programs need data (at least an Ethernet header)"
            elif ptype in ("sched_cls", "socket_filter", "cgroup_skb") and len(data or b"") < 14:
                hint = (": packet programs need data of at least 14 bytes (an Ethernet header: "
                        "the kernel takes the first 14 as one)")
            else:
                hint = ": the kernel refused these arguments (data/ctx sizes, repeat)"
            return BpfError(f"{what}{hint}", err)
        if err in (E.EPERM, E.EACCES):
            return rterrors.privilege_error(what, err)
        return BpfError(f"{what} failed: {rterrors.strerror(err)}", err)


__all__ = ["Program", "TestRunResult", "section_type", "uprobe_parts", "uprobe_target"]
