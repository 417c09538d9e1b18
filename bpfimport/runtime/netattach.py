"""Attaching packet programs: XDP and tc to an interface, socket filters, cgroup programs.

``bpf_program__attach()`` cannot place these programs (their sections name no
target), so ``Program.attach()`` hands them here with the target the user names:

==============  ==========================================  =====================================
program type    attach                                      kernel object, and its lifetime
==============  ==========================================  =====================================
xdp             ``attach(ifname=, ifindex=, mode=)``         an XDP bpf_link: gone with its fd
sched_cls (tc)  ``attach(ifname=, ifindex=, direction=)``    a cls_bpf filter on clsact: stays
  ... tcx=True  (the same)                                  a tcx bpf_link: gone with its fd
socket_filter   ``attach(sock)``                             the socket's filter: dies with it
cgroup_*        ``attach(cgroup=)``                          a cgroup bpf_link: gone with its fd
==============  ==========================================  =====================================

Why these mechanisms: a bpf_link is detached by the kernel when its last fd closes, so a
process that dies leaves nothing behind (XDP through ``BPF_LINK_CREATE`` rather than the
netlink ``bpf_xdp_attach``, which stays until removed). tc programs are cls_bpf filters on
a clsact qdisc made through libbpf's netlink tc hooks by default (what ``tc filter show``
lists, on any kernel); those outlive the process, so a clsact made here is removed again
when the last filter this process put on it is detached (unless another program's filter
is on it by then: :func:`clsact_has_filters`). ``tcx=True`` makes a tcx link
instead (Linux >= 6.6): libbpf 1.1 has no ``bpf_program__attach_tcx`` (libbpf 1.3), but
its ``bpf_link_create`` passes the tcx attach type through to the kernel.
"""

from __future__ import annotations

import errno as E
import os
import socket
import threading
import weakref

from ..errors import BpfError
from ._lazy import ctypes
from .link import Link, OwnLink

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .object import BpfObject

XDP_MODES = ("skb", "drv", "hw")
TC_DIRECTIONS = ("ingress", "egress")
SO_ATTACH_BPF = 50
SO_DETACH_BPF = 27  # SO_DETACH_FILTER: removes an attached BPF program as well


def interface_index(program: str, ifname: str | None, ifindex: int | None) -> tuple[int, str]:
    """(ifindex, the interface's name for messages) from ``ifname=`` or ``ifindex=``."""
    if ifname is not None and ifindex is not None:
        raise TypeError(f"attach of program '{program}' takes ifname= or ifindex=, not both")
    if ifname is not None:
        if not isinstance(ifname, str) or not ifname:
            raise TypeError(f"ifname= takes an interface name such as 'eth0', got {ifname!r}")
        try:
            return socket.if_nametoindex(ifname), ifname
        except OSError:
            raise BpfError(f"cannot attach program '{program}': no network interface named "
                           f"'{ifname}' in this network namespace", E.ENODEV) from None
    if ifindex is None:
        raise TypeError(f"program '{program}' attaches to a network interface: pass "
                        f"ifname='eth0' or ifindex=N")
    if isinstance(ifindex, bool) or not isinstance(ifindex, int) or ifindex <= 0:
        raise TypeError(f"ifindex= takes a positive interface index, got {ifindex!r}")
    try:
        return ifindex, socket.if_indextoname(ifindex)
    except OSError:
        raise BpfError(f"cannot attach program '{program}': no network interface with index "
                       f"{ifindex} in this network namespace", E.ENODEV) from None


