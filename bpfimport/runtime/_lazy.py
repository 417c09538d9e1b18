"""A module imported on first attribute access.

The runtime's handles need ctypes only when they touch the kernel; importing
it up front cost ~3 ms of every cache-hit import, several times the import of
a plain module.
"""

from __future__ import annotations


class LazyModule:
    __slots__ = ("_name", "_module")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: object = None

    def __getattr__(self, attr: str) -> object:
        module = self._module
        if module is None:
            import importlib

            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)


TYPE_CHECKING = False
if TYPE_CHECKING:
    import ctypes  # what type checkers and editors see: the module itself
else:
    ctypes = LazyModule("ctypes")


class Generic:
    """What ``typing.Generic`` is to type checkers, at no import cost (typing costs milliseconds).

    The handle classes are generic for checkers only (``Map[Key, int]``, ``Global[int]``: the
    types ``python -m bpfimport stubs`` writes); at run time ``Map[Key, int]`` is a
    ``types.GenericAlias``, as ``list[int]`` is, and ``class Map(Generic[K, V])`` has this
    empty class as its base.
    """

    __slots__ = ()

    def __class_getitem__(cls, params: object) -> object:
        from types import GenericAlias

        return GenericAlias(cls, params)
