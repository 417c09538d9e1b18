"""The import hook: ``import NAME_bpf`` compiles ``NAME.bpf.py`` and returns a module of handles.

A meta-path finder (:class:`BpfFinder`) turns ``NAME_bpf`` into ``NAME.bpf.py``
on ``sys.path`` (or, for ``pkg.NAME_bpf``, on ``pkg.__path__``); a loader
(:class:`BpfLoader`) gets the object and spec from :mod:`bpfimport.cache`
(compiling on a miss) and lets the runtime bind them to a
:class:`~bpfimport.runtime.module.BpfModule`.  The ``.bpf.py`` file is never
executed, and importing touches no kernel: the runtime loads lazily.

The finder sits just before CPython's ``PathFinder`` so a ``.bpf.py`` file wins
over a same-named ``NAME_bpf.py``, and every name that does not end in
``_bpf`` is turned away by one string test, so other imports stay as fast as
without bpfimport.
"""

from __future__ import annotations

import os
import sys
from importlib.machinery import ModuleSpec, PathFinder
from stat import S_ISDIR
from types import ModuleType

from . import cache
from .errors import CompileError

TYPE_CHECKING = False  # typing costs milliseconds on the import path
if TYPE_CHECKING:
    from importlib.abc import Traversable

SUFFIX = "_bpf"
SOURCE_SUFFIX = ".bpf.py"


def source_name(fullname: str) -> str | None:
    """``pkg.mytrace_bpf`` → ``mytrace.bpf.py``; None for names the hook does not handle."""
    tail = fullname.rpartition(".")[2]
    if not tail.endswith(SUFFIX) or len(tail) == len(SUFFIX):
        return None
    return tail[: -len(SUFFIX)] + SOURCE_SUFFIX


def module_name(path: str) -> str:
    """``dir/mytrace.bpf.py`` → ``mytrace_bpf``, the name that imports it."""
    base = os.path.basename(path)
    if base.endswith(SOURCE_SUFFIX):
        base = base[: -len(SOURCE_SUFFIX)]
    elif base.endswith(".py"):
        base = base[:-3]
    return base.replace(".", "_").replace("-", "_") + SUFFIX


class BpfLoader:
    """Loads one ``.bpf.py`` file as a module (PEP 451 loader, one instance per file).

    It implements the parts of ``importlib.abc.InspectLoader`` tools use
    (``get_filename``, ``get_source``, ``is_package``) but not ``get_code``: the
    file has no code to run.
    """

    def __init__(self, fullname: str, path: str) -> None:
        self.name = fullname
        self.path = path

    def __repr__(self) -> str:
        return f"<BpfLoader {self.name!r} from {self.path!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BpfLoader) and (self.name, self.path) == (other.name, other.path)

    def __hash__(self) -> int:
        return hash((self.name, self.path))

    def get_filename(self, fullname: str | None = None) -> str:
        return self.path

    def is_package(self, fullname: str | None = None) -> bool:
        return False

    def get_data(self, path: str) -> bytes:
        """The source's bytes: never hangs on a FIFO nor reads a device without end."""
        if path == self.path:
            return cache.read_source(path)
        return cache._read(path)

    def get_source(self, fullname: str | None = None) -> str:
        """The ``.bpf.py`` text (for linecache, inspect and tracebacks)."""
        from importlib.util import decode_source

        try:
            return decode_source(self.get_data(self.path))
        except OSError as exc:
            raise ImportError(f"cannot read {self.path}", name=self.name, path=self.path) from exc

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        from .runtime.module import BpfModule

        return BpfModule(spec.name)

    def exec_module(self, module: ModuleType) -> None:
        """Bind the compiled object to ``module``; on reload, close the old kernel object first.

        The new object is compiled before the old one is closed, so a reload
        that fails to compile leaves the module as it was, as for Python code.
        """
        spec = module.__spec__
        cached = spec.cached if spec is not None and spec.cached else cache.cache_path(self.path)
        try:
            source = self.get_data(self.path)
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise ImportError(f"cannot import {self.name} from {self.path}: {why}",
                              name=self.name, path=self.path) from None
        try:
            entry = cache.load(self.path, self.name, source=source, cached=cached)
        except CompileError as exc:
            # The user's error is in their file, not in the compiler: drop the
            # compiler's frames, as Python shows a SyntaxError without the parser's.
            raise exc.with_traceback(None) from None

        from .runtime.module import bind_module

        # A reload: detach and close what the old object had in the kernel.
        # BpfModule.close() is idempotent and does nothing on a fresh module,
        # so no bookkeeping is needed to tell a reload from a first import.
        # (Looked up on the type: a program may be called `close`.)
        close = getattr(type(module), "close", None)
        if callable(close):
            close(module)
        bind_module(module, entry.spec, entry.object)