def attach_xdp(obj: BpfObject, program: str, ifname: str | None, ifindex: int | None,
               mode: str | None) -> Link:
    """An XDP link on an interface; ``mode`` None lets the kernel choose (driver, else skb)."""
    from . import libbpf as L

    flags = {None: 0, "skb": L.XDP_FLAGS_SKB_MODE, "drv": L.XDP_FLAGS_DRV_MODE,
             "hw": L.XDP_FLAGS_HW_MODE}
    if mode not in flags:
        raise ValueError(f"mode= is one of {', '.join(map(repr, XDP_MODES))} (or None: the "
                         f"kernel chooses), got {mode!r}")
    index, name = interface_index(program, ifname, ifindex)
    where = f"xdp on {name}" + (f" ({mode})" if mode else "")
    opts = L.LinkCreateOpts(sz=ctypes.sizeof(L.LinkCreateOpts), flags=flags[mode])
    with obj._lock, obj.using(program) as live:
        fd = L.lib().bpf_link_create(live.program_fd(program), index, L.BPF_XDP,
                                     ctypes.byref(opts))
        if fd >= 0:
            link = FdLink(obj, fd, program, where)
            obj.add_link(link)
            return link
    raise _xdp_error(program, name, mode, -fd)


def _xdp_error(program: str, ifname: str, mode: str | None, err: int) -> BpfError:
    from . import errors as rterrors

    what = f"cannot attach program '{program}' to xdp on {ifname}"
    if err == E.EBUSY or err == E.EEXIST:
        return BpfError(f"{what}: the interface already has an XDP program; detach it first "
                        f"(its link, or `ip link set dev {ifname} xdp off` for one attached "
                        f"without a link)", err)
    if err in (E.EOPNOTSUPP, E.ENOTSUP, E.EINVAL) and mode in ("drv", "hw"):
        return BpfError(f"{what}: its driver cannot run XDP in mode '{mode}'; use mode='skb' "
                        f"(generic XDP, any interface)", err)
    if err in (E.EPERM, E.EACCES):
        return rterrors.privilege_error(what, err)
    return BpfError(f"{what}: {rterrors.strerror(err)}", err)


# (netns inode, ifindex) -> [filters this process has on the interface, whether it made the clsact]
_clsact_users: dict[tuple[int, int], list[Any]] = {}
_clsact_lock = threading.Lock()


_NETNS = "/proc/thread-self/ns/net"
CLONE_NEWNET = 0x40000000


def _netns() -> int:
    """The calling thread's network namespace (ifindexes are per namespace)."""
    try:
        return os.stat(_NETNS).st_ino
    except OSError:
        return 0


