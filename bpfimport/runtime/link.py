"""Links: a program attached somewhere, detached explicitly or when the module closes."""

from __future__ import annotations

import errno as E

from ..errors import BpfError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .object import BpfObject


class Link:
    """One attachment of a program (libbpf ``struct bpf_link``).

    The owning object keeps every live link, so an attachment lasts until
    ``detach()`` or the module's ``close()`` even when the caller drops the
    handle, which is what ``prog.attach()`` at the top of a script expects.
    """

    def __init__(self, obj: BpfObject, ptr: int, program: str) -> None:
        self._obj = obj
        self._ptr: int | None = ptr
        self.program = program

    @property
    def attached(self) -> bool:
        return self._ptr is not None

    @property
    def fd(self) -> int:
        from . import libbpf as L

        with self._obj._lock:  # a detach() in another thread frees the pointer
            if self._ptr is None:
                raise BpfError(f"link of program '{self.program}' is detached")
            return L.lib().bpf_link__fd(self._ptr)

    def detach(self) -> None:
        """Detach and free the link. Idempotent, and safe against a concurrent detach or close."""
        from . import libbpf as L

        with self._obj._lock:  # two threads must not both destroy it
            ptr, self._ptr = self._ptr, None
            if ptr is None:
                return
            self._obj.forget_link(self)
            rc = L.lib().bpf_link__destroy(ptr)
        if rc < 0:
            raise BpfError(f"detaching program '{self.program}' failed", -rc)

    close = detach

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()

    def __repr__(self) -> str:
        state = "attached" if self._ptr is not None else "detached"
        return f"<Link {self.program!r} {state}>"


class LinkGroup(Link):
    """One attachment made of several libbpf links: a perf_event program on every CPU.

    It is one handle because it is one thing to the user (``prog.attach(sample_freq=49)``
    samples everywhere); ``detach()`` destroys every link, and each link closes
    its perf event's fd (libbpf owns them once attached).
    """

    def __init__(self, obj: BpfObject, ptrs: list[int], program: str) -> None:
        super().__init__(obj, ptrs[0], program)
        self._ptrs: list[int] = list(ptrs)

    def __len__(self) -> int:
        """How many links (perf events) it holds; 0 once detached."""
        return len(self._ptrs)

    @property
    def fds(self) -> list[int]:
        """The fd of each link (for a perf_event program: each CPU's perf event)."""
        from . import libbpf as L

        with self._obj._lock:
            if self._ptr is None:
                raise BpfError(f"link of program '{self.program}' is detached")
            return [L.lib().bpf_link__fd(p) for p in self._ptrs]

    def detach(self) -> None:
        """Detach and free every link. Idempotent, and safe against a concurrent detach or close."""
        from . import libbpf as L

        with self._obj._lock:
            ptrs, self._ptrs, self._ptr = self._ptrs, [], None
            if not ptrs:
                return
            self._obj.forget_link(self)
            results = [L.lib().bpf_link__destroy(p) for p in ptrs]
        failed = [rc for rc in results if rc < 0]
        if failed:
            raise BpfError(f"detaching program '{self.program}' failed", -failed[0])

    close = detach

    def __repr__(self) -> str:
        state = f"{len(self._ptrs)} attached" if self._ptrs else "detached"
        return f"<LinkGroup {self.program!r} {state}>"


class _OwnLink(Link):
    """A link that is not a libbpf ``bpf_link``: subclasses say how it is undone.

    ``_ptr`` only marks it attached (1) or detached (None), so ``attached`` and the
    object's bookkeeping work as for a libbpf link; ``where`` says what it is attached to.
    """

    def __init__(self, obj: BpfObject, program: str, where: str) -> None:
        super().__init__(obj, 1, program)
        self.where = where

    def _undo(self) -> int:
        """Detach in the kernel: 0 or -errno."""
        raise NotImplementedError

    def detach(self) -> None:
        """Detach. Idempotent, and safe against a concurrent detach or close."""
        with self._obj._lock:
            ptr, self._ptr = self._ptr, None
            if ptr is None:
                return
            self._obj.forget_link(self)
            rc = self._undo()
        if rc < 0:
            raise BpfError(f"detaching program '{self.program}' from {self.where} failed", -rc)

    close = detach

    def __repr__(self) -> str:
        state = "attached" if self._ptr is not None else "detached"
        return f"<{type(self).__name__} {self.program!r} {self.where} {state}>"


class FdLink(_OwnLink):
    """A kernel bpf_link held by its fd alone (an XDP link with a mode flag, which libbpf
    1.1's ``bpf_program__attach_xdp`` cannot set): closing the fd detaches it."""

    def __init__(self, obj: BpfObject, fd: int, program: str, where: str) -> None:
        super().__init__(obj, program, where)
        self._fd = fd

    @property
    def fd(self) -> int:
        with self._obj._lock:
            if self._ptr is None:
                raise BpfError(f"link of program '{self.program}' is detached")
            return self._fd

    def _undo(self) -> int:
        import os

        os.close(self._fd)
        return 0


class TcLink(_OwnLink):
    """A cls_bpf filter on an interface's clsact (see :mod:`.netattach`). It is no kernel
    link: it stays if the process dies; ``detach()`` removes it, and the clsact if this
    process made it and has no other filter on it."""

    def __init__(self, obj: BpfObject, program: str, where: str, ifindex: int, point: int,
                 handle: int, priority: int, key: tuple[int, int]) -> None:
        super().__init__(obj, program, where)
        self.ifindex, self.handle, self.priority = ifindex, handle, priority
        self._point, self._key = point, key

    @property
    def fd(self) -> int:
        raise BpfError(f"program '{self.program}' on {self.where} is a tc filter, not a "
                       f"kernel link: it has no fd (its handle is {self.handle:#x}, "
                       f"priority {self.priority})")

    def _undo(self) -> int:
        from .netattach import detach_tc

        return detach_tc(self.ifindex, self._point, self.handle, self.priority, self._key)


class SocketLink(_OwnLink):
    """A socket filter (``SO_ATTACH_BPF``): it dies with the socket; ``detach()``
    removes it from a socket still open (``SO_DETACH_BPF``).

    It keeps a weak reference to a socket object (the link must not keep the socket
    open) or, for an fd, its inode: an fd closed and reused for another file is left alone.
    """

    def __init__(self, obj: BpfObject, program: str, target: object, fd: int,
                 inode: tuple[int, int]) -> None:
        import weakref

        super().__init__(obj, program, f"socket fd {fd}")
        self._sock: weakref.ref[object] | None = None
        if not isinstance(target, int):
            try:
                self._sock = weakref.ref(target)
            except TypeError:
                pass  # no weak references: fall back to the fd and its inode
        self._fd, self._inode = fd, inode

    @property
    def fd(self) -> int:
        raise BpfError(f"socket filter '{self.program}' is not a kernel link: it has no fd")

    def _current_fd(self) -> int:
        """The socket's fd if it is still the same open socket, else -1."""
        import os

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

    def _undo(self) -> int:
        from .netattach import set_socket_filter

        fd = self._current_fd()
        if fd < 0:
            return 0  # the socket is closed: its filter went with it
        err = set_socket_filter(fd, None)
        return 0 if err in (0, E.ENOENT) else -err


__all__ = ["FdLink", "Link", "LinkGroup", "SocketLink", "TcLink"]
