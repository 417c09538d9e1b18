"""What a compiled module declares: plain data shared by the compiler and the runtime.

The compiler produces a :class:`ModuleSpec` next to the object bytes; the cache
stores both; the runtime builds live handles from it.  Nothing here touches the
kernel or imports llvmlite, so a cache hit stays cheap.

Types are written as short strings so the spec serialises to JSON as-is:

* scalars ``u8 u16 u32 u64 i8 i16 i32 i64 bool char ptr``
* arrays ``T[N]`` (``char[16]``, ``u64[8]``, ``u8[4][2]``)
* structs ``struct Name`` (described by a :class:`StructSpec`)
"""

from __future__ import annotations

import ctypes
import json
from dataclasses import asdict, dataclass, field

SPEC_FORMAT = 1

# name -> (size in bytes, signed, ctypes type)
SCALARS: dict[str, tuple[int, bool, type]] = {
    "u8": (1, False, ctypes.c_uint8),
    "u16": (2, False, ctypes.c_uint16),
    "u32": (4, False, ctypes.c_uint32),
    "u64": (8, False, ctypes.c_uint64),
    "i8": (1, True, ctypes.c_int8),
    "i16": (2, True, ctypes.c_int16),
    "i32": (4, True, ctypes.c_int32),
    "i64": (8, True, ctypes.c_int64),
    "bool": (1, False, ctypes.c_bool),
    "char": (1, True, ctypes.c_char),
    "ptr": (8, False, ctypes.c_uint64),
}


@dataclass(frozen=True)
class MapKind:
    """One map flavour: its kernel type number and how user space sees it."""

    type_id: int
    percpu: bool = False
    array: bool = False  # every index exists; delete is refused
    keyless: bool = False  # no key (ring buffer, queue, stack, bloom filter)
    events: bool = False  # read with poll(), not as a dict


# The names LANGUAGE.md gives, with the kernel's BPF_MAP_TYPE_* numbers.
MAP_KINDS: dict[str, MapKind] = {
    "HashMap": MapKind(1),
    "ArrayMap": MapKind(2, array=True),
    "ProgArray": MapKind(3, array=True),
    "PerfEventArray": MapKind(4, array=True, events=True),
    "PerCpuHashMap": MapKind(5, percpu=True),
    "PerCpuArrayMap": MapKind(6, percpu=True, array=True),
    "StackTraceMap": MapKind(7),
    "LruHashMap": MapKind(9),
    "LruPerCpuHashMap": MapKind(10, percpu=True),
    "LpmTrieMap": MapKind(11),
    "QueueMap": MapKind(22, keyless=True),
    "StackMap": MapKind(23, keyless=True),
    "RingBuffer": MapKind(27, keyless=True, events=True),
    "BloomFilterMap": MapKind(30, keyless=True),
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    offset: int


@dataclass(frozen=True)
class StructSpec:
    name: str
    size: int
    align: int
    fields: tuple[FieldSpec, ...]
    lineno: int = 0


@dataclass(frozen=True)
class MapSpec:
    name: str
    kind: str  # a key of MAP_KINDS
    key: str | None  # a type string, None for keyless maps
    value: str | None
    max_entries: int
    flags: int = 0
    lineno: int = 0

    @property
    def map_kind(self) -> MapKind:
        return MAP_KINDS[self.kind]


@dataclass(frozen=True)
class ProgramSpec:
    name: str
    section: str  # the ELF section, which libbpf reads the program type from
    decorator: str  # e.g. "tracepoint", "section", "xdp"
    lineno: int = 0


@dataclass(frozen=True)
class GlobalSpec:
    name: str
    type: str
    section: str  # ".rodata", ".data" or ".bss"
    offset: int  # within its section
    initial: int | str = 0  # int, or hex of the bytes for arrays/structs
    final: bool = False
    lineno: int = 0


@dataclass(frozen=True)
class ModuleSpec:
    name: str  # the module name, e.g. "mytrace_bpf"
    filename: str  # the .bpf.py it was compiled from
    license: str = "GPL"
    programs: tuple[ProgramSpec, ...] = ()
    maps: tuple[MapSpec, ...] = ()
    structs: tuple[StructSpec, ...] = ()
    globals: tuple[GlobalSpec, ...] = ()
    format: int = SPEC_FORMAT
    extra: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> ModuleSpec:
        raw = json.loads(text)
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

    def __init__(self, spec: ModuleSpec) -> None:
        self.structs: dict[str, type] = {}
        for s in spec.structs:  # the compiler lists structs before their users
            self.structs[s.name] = self._make_struct(s, spec.name)

    def ctype(self, type_text: str) -> type:
        """The ctypes type for a type string such as ``u32``, ``char[16]`` or ``struct Event``."""
        base, dims = parse_type(type_text)
        if base.startswith("struct "):
            ct = self.structs[base[len("struct "):]]
        else:
            ct = SCALARS[base][2]
        for n in reversed(dims):
            ct = ct * n
        return ct

    def _make_struct(self, s: StructSpec, module: str) -> type:
        cls = type(s.name, (ctypes.Structure,), {
            "_fields_": [(f.name, self.ctype(f.type)) for f in s.fields],
            "__module__": module,
        })
        for f in s.fields:
            got = getattr(cls, f.name).offset
            if got != f.offset:
                raise TypeError(
                    f"struct {s.name}: field {f.name} at offset {got} in ctypes, {f.offset} in BPF"
                )
        if ctypes.sizeof(cls) != s.size:
            raise TypeError(f"struct {s.name}: size {ctypes.sizeof(cls)} in ctypes, {s.size} in BPF")
        return cls
