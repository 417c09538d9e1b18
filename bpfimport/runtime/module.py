"""The module object an ``import NAME_bpf`` returns.

Binding is the cache-hit path of every import, so it does as little as it
can: it records the spec and the object bytes.  Each handle is made on its
first use, through the module's ``__getattr__``: the module's
:class:`~.object.BpfObject` with the first of them, then the program, map or
global asked for, importing only the module that defines its class
(``object``, ``program``, ``maps``, ``globals``); struct classes
(``skel.Event``) likewise.  Measured: importing those modules and creating
handles was most of a cache hit's cost, several plain imports' worth
(docs/internals.md, "Handles made on first use").
"""

from __future__ import annotations

import types
from _thread import RLock  # not `threading`: binding a module must stay cheap

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeAlias

    from ..spec import GlobalSpec, MapSpec, ObjectSpec, ProgramSpec
    from .globals import Global
    from .maps import Map
    from .object import BpfObject
    from .program import Program

    Declaration: TypeAlias = ProgramSpec | MapSpec | GlobalSpec
    Handle: TypeAlias = Program | Map | Global

_MAKING_HANDLES = RLock()  # two threads' first uses must not make two objects or handles


class BpfModule(types.ModuleType):
    """A BPF module: attributes are live handles; ``load()``, ``close()``, context manager.

    The kernel is touched on first use of a handle that needs it, or by
    ``load()`` / ``with module:``.  ``close()`` detaches every link and closes
    every fd; the module can be used again afterwards (it then loads afresh).
    """

    __bpf_object__: BpfObject
    __bpf_spec__: ObjectSpec

    def load(self, btf_custom_path: str | None = None, pin_root: str | None = None) -> BpfModule:
        """Load the object into the kernel now (verifier errors surface here).

        ``btf_custom_path``: relocate CO-RE reads against this raw BTF file instead of the
        running kernel's (to check an object against another kernel's layouts).
        ``pin_root``: a folder on bpffs (``/sys/fs/bpf/NAME``): the maps are pinned there
        by name, and a later load with the same ``pin_root`` (in this process or
        another) reuses them and what they hold, so a restarted agent keeps its counts.
        """
        self.__bpf_object__.load(btf_custom_path, pin_root)
        return self

    def close(self) -> None:
        """Detach every link and close every fd of this module. Idempotent."""
        obj = self.__dict__.get("__bpf_object__")
        if obj is not None:
            obj.close()

    def __enter__(self) -> BpfModule:
        return self.load()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: make a handle, or a struct class.
        d = self.__dict__
        spec = d.get("__bpf_spec__")
        if spec is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        if name == "__bpf_object__" or name in d["__bpf_names__"]:
            with _MAKING_HANDLES:
                if name not in d:
                    _make_handle(d, name)
            return d[name]
        if not name.startswith("__") and any(s.name == name for s in spec.structs):
            cls = d[name] = self.__bpf_object__.types.struct_class(name)
            return cls
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        names = set(super().__dir__())
        spec = self.__dict__.get("__bpf_spec__")
        if spec is not None:
            names.update(_declared_names(spec))
        return sorted(names)


def _make_handle(d: dict[str, Any], name: str) -> None:
    """Put the handle ``name`` (or ``__bpf_object__``) in the module dict ``d``.

    The object comes first, with the handles of the event maps: a perf event
    array opens its reader at each load, so that events sent before the first
    ``poll()`` are kept, which it can only do if its handle exists by then.
    """
    obj = d.get("__bpf_object__")
    if obj is None:
        from .object import BpfObject

        spec: ObjectSpec = d["__bpf_spec__"]
        obj = d["__bpf_object__"] = BpfObject(d["__bpf_data__"], spec, spec.name)
        for m in spec.maps:
            if m.map_kind.events:
                d[m.name] = make_handle(obj, m)
    if name not in d:
        d[name] = make_handle(obj, d["__bpf_names__"][name])


def make_handle(obj: BpfObject, decl: Declaration) -> Handle:
    """The handle of one declaration of ``obj``'s spec; imports only its class's module."""
    from ..spec import MapSpec, ProgramSpec

    if isinstance(decl, ProgramSpec):
        from .program import Program

        return Program(obj, decl)
    if isinstance(decl, MapSpec):
        from .maps import make_map

        return make_map(obj, decl)
    from .globals import Global

    return Global(obj, decl)


def bind_module(module: BpfModule, spec: ObjectSpec, data: bytes) -> None:
    """Make ``module`` the module of ``spec``: programs, maps and globals become handles on
    first use, structs ctypes classes; ``__bpf_object__`` is the BpfObject.

    Touches neither libbpf nor the kernel, and makes no handle yet.  Binding a
    module again (``importlib.reload`` after the source changed) first drops
    every name the previous spec declared, and retires the previous object:
    handles kept from before raise, saying to look the name up again, instead
    of quietly loading an object the module's ``close()`` no longer reaches.
    """
    d = module.__dict__
    previous = d.get("__bpf_spec__")
    if previous is not None:
        for name in _declared_names(previous):
            d.pop(name, None)
    old_obj = d.pop("__bpf_object__", None)
    if old_obj is not None:
        old_obj.retire(module.__name__)
    d["__bpf_spec__"] = spec
    d["__bpf_data__"] = data
    d["__bpf_names__"] = {x.name: x for group in (spec.programs, spec.maps, spec.globals)
                          for x in group}  # name -> its declaration


def _declared_names(spec: ObjectSpec) -> list[str]:
    """The module attributes ``spec`` gives: handles, and struct classes once built."""
    return [d.name for group in (spec.programs, spec.maps, spec.globals, spec.structs)
            for d in group]