def _open_netns() -> int:
    """An fd of the calling thread's network namespace, or -1 (no /proc)."""
    try:
        return os.open(_NETNS, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return -1


def in_netns(ns_fd: int, fn: Callable[[], int]) -> int:
    """``fn()`` in the network namespace ``ns_fd`` (0 or -errno, as ``fn`` returns).

    Netlink (libbpf's tc calls) acts in the calling thread's namespace, and a thread may
    have entered another (``setns``) since the attach: then a short thread enters the
    attach's namespace and runs ``fn`` there, so a detach never touches an interface of
    another namespace that has the same index.
    """
    if ns_fd < 0 or os.fstat(ns_fd).st_ino == _netns():
        return fn()
    result: list[int] = []

    def run() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(ns_fd, CLONE_NEWNET) != 0:
            result.append(-(ctypes.get_errno() or E.EINVAL))
        else:
            result.append(fn())

    t = threading.Thread(target=run, name="bpfimport-netns")
    t.start()
    t.join()
    return result[0] if result else -E.EINVAL


def attach_tc(obj: BpfObject, program: str, ifname: str | None, ifindex: int | None,
              direction: str, tcx: bool = False) -> Link:
    """A cls_bpf filter (direct action) on the interface's clsact, made if missing; or,
    with ``tcx``, a tcx link (kernel >= 6.6)."""
    from . import libbpf as L

    points = {"ingress": L.BPF_TC_INGRESS, "egress": L.BPF_TC_EGRESS}
    if direction not in points:
        raise ValueError(f"direction= is 'ingress' or 'egress', got {direction!r}")
    index, name = interface_index(program, ifname, ifindex)
    if tcx:
        return _attach_tcx(obj, program, index, name, direction)
    hook = L.TcHook(sz=ctypes.sizeof(L.TcHook), ifindex=index, attach_point=points[direction])
    key = (_netns(), index)
    # the object's lock before the clsact lock, as TcLink.detach() takes them
    with obj._lock, obj.using(program) as live, _clsact_lock:
        rc = L.lib().bpf_tc_hook_create(ctypes.byref(hook))
        if rc < 0 and rc != -E.EEXIST:
            raise _tc_error(program, name, direction, -rc)
        users = _clsact_users.setdefault(key, [0, False])
        users[1] = users[1] or rc == 0
        opts = L.TcOpts(sz=ctypes.sizeof(L.TcOpts), prog_fd=live.program_fd(program))
        rc = L.lib().bpf_tc_attach(ctypes.byref(hook), ctypes.byref(opts))
        if rc == 0:
            users[0] += 1
            link = TcLink(obj, program, f"tc {direction} on {name}", index, points[direction],
                          opts.handle, opts.priority, key, _open_netns())
            obj.add_link(link)
            return link
        _release_clsact(key, index)
    raise _tc_error(program, name, direction, -rc)


def _attach_tcx(obj: BpfObject, program: str, index: int, ifname: str, direction: str) -> Link:
    """A tcx link: ``BPF_LINK_CREATE`` with the tcx attach type, which libbpf 1.1's
    ``bpf_link_create`` passes through (only its ``bpf_program__attach_tcx`` is missing)."""
    from . import errors as rterrors
    from . import libbpf as L
    kind = L.BPF_TCX_INGRESS if direction == "ingress" else L.BPF_TCX_EGRESS
    opts = L.LinkCreateOpts(sz=ctypes.sizeof(L.LinkCreateOpts))
    with obj._lock, obj.using(program) as live:
        fd = L.lib().bpf_link_create(live.program_fd(program), index, kind, ctypes.byref(opts))
        if fd >= 0:
            link = FdLink(obj, fd, program, f"tcx {direction} on {ifname}")
            obj.add_link(link)
            return link
    err = -fd
    what = f"cannot attach program '{program}' to tcx {direction} on {ifname}"
    if err == E.EINVAL:
        raise BpfError(f"{what}: this kernel has no tcx (Linux >= 6.6); attach without "
                       f"tcx=True (a clsact filter)", err)
    if err in (E.EPERM, E.EACCES):
        raise rterrors.privilege_error(what, err)
    raise BpfError(f"{what}: {rterrors.strerror(err)}", err)


def detach_tc(ifindex: int, point: int, handle: int, priority: int, key: tuple[int, int]) -> int:
    """Remove one filter, then the clsact if this process made it and has no filter left.

    Returns 0 or -errno; a vanished interface counts as detached (its qdiscs went with it).
    """
    from . import libbpf as L

    hook = L.TcHook(sz=ctypes.sizeof(L.TcHook), ifindex=ifindex, attach_point=point)
    opts = L.TcOpts(sz=ctypes.sizeof(L.TcOpts), handle=handle, priority=priority)
    with _clsact_lock:
        rc = L.lib().bpf_tc_detach(ctypes.byref(hook), ctypes.byref(opts))
        users = _clsact_users.get(key)
        if users is not None:
            users[0] -= 1
        _release_clsact(key, ifindex)
    return 0 if rc in (0, -E.ENODEV, -E.ENOENT, -E.EINVAL) else rc


def _release_clsact(key: tuple[int, int], ifindex: int) -> None:
    """Destroy the clsact once the last of this process's filters on it is gone, if made here."""
    from . import libbpf as L

    users = _clsact_users.get(key)
    if users is None or users[0] > 0:
        return
    del _clsact_users[key]
    # destroying the clsact removes every filter on it: not while another program's are there
    # (another process, or `tc filter add`, put one on the clsact made here)
    if users[1] and not clsact_has_filters(ifindex):
        hook = L.TcHook(sz=ctypes.sizeof(L.TcHook), ifindex=ifindex,
                        attach_point=L.BPF_TC_INGRESS | L.BPF_TC_EGRESS)
        L.lib().bpf_tc_hook_destroy(ctypes.byref(hook))


# rtnetlink (linux/rtnetlink.h, linux/pkt_sched.h): a dump of an interface's tc filters
_RTM_NEWTFILTER, _RTM_GETTFILTER = 44, 46
_NLM_F_REQUEST, _NLM_F_DUMP = 0x1, 0x300
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_CLSACT_PARENTS = (0xFFFFFFF2, 0xFFFFFFF3)  # TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS / _EGRESS)


def clsact_has_filters(ifindex: int) -> bool:
    """Whether the interface's clsact (in the calling thread's namespace) holds any filter,
    either direction; True when netlink cannot tell (a clsact is then kept, never emptied).

    libbpf 1.1 can query one filter by handle and priority, not list them: this is
    ``tc filter show dev IF ingress/egress``'s dump (``RTM_GETTFILTER``), counting replies.
    """
    import struct

    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0) as nl:  # NETLINK_ROUTE
            nl.settimeout(2.0)
            for seq, parent in enumerate(_CLSACT_PARENTS, 1):
                tcmsg = struct.pack("=BxxxiIII", socket.AF_UNSPEC, ifindex, 0, parent, 0)
                nl.sendall(struct.pack("=IHHII", 16 + len(tcmsg), _RTM_GETTFILTER,
                                       _NLM_F_REQUEST | _NLM_F_DUMP, seq, 0) + tcmsg)
                done = False
                while not done:
                    data = nl.recv(65536)
                    at = 0
                    while at + 16 <= len(data):
                        length, kind, _, got_seq, _ = struct.unpack_from("=IHHII", data, at)
                        if kind == _RTM_NEWTFILTER and got_seq == seq:
                            return True
                        if kind == _NLMSG_ERROR:
                            (err,) = struct.unpack_from("=i", data, at + 16)
                            if err != 0:
                                return True
                        if kind in (_NLMSG_DONE, _NLMSG_ERROR) and got_seq == seq:
                            done = True
                        if length < 16:
                            return True  # malformed: do not guess
                        at += (length + 3) & ~3
    except OSError:
        return True
    return False


