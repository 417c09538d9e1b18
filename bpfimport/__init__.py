"""bpfimport: eBPF programs written in plain Python.

``import bpfimport`` installs an import hook; afterwards ``import mytrace_bpf``
compiles ``mytrace.bpf.py`` to a BPF object (cached in ``__pycache__/`` like a
``.pyc``) and returns a module whose attributes are live handles to its
programs, maps and globals.
"""

from __future__ import annotations

import os

from ._version import __version__
from .errors import BpfError, CompileError, SetupError, VerifierError
from .importer import install, uninstall

TYPE_CHECKING = False  # typing costs milliseconds on the import path
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from typing import Any

    from .options import CompileOptions
    from .runtime.link import Link


def compile_file(path: str, output: str | None = None, options: CompileOptions | None = None) -> bytes:
    """Compile a ``.bpf.py`` file to BPF ELF object bytes, writing them to ``output`` if given.

    The object an import of the file would load (same module name, same
    default options), without touching its cache.  Raises CompileError for
    the file's mistakes, OSError when it can't be read or written.
    """
    from .importer import compile_path

    data = compile_path(path, options).object
    if output is not None:
        with open(output, "wb") as f:
            f.write(data)
    return data


def ksym(addr: int, offset: bool = False, module: bool = False) -> str:
    """The kernel function holding code address ``addr``, from /proc/kallsyms (read once).

    ``"[unknown]"`` when no function holds it; ``offset=True`` adds ``+0x1f``,
    ``module=True`` the module in brackets.  Raises PermissionError when the
    kernel hides its addresses from this process (not root): see
    :mod:`bpfimport.symbols`.
    """
    from .symbols import ksym as kernel_name

    return kernel_name(addr, offset, module)


def usym(addr: int, pid: int, offset: bool = False, module: bool = False) -> str:
    """The function of process ``pid`` holding code address ``addr`` (ELF symbols, cached).

    ``"[unknown]"`` when it cannot be named; ``module=True`` adds the binary's
    name.  Needs pyelftools (``pip install 'bpfimport[tools]'``).
    """
    from .symbols import usym as user_name

    return user_name(addr, pid, offset, module)


def poll(callbacks: Mapping[Any, Callable[[Any], Any]], timeout_ms: int = 100, *,
         lost: Callable[[Any, int], Any] | None = None) -> int:
    """Poll several ring/perf buffers in one loop: ``bpfimport.poll({rb: on_rb, perf: on_perf})``.

    Waits up to ``timeout_ms`` for the first event on any of the maps, then
    hands each map's events to its callback as the map's own ``poll()``
    does, each bounded by the same deadline; returns how many it handled.
    ``lost(map, count)`` hears of samples a perf buffer dropped.  See
    docs/runtime.md, "Event streams".
    """
    from .runtime.events import poll_maps

    return poll_maps(callbacks, timeout_ms, lost)


def events(*maps: Any, timeout_ms: int = 100) -> Iterator[tuple[Any, Any]]:
    """``for m, event in bpfimport.events(rb, perf, timeout_ms=100)``: events of several maps.

    Stops once ``timeout_ms`` passes without an event on any of them (``-1``:
    never); events taken and not yet yielded stay for the next poll.
    """
    from .runtime.events import events_of

    return events_of(maps, timeout_ms, pairs=True)


def unpin(target: Any) -> list[str]:
    """Remove every pin under a pin_root, then the folder: what an agent left in bpffs.

    ``target`` is a module loaded with ``load(pin_root=DIR)``, or ``DIR`` itself.
    Pinned maps lose their contents once no process holds them; pinned links
    detach once no process holds them.  Returns the paths removed.  Refuses a
    folder that is not on bpffs.  See docs/runtime.md, "Pinning".
    """
    from .runtime.pinning import unpin_root

    root: str | None
    if isinstance(target, (str, bytes)) or hasattr(target, "__fspath__"):
        root = os.fsdecode(os.fspath(target))
    else:
        root = getattr(getattr(target, "__bpf_object__", None), "pin_root", None)
        if root is None:
            raise ValueError(f"{target!r} was not loaded with pin_root=...: nothing to unpin")
    return unpin_root(root)


def __getattr__(name: str) -> Any:
    """``bpfimport.Link`` (links opened from a pin), imported on first use."""
    if name == "Link":
        from .runtime.link import Link

        return Link
    raise AttributeError(f"module 'bpfimport' has no attribute {name!r}")


install()

__all__ = [
    "BpfError",
    "CompileError",
    "Link",
    "SetupError",
    "VerifierError",
    "__version__",
    "compile_file",
    "events",
    "install",
    "ksym",
    "poll",
    "uninstall",
    "unpin",
    "usym",
]
