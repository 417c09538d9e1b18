"""Links: a program attached somewhere, detached explicitly or when the module closes."""

from __future__ import annotations

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


__all__ = ["Link", "LinkGroup", "OwnLink"]