def _tc_error(program: str, ifname: str, direction: str, err: int) -> BpfError:
    from . import errors as rterrors

    what = f"cannot attach program '{program}' to tc {direction} on {ifname}"
    if err in (E.EPERM, E.EACCES):
        return rterrors.privilege_error(what, err)
    return BpfError(f"{what}: {rterrors.strerror(err)}", err)


def socket_fd(program: str, target: Any) -> int:
    """The fd of a socket object (anything with ``fileno()``) or an int fd."""
    if isinstance(target, int) and not isinstance(target, bool):
        fd = target
    elif callable(getattr(target, "fileno", None)):
        fd = target.fileno()
    else:
        raise TypeError(f"socket filter '{program}' attaches to a socket: pass a socket object "
                        f"or its fd, got {type(target).__name__}")
    if fd < 0:
        raise BpfError(f"cannot attach socket filter '{program}': the socket is closed", E.EBADF)
    return fd


def set_socket_filter(fd: int, prog_fd: int | None) -> int:
    """SO_ATTACH_BPF ``prog_fd`` (or SO_DETACH_BPF for None) on socket ``fd``: 0 or errno.

    Through a duplicate of the fd wrapped in a ``socket.socket``: the filter belongs
    to the socket, not to the fd, and this works for any fd the caller hands over.
    """
    try:
        dup = os.dup(fd)
    except OSError as e:
        return e.errno or E.EBADF
    try:
        s = socket.socket(fileno=dup)  # refuses an fd that is not a socket (ENOTSOCK)
    except OSError as e:
        os.close(dup)  # not owned by a socket object yet
        return e.errno or E.EINVAL
    try:
        with s:
            if prog_fd is None:
                s.setsockopt(socket.SOL_SOCKET, SO_DETACH_BPF, 0)
            else:
                s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_BPF, prog_fd)
    except OSError as e:
        return e.errno or E.EINVAL
    return 0


