"""Globals: ``skel.NAME.value`` before and after load.

Globals live in libbpf's internal maps, one per section (``.rodata``,
``.data``, ``.bss``), each a one-entry array whose value is the section image.

* Before load, reads give the pending write or the compiled initial value, and
  writes are kept; between open and load they are patched into the section
  image with ``bpf_map__set_initial_value`` (this is how ``Final`` settings
  reach the verifier, which then treats them as constants).
* After load, reads and writes go to the live map: through an ``mmap`` of the
  map when it is mmapable (field-sized accesses that do not disturb the
  program's concurrent writes to neighbouring globals), otherwise through a
  lookup/update of key 0.  libbpf 1.1's ``bpf_map__initial_value`` is not live
  after a plain ``bpf_object__load``, so it is not used for reads.
* ``.rodata`` is frozen by libbpf at load: writing a ``Final`` global after
  load raises ``AttributeError`` saying to set it before load.

The object loads the sections' pending writes through
:meth:`DataSections.apply_pending` without importing this module: the globals
know their object, not the reverse.
"""

from __future__ import annotations

from ..errors import BpfError
from ._lazy import ctypes

TYPE_CHECKING = False
if TYPE_CHECKING:
    import mmap
    from typing import Any, Generic, TypeVar

    T = TypeVar("T")  # the value's type: int, bytes, a struct class, a list

    from ..spec import GlobalSpec
    from .codec import Codec
    from .object import BpfObject, Loaded
else:
    from ._lazy import Generic  # generic for checkers only: no typing import at run time

    T = None


class Global(Generic[T]):
    """A module-level BPF global: ``.value`` reads and writes it (docs/runtime.md, "Globals").

    Generic in its value's type for type checkers (``TARGET: Global[int]`` in the stubs).
    """

    __slots__ = ("_obj", "spec", "_codec")

    def __init__(self, obj: BpfObject, spec: GlobalSpec) -> None:
        self._obj = obj
        self.spec = spec
        self._codec: Codec | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def final(self) -> bool:
        return self.spec.final

    @property
    def value(self) -> T:
        return sections_of(self._obj).read(self.spec, self.codec)

    @value.setter
    def value(self, new: T) -> None:
        sections_of(self._obj).write(self.spec, self.codec, new)

    @property
    def type(self) -> type:
        """The global's ctypes type."""
        return self.codec.ctype

    @property
    def codec(self) -> Codec:
        if self._codec is None:
            self._codec = self._obj.types.codec(self.spec.type)
        return self._codec

    def __repr__(self) -> str:
        kind = "Final " if self.spec.final else ""
        return f"<Global {kind}{self.spec.type} {self.spec.name}>"


def sections_of(obj: BpfObject) -> DataSections:
    """``obj``'s pending and live global values, made on the first use of one of its globals.

    Under the object's lock: two threads' first uses must not make two, one
    of which (with its pending write) the load would never see.
    """
    sections = obj._sections
    if sections is None:
        with obj._lock:
            sections = obj._sections
            if sections is None:
                sections = obj._sections = DataSections(obj)
    return sections  # type: ignore[return-value]  # only this module sets it