def load_file(path: str, name: str | None = None) -> ModuleType:
    """Import a ``.bpf.py`` file by path, through the cache, as ``import`` would (``run`` uses it).

    The module is not put in ``sys.modules``; ``name`` defaults to
    :func:`module_name` of the file.
    """
    from importlib.util import module_from_spec

    path = os.path.abspath(path)
    name = name or module_name(path)
    spec = ModuleSpec(name, BpfLoader(name, path), origin=path)
    spec.has_location = True
    spec.cached = cache.cache_path(path)
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BpfResourceLoader(BpfLoader):
    """Reads the source as a package resource: packages in zip files and zipapps.

    The cache file cannot be written into a zip, so such modules compile in
    memory, or into ``sys.pycache_prefix`` when one is set.
    """

    def __init__(self, fullname: str, path: str, resource: Traversable) -> None:
        super().__init__(fullname, path)
        self.resource = resource

    def get_data(self, path: str) -> bytes:
        if path == self.path:
            return self.resource.read_bytes()
        return super().get_data(path)


def _resource_spec(fullname: str, filename: str) -> ModuleSpec | None:
    """``pkg.NAME_bpf`` where ``pkg`` is not a plain folder: look for ``NAME.bpf.py`` as a resource.

    importlib-resources rather than the stdlib's ``importlib.resources``
    before Python 3.12: the backport also handles namespace packages there.
    """
    if sys.version_info >= (3, 12):
        from importlib.resources import files
    else:
        from importlib_resources import files

    package = fullname.rpartition(".")[0]
    try:
        resource = files(package).joinpath(filename)
        if not resource.is_file():
            return None
    except (ImportError, TypeError, ValueError, OSError):
        return None
    origin = str(resource)
    spec = ModuleSpec(fullname, BpfResourceLoader(fullname, origin, resource), origin=origin)
    spec.has_location = True
    spec.cached = cache.cache_path(origin)
    return spec


class BpfFinder:
    """Meta-path finder for ``*_bpf`` modules (PEP 451)."""

    @classmethod
    def find_spec(
        cls, fullname: str, path: list[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if not fullname.endswith(SUFFIX):
            return None  # the fast path every other import takes
        filename = source_name(fullname)
        if filename is None:
            return None
        entries = sys.path if path is None else path
        for entry in entries:
            if not isinstance(entry, str):
                continue
            if not os.path.isabs(entry):  # '' and relative entries are the cwd, as in PathFinder
                try:
                    entry = os.path.abspath(entry)
                except OSError:  # the cwd was deleted
                    continue
            candidate = os.path.join(entry, filename)
            try:
                st = os.stat(candidate)
            except (OSError, ValueError):
                continue
            if S_ISDIR(st.st_mode):
                continue
            # A FIFO, device or socket of that name is found, and the loader refuses
            # it with a clear ImportError rather than "No module named ..." (or a hang).
            spec = ModuleSpec(fullname, BpfLoader(fullname, candidate), origin=candidate)
            spec.has_location = True  # so __file__ is set from origin
            spec.cached = cache.cache_path(candidate)
            return spec
        if path is not None:
            return _resource_spec(fullname, filename)
        return None

    @classmethod
    def invalidate_caches(cls) -> None:
        """Nothing to drop: every lookup stats the file system afresh."""


def install() -> None:
    """Put the finder on ``sys.meta_path`` (just before ``PathFinder``); calling it again does nothing."""
    if BpfFinder in sys.meta_path:
        return
    try:
        at = sys.meta_path.index(PathFinder)
    except ValueError:
        at = len(sys.meta_path)
    sys.meta_path.insert(at, BpfFinder)


def uninstall() -> None:
    """Take the finder off ``sys.meta_path``; modules already imported keep working."""
    while BpfFinder in sys.meta_path:
        sys.meta_path.remove(BpfFinder)


__all__ = ["BpfFinder", "BpfLoader", "install", "load_file", "module_name", "source_name", "uninstall"]