def attach_socket(obj: BpfObject, program: str, target: Any) -> Link:
    """The program as the socket's filter (``SO_ATTACH_BPF``)."""
    from . import errors as rterrors
    fd = socket_fd(program, target)
    try:
        st = os.fstat(fd)
    except OSError as e:
        raise BpfError(f"cannot attach socket filter '{program}': fd {fd} is not open",
                       e.errno or E.EBADF) from None
    inode = (st.st_dev, st.st_ino)
    with obj._lock, obj.using(program) as live:
        err = set_socket_filter(fd, live.program_fd(program))
        if not err:
            link = SocketLink(obj, program, target, fd, inode)
            obj.add_link(link)
    if not err:
        # a socket has one filter: the one attached before (by any module here) is replaced,
        # so its link is detached now, and its detach() cannot remove this one
        with _socket_lock:
            before = _socket_links.get(inode)
            _socket_links[inode] = weakref.ref(link)
        old = before() if before is not None else None
        if old is not None and old is not link:
            old.replaced()
        return link
    if err == E.ENOTSOCK:
        raise BpfError(f"cannot attach socket filter '{program}': fd {fd} is not a socket", err)
    raise BpfError(f"cannot attach socket filter '{program}': {rterrors.strerror(err)}", err)


# (st_dev, st_ino) of a socket -> the link of the filter this process last attached to it
_socket_links: dict[tuple[int, int], weakref.ref[SocketLink]] = {}
_socket_lock = threading.Lock()


def attach_cgroup(obj: BpfObject, program: str, section: str, cgroup: Any) -> Link:
    """A cgroup link on the cgroup v2 folder ``cgroup`` (a path or an open fd)."""
    from . import errors as rterrors
    from . import libbpf as L

    own = not (isinstance(cgroup, int) and not isinstance(cgroup, bool))
    if own:
        try:
            fd = os.open(os.fspath(cgroup), os.O_RDONLY | os.O_DIRECTORY)
        except TypeError:
            raise TypeError(f"cgroup= takes a cgroup v2 folder (a path such as "
                            f"'/sys/fs/cgroup/app') or its fd, got {type(cgroup).__name__}") from None
        except OSError as e:
            raise BpfError(f"cannot attach program '{program}': no cgroup folder at {cgroup} "
                           f"({rterrors.strerror(e.errno or E.ENOENT)})",
                           e.errno or E.ENOENT) from None
    else:
        fd = cgroup
    try:
        with obj._lock, obj.using(program) as live, L.capture() as lines:
            ptr = L.lib().bpf_program__attach_cgroup(live.program_ptr(program), fd)
            err = L.last_errno() if not ptr else 0
            if ptr:
                link = Link(obj, ptr, program)
                obj.add_link(link)
                return link
    finally:
        if own:
            os.close(fd)
    where = f"{section} of cgroup {cgroup}"
    if err == E.EBADF:
        raise BpfError(f"cannot attach program '{program}' to {where}: not a cgroup v2 folder "
                       f"(cgroup2 is mounted at /sys/fs/cgroup on most systems)", err)
    raise rterrors.attach_error(program, where, err, L.log_text(lines, L.LIBBPF_WARN))


# ---------------------------------------------------------------- the links


class FdLink(OwnLink):
    """A kernel bpf_link held by its fd alone (an XDP link with a mode flag, which libbpf
    1.1's ``bpf_program__attach_xdp`` cannot set): closing the fd detaches it."""

    def __init__(self, obj: BpfObject, fd: int, program: str, where: str) -> None:
        super().__init__(obj, program, where)
        self._fd = fd

    @property
    def fd(self) -> int:
        with self._lock:
            if self._ptr is None:
                raise BpfError(f"link of program '{self.program}' is detached")
            return self._fd

    # a kernel link: pinned as Link pins one, by its fd (bpf_obj_pin)
    pin = Link.pin

    def _pin_at(self, path: bytes) -> int:
        from . import libbpf as L

        return int(L.lib().bpf_obj_pin(self._fd, path))

    def _undo(self) -> int:
        os.close(self._fd)
        return 0


