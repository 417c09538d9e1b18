"""The BTF of a BPF ELF object: its ``.BTF`` spec, its ``.BTF.ext`` and its map definitions.

Map definitions are read the way libbpf reads BTF-defined maps: each variable of
the ``.maps`` data section is a struct whose members ``type``, ``max_entries``,
``map_flags``, ``key_size``, ``value_size`` are pointers to arrays whose length is the
value (``int (*type)[BPF_MAP_TYPE_HASH]``), and ``key``/``value`` point at the types.
"""

from __future__ import annotations

from typing import NamedTuple

from ..elf import Elf
from . import types as t
from .ext import Ext, parse_ext
from .reader import Spec

_NUMBER_FIELDS = ("type", "max_entries", "map_flags", "key_size", "value_size", "pinning", "numa_node")


class MapDef(NamedTuple):
    """One BTF-defined map: its numeric attributes and, when given as types, its key and value."""

    name: str
    numbers: dict[str, int]  # type, max_entries, map_flags, key_size, value_size... as written
    key: t.Type | None
    value: t.Type | None
    inner: MapDef | None = None  # a map of maps' template: ``__array(values, struct inner)``

    @property
    def type(self) -> int:
        return self.numbers["type"]

    @property
    def max_entries(self) -> int:
        return self.numbers.get("max_entries", 0)


class ObjectBtf(NamedTuple):
    """What an object says about itself in BTF."""

    spec: Spec
    ext: Ext | None  # None when the object has no .BTF.ext

    def datasec(self, name: str) -> t.Datasec | None:
        found = self.spec.types_by_name(name, t.Kind.DATASEC)
        return found[0] if found else None  # type: ignore[return-value]

    def maps(self) -> dict[str, MapDef]:
        """Every map defined in ``.maps``, by name."""
        sec = self.datasec(".maps")
        if sec is None:
            return {}
        out = {}
        for info in sec.vars:
            var = self.spec.type_by_id(info.type_id)
            assert isinstance(var, t.Var)
            out[var.name] = _map_def(var.name, t.skip_qualifiers(var.target))
        return out


def _map_def(name: str, body: t.Type) -> MapDef:
    if not isinstance(body, t.Struct):
        raise ValueError(f"map {name!r} in .maps is a {body.kind.name}, not a struct")
    numbers: dict[str, int] = {}
    key = value = None
    inner = None
    for m in body.members:
        member = t.skip_qualifiers(body.member_type(m.name))
        if m.name == "values":  # as libbpf reads it: a zero-length array of struct pointers
            if not (isinstance(member, t.Array) and member.nelems == 0
                    and isinstance(ptr := t.skip_qualifiers(member.element), t.Ptr)):
                raise ValueError(f"map {name!r}: values is not a zero-length array of pointers")
            inner = _map_def(f"{name}.inner", t.skip_qualifiers(ptr.target))
        elif m.name in ("key", "value"):
            if not isinstance(member, t.Ptr):
                raise ValueError(f"map {name!r}: {m.name} is not a pointer")
            if m.name == "key":
                key = member.target
            else:
                value = member.target
        elif isinstance(member, t.Ptr) and isinstance(arr := t.skip_qualifiers(member.target), t.Array):
            numbers[m.name] = arr.nelems
    return MapDef(name, numbers, key, value, inner)


def read_object(obj: bytes) -> ObjectBtf:
    """The ``.BTF`` and ``.BTF.ext`` of an ELF object (ValueError if it has no ``.BTF``)."""
    elf = Elf(obj)
    btf = elf.section(".BTF")
    if btf is None:
        raise ValueError("the object has no .BTF section")
    spec = Spec(elf.body(btf))
    ext = elf.section(".BTF.ext")
    return ObjectBtf(spec, parse_ext(elf.body(ext), spec) if ext is not None else None)
