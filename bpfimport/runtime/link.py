"""Links: a program attached somewhere, detached explicitly or when the module closes.

A link can be pinned in bpffs (``link.pin(path)``): the attachment then outlives
the process, and a later process opens it again with ``Link.from_pin(path)``
(docs/runtime.md, "Pinning").
"""

from __future__ import annotations

import errno as E
import os
from _thread import RLock

from ..errors import BpfError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .object import BpfObject


def _bpf_fd_kind(fd: int) -> str | None:
    """What a BPF fd is ("link", "map", "prog": its anon inode is ``bpf_link``, ``bpf-map``,
    ``bpf-prog``), or None when /proc cannot tell."""
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None
    prefix = "anon_inode:bpf"
    if not target.startswith(prefix) or target[len(prefix):len(prefix) + 1] not in "-_":
        return None
    return target[len(prefix) + 1:] or None


class Link:
    """One attachment of a program (libbpf ``struct bpf_link``).

    The owning object keeps every live link, so an attachment lasts until
    ``detach()`` or the module's ``close()`` even when the caller drops the
    handle, which is what ``prog.attach()`` at the top of a script expects.
    A pinned link is only let go of by ``detach()``/``close()``: the pin keeps
    the program attached until ``unpin()``.
    """

    def __init__(self, obj: BpfObject | None, ptr: int, program: str) -> None:
        self._obj = obj
        # the object's lock: a close() of the object and a detach() must not both free it
        self._lock = obj._lock if obj is not None else RLock()
        self._ptr: int | None = ptr
        self.program = program
        self._pin_path: str | None = None

    @classmethod
    def from_pin(cls, path: str) -> Link:
        """The link pinned at ``path`` (by ``link.pin(path)`` here or in an earlier process).

        It belongs to no module: ``detach()`` closes this process's handle on it
        (the program stays attached while it is pinned); ``unpin()`` then
        ``detach()`` ends the attachment.  ``.program`` is the pin's file name.
        """
        from . import errors as rterrors
        from . import libbpf as L

        lib = L.lib()
        ptr = lib.bpf_link__open(os.fsencode(path))
        if not ptr:
            err = L.last_errno()
            raise BpfError(f"cannot open the link pinned at {path}: {rterrors.strerror(err)}", err)
        # libbpf 1.1 opens any pinned object as a link: a map's or a program's pin would
        # become a Link whose unpin() removes it
        kind = _bpf_fd_kind(lib.bpf_link__fd(ptr))
        if kind not in (None, "link"):
            lib.bpf_link__destroy(ptr)  # closes the fd (a link opened from a pin owns no more)
            raise BpfError(f"cannot open the link pinned at {path}: it is a pinned {kind}, "
                           f"not a link", E.EINVAL)
        link = cls(None, ptr, os.path.basename(path))
        link._pin_path = os.path.abspath(path)
        return link

    @property
    def attached(self) -> bool:
        return self._ptr is not None

    @property
    def pin_path(self) -> str | None:
        """Where the link is pinned (None when it is not)."""
        return self._pin_path

    @property
    def fd(self) -> int:
        from . import libbpf as L

        with self._lock:  # a detach() in another thread frees the pointer
            if self._ptr is None:
                raise BpfError(f"link of program '{self.program}' is detached")
            return L.lib().bpf_link__fd(self._ptr)

    def pin(self, path: str) -> None:
        """Pin the link at ``path`` on bpffs: the program stays attached after this process exits.

        A relative path is taken under the module's ``pin_root`` when it was
        loaded with one.  ``Link.from_pin(path)`` opens it again; ``unpin()``
        removes the pin.  Raises BpfError when the path is not on bpffs, is
        taken, or the kernel cannot pin this kind of link.
        """
        from . import errors as rterrors
        from . import pinning

        root = self._obj.pin_root if self._obj is not None else None
        if root is not None and not os.path.isabs(path):
            path = os.path.join(root, path)
        path = os.path.abspath(path)
        pinning.check_on_bpffs(path, "link pin path")
        with self._lock:
            if self._ptr is None:
                raise BpfError(f"link of program '{self.program}' is detached")
            if self._pin_path is not None:
                raise BpfError(f"link of program '{self.program}' is already pinned at "
                               f"{self._pin_path}")
            rc = self._pin_at(os.fsencode(path))
            if rc >= 0:
                self._pin_path = path
                return
        raise BpfError(f"cannot pin the link of program '{self.program}' at {path}: "
                       f"{rterrors.strerror(-rc)}", -rc)

    def _pin_at(self, path: bytes) -> int:
        """Pin the live link at ``path``: 0 or -errno (libbpf's ``bpf_link__pin``)."""
        from . import libbpf as L

        return int(L.lib().bpf_link__pin(self._ptr, path))

    def unpin(self) -> None:
        """Remove the link's pin: once detached here too, the program is detached. Idempotent."""
        from . import libbpf as L

        with self._lock:
            path, self._pin_path = self._pin_path, None
            if path is None:
                return
            if self._ptr is not None and L.lib().bpf_link__unpin(self._ptr) >= 0:
                return
            try:  # detached here already, or libbpf did not know the path: remove it ourselves
                os.unlink(path)
            except FileNotFoundError:
                pass

    def detach(self) -> None:
        """Detach and free the link. Idempotent, and safe against a concurrent detach or close.

        A pinned link stays attached: only this process's handle on it is freed.
        """
        from . import libbpf as L

        with self._lock:  # two threads must not both destroy it
            ptr, self._ptr = self._ptr, None
            if ptr is None:
                return
            if self._obj is not None:
                self._obj.forget_link(self)
            # A pinned link stays attached: the pin holds the kernel's link, and the perf
            # event libbpf disables here still runs the program (the tracepoint runs its
            # programs whatever the event's state; a restarted agent's counts show it)
            lib = L.lib()
            rc = lib.bpf_link__destroy(ptr)
        if rc < 0:
            raise BpfError(f"detaching program '{self.program}' failed", -rc)

    close = detach

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()

    def __repr__(self) -> str:
        state = "attached" if self._ptr is not None else "detached"
        pinned = f", pinned at {self._pin_path}" if self._pin_path is not None else ""
        return f"<Link {self.program!r} {state}{pinned}>"


