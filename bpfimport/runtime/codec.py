"""Python values ↔ the bytes the kernel stores, one codec per spec type string.

Maps and globals move raw bytes; a codec turns them into what docs/runtime.md
promises: integers ↔ ``int``, ``char[N]`` → ``bytes``, structs ↔ the module's
ctypes class, other arrays ↔ lists.  Codecs also decode many values at once
from one buffer (``decode_many``), which is what makes batched map reads fast:
integer arrays go through a single ``memoryview.cast(...).tolist()``.

The ctypes struct classes are built on first use, not when a module is bound,
so a cache-hit import creates no ctypes classes at all.
"""

from __future__ import annotations

import ctypes
import struct
from itertools import repeat
from operator import itemgetter

from ..spec import SCALARS, CTypes, parse_type

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, Literal

    from ..spec import ObjectSpec

    # the struct/memoryview formats of the integers (and bool): memoryview.cast takes these
    IntFormat = Literal["B", "H", "I", "Q", "b", "h", "i", "q", "?"]

_first = itemgetter(0)

_INT_FORMATS: dict[tuple[int, bool], IntFormat] = {
    (1, False): "B", (2, False): "H", (4, False): "I", (8, False): "Q",
    (1, True): "b", (2, True): "h", (4, True): "i", (8, True): "q",
}


class Codec:
    """Encode one Python value to exactly ``size`` bytes, and decode it back."""

    size: int
    ctype: type[Any]

    def encode(self, value: Any) -> bytes:
        raise NotImplementedError

    def decode(self, buf: Any, offset: int = 0) -> Any:
        raise NotImplementedError

    def encode_many(self, values: list[Any]) -> bytes:
        """``values`` encoded and packed back to back (what a batch map write sends)."""
        return b"".join(map(self.encode, values))

    def decode_many(self, buf: Any, count: int, stride: int | None = None) -> list[Any]:
        """``count`` values laid out every ``stride`` bytes (default: packed) from ``buf``."""
        stride = stride or self.size
        dec = self.decode
        return [dec(buf, i * stride) for i in range(count)]

    def stream(self, buf: bytes, offsets: Iterator[int]) -> Iterator[Any]:
        """The values at each of ``offsets`` in ``buf``, decoded as they are iterated.

        What event readers hand to callbacks: a C-level iterator for the
        codecs that allow one (structs, integers), so that no Python frame
        runs per event.
        """
        return map(self.decode, repeat(buf), offsets)


class IntCodec(Codec):
    """Fixed-width integers; out-of-range values raise, negatives wrap into unsigned types."""

    def __init__(self, size: int, signed: bool, ctype: type[Any], is_bool: bool = False,
                 name: str = "") -> None:
        self.size = size
        self.signed = signed
        self.ctype = ctype
        self.is_bool = is_bool
        self.name = name or f"{'i' if signed else 'u'}{8 * size}"
        self.fmt: IntFormat = "?" if is_bool else _INT_FORMATS[(size, signed)]
        bits = 8 * size
        # signed: the C range; unsigned: also the negatives of the same width, which wrap
        # (-1 is 0xffffffff in a u32), as the docs promise
        self.lo = 0 if is_bool else -(1 << (bits - 1))
        self.hi = 2 if is_bool else 1 << (bits - 1 if signed else bits)
        self.mask = (1 << bits) - 1
        self._unpack_from = struct.Struct(f"<{self.fmt}").unpack_from

    def encode(self, value: Any) -> bytes:
        if isinstance(value, ctypes._SimpleCData):
            value = value.value
        try:
            v = value.__index__()
        except AttributeError:
            raise TypeError(f"expected an int, got {type(value).__name__}") from None
        if not self.lo <= v < self.hi:
            if self.is_bool:
                raise ValueError(f"{v} is not a bool (True/False, 1/0)")
            raise OverflowError(f"{v} is out of range for {self.name} "
                                f"({self.lo}..{self.hi - 1})")
        return (v & self.mask).to_bytes(self.size, "little")

    def decode(self, buf: Any, offset: int = 0) -> Any:
        v = int.from_bytes(buf[offset:offset + self.size], "little", signed=self.signed)
        return bool(v) if self.is_bool else v

    def encode_many(self, values: list[Any]) -> bytes:
        """One ``struct.pack`` for the lot; where it refuses a value (a negative into an
        unsigned type, which wraps; anything out of range or not an int, which raises),
        the values one by one, so the result and the errors are those of :meth:`encode`."""
        if not self.is_bool:  # struct's "?" takes any truthy value; encode() does not
            try:
                return struct.pack(f"<{len(values)}{self.fmt}", *values)
            except struct.error:
                pass
        return b"".join(map(self.encode, values))

    def decode_many(self, buf: Any, count: int, stride: int | None = None) -> list[Any]:
        if not count:
            return []
        if stride is None or stride == self.size:
            return memoryview(buf)[:count * self.size].cast("B").cast(self.fmt).tolist()
        pad = stride - self.size
        unpack = struct.Struct(f"<{self.fmt}{pad}x").iter_unpack
        return [t[0] for t in unpack(memoryview(buf)[:count * stride])]

    def stream(self, buf: bytes, offsets: Iterator[int]) -> Iterator[Any]:
        return map(_first, map(self._unpack_from, repeat(buf), offsets))


