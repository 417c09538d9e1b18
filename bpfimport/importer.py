"""The import hook: ``import NAME_bpf`` compiles ``NAME.bpf.py`` and returns a module of handles.

A meta-path finder (:class:`BpfFinder`) turns ``NAME_bpf`` into ``NAME.bpf.py``
on ``sys.path`` (or, for ``pkg.NAME_bpf``, on ``pkg.__path__``); a loader
(:class:`BpfLoader`) gets the object and spec through :func:`compile_or_read`
and lets the runtime bind them to a
:class:`~bpfimport.runtime.module.BpfModule`.

The loader owns the flow, as CPython's ``SourceLoader.get_code`` does: read
the cache file, validate it (:mod:`bpfimport.cache`, which knows only files),
compile on a miss (:mod:`bpfimport.compiler`, which knows neither), write the
new cache file.  The command line (``compile``, ``compileall``) and
:func:`bpfimport.compile_file` go through the same functions, and
:func:`module_name` is the one rule that names a module after its file.  The ``.bpf.py`` file is never
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

from .errors import CompileError, SetupError

TYPE_CHECKING = False  # typing costs milliseconds on the import path
if TYPE_CHECKING:
    from . import cache
    from . import options as option_defaults
else:  # imported when a .bpf.py is first found: `import bpfimport` stays ~1 ms cheaper (struct,
    # the spec), which a tool's start-up pays before anything else
    from .runtime._lazy import LazyModule

    cache = LazyModule("bpfimport.cache")
    option_defaults = LazyModule("bpfimport.options")

if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.abc import Loader, Traversable

    from .compiler import CompiledModule
    from .options import CompileOptions
    from .runtime.module import BpfModule
    from .spec import ObjectSpec
else:
    Loader = object  # the ABC only tells type checkers; importing importlib.abc costs time

SUFFIX = "_bpf"
SOURCE_SUFFIX = ".bpf.py"


def source_name(fullname: str) -> str | None:
    """``pkg.mytrace_bpf`` → ``mytrace.bpf.py``; None for names the hook does not handle."""
    tail = fullname.rpartition(".")[2]
    if not tail.endswith(SUFFIX) or len(tail) == len(SUFFIX):
        return None
    return tail[: -len(SUFFIX)] + SOURCE_SUFFIX


def module_name(path: str) -> str:
    """``dir/mytrace.bpf.py`` → ``mytrace_bpf``: the name a file's module and object get.

    The one rule (imports by path, ``compile``, ``compileall``): characters
    that can't be in a Python name (``.``, ``-``) become ``_``, so
    ``a-b.bpf.py`` is ``a_b_bpf``.
    """
    base = os.path.basename(path)
    if base.endswith(SOURCE_SUFFIX):
        base = base[: -len(SOURCE_SUFFIX)]
    elif base.endswith(".py"):
        base = base[:-3]
    return base.replace(".", "_").replace("-", "_") + SUFFIX


class BpfLoader(Loader):
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
        return cache.read_bytes(path)

    def get_source(self, fullname: str | None = None) -> str:
        """The ``.bpf.py`` text (for linecache, inspect and tracebacks)."""
        from importlib.util import decode_source

        try:
            return decode_source(self.get_data(self.path))
        except OSError as exc:
            raise ImportError(f"cannot read {self.path}", name=self.name, path=self.path) from exc

    def writes_cache(self) -> bool:
        """Whether a cache file may be written for this source (a plain file: yes)."""
        return True

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
        write_cache = None if self.writes_cache() else False
        try:
            entry = compile_or_read(self.path, self.name, source=source, cached=cached,
                                    write_cache=write_cache)
        except (CompileError, SetupError) as exc:
            # The user's error is in their file (or their install), not in the compiler:
            # drop the compiler's frames, as Python shows a SyntaxError without the parser's.
            raise exc.with_traceback(None) from None

        if self.writes_cache() and (_keep_stubs or os.environ.get(STUBS_ENV) == "1"):
            refresh_stub(self.path, self.name, source)

        from .runtime.module import bind_module

        # A reload: detach and close what the old object had in the kernel.
        # BpfModule.close() is idempotent and does nothing on a fresh module,
        # so no bookkeeping is needed to tell a reload from a first import.
        # (Looked up on the type: a program may be called `close`.)
        close = getattr(type(module), "close", None)
        if callable(close):
            close(module)
        bpf_module: BpfModule = module  # type: ignore[assignment]  # create_module made it
        bind_module(bpf_module, entry.spec, entry.object)


# ---------------------------------------------------------------- the flow: read, validate, compile, write


class Entry:
    """A module's object and spec, and where they came from.

    A plain class, not a dataclass: creating a dataclass costs more at import
    than this whole module does otherwise.
    """

    __slots__ = ("cached", "hit", "object", "spec", "written")

    def __init__(
        self, object: bytes, spec: ObjectSpec, cached: str, hit: bool, written: bool = False
    ) -> None:
        self.object = object
        self.spec = spec
        self.cached = cached  # the cache file's path (whether or not it exists)
        self.hit = hit  # True: read from the cache; False: compiled now
        self.written = written  # a fresh cache file was written

    def __repr__(self) -> str:
        return f"<Entry {self.cached!r} hit={self.hit} written={self.written}>"


def compile_or_read(
    source_path: str,
    module_name: str,
    *,
    source: bytes | None = None,
    cached: str | None = None,
    write_cache: bool | None = None,
    force: bool = False,
    options: CompileOptions | None = None,
    portable: bool = False,
) -> Entry:
    """The compiled object and spec for a ``.bpf.py`` file: read from its cache file, or compiled.

    The flow of ``SourceLoader.get_code``: read the cache file and validate it
    (and, in a privileged process, who could have written it); on a miss,
    compile, then write the new cache file.  ``write_cache`` None follows
    ``sys.dont_write_bytecode``; ``force`` ignores a valid cache file
    (``compileall -f``).  Non-default ``options`` bypass the cache: it holds
    objects for the options an import uses.  ``portable`` writes an object keyed by the
    source's bytes alone, valid wherever the tree is installed (``compileall --portable``,
    :mod:`bpfimport.build`); it always compiles.  Raises the
    :class:`~bpfimport.CompileError` for the user's file when it does not
    compile (and writes nothing then), OSError when the source can't be read.
    """
    if source is None:
        source = cache.read_source(source_path)
    if cached is None:
        cached = cache.cache_path(source_path)
    if options is not None:
        compiled = compile_checked(source, source_path, module_name, options)
        return Entry(compiled.object, compiled.spec, cached, hit=False)
    found, distrust = _read_cache(cached, source, source_path, module_name, force or portable)
    if found is not None:
        return Entry(found[0], found[1], cached, hit=True)
    compiled = compile_checked(source, source_path, module_name, option_defaults.DEFAULT_OPTIONS)
    written = False if distrust else _write_cache(cached, compiled, source, source_path, write_cache,
                                                  portable)
    return Entry(compiled.object, compiled.spec, cached, hit=False, written=written)


def _read_cache(cached: str, source: bytes, source_path: str, module_name: str,
                force: bool) -> tuple[tuple[bytes, ObjectSpec] | None, str | None]:
    """A valid (object, spec) from the cache file, and why it must not be written (or None)."""
    trusted = cache.trust(source_path)
    distrust = trusted.folder_problem(os.path.dirname(cached)) if trusted else None
    if distrust:
        cache.verbose(f"not using or writing {cached}: {distrust}, and this process is "
                      "privileged (root or CAP_BPF); compiling in memory")
        return None, distrust
    if force:
        return None, None
    return cache.lookup(cached, source, module_name, source_path, trusted)


def _write_cache(cached: str, compiled: CompiledModule, source: bytes, source_path: str,
                 write_cache: bool | None, portable: bool = False) -> bool:
    """Write the cache file unless told not to (None: unless ``sys.dont_write_bytecode``)."""
    if write_cache is None:
        write_cache = not sys.dont_write_bytecode
        if not write_cache:
            cache.verbose(f"not writing {cached}: sys.dont_write_bytecode is set")
    if not write_cache:
        return False
    return cache.store(cached, compiled.object, compiled.spec, source, source_path, portable)


def check_source_path(path: str) -> None:
    """Refuse a path that is not UTF-8 (``surrogateescape``d bytes) with a CompileError.

    The object's debug info (BTF line info, which verifier errors quote)
    records the path as UTF-8 text; such a path otherwise fails deep in the
    compiler as an "internal compiler error".
    """
    try:
        os.path.abspath(path).encode("utf-8")
    except UnicodeEncodeError:
        raise CompileError(
            f"the path {os.fsencode(path)!r} is not valid UTF-8, which the object's debug info needs",
            path, hint="rename the file (or its folder) to a UTF-8 name") from None


# A cache miss on a runtime-only install (no llvmlite): one sentence, what to do.
NO_COMPILER = ("{path} has no precompiled object that matches it, and compiling it needs llvmlite, "
               "which is not installed: pip install llvmlite, or ship the object built with "
               "`python -m bpfimport compileall --portable` (docs/packaging.md)")


def compile_checked(source: bytes, source_path: str, module_name: str,
                    options: CompileOptions) -> CompiledModule:
    """The compiler's ``compile_source`` after :func:`check_source_path` (the one way in)."""
    check_source_path(source_path)
    from ._host import installed

    if installed() is None:
        raise SetupError(NO_COMPILER.format(path=source_path))
    from . import compiler  # looked up on the package: tests count compiles by patching it

    return compiler.compile_source(source, source_path, module_name, options)


