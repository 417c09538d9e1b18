"""The handles a module's attributes become: the object, programs, maps, globals.

Made on the first use of a module's attribute (see :mod:`.module`), not at
import: a cache hit then creates no class and no handle.

Why only half of each class is here: the runtime code that talks to the
kernel (loading, attach, test runs, map operations, batch reads, ring
buffers: ~1,500 lines over several modules) cost several times the import of
a plain Python module.  So each handle class is split:

* here, the part making and describing a handle needs: ``__init__``,
  ``name``, ``section``, ``kind``, ``spec``, ``repr``;
* in its companion module (``object.py``, ``program.py``, ``maps.py``,
  ``globals.py``), everything else: its *cold half*.

``@cold_half_in(module, names)`` puts a placeholder on the class for each
name the companion module defines.  The first time one is looked up, the
companion module is imported and :func:`install_cold_half` replaces every
placeholder of the class with the real method or property.  From then on
lookups find the real attributes directly: no forwarding, no per-call cost.
The classes are re-exported by their companion modules, so
``bpfimport.runtime.maps.Map`` and the others stay where they always were.
"""

from __future__ import annotations

import types
from _thread import RLock

from ..spec import MAP_KINDS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ..spec import GlobalSpec, MapSpec, ObjectSpec, ProgramSpec
    from .codec import TypeSystem
    from .link import Link


def make_handles(spec: ObjectSpec, data: bytes) -> dict[str, Any]:
    """One BpfObject (no libbpf, no kernel yet) and a handle per program, map and global."""
    obj = BpfObject(data, spec, spec.name)
    ns: dict[str, Any] = {"__bpf_object__": obj}
    for p in spec.programs:
        ns[p.name] = Program(obj, p)
    for m in spec.maps:
        ns[m.name] = handle = make_map(obj, m)
        if m.kind == "PerfEventArray":
            # a perf event array drops what is sent while no reader is open: open one at load,
            # so events sent before the first poll() are kept
            obj.after_load.append(lambda h=handle: h._open_reader())  # looked up at load, not now
    for g in spec.globals:
        ns[g.name] = Global(obj, g)
    return ns


# ---- the handles' cold halves ---------------------------------------------------


class _InColdHalf:
    """Placeholder for a method or property defined in the class's companion module.

    A non-data descriptor: looking it up (``m.items``, ``len(m)``,
    ``Map.items``) imports the companion module, which installs the real
    attribute on the class over this placeholder, then looks the name up again.
    """

    __slots__ = ("owner", "module", "name")

    def __init__(self, owner: type, module: str, name: str) -> None:
        self.owner = owner
        self.module = module
        self.name = name

    def __get__(self, obj: object, cls: type | None = None) -> Any:
        import importlib

        importlib.import_module(self.module)
        if self.owner.__dict__.get(self.name) is self:
            raise AttributeError(f"{self.module} does not define {self.owner.__name__}.{self.name}")
        return getattr(cls if obj is None else obj, self.name)

    def __repr__(self) -> str:
        return f"<{self.owner.__name__}.{self.name}, defined in {self.module}>"


def cold_half_in(module: str, names: str) -> Callable[[type], type]:
    """Class decorator: ``names`` (space-separated) are defined in ``bpfimport.runtime.<module>``."""

    def decorate(cls: type) -> type:
        for name in names.split():
            setattr(cls, name, _InColdHalf(cls, f"{__package__}.{module}", name))
        return cls

    return decorate


def install_cold_half(cls: type, cold_half: type) -> None:
    """Put the methods and properties of ``cold_half`` (a plain class body) on ``cls``.

    Called once by each companion module when it is imported.  Every
    placeholder of ``cls`` must be replaced, and nothing else of ``cls``:
    a name the handle class defers but the companion does not define, or one
    both halves define, is a bug, reported here rather than as a confusing
    AttributeError or a silently replaced method on first use.
    """
    for name, attr in vars(cold_half).items():
        if name.startswith("__") and not callable(attr):
            continue  # the class body's own machinery: __module__, __doc__, __dict__, ...
        if name in vars(cls) and not isinstance(vars(cls)[name], _InColdHalf):
            raise TypeError(f"{cls.__name__}.{name} is defined in both halves")
        if isinstance(attr, types.FunctionType):
            attr.__qualname__ = f"{cls.__qualname__}.{name}"  # help() and reprs say Map.items
        setattr(cls, name, attr)
    missing = [n for n, a in vars(cls).items() if isinstance(a, _InColdHalf)]
    if missing:
        raise TypeError(f"{cold_half.__qualname__} does not define {cls.__name__}."
                        f"{', '.join(missing)}")


# ---- the object ----------------------------------------------------------------------