class CharCodec(Codec):
    """A single ``char``: one byte, as ``bytes`` of length 1 (what ctypes.c_char gives)."""

    size = 1
    ctype = ctypes.c_char

    def encode(self, value: Any) -> bytes:
        if isinstance(value, int):
            return value.to_bytes(1, "little", signed=value < 0)
        if isinstance(value, (bytes, bytearray)) and len(value) == 1:
            return bytes(value)
        raise TypeError(f"expected one byte, got {value!r}")

    def decode(self, buf: Any, offset: int = 0) -> bytes:
        return bytes(buf[offset:offset + 1])


class BytesCodec(Codec):
    """``char[N]``: bytes up to the first NUL (as ctypes char arrays read); shorter input is NUL-padded."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.ctype = ctypes.c_char * size

    def encode(self, value: Any) -> bytes:
        if isinstance(value, str):
            value = value.encode()
        elif isinstance(value, ctypes.Array):
            value = bytes(value)
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"expected bytes for char[{self.size}], got {type(value).__name__}")
        value = bytes(value)
        if len(value) > self.size:
            raise ValueError(f"{len(value)} bytes do not fit in char[{self.size}]")
        return value.ljust(self.size, b"\0")

    def decode(self, buf: Any, offset: int = 0) -> bytes:
        raw = bytes(buf[offset:offset + self.size])
        end = raw.find(b"\0")
        return raw if end < 0 else raw[:end]


class ArrayCodec(Codec):
    """``T[N]`` for non-char T: a list of N decoded elements; accepts any sequence of N."""

    def __init__(self, elem: Codec, n: int) -> None:
        self.elem = elem
        self.n = n
        self.size = elem.size * n
        self.ctype = elem.ctype * n

    def encode(self, value: Any) -> bytes:
        if isinstance(value, ctypes.Array) and ctypes.sizeof(value) == self.size:
            return bytes(value)
        if isinstance(value, (bytes, bytearray)) and len(value) == self.size:
            return bytes(value)
        if not isinstance(value, (list, tuple, range)) or len(value) != self.n:
            raise ValueError(f"expected a sequence of {self.n} elements")
        return b"".join(self.elem.encode(v) for v in value)

    def decode(self, buf: Any, offset: int = 0) -> list[Any]:
        return self.elem.decode_many(memoryview(buf)[offset:offset + self.size], self.n)


class StructCodec(Codec):
    """A struct ↔ an instance of the module's ctypes class (also accepts a tuple, dict or bytes).

    A tuple or dict is encoded field by field with each field's codec, so an
    out-of-range field raises as a scalar would (building the ctypes instance
    first would silently truncate it: ``(2**32 + 5,)`` stored 5).  Instances
    of the module's classes are checked when a field is assigned (see
    :func:`guard_struct_class`), so their bytes are taken as they are.
    """

    def __init__(self, get_class: Callable[[], type[Any]], size: int, name: str,
                 get_fields: Callable[[], list[tuple[str, Codec, int]]]) -> None:
        self._get_class = get_class
        self._get_fields = get_fields
        self._cls: type[Any] | None = None
        self._fields: list[tuple[str, Codec, int]] | None = None
        self.size = size
        self.name = name

    @property
    def ctype(self) -> type[Any]:  # type: ignore[override]
        if self._cls is None:
            self._cls = self._get_class()
        return self._cls

    @property
    def fields(self) -> list[tuple[str, Codec, int]]:
        """(name, codec, offset) per field, in declaration order."""
        if self._fields is None:
            self._fields = self._get_fields()
        return self._fields

    def encode(self, value: Any) -> bytes:
        if isinstance(value, ctypes.Structure):
            cls = self.ctype
            if isinstance(value, cls) or (ctypes.sizeof(value) == self.size
                                          and _layout(type(value)) == _layout(cls)):
                return bytes(value)  # or a class with the same fields (e.g. from before a reload)
        if isinstance(value, (bytes, bytearray)) and len(value) == self.size:
            return bytes(value)
        if isinstance(value, dict):
            return self._encode_fields(self._dict_values(value))
        if isinstance(value, tuple):
            if len(value) > len(self.fields):
                raise TypeError(f"struct {self.name} has {len(self.fields)} fields, "
                                f"got {len(value)} values")
            return self._encode_fields(zip(self.fields, value))
        raise TypeError(f"expected struct {self.name} (or a tuple/dict of its fields), "
                        f"got {type(value).__name__}")

    def _dict_values(self, value: dict[str, Any]) -> list[tuple[tuple[str, Codec, int], Any]]:
        by_name = {f[0]: f for f in self.fields}
        unknown = [k for k in value if k not in by_name]
        if unknown:
            raise TypeError(f"struct {self.name} has no field {unknown[0]!r} "
                            f"(fields: {', '.join(by_name)})")
        return [(by_name[k], v) for k, v in value.items()]

    def _encode_fields(self, pairs: Any) -> bytes:
        """Fields not given stay zero, as in ``cls(*tuple)``."""
        out = bytearray(self.size)
        for (fname, codec, offset), v in pairs:
            out[offset:offset + codec.size] = field_encode(self.name, fname, codec, v)
        return bytes(out)

    def decode(self, buf: Any, offset: int = 0) -> Any:
        return self.ctype.from_buffer_copy(buf, offset)

    def decode_many(self, buf: Any, count: int, stride: int | None = None) -> list[Any]:
        stride = stride or self.size
        make = self.ctype.from_buffer_copy
        return [make(buf, i * stride) for i in range(count)]

    def stream(self, buf: bytes, offsets: Iterator[int]) -> Iterator[Any]:
        # a copy per event (the instance owns its bytes): from_buffer, a view, costs more
        return map(self.ctype.from_buffer_copy, repeat(buf), offsets)


def field_encode(struct: str, field: str, codec: Codec, value: Any) -> bytes:
    """``codec.encode(value)``, the error naming the field (same exception type)."""
    try:
        return codec.encode(value)
    except (OverflowError, TypeError, ValueError) as e:
        raise type(e)(f"struct {struct} field {field}: {e}") from None


def guard_struct_class(cls: type[Any], struct: str, fields: list[tuple[str, Codec, int]]) -> None:
    """Make ``cls(...)`` and ``obj.field = v`` check each value as the field's codec does.

    ctypes truncates silently (``Event(pid=2**32 + 5).pid == 5``); the module's
    classes raise instead, as map writes of scalars do.  Assigning an element
    of an array field (``obj.arr[0] = v``) is still ctypes' own, unchecked.
    """
    codecs = {name: codec for name, codec, _ in fields}
    order = [name for name, _, _ in fields]
    base_init = ctypes.Structure.__init__
    base_setattr = ctypes.Structure.__setattr__

    def checked(name: str, value: Any) -> Any:
        codec = codecs[name]
        raw = field_encode(struct, name, codec, value)
        if isinstance(codec, IntCodec):
            return value  # in range; ctypes wraps negatives into unsigned fields the same way
        if isinstance(codec, (BytesCodec, CharCodec)):
            return raw  # char fields take bytes only
        return codec.ctype.from_buffer_copy(raw)  # structs, arrays: assigned as they are

    def __init__(self: Any, *args: Any, **kw: Any) -> None:  # noqa: N807
        if len(args) > len(order):
            raise TypeError(f"struct {struct} has {len(order)} fields, got {len(args)} values")
        args = tuple(checked(n, v) for n, v in zip(order, args))
        kw = {k: checked(k, v) if k in codecs else v for k, v in kw.items()}
        base_init(self, *args, **kw)

    def __setattr__(self: Any, name: str, value: Any) -> None:  # noqa: N807
        base_setattr(self, name, checked(name, value) if name in codecs else value)

    # setattr, not ``cls.__setattr__ = ...``: a checker types that slot as object's (name, value)
    setattr(cls, "__init__", __init__)  # noqa: B010
    setattr(cls, "__setattr__", __setattr__)  # noqa: B010


def _layout(cls: type[Any]) -> list[tuple[str, int, int]]:
    """A struct class's fields as (name, offset, size): equal layouts hold the same data."""
    return [(f[0], getattr(cls, f[0]).offset, getattr(cls, f[0]).size) for f in cls._fields_]