class DataSections:
    """Pending writes before load, live access after load, for one object's global-data maps."""

    def __init__(self, obj: BpfObject) -> None:
        self.obj = obj
        self.pending: dict[str, bytes] = {}  # global name -> encoded value

    # -- called by BpfObject -------------------------------------------------------

    def apply_pending(self, maps: dict[str, int]) -> None:
        """Patch pending writes into the section images (between open and load)."""
        from . import libbpf as L

        if not self.pending:
            return
        lb = L.lib()
        by_section: dict[str, list[tuple[GlobalSpec, bytes]]] = {}
        for g in self.obj.spec.globals:
            if g.name in self.pending:
                by_section.setdefault(g.section, []).append((g, self.pending[g.name]))
        for section, items in by_section.items():
            m = maps.get(section)
            if not m:
                raise BpfError(f"BPF object '{self.obj.name}' has no {section} map for global "
                               f"'{items[0][0].name}'")
            size = ctypes.c_size_t()
            ptr = lb.bpf_map__initial_value(m, ctypes.byref(size))
            if not ptr:
                raise BpfError(f"cannot read the initial {section} image of '{self.obj.name}'",
                               L.last_errno())
            image = bytearray(ctypes.string_at(ptr, size.value))
            for g, raw in items:
                image[g.offset:g.offset + len(raw)] = raw
            buf = (ctypes.c_char * len(image)).from_buffer(image)
            rc = lb.bpf_map__set_initial_value(m, buf, len(image))
            if rc < 0:
                raise BpfError(f"cannot set the initial {section} image of '{self.obj.name}'", -rc)

    # -- called by Global ------------------------------------------------------------

    def read(self, g: GlobalSpec, codec: Codec) -> Any:
        live = self.obj._acquire(g.name, load=False)  # obj.using(), without a context object
        if live is None:  # not loaded: the pending write or the compiled value
            raw = self.pending.get(g.name)
            return codec.decode(raw if raw is not None else _initial_bytes(g, codec.size))
        try:
            return codec.decode(self._section(live, g.section).read(g.offset, codec.size))
        finally:
            self.obj._release(live)

    def write(self, g: GlobalSpec, codec: Codec, value: Any) -> None:
        raw = codec.encode(value)
        live = self.obj._acquire(g.name, load=False)
        if live is None:
            self.pending[g.name] = raw
            return
        try:
            if g.final or g.section == ".rodata":
                raise AttributeError(
                    f"global '{g.name}' is Final (in .rodata, frozen when the module is loaded): "
                    f"set {g.name}.value before the first use of the module's programs or maps, "
                    f"or close() the module and set it again")
            self._section(live, g.section).write(g.offset, raw)
            self.pending[g.name] = raw  # survives close() + reload, like a write before load
        finally:
            self.obj._release(live)

    def _section(self, live: Loaded, section: str) -> _LiveSection:
        """The load's access to ``section``: made once per load, unmapped when the load is freed."""
        sec = live.sections.get(section)
        if sec is None:
            with self.obj._lock:  # two threads' first accesses must not map it twice
                sec = live.sections.get(section)
                if sec is None:
                    sec = live.sections[section] = _LiveSection(live, section)
        return sec


class _LiveSection:
    """Access to a loaded global-data map: mmap when possible, else key-0 lookup/update.

    Used only while its load is held (``obj.using``), which keeps the fd and
    the mapping alive; the load unmaps it when it is freed.
    """

    def __init__(self, live: Loaded, section: str) -> None:
        import mmap

        from . import libbpf as L

        self.lb = L.lib()
        m = live.map_ptr(section)
        self.fd = live.map_fd(section)
        self.size = self.lb.bpf_map__value_size(m)
        self.section = section
        self.mm: mmap.mmap | None = None
        if self.lb.bpf_map__map_flags(m) & L.BPF_F_MMAPABLE:
            prot = mmap.PROT_READ if section == ".rodata" else mmap.PROT_READ | mmap.PROT_WRITE
            try:
                self.mm = mmap.mmap(self.fd, self.size, mmap.MAP_SHARED, prot)
            except OSError:
                self.mm = None

    def read(self, offset: int, size: int) -> bytes:
        if self.mm is not None:
            return self.mm[offset:offset + size]
        return bytes(self._lookup()[offset:offset + size])

    def write(self, offset: int, raw: bytes) -> None:
        if self.mm is not None:
            self.mm[offset:offset + len(raw)] = raw
            return
        image = self._lookup()
        image[offset:offset + len(raw)] = raw
        key = ctypes.c_uint32(0)
        rc = self.lb.bpf_map_update_elem(self.fd, ctypes.byref(key), image, 0)
        if rc < 0:
            raise BpfError(f"cannot write {self.section}", -rc)

    def _lookup(self) -> Any:
        key = ctypes.c_uint32(0)
        image = ctypes.create_string_buffer(self.size)
        rc = self.lb.bpf_map_lookup_elem(self.fd, ctypes.byref(key), image)
        if rc < 0:
            raise BpfError(f"cannot read {self.section}", -rc)
        return image

    def close(self) -> None:
        if self.mm is not None:
            self.mm.close()
            self.mm = None


def _initial_bytes(g: GlobalSpec, size: int) -> bytes:
    """The compiled initial value as bytes: an int, or hex of the bytes for arrays/structs."""
    if isinstance(g.initial, str):
        raw = bytes.fromhex(g.initial)
        return raw.ljust(size, b"\0")[:size]
    return (g.initial & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


__all__ = ["DataSections", "Global", "sections_of"]