@cold_half_in("object", """
    load check_current using program_ptr program_fd map_ptr map_fd add_link forget_link add_resource
    sections _close_locked _acquire _release
""")
class BpfObject:
    """The live kernel side of one compiled module (see :mod:`bpfimport.runtime.object`).

    ``data`` is the ELF object, ``spec`` what it declares, ``name`` the
    object name libbpf uses (it prefixes the global-data map names).
    """

    def __init__(self, data: bytes, spec: ObjectSpec, name: str) -> None:
        self.data = data
        self.spec = spec
        self.name = name
        self.libbpf_log = ""  # what libbpf said during the last load
        self._types: TypeSystem | None = None
        self._sections: Any = None  # globals.DataSections, made on first use of a global
        self._lock = RLock()
        # object.Loaded while loaded: the libbpf object, its fds and what hangs off them;
        # it outlives close() until the last operation using it returns (see object.py)
        self._live: Any = None
        self._links: dict[int, Link] = {}
        self.after_load: list[Any] = []  # callables run after each successful load
        self.retired_from: str | None = None  # the module that was rebound to a new object

    @property
    def types(self) -> TypeSystem:
        """The module's codecs and ctypes classes (built on first use, not at bind)."""
        if self._types is None:
            from .codec import TypeSystem

            self._types = TypeSystem(self.spec)
        return self._types

    @property
    def loaded(self) -> bool:
        return self._live is not None

    @property
    def links(self) -> list[Link]:
        return list(self._links.values())

    def __repr__(self) -> str:
        state = "loaded" if self.loaded else "not loaded"
        return f"<BpfObject {self.name!r} {state}, {len(self._links)} links>"

    def __enter__(self) -> BpfObject:
        self.load()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass

    def retire(self, module_name: str) -> None:
        """Close for good: ``module_name`` now has a new object (``importlib.reload``).

        Handles kept from before the reload still point here; loading again
        would give them a private copy that the module's ``close()`` never
        reaches, so they raise instead, saying to look the handle up again.
        """
        self.retired_from = module_name
        self.close()

    def close(self) -> None:
        """Detach every link, free event buffers and mmaps, close every fd. Idempotent."""
        with self._lock:
            # Never loaded (or already closed): nothing to free, and no reason to
            # import the cold half (a reload closes every module it rebinds).
            if self._live is None and not self._links:
                return
            self._close_locked()


# ---- programs ----------------------------------------------------------------------------


@cold_half_in("program", "type attach test_run _test_run_error")
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


# ---- maps ----------------------------------------------------------------------------------


@cold_half_in("maps", """
    key_type value_type
    __getitem__ get __contains__ __setitem__ set __delitem__ pop update
    __bool__ __len__ __iter__ keys values items clear
    push add pop_value peek
""")
class Map:
    """A map of the module (``skel.NAME``). The protocol is in :mod:`bpfimport.runtime.maps`."""

    def __init__(self, obj: BpfObject, spec: MapSpec) -> None:
        self._obj = obj
        self.spec = spec
        self._kind = MAP_KINDS[spec.kind]
        self._kc: Any = None  # key and value codecs, made on first use
        self._vc: Any = None
        self._batch_ok = self._kind.batch  # cleared when the kernel turns batches down

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def kind(self) -> str:
        """The map kind as bpfimport.lang spells it (``HashMap``, ``ArrayMap``, ...)."""
        return self.spec.kind

    @property
    def max_entries(self) -> int:
        return self.spec.max_entries

    @property
    def flags(self) -> int:
        return self.spec.flags

    @property
    def percpu(self) -> bool:
        return self._kind.percpu

    @property
    def fd(self) -> int:
        """The map's fd (loads the module's object on first use)."""
        return self._obj.map_fd(self.spec.name)

    def __repr__(self) -> str:
        kv = f"{self.spec.key}->{self.spec.value}" if self.spec.key else str(self.spec.value)
        return f"<{self.spec.kind} {self.spec.name!r} {kv} max_entries={self.spec.max_entries}>"


@cold_half_in("maps", "poll consume lost _open_reader")
class _EventMap(Map):
    """Shared by RingBufferMap and PerfEventArrayMap: ``poll(callback, timeout_ms=100)``."""

    def __init__(self, obj: BpfObject, spec: MapSpec) -> None:
        super().__init__(obj, spec)
        self._reader: Any = None  # maps._EventReader, opened on the first poll


@cold_half_in("maps", "_reader_class")
class RingBufferMap(_EventMap):
    """A RingBuffer map: ``poll(callback, timeout_ms=100)`` delivers its events."""


@cold_half_in("maps", "_reader_class")
class PerfEventArrayMap(_EventMap):
    """A PerfEventArray map: ``poll(callback, timeout_ms=100)`` delivers its events.

    Perf samples carry padding up to an 8-byte boundary, so an undecoded event
    may be a few bytes longer than what the program wrote.
    """


def make_map(obj: BpfObject, spec: MapSpec) -> Map:
    """The handle class for a map's kind."""
    if spec.kind == "RingBuffer":
        return RingBufferMap(obj, spec)
    if spec.kind == "PerfEventArray":
        return PerfEventArrayMap(obj, spec)
    return Map(obj, spec)


# ---- globals -------------------------------------------------------------------------------


@cold_half_in("globals", "type codec")
class Global:
    """A module-level BPF global: ``.value`` reads and writes it (docs/runtime.md, "Globals")."""

    __slots__ = ("_obj", "spec", "_codec")

    def __init__(self, obj: BpfObject, spec: GlobalSpec) -> None:
        self._obj = obj
        self.spec = spec
        self._codec: Any = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def final(self) -> bool:
        return self.spec.final

    @property
    def value(self) -> Any:
        return self._obj.sections.read(self.spec, self.codec)

    @value.setter
    def value(self, new: Any) -> None:
        self._obj.sections.write(self.spec, self.codec, new)

    def __repr__(self) -> str:
        kind = "Final " if self.spec.final else ""
        return f"<Global {kind}{self.spec.type} {self.spec.name}>"


__all__ = [
    "BpfObject",
    "Global",
    "Map",
    "PerfEventArrayMap",
    "Program",
    "RingBufferMap",
    "make_handles",
    "make_map",
]