def compile_path(path: str, options: CompileOptions | None = None) -> CompiledModule:
    """Read (refusing FIFOs, devices and huge files) and compile a ``.bpf.py`` file, no cache.

    Named by :func:`module_name`; what ``python -m bpfimport compile`` and
    :func:`bpfimport.compile_file` do.  Raises OSError when it can't be read.
    """
    return compile_checked(cache.read_source(path), path, module_name(path), options or option_defaults.DEFAULT_OPTIONS)


def import_file(path: str, name: str | None = None) -> ModuleType:
    """Import a ``.bpf.py`` file by path, through the cache, as ``import`` would (``run`` uses it).

    The module is not put in ``sys.modules``; ``name`` defaults to
    :func:`module_name` of the file.
    """
    from importlib.util import module_from_spec

    path = os.path.abspath(path)
    name = name or module_name(path)
    loader = BpfLoader(name, path)
    spec = ModuleSpec(name, loader, origin=path)
    spec.has_location = True
    spec.cached = cache.cache_path(path)
    module = module_from_spec(spec)
    loader.exec_module(module)
    return module


class BpfResourceLoader(BpfLoader):
    """Reads the source as a package resource: packages in zip files and zipapps.

    The cache file cannot be written into a zip, so such modules compile in
    memory, or into ``sys.pycache_prefix`` when one is set: the loader
    refuses to write anywhere else rather than trying and failing.
    """

    def __init__(self, fullname: str, path: str, resource: Traversable) -> None:
        super().__init__(fullname, path)
        self.resource = resource

    def get_data(self, path: str) -> bytes:
        if path == self.path:
            return self.resource.read_bytes()
        return super().get_data(path)

    def writes_cache(self) -> bool:
        """Only under ``sys.pycache_prefix``: the cache path beside the source is inside the zip."""
        if sys.pycache_prefix is None:
            cache.verbose(f"not writing a cache file for {self.path}: it is inside an archive "
                          "(set PYTHONPYCACHEPREFIX to cache it)")
            return False
        return True


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
        cls, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
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