class TcLink(OwnLink):
    """A cls_bpf filter on an interface's clsact (see :mod:`.netattach`). It is no kernel
    link: it stays if the process dies; ``detach()`` removes it, and the clsact if this
    process made it and has no other filter on it."""

    def __init__(self, obj: BpfObject, program: str, where: str, ifindex: int, point: int,
                 handle: int, priority: int, key: tuple[int, int], ns_fd: int) -> None:
        super().__init__(obj, program, where)
        self.ifindex, self.handle, self.priority = ifindex, handle, priority
        self._point, self._key, self._ns_fd = point, key, ns_fd

    _unpinnable = ("a tc filter is not a kernel link (it stays attached when the process "
                   "exits anyway; tcx=True attaches a link that can be pinned)")

    @property
    def fd(self) -> int:
        raise BpfError(f"program '{self.program}' on {self.where} is a tc filter, not a "
                       f"kernel link: it has no fd (its handle is {self.handle:#x}, "
                       f"priority {self.priority})")

    def _undo(self) -> int:
        """Detach in the namespace of the attach, whichever thread detaches."""
        try:
            return in_netns(self._ns_fd, lambda: detach_tc(self.ifindex, self._point, self.handle,
                                                           self.priority, self._key))
        finally:
            if self._ns_fd >= 0:
                os.close(self._ns_fd)


class SocketLink(OwnLink):
    """A socket filter (``SO_ATTACH_BPF``): it dies with the socket; ``detach()``
    removes it from a socket still open (``SO_DETACH_BPF``).

    It keeps a weak reference to a socket object (the link must not keep the socket
    open) or, for an fd, its inode: an fd closed and reused for another file is left alone.
    """

    def __init__(self, obj: BpfObject, program: str, target: object, fd: int,
                 inode: tuple[int, int]) -> None:
        super().__init__(obj, program, f"socket fd {fd}")
        self._sock: weakref.ref[object] | None = None
        if not isinstance(target, int):
            try:
                self._sock = weakref.ref(target)
            except TypeError:
                pass  # no weak references: fall back to the fd and its inode
        self._fd, self._inode = fd, inode

    _unpinnable = "a socket filter lives as long as its socket"

    @property
    def fd(self) -> int:
        raise BpfError(f"socket filter '{self.program}' is not a kernel link: it has no fd")

    def _current_fd(self) -> int:
        """The socket's fd if it is still the same open socket, else -1."""
        fd = self._fd
        if self._sock is not None:
            sock = self._sock()
            fileno = getattr(sock, "fileno", None)
            fd = fileno() if callable(fileno) else -1
        if fd < 0:
            return -1
        try:
            st = os.fstat(fd)
        except OSError:
            return -1
        return fd if (st.st_dev, st.st_ino) == self._inode else -1

    def replaced(self) -> None:
        """Another filter was attached to the socket: this one is gone, so is the link."""
        if self._current_fd() < 0:
            return  # another socket that reused the inode number: this one closed already
        with self._lock:
            if self._ptr is None:
                return
            self._ptr = None
            if self._obj is not None:
                self._obj.forget_link(self)

    def _undo(self) -> int:
        with _socket_lock:
            if (ref := _socket_links.get(self._inode)) is not None and ref() is self:
                del _socket_links[self._inode]
        fd = self._current_fd()
        if fd < 0:
            return 0  # the socket is closed: its filter went with it
        err = set_socket_filter(fd, None)
        return 0 if err in (0, E.ENOENT) else -err


__all__ = ["FdLink", "SocketLink", "TC_DIRECTIONS", "TcLink", "XDP_MODES", "attach_cgroup", "attach_socket", "attach_tc", "clsact_has_filters",
           "attach_xdp", "detach_tc", "interface_index", "set_socket_filter"]
