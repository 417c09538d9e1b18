"""The module object an ``import NAME_bpf`` returns, and how it is filled from a spec.

Binding is the cache-hit path of every import, so it must be cheap: it
creates one BpfObject (no libbpf, no kernel) and one small handle per
program, map and global, and imports only :mod:`bpfimport.runtime.handles`
(the code that talks to the kernel is imported on first use).  Struct
classes are ctypes classes built on first access (``skel.Event``), through
the module's ``__getattr__``.
"""

from __future__ import annotations

import types

from .handles import BpfObject, Global, Program, make_map

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..spec import ModuleSpec


class BpfModule(types.ModuleType):
    """A BPF module: attributes are live handles; ``load()``, ``close()``, context manager.

    The kernel is touched on first use of a handle that needs it, or by
    ``load()`` / ``with module:``.  ``close()`` detaches every link and closes
    every fd; the module can be used again afterwards (it then loads afresh).
    """

    __bpf_object__: BpfObject
    __bpf_spec__: ModuleSpec

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
        # Only reached when normal lookup fails: build struct classes lazily.
        spec = self.__dict__.get("__bpf_spec__")
        if spec is not None and not name.startswith("__"):
            for s in spec.structs:
                if s.name == name:
                    cls = self.__bpf_object__.types.struct_class(name)
                    self.__dict__[name] = cls
                    return cls
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        names = set(super().__dir__())
        spec = self.__dict__.get("__bpf_spec__")
        if spec is not None:
            names.update(s.name for s in spec.structs)
        return sorted(names)


def bind_module(module: BpfModule, spec: ModuleSpec, data: bytes) -> None:
    """Fill ``module`` with handles for everything ``spec`` declares.

    programs → Program, maps → Map, globals → Global, structs → ctypes classes
    (lazily), plus ``__bpf_object__`` (the BpfObject) and ``__bpf_spec__``.
    Touches neither libbpf nor the kernel.

    Binding a module again (``importlib.reload`` after the source changed)
    first drops every name the previous spec declared: a handle the new
    source no longer declares would otherwise stay, bound to the old, closed
    object, and a struct class already built would keep the old layout.
    """
    previous = module.__dict__.get("__bpf_spec__")
    if previous is not None:
        for name in _declared_names(previous):
            module.__dict__.pop(name, None)
    obj = BpfObject(data, spec, spec.name)
    ns: dict[str, Any] = {"__bpf_object__": obj, "__bpf_spec__": spec}
    for p in spec.programs:
        ns[p.name] = Program(obj, p)
    for m in spec.maps:
        ns[m.name] = make_map(obj, m)
    for g in spec.globals:
        ns[g.name] = Global(obj, g)
    module.__dict__.update(ns)


def _declared_names(spec: ModuleSpec) -> list[str]:
    """The module attributes binding ``spec`` creates: handles, and struct classes once built."""
    return [d.name for group in (spec.programs, spec.maps, spec.globals, spec.structs)
            for d in group]


__all__ = ["BpfModule", "bind_module"]