STUBS_ENV = "BPFIMPORT_STUBS"
_keep_stubs = False  # install(stubs=True): imports keep NAME_bpf.pyi beside NAME.bpf.py fresh


def write_stub(source_path: str, name: str, source: bytes | None = None) -> str:
    """Write the typed stub of a ``.bpf.py`` file beside it (``NAME_bpf.pyi``); returns its path.

    Raises CompileError for the source's mistakes, OSError when a file can't be read or written.
    """
    from ._files import write_atomic
    from ._stubs import stub_path
    from .compiler import stubs

    if source is None:
        source = cache.read_source(source_path)
    check_source_path(source_path)
    text = stubs.render(source, source_path, name)
    path = stub_path(source_path, name)
    write_atomic(path, text.encode(), 0o666)
    return path


def refresh_stub(source_path: str, name: str, source: bytes) -> None:
    """Write the typed stub beside a source unless the one there was written from these bytes.

    Asked for by ``bpfimport.install(stubs=True)`` or ``BPFIMPORT_STUBS=1``.  A fresh stub
    costs one line read; a stale one runs the compiler's frontend (no LLVM).  A stub that
    can't be written never fails the import (``python -v`` says why).
    """
    from ._stubs import stub_is_fresh, stub_path

    if stub_is_fresh(stub_path(source_path, name), source):
        return
    try:
        cache.verbose(f"wrote {write_stub(source_path, name, source)}")
    except (CompileError, OSError) as exc:
        cache.verbose(f"could not write the stub of {source_path}: {exc}")


def install(stubs: bool | None = None) -> None:
    """Put the finder on ``sys.meta_path`` (just before ``PathFinder``); calling it again does nothing.

    ``stubs=True``: each import of a ``.bpf.py`` file also keeps its typed stub
    (``NAME_bpf.pyi`` beside it) fresh, as ``BPFIMPORT_STUBS=1`` does; ``False`` stops it.
    """
    global _keep_stubs
    if stubs is not None:
        _keep_stubs = stubs
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


__all__ = [
    "BpfFinder",
    "BpfLoader",
    "Entry",
    "compile_checked",
    "compile_or_read",
    "compile_path",
    "import_file",
    "install",
    "module_name",
    "refresh_stub",
    "write_stub",
    "source_name",
    "uninstall",
]