class TypeSystem:
    """One module's codecs and ctypes classes, created on demand and cached."""

    def __init__(self, spec: ObjectSpec) -> None:
        self.spec = spec
        self._ctypes: CTypes | None = None
        self._codecs: dict[str, Codec] = {}

    @property
    def ctypes(self) -> CTypes:
        if self._ctypes is None:
            ct = CTypes(self.spec)
            for s in self.spec.structs:
                guard_struct_class(ct.structs[s.name], s.name, self._struct_fields(s.name))
            self._ctypes = ct
        return self._ctypes

    def _struct_fields(self, name: str) -> list[tuple[str, Codec, int]]:
        return [(f.name, self.codec(f.type), f.offset) for f in self.spec.struct(name).fields]

    def struct_class(self, name: str) -> type:
        return self.ctypes.structs[name]

    def codec(self, type_text: str) -> Codec:
        c = self._codecs.get(type_text)
        if c is None:
            c = self._codecs[type_text] = self._make(type_text)
        return c

    def _make(self, type_text: str) -> Codec:
        base, dims = parse_type(type_text)
        if dims:
            if base == "char" and len(dims) == 1:
                return BytesCodec(dims[0])
            inner = type_text[:type_text.index("[")] + "".join(f"[{d}]" for d in dims[1:])
            return ArrayCodec(self.codec(inner), dims[0])
        if base.startswith("struct "):
            name = base[len("struct "):]
            s = self.spec.struct(name)
            return StructCodec(lambda: self.struct_class(name), s.size, name,
                               lambda: self._struct_fields(name))
        if base == "char":
            return CharCodec()
        size, signed, ct_name = SCALARS[base]
        return IntCodec(size, signed, getattr(ctypes, ct_name), is_bool=base == "bool", name=base)