class LinkGroup(Link):
    """One attachment made of several libbpf links: a perf_event program on every CPU.

    It is one handle because it is one thing to the user (``prog.attach(sample_freq=49)``
    samples everywhere); ``detach()`` destroys every link, and each link closes
    its perf event's fd (libbpf owns them once attached).
    """

    def __init__(self, obj: BpfObject, ptrs: list[int], program: str) -> None:
        super().__init__(obj, ptrs[0], program)
        self._ptrs: list[int] = list(ptrs)

    def pin(self, path: str) -> None:
        """Refused: one pin holds one link, and this is one per CPU."""
        raise BpfError(f"the links of perf_event program '{self.program}' (one per CPU) cannot "
                       f"be pinned as one")

    def __len__(self) -> int:
        """How many links (perf events) it holds; 0 once detached."""
        return len(self._ptrs)

    @property
    def fds(self) -> list[int]:
        """The fd of each link (for a perf_event program: each CPU's perf event)."""
        from . import libbpf as L

        with self._lock:
            if self._ptr is None:
                raise BpfError(f"link of program '{self.program}' is detached")
            return [L.lib().bpf_link__fd(p) for p in self._ptrs]

    def detach(self) -> None:
        """Detach and free every link. Idempotent, and safe against a concurrent detach or close."""
        from . import libbpf as L

        with self._lock:
            ptrs, self._ptrs, self._ptr = self._ptrs, [], None
            if not ptrs:
                return
            if self._obj is not None:
                self._obj.forget_link(self)
            results = [L.lib().bpf_link__destroy(p) for p in ptrs]
        failed = [rc for rc in results if rc < 0]
        if failed:
            raise BpfError(f"detaching program '{self.program}' failed", -failed[0])

    close = detach

    def __repr__(self) -> str:
        state = f"{len(self._ptrs)} attached" if self._ptrs else "detached"
        return f"<LinkGroup {self.program!r} {state}>"


class OwnLink(Link):
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

    def pin(self, path: str) -> None:
        """Refused, with the reason: only a kernel link can be pinned (subclasses that are
        one override this)."""
        raise BpfError(f"program '{self.program}' on {self.where} cannot be pinned: "
                       f"{self._unpinnable}")

    _unpinnable = "it is not a kernel link"

    def unpin(self) -> None:
        """Remove the pin, if any (see :meth:`Link.unpin`)."""
        with self._lock:
            path, self._pin_path = self._pin_path, None
        if path is not None:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def detach(self) -> None:
        """Detach (a pinned link stays attached: only this handle goes). Idempotent, and safe
        against a concurrent detach or close."""
        with self._lock:
            ptr, self._ptr = self._ptr, None
            if ptr is None:
                return
            if self._obj is not None:
                self._obj.forget_link(self)
            rc = self._undo()
        if rc < 0:
            raise BpfError(f"detaching program '{self.program}' from {self.where} failed", -rc)

    close = detach

    def __repr__(self) -> str:
        state = "attached" if self._ptr is not None else "detached"
        return f"<{type(self).__name__} {self.program!r} {self.where} {state}>"


__all__ = ["Link", "LinkGroup", "OwnLink"]
