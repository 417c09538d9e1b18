"""What a compiled module declares: plain data shared by the compiler and the runtime.

The compiler produces an :class:`ObjectSpec` next to the object bytes; the cache
stores both; the runtime builds live handles from it.  Nothing here touches the
kernel or imports llvmlite, so a cache hit stays cheap.

Types are written as short strings so the spec serialises to JSON as-is:

* scalars ``u8 u16 u32 u64 i8 i16 i32 i64 bool char ptr``
* arrays ``T[N]`` (``char[16]``, ``u64[8]``, ``u8[4][2]``)
* structs ``struct Name`` (described by a :class:`StructSpec`)
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself costs ~4 ms to import, and this is on the cache-hit path
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, Final

    from .kinds import MAP_KINDS, MapKind  # noqa: F401 - re-exported (see __getattr__)


def __getattr__(name: str) -> Any:
    """``spec.MAP_KINDS`` / ``spec.MapKind``: the records of bpfimport.kinds, imported when first
    asked for, so a cache hit (which needs the spec records, not the kinds) does not pay for them."""
    if name in ("MAP_KINDS", "MapKind"):
        from . import kinds

        return getattr(kinds, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

SPEC_FORMAT = 1

# ObjectSpec.extra keys of an object that read this kernel's fixed offsets (not CO-RE
# relocated): the kernel it is valid for (bpfimport.btf.kernel.kernel_identity(), which the
# cache compares) and what it read that way.  A relocatable object has neither.
KERNEL_KEY = "kernel"
LAYOUT_KEY = "kernel_layout"
CO_RE_KEY = "co_re"  # how many CO-RE relocations an object carries (absent: none)
# ObjectSpec.extra key of a CO-RE object whose kernel types all came from vmlinux: that BTF's
# identity (bpfimport.btf.boot.vmlinux_identity()).  On that same kernel the object's own BTF
# holds the layouts its relocations need, so the runtime gives libbpf that instead of the
# 5.5 MB vmlinux (BpfObject._load); on any other kernel libbpf relocates against vmlinux.
CORE_KERNEL_KEY = "co_re_kernel"
# ObjectSpec.extra key of an object whose code is for one machine's architecture (probe
# arguments read that architecture's registers): os.uname().machine, which the cache compares.
MACHINE_KEY = "machine"

# name -> (size in bytes, signed, ctypes type name); ctypes itself is imported only when needed
SCALARS: dict[str, tuple[int, bool, str]] = {
    "u8": (1, False, "c_uint8"),
    "u16": (2, False, "c_uint16"),
    "u32": (4, False, "c_uint32"),
    "u64": (8, False, "c_uint64"),
    "i8": (1, True, "c_int8"),
    "i16": (2, True, "c_int16"),
    "i32": (4, True, "c_int32"),
    "i64": (8, True, "c_int64"),
    "bool": (1, False, "c_bool"),
    "char": (1, True, "c_char"),
    "ptr": (8, False, "c_uint64"),
}


class _Record:
    """A small immutable record.

    Plain classes rather than dataclasses: this module is on the cache-hit
    import path, and creating seven dataclasses (plus importing ``dataclasses``
    and ``inspect``) cost ~20 ms there.
    """

    __slots__: tuple[str, ...] = ()
    _defaults: dict[str, Any] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = self.__slots__
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes at most {len(names)} arguments")
        values = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in names or key in values:
                raise TypeError(f"{type(self).__name__}: unexpected or repeated argument {key!r}")
            values[key] = value
        for name in names:
            if name not in values:
                if name not in self._defaults:
                    raise TypeError(f"{type(self).__name__} needs {name!r}")
                values[name] = self._defaults[name]
            object.__setattr__(self, name, values[name])

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _items(self) -> Iterator[tuple[str, Any]]:
        return ((n, getattr(self, n)) for n in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __hash__(self) -> int:
        return hash(tuple(v if not isinstance(v, dict) else None for _, v in self._items()))

    def __repr__(self) -> str:
        args = ", ".join(f"{n}={v!r}" for n, v in self._items())
        return f"{type(self).__name__}({args})"

    def replace(self, **changes: Any) -> Any:
        """A copy with some fields changed (like ``dataclasses.replace``)."""
        return type(self)(**{**dict(self._items()), **changes})

    def to_dict(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            if isinstance(v, _Record):
                return v.to_dict()
            if isinstance(v, (tuple, list)):
                return [plain(x) for x in v]
            return v
        return {n: plain(v) for n, v in self._items()}


# The kernel's map update flags: what bpfimport.lang exports, the compiler folds
# and the runtime's Map.set()/push() pass.
BPF_ANY: Final = 0  # create or replace
BPF_NOEXIST: Final = 1  # create only: a present key is left alone (the call returns -EEXIST)
BPF_EXIST: Final = 2  # replace only: a missing key is not created (the call returns -ENOENT)


class FieldSpec(_Record):
    __slots__ = ("name", "type", "offset")
    name: str
    type: str
    offset: int


class StructSpec(_Record):
    __slots__ = ("name", "size", "align", "fields", "lineno")
    name: str
    size: int
    align: int
    fields: tuple[FieldSpec, ...]
    lineno: int
    _defaults = {"lineno": 0}


class MapSpec(_Record):
    """A map: ``kind`` is a key of MAP_KINDS; ``key``/``value`` are type strings (None: keyless).

    ``histogram`` is ``"log2"`` when every key the programs write is a ``log2()`` bucket
    (directly, or in a struct key's bucket field): user space may print it as one.
    """

    __slots__ = ("name", "kind", "key", "value", "max_entries", "flags", "lineno", "histogram")
    name: str
    kind: str
    key: str | None
    value: str | None
    max_entries: int
    flags: int
    lineno: int
    histogram: str | None
    _defaults = {"flags": 0, "lineno": 0, "histogram": None}

    @property
    def map_kind(self) -> MapKind:
        from .kinds import MAP_KINDS

        return MAP_KINDS[self.kind]


def slot_field(fields: list[str]) -> str:
    """Which field of a keyed histogram's struct key holds the bucket: the one named ``slot``,
    else the last.  One rule for the compiler (which maps are histograms) and user space
    (how they print); the other fields name the section (a disk, a pid)."""
    return "slot" if "slot" in fields else fields[-1]


class ProgramSpec(_Record):
    """A program: ``section`` is the ELF section libbpf reads its type and attach point from."""

    __slots__ = ("name", "section", "decorator", "lineno")
    name: str
    section: str
    decorator: str
    lineno: int
    _defaults = {"lineno": 0}


class GlobalSpec(_Record):
    """A global: ``section`` is .rodata/.data/.bss, ``offset`` within it; ``initial`` is an int
    or the hex of its bytes (arrays, structs)."""

    __slots__ = ("name", "type", "section", "offset", "initial", "final", "lineno")
    name: str
    type: str
    section: str
    offset: int
    initial: int | str
    final: bool
    lineno: int
    _defaults = {"initial": 0, "final": False, "lineno": 0}


class ObjectSpec(_Record):
    """What one compiled object declares: programs, maps, structs, globals (``mod.__bpf_spec__``).

    Named after the object it describes; ``importlib.machinery.ModuleSpec``
    is the import system's own record, which the importer uses beside it.
    """

    __slots__ = ("name", "filename", "license", "programs", "maps", "structs", "globals",
                 "format", "extra")
    name: str
    filename: str
    license: str
    programs: tuple[ProgramSpec, ...]
    maps: tuple[MapSpec, ...]
    structs: tuple[StructSpec, ...]
    globals: tuple[GlobalSpec, ...]
    format: int
    extra: dict[str, Any]
    _defaults = {"license": "GPL", "programs": (), "maps": (), "structs": (), "globals": (),
                 "format": SPEC_FORMAT, "extra": None}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.extra is None:
            object.__setattr__(self, "extra", {})

    @property
    def kernel(self) -> str | None:
        """The kernel this object's layout is fixed to, or None: relocatable (CO-RE) or
        using no kernel layout at all."""
        value = self.extra.get(KERNEL_KEY)
        return value if isinstance(value, str) else None

    def portability(self) -> str:
        """What the object needs of a kernel, in words (``compileall`` says it per file)."""
        machine = self.extra.get(MACHINE_KEY)
        arch = f"; probe arguments in {machine} registers: recompiled on another machine" \
            if machine else ""
        if self.kernel is not None:
            return f"fixed to this kernel's layout ({self.kernel}): recompiled on another kernel{arch}"
        if self.extra.get(CO_RE_KEY):
            return f"CO-RE: relocated for the running kernel at load{arch}"
        return f"no kernel layouts{arch}"

    def to_json(self) -> str:
        """Readable form, for tools and tests."""
        import json

        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> ObjectSpec:
        import json

        return cls.from_dict(json.loads(text))

    def to_bytes(self) -> bytes:
        """Compact form stored in the cache: marshal, which is built in (json costs ~3 ms to import)."""
        import marshal

        return marshal.dumps(self.to_dict())

    @classmethod
    def from_bytes(cls, data: bytes) -> ObjectSpec:
        import marshal

        raw = marshal.loads(data)
        if not isinstance(raw, dict):
            raise ValueError("spec is not a mapping")
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: dict) -> ObjectSpec:
        if raw.get("format") != SPEC_FORMAT:
            raise ValueError(f"spec format {raw.get('format')!r} is not {SPEC_FORMAT}")
        structs = tuple(
            StructSpec(
                s["name"], s["size"], s["align"],
                tuple(FieldSpec(**f) for f in s["fields"]), s.get("lineno", 0),
            )
            for s in raw["structs"]
        )
        return cls(
            name=raw["name"],
            filename=raw["filename"],
            license=raw["license"],
            programs=tuple(ProgramSpec(**p) for p in raw["programs"]),
            maps=tuple(MapSpec(**m) for m in raw["maps"]),
            structs=structs,
            globals=tuple(GlobalSpec(**g) for g in raw["globals"]),
            format=raw["format"],
            extra=raw.get("extra", {}),
        )

    def struct(self, name: str) -> StructSpec:
        for s in self.structs:
            if s.name == name:
                return s
        raise KeyError(name)


def parse_type(text: str) -> tuple[str, tuple[int, ...]]:
    """Split ``"u64[8][2]"`` into the element name and the array lengths, outermost first.

    ``"struct Event"`` gives ``("struct Event", ())``.
    """
    dims: list[int] = []
    base = text
    while base.endswith("]"):
        open_at = base.rindex("[")
        dims.append(int(base[open_at + 1 : -1]))
        base = base[:open_at]
    # "u8[4][2]" is an array of 4 arrays of 2 u8, as in C: the outermost length comes first
    return base, tuple(reversed(dims))


class CTypes:
    """The ctypes view of a module's types: one ``Structure`` subclass per struct.

    The compiler lays structs out by C rules, which are ctypes' rules too; the
    offsets are checked so a disagreement is an error, not silently wrong data.
    """

    def __init__(self, spec: ObjectSpec) -> None:
        import ctypes

        self._ctypes = ctypes
        self.structs: dict[str, type] = {}
        for s in spec.structs:  # the compiler lists structs before their users
            self.structs[s.name] = self._make_struct(s, spec.name)

    def ctype(self, type_text: str) -> type:
        """The ctypes type for a type string such as ``u32``, ``char[16]`` or ``struct Event``."""
        base, dims = parse_type(type_text)
        ct: Any  # a ctypes type: a Structure subclass, a scalar or an array of them
        if base.startswith("struct "):
            ct = self.structs[base[len("struct "):]]
        else:
            ct = getattr(self._ctypes, SCALARS[base][2])
        for n in reversed(dims):
            ct = ct * n
        return ct

    def _make_struct(self, s: StructSpec, module: str) -> type:
        body: dict[str, Any] = {
            "_fields_": [(f.name, self.ctype(f.type)) for f in s.fields],
            "__module__": module,
            "__repr__": _struct_repr,
        }
        if s.align == 1:  # packed (or all bytes, where packing changes nothing): no padding
            body.update(_pack_=1, _layout_="ms")  # _layout_: 3.14 wants it said with _pack_
        cls = type(s.name, (self._ctypes.Structure,), body)
        for f in s.fields:
            got = getattr(cls, f.name).offset
            if got != f.offset:
                raise TypeError(
                    f"struct {s.name}: field {f.name} at offset {got} in ctypes, {f.offset} in BPF"
                )
        size = self._ctypes.sizeof(cls)
        if size != s.size:
            raise TypeError(f"struct {s.name}: size {size} in ctypes, {s.size} in BPF")
        return cls


def _struct_repr(self: Any) -> str:
    """``Pair(lo=1, hi=2, tag=b'ab')``: events and map values print as data, not addresses."""
    fields = ", ".join(f"{f[0]}={_plain(getattr(self, f[0]))!r}" for f in self._fields_)
    return f"{type(self).__name__}({fields})"


def _plain(value: Any) -> Any:
    """A ctypes array field as a list (char arrays already read as bytes)."""
    import ctypes

    if isinstance(value, ctypes.Array):
        return [_plain(v) for v in value]
    return value
