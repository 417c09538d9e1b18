"""The module object an ``import NAME_bpf`` returns.

Binding is the cache-hit path of every import, so it does as little as it
can: it records the spec and the object bytes.  The handles (the object, a
handle per program, map and global: :mod:`.handles`) are made on the first
use of any of them, and struct classes (``skel.Event``) on their first use,
through the module's ``__getattr__``.  Measured: creating the handle classes
and objects was most of a cache hit's cost, several plain imports' worth.
"""

from __future__ import annotations

import types
from _thread import RLock  # not `threading`: binding a module must stay cheap

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..spec import ObjectSpec
    from .handles import BpfObject

_MAKING_HANDLES = RLock()  # two threads' first uses must not make two objects


class BpfModule(types.ModuleType):
    """A BPF module: attributes are live handles; ``load()``, ``close()``, context manager.

    The kernel is touched on first use of a handle that needs it, or by
    ``load()`` / ``with module:``.  ``close()`` detaches every link and closes
    every fd; the module can be used again afterwards (it then loads afresh).
    """

    __bpf_object__: BpfObject
    __bpf_spec__: ObjectSpec

    def load(self) -> BpfModule:
        """Load the object into the kernel now (verifier errors surface here)."""
        self.__bpf_object__.load()
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
        # Only reached when normal lookup fails: make the handles, or a struct class.
        d = self.__dict__
        spec = d.get("__bpf_spec__")
        if spec is not None and (name == "__bpf_object__" or name in d["__bpf_names__"]):
            with _MAKING_HANDLES:
                if "__bpf_object__" not in d:
                    from .handles import make_handles

                    d.update(make_handles(spec, d["__bpf_data__"]))
            if name in d:
                return d[name]
        if spec is not None and not name.startswith("__"):
            for s in spec.structs:
                if s.name == name:
                    cls = self.__bpf_object__.types.struct_class(name)
                    d[name] = cls
                    return cls
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        names = set(super().__dir__())
        spec = self.__dict__.get("__bpf_spec__")
        if spec is not None:
            names.update(_declared_names(spec))
        return sorted(names)


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
    d["__bpf_names__"] = frozenset(x.name for group in (spec.programs, spec.maps, spec.globals)
                                   for x in group)


def _declared_names(spec: ObjectSpec) -> list[str]:
    """The module attributes ``spec`` gives: handles, and struct classes once built."""
    return [d.name for group in (spec.programs, spec.maps, spec.globals, spec.structs)
            for d in group]
