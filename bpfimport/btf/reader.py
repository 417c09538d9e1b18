"""Read raw BTF: an object's ``.BTF``, the kernel's ``/sys/kernel/btf/vmlinux``, module split BTF.

Reading is two-speed, as the kernel's BTF is large (~5.5 MB, ~150 000 types) and a
program needs a handful of them:

* :class:`Spec` indexes the type section once — where each type starts — in one
  tight loop over the section as a list of 32-bit words (no per-type object);
* a type is decoded into the model of :mod:`.types` only when asked for, by id,
  and kept;
* the name index (name -> ids) is built on the first lookup by name, and both it
  and the offsets are plain data (:class:`Index`), so a cache can store them keyed
  by the BTF's bytes and hand them back to ``Spec(data, index=...)``
  (:mod:`.kernel` does, with a name table it searches in place instead of a dict).

Split BTF (a kernel module's ``/sys/kernel/btf/<module>``) continues a base spec:
its type ids start after the base's last id and its string offsets after the
base's string section, so a split spec resolves lower ids and offsets in its base.
"""

from __future__ import annotations

import os
import struct
import sys
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from . import types as t

BTF_MAGIC = 0xEB9F
HEADER = struct.Struct("<HBBIIIII")  # magic, version, flags, hdr_len, type_off/len, str_off/len
KERNEL_BTF = Path("/sys/kernel/btf")

# Words after a type's 3-word header, by kind: (fixed, per vlen item).  linux/btf.h
_EXTRA: tuple[tuple[int, int], ...] = (
    (0, 0),  # VOID (never in the section)
    (1, 0),  # INT: encoding word
    (0, 0),  # PTR
    (3, 0),  # ARRAY: btf_array
    (0, 3),  # STRUCT: btf_member
    (0, 3),  # UNION
    (0, 2),  # ENUM: btf_enum
    (0, 0),  # FWD
    (0, 0),  # TYPEDEF
    (0, 0),  # VOLATILE
    (0, 0),  # CONST
    (0, 0),  # RESTRICT
    (0, 0),  # FUNC
    (0, 2),  # FUNC_PROTO: btf_param
    (1, 0),  # VAR: btf_var
    (0, 3),  # DATASEC: btf_var_secinfo
    (0, 0),  # FLOAT
    (1, 0),  # DECL_TAG: btf_decl_tag
    (0, 0),  # TYPE_TAG
    (0, 3),  # ENUM64: btf_enum64
)


class BtfFormatError(ValueError):
    """The bytes are not BTF this reader understands (bad magic, truncated, unknown kind)."""


class Index:
    """What the first pass learns: plain data, so it can be stored and reused.

    ``offsets[i]`` is the word offset (in the type section) of local type ``i``,
    i.e. type id ``first_id + i``; ``names`` maps a name to every id that has it
    (built on the first lookup by name; ``None`` until then).  Any mapping will
    do: the kernel index cache (:mod:`.kernel`) passes a sorted table it
    searches in place, so a warm start decodes no name it is not asked for.
    A plain class, not a dataclass: ``dataclasses`` (and ``inspect``) cost ~5 ms
    to import, and a compile that reads kernel types would pay it.
    """

    __slots__ = ("offsets", "names")

    def __init__(self, offsets: array[int], names: Mapping[str, Sequence[int]] | None = None) -> None:
        self.offsets = offsets
        self.names = names

    MAGIC = b"BTFIDX1\0"

    def to_bytes(self) -> bytes:
        """A portable serialisation (little-endian offsets, JSON names), for a cache file."""
        import json  # here, not at the top: a kernel index from the cache never needs it

        table = None if self.names is None else {k: list(v) for k, v in self.names.items()}
        names = json.dumps(table, separators=(",", ":")).encode()
        return self.MAGIC + struct.pack("<I", len(self.offsets)) + self.offsets.tobytes() + names

    @classmethod
    def from_bytes(cls, data: bytes) -> Index:
        """The inverse of :meth:`to_bytes`; BtfFormatError if ``data`` is not one."""
        head = len(cls.MAGIC) + 4
        if data[: len(cls.MAGIC)] != cls.MAGIC or len(data) < head:
            raise BtfFormatError("not a serialised BTF index")
        import json

        (n,) = struct.unpack_from("<I", data, len(cls.MAGIC))
        offsets = array("I")
        offsets.frombytes(data[head : head + 4 * n])
        if len(offsets) != n:
            raise BtfFormatError("a serialised BTF index is truncated")
        try:
            names = json.loads(data[head + 4 * n :])
        except ValueError as e:
            raise BtfFormatError(f"a serialised BTF index has a bad name table: {e}") from None
        return cls(offsets, names)


class Spec:
    """One BTF blob: its types (decoded on demand) and strings; ``base`` for split BTF."""

    _str_end: int  # one past this spec's last string offset (where a split spec's strings start)

    def __init__(self, data: bytes, base: Spec | None = None, index: Index | None = None) -> None:
        types, strings = _sections(data)
        # The scan wants a list (indexing one is the fastest loop Python has); with a stored
        # index there is no scan, and the 20 ms list conversion is skipped: decoding a few
        # types reads the memoryview directly.
        if index is None:
            words: _Words = types.cast("I").tolist()
            index = Index(_scan(words))
        else:
            words = types.cast("I")
        self._setup(words, strings, base, index)

    @classmethod
    def paged(cls, f: PagedFile, index: Index, base: Spec | None = None) -> Spec:
        """A spec that reads file ``f`` a page at a time, as types are decoded.

        For a warm start on the kernel's BTF with a stored index: reading all of
        vmlinux's 5.5 MB costs ~3 ms in a fresh process, a lookup reads a few pages.
        The spec keeps ``f`` open.
        """
        size = f.size
        types_at, type_len, strs_at, str_len = _layout(f.read(0, HEADER.size), size)
        if str_len and f.read(strs_at + str_len - 1, 1) != b"\0":
            raise BtfFormatError("the BTF string section does not end with a NUL")
        spec = cls.__new__(cls)
        spec._setup(_PagedWords(f, types_at, type_len // 4), _PagedBytes(f, strs_at, str_len), base, index)
        spec._file = f
        return spec

    def _setup(self, words: _Words, strings: _Bytes, base: Spec | None, index: Index) -> None:
        if sys.byteorder != "little":
            raise BtfFormatError("reading BTF needs a little-endian host")
        self.base = base
        self.first_id = base.count if base is not None else 1
        self._str_base = base._str_end if base is not None else 0
        self._strings = strings
        self._str_end = self._str_base + len(strings)
        self._words, self.index = words, index
        self._decoded: dict[int, t.Type] = {}
        self._file: PagedFile | None = None

    # ---- size and ids ------------------------------------------------------------------

    @property
    def count(self) -> int:
        """Number of type ids, void (0) and the base's types included: ids run ``0 .. count-1``."""
        return self.first_id + len(self.index.offsets)

    def __len__(self) -> int:
        return self.count

    def kind_of(self, type_id: int) -> t.Kind:
        """The kind of ``type_id`` without decoding the type."""
        if type_id < self.first_id:
            return t.Kind.VOID if self.base is None else self.base.kind_of(type_id)
        return t.Kind((self._words[self._at(type_id) + 1] >> 24) & 0x1F)

    def _at(self, type_id: int) -> int:
        i = type_id - self.first_id
        if not 0 <= i < len(self.index.offsets):
            raise KeyError(f"no BTF type id {type_id} (this BTF has ids 0..{self.count - 1})")
        return self.index.offsets[i]

    # ---- strings -----------------------------------------------------------------------

    def string(self, offset: int) -> str:
        """The NUL-terminated string at ``offset`` of the (base + own) string section."""
        if offset < self._str_base:
            assert self.base is not None
            return self.base.string(offset)
        start = offset - self._str_base
        end = self._strings.find(b"\0", start)
        if start >= len(self._strings) or end < 0:
            raise BtfFormatError(f"BTF string offset {offset} is outside the string section")
        return self._strings[start:end].decode("utf-8", "replace")

    # ---- lookup ------------------------------------------------------------------------

    def type_by_id(self, type_id: int) -> t.Type:
        """The type with id ``type_id``, decoded on first use."""
        if type_id < 0:
            raise KeyError(f"no BTF type id {type_id} (ids are not negative)")
        if type_id < self.first_id:
            if self.base is None:
                return t.Void(self, 0, "")
            return self.base.type_by_id(type_id)
        got = self._decoded.get(type_id)
        if got is None:
            got = self._decoded[type_id] = _decode(self, type_id, self._words, self._at(type_id))
        return got

    def names(self) -> Mapping[str, Sequence[int]]:
        """The name index (name -> ids), this spec's own types only; built on first use."""
        if self.index.names is None:
            self.index.names = _name_index(self, self._words, self.index.offsets)
        return self.index.names

    def ids_by_name(self, name: str) -> list[int]:
        """Every id named ``name``, in the base first, then here."""
        own = list(self.names().get(name, ()))
        return (self.base.ids_by_name(name) if self.base is not None else []) + own

    def types_by_name(self, name: str, kind: t.Kind | None = None) -> list[t.Type]:
        """Every type named ``name`` (of ``kind`` if given)."""
        ids = self.ids_by_name(name)
        if kind is not None:
            ids = [i for i in ids if self.kind_of(i) == kind]
        return [self.type_by_id(i) for i in ids]

    def type_by_name(self, name: str, kind: t.Kind) -> t.Type:
        """The one type called ``name`` of ``kind``; KeyError if none, LookupError if several differ."""
        found = self.types_by_name(name, kind)
        if not found:
            raise KeyError(f"no BTF {kind.name.lower()} named {name!r}")
        if len(found) > 1:
            raise LookupError(f"{len(found)} BTF {kind.name.lower()}s are named {name!r}: ids "
                              + ", ".join(str(x.id) for x in found))
        return found[0]

    def types(self) -> Iterator[t.Type]:
        """Every type of this spec (not the base), decoding each: slow on vmlinux, fine on objects."""
        for type_id in range(self.first_id, self.count):
            yield self.type_by_id(type_id)


def _layout(header: bytes, size: int) -> tuple[int, int, int, int]:
    """Where the type and string sections of a BTF blob of ``size`` bytes lie, from its header."""
    if len(header) < HEADER.size or size < HEADER.size:
        raise BtfFormatError(f"BTF too short for its header ({size} bytes)")
    magic, version, _flags, hdr_len, type_off, type_len, str_off, str_len = HEADER.unpack_from(header)
    if magic != BTF_MAGIC:
        raise BtfFormatError(f"not BTF: magic {magic:#06x}, expected {BTF_MAGIC:#06x}")
    if version != 1:
        raise BtfFormatError(f"BTF version {version} is not supported (only 1)")
    types_at, strs_at = hdr_len + type_off, hdr_len + str_off
    if types_at + type_len > size or strs_at + str_len > size or type_len % 4 or types_at % 4:
        raise BtfFormatError("BTF header points outside the data or at unaligned types")
    return types_at, type_len, strs_at, str_len


def _sections(data: bytes) -> tuple[memoryview, bytes]:
    """The type section (as a memoryview) and the string section of a raw BTF blob."""
    types_at, type_len, strs_at, str_len = _layout(data[: HEADER.size], len(data))
    view = memoryview(data)
    if str_len and data[strs_at + str_len - 1] != 0:
        raise BtfFormatError("the BTF string section does not end with a NUL")
    return view[types_at : types_at + type_len], bytes(view[strs_at : strs_at + str_len])


# ---- reading a file a page at a time -------------------------------------------------------

TYPE_CHECKING = False  # typing costs ~3 ms to import; a compile reading kernel types needs none of it
if TYPE_CHECKING:
    from typing import Protocol

    class _Words(Protocol):
        """What the decoders need of the type section: its 32-bit words by index."""

        def __getitem__(self, i: int, /) -> int: ...
        def __len__(self) -> int: ...

    class _Bytes(Protocol):
        """What the reader needs of the string section: NUL search, slices, length."""

        def find(self, sub: bytes, start: int, /) -> int: ...
        def __getitem__(self, s: slice, /) -> bytes: ...
        def __len__(self) -> int: ...


class PagedFile:
    """A read-only file read in 16 KiB pages with ``pread`` on first use, and kept.

    ``/sys/kernel/btf/vmlinux`` cannot be mmap'ed (sysfs refuses), so this is the
    lazy read the kernel allows.
    """

    PAGE = 1 << 14

    def __init__(self, fd: int, size: int) -> None:
        self.fd, self.size = fd, size
        self._pages: dict[int, bytes] = {}

    def page(self, n: int) -> bytes:
        got = self._pages.get(n)
        if got is None:
            at, want = n * self.PAGE, min(self.PAGE, self.size - n * self.PAGE)
            parts = []
            while want > 0:
                part = os.pread(self.fd, want, at)
                if not part:
                    raise BtfFormatError(f"the BTF file ended at {at} of {self.size} bytes")
                parts.append(part)
                at, want = at + len(part), want - len(part)
            got = self._pages[n] = b"".join(parts)
        return got

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset`` (fewer at the end of the file)."""
        length = max(0, min(length, self.size - offset))
        first, last = offset // self.PAGE, (offset + length - 1) // self.PAGE
        if length == 0:
            return b""
        if first == last:
            at = offset - first * self.PAGE
            return self.page(first)[at : at + length]
        data = b"".join(self.page(n) for n in range(first, last + 1))
        at = offset - first * self.PAGE
        return data[at : at + length]

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __del__(self) -> None:
        try:
            self.close()
        except OSError:
            pass


class _PagedWords:
    """The type section of a :class:`PagedFile` as 32-bit words (``words[i]``), page by page."""

    def __init__(self, f: PagedFile, start: int, count: int) -> None:
        # words never straddle a page: the section starts 4-aligned and pages are 16 KiB
        self._f, self._start, self._count = f, start, count
        self._casts: dict[int, memoryview] = {}

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, i: int) -> int:
        if not 0 <= i < self._count:
            raise IndexError(i)
        at = self._start + 4 * i
        n = at // PagedFile.PAGE
        words = self._casts.get(n)
        if words is None:
            page = self._f.page(n)
            words = self._casts[n] = memoryview(page)[: len(page) & ~3].cast("I")
        return words[(at - n * PagedFile.PAGE) >> 2]


class _PagedBytes:
    """The string section of a :class:`PagedFile`: ``find`` (of one byte), slices and ``len``."""

    def __init__(self, f: PagedFile, start: int, length: int) -> None:
        self._f, self._start, self._len = f, start, length

    def __len__(self) -> int:
        return self._len

    def find(self, sub: bytes, start: int) -> int:
        if len(sub) != 1:
            raise ValueError("only one-byte searches are supported")
        if not 0 <= start < self._len:
            return -1
        page = PagedFile.PAGE
        at = self._start + start
        end = self._start + self._len
        while at < end:
            n = at // page
            data = self._f.page(n)
            base = n * page
            hit = data.find(sub, at - base, min(len(data), end - base))
            if hit >= 0:
                return base + hit - self._start
            at = base + len(data)
        return -1

    def __getitem__(self, s: slice) -> bytes:
        start, stop, _ = s.indices(self._len)
        return self._f.read(self._start + start, stop - start)


def _scan(words: _Words) -> array[int]:
    """The word offset of every type: the one pass over the whole section."""
    offsets = array("I")
    append, extra = offsets.append, _EXTRA
    i, n = 0, len(words)
    try:
        while i < n:
            append(i)
            info = words[i + 1]
            fixed, per = extra[(info >> 24) & 0x1F]
            i += 3 + fixed + per * (info & 0xFFFF)
    except IndexError:
        raise BtfFormatError(f"BTF type #{len(offsets)} is truncated or of an unknown kind") from None
    if i != n:
        raise BtfFormatError(f"BTF type #{len(offsets)} runs past the end of the type section")
    return offsets


def _name_index(spec: Spec, words: _Words, offsets: array[int]) -> dict[str, list[int]]:
    """name -> ids for this spec's named types; each distinct string is decoded once.

    Grouping by string offset first, then slicing the string section inline (not
    through ``Spec.string``), halves the time on vmlinux: ~70 000 distinct names.
    """
    by_off: dict[int, list[int]] = {}
    first = spec.first_id
    for i, at in enumerate(offsets):
        off = words[at]
        if off:
            ids = by_off.get(off)
            if ids is None:
                by_off[off] = [first + i]
            else:
                ids.append(first + i)
    strings, base = spec._strings, spec._str_base
    find = strings.find
    names: dict[str, list[int]] = {}
    for off, ids in by_off.items():
        if off < base or off - base >= len(strings):
            name = spec.string(off)  # a base string (split BTF), or an error for a bad offset
        else:
            name = strings[off - base : find(b"\0", off - base)].decode("utf-8", "replace")
        got = names.get(name)
        if got is None:
            names[name] = ids
        else:
            got.extend(ids)
    return names


class NameTable(Mapping[str, Sequence[int]]):
    """A name index searched in place: names sorted by their bytes, found by bisection.

    Three flat arrays, so it stores as-is and loads without building anything:
    ``name_offs[i]`` is where the i-th name (in byte order) starts in the spec's
    string section, and its ids are ``ids[starts[i]:starts[i + 1]]``.  A lookup
    reads ~17 names; a dict of vmlinux's ~70 000 names would cost ~20 ms to rebuild
    in every process.  :mod:`.kernel` keeps one per kernel BTF in the user's cache.
    """

    def __init__(self, strings: _Bytes, name_offs: Sequence[int], starts: Sequence[int],
                 ids: Sequence[int]) -> None:
        if len(starts) != len(name_offs) + 1 or (len(starts) and starts[-1] != len(ids)):
            raise BtfFormatError("a BTF name table's arrays do not fit together")
        self._strings, self.name_offs, self.starts, self.ids = strings, name_offs, starts, ids

    @classmethod
    def of(cls, spec: Spec, name_offs: Sequence[int], starts: Sequence[int], ids: Sequence[int]) -> NameTable:
        """A stored table (the arrays :meth:`build` made) over ``spec``'s strings; the caller
        vouches that they were built from these very bytes (:mod:`.kernel` checks identity and CRC)."""
        return cls(spec._strings, name_offs, starts, ids)

    @classmethod
    def build(cls, spec: Spec) -> NameTable:
        """The table of ``spec``'s own names (one pass, then a sort: ~60 ms on vmlinux)."""
        if spec.base is not None:
            raise ValueError("a NameTable indexes base BTF only (split BTF names may live in the base)")
        words, strings = spec._words, spec._strings
        by_off: dict[int, list[int]] = {}
        for i, at in enumerate(spec.index.offsets):
            off = words[at]
            if off:
                got = by_off.get(off)
                if got is None:
                    by_off[off] = [spec.first_id + i]
                else:
                    got.append(spec.first_id + i)
        find = strings.find
        by_name: dict[bytes, tuple[int, list[int]]] = {}
        for off, ids in by_off.items():
            end = find(b"\0", off)
            if off >= len(strings) or end < 0:
                raise BtfFormatError(f"BTF string offset {off} is outside the string section")
            key = strings[off:end]
            seen = by_name.get(key)
            if seen is None:
                by_name[key] = (off, ids)
            else:  # the same name at two offsets (strings need not be deduplicated)
                seen[1].extend(ids)
        name_offs, starts, all_ids = array("I"), array("I", [0]), array("I")
        for key in sorted(by_name):
            off, ids = by_name[key]
            name_offs.append(off)
            all_ids.extend(sorted(ids))
            starts.append(len(all_ids))
        return cls(strings, name_offs, starts, all_ids)

    def _key(self, i: int) -> bytes:
        off = self.name_offs[i]
        return self._strings[off : self._strings.find(b"\0", off)]

    def _first_at_least(self, key: bytes) -> int:
        lo, hi = 0, len(self.name_offs)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._key(mid) < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _position(self, name: str) -> int:
        """The index of ``name`` in the table, or -1."""
        key = name.encode("utf-8", "surrogateescape")
        lo = self._first_at_least(key)
        return lo if lo < len(self.name_offs) and self._key(lo) == key else -1

    def with_prefix(self, prefix: str) -> list[str]:
        """Every name starting with ``prefix``, in byte order: one contiguous run of the table."""
        key = prefix.encode("utf-8", "surrogateescape")
        lo = self._first_at_least(key)
        out = []
        while lo < len(self.name_offs) and (name := self._key(lo)).startswith(key):
            out.append(name.decode("utf-8", "replace"))
            lo += 1
        return out

    def __getitem__(self, name: str) -> list[int]:
        i = self._position(name)
        if i < 0:
            raise KeyError(name)
        return list(self.ids[self.starts[i] : self.starts[i + 1]])

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._position(name) >= 0

    def entries(self) -> Iterator[tuple[str, Sequence[int]]]:
        """(name, ids) in order, without a search per name (what ``items()`` would do)."""
        starts, ids = self.starts, self.ids
        for i in range(len(self.name_offs)):
            yield self._key(i).decode("utf-8", "replace"), ids[starts[i] : starts[i + 1]]

    def __iter__(self) -> Iterator[str]:
        for i in range(len(self.name_offs)):
            yield self._key(i).decode("utf-8", "replace")

    def __len__(self) -> int:
        return len(self.name_offs)


def _decode(spec: Spec, type_id: int, w: _Words, at: int) -> t.Type:
    """Build the model object of the type whose record starts at word ``at``."""
    name_off, info, size_or_type = w[at], w[at + 1], w[at + 2]
    kind, vlen, kflag = (info >> 24) & 0x1F, info & 0xFFFF, info >> 31
    name = spec.string(name_off) if name_off else ""
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise BtfFormatError(f"BTF type #{type_id} has unknown kind {kind}")
    return decoder(spec, type_id, name, size_or_type, vlen, kflag, w, at + 3)


def _s32(x: int) -> int:
    return x - (1 << 32) if x & 0x80000000 else x


def _members(spec: Spec, vlen: int, kflag: int, w: _Words, at: int) -> list[t.Member]:
    out = []
    for j in range(at, at + 3 * vlen, 3):
        off = w[j + 2]
        bit_offset, bits = (off & 0xFFFFFF, off >> 24) if kflag else (off, 0)
        out.append(t.Member(spec.string(w[j]), w[j + 1], bit_offset, bits))
    return out


def _enum(spec: Spec, tid: int, name: str, size: int, vlen: int, kflag: int, w: _Words, at: int) -> t.Type:
    signed = bool(kflag)
    values = [t.EnumValue(spec.string(w[j]), _s32(w[j + 1]) if signed else w[j + 1])
              for j in range(at, at + 2 * vlen, 2)]
    return t.Enum(spec, tid, name, size, signed, values)


def _enum64(spec: Spec, tid: int, name: str, size: int, vlen: int, kflag: int, w: _Words, at: int) -> t.Type:
    values = []
    for j in range(at, at + 3 * vlen, 3):
        v = w[j + 1] | (w[j + 2] << 32)
        values.append(t.EnumValue(spec.string(w[j]), v - (1 << 64) if kflag and v >> 63 else v))
    return t.Enum64(spec, tid, name, size, bool(kflag), values)


def _proto(spec: Spec, tid: int, name: str, ret: int, vlen: int, kflag: int, w: _Words, at: int) -> t.Type:
    params = [t.Param(spec.string(w[j]), w[j + 1]) for j in range(at, at + 2 * vlen, 2)]
    return t.FuncProto(spec, tid, ret, params)


def _datasec(spec: Spec, tid: int, name: str, size: int, vlen: int, kflag: int, w: _Words, at: int) -> t.Type:
    infos = [t.VarSecinfo(w[j], w[j + 1], w[j + 2]) for j in range(at, at + 3 * vlen, 3)]
    return t.Datasec(spec, tid, name, size, infos)


# (spec, id, name, size_or_type, vlen, kflag, words, offset of the words after the header)
if TYPE_CHECKING:
    Decoder = Callable[[Spec, int, str, int, int, int, _Words, int], t.Type]


def _ref(cls: type[t.Ref]) -> Decoder:
    def decode(spec: Spec, tid: int, name: str, target: int, vlen: int, kflag: int, w: _Words, at: int) -> t.Type:
        return cls(spec, tid, name, target)

    return decode


_DECODERS: dict[int, Decoder] = {
    t.Kind.INT: lambda s, i, n, size, v, k, w, a: t.Int(s, i, n, size, w[a]),
    t.Kind.PTR: _ref(t.Ptr),
    t.Kind.ARRAY: lambda s, i, n, _, v, k, w, a: t.Array(s, i, w[a], w[a + 1], w[a + 2]),
    t.Kind.STRUCT: lambda s, i, n, size, v, k, w, a: t.Struct(s, i, n, size, _members(s, v, k, w, a)),
    t.Kind.UNION: lambda s, i, n, size, v, k, w, a: t.Union(s, i, n, size, _members(s, v, k, w, a)),
    t.Kind.ENUM: _enum,
    t.Kind.FWD: lambda s, i, n, _, v, k, w, a: t.Fwd(s, i, n, bool(k)),
    t.Kind.TYPEDEF: _ref(t.Typedef),
    t.Kind.VOLATILE: _ref(t.Volatile),
    t.Kind.CONST: _ref(t.Const),
    t.Kind.RESTRICT: _ref(t.Restrict),
    t.Kind.FUNC: lambda s, i, n, proto, v, k, w, a: t.Func(s, i, n, proto, v),
    t.Kind.FUNC_PROTO: _proto,
    t.Kind.VAR: lambda s, i, n, target, v, k, w, a: t.Var(s, i, n, target, w[a]),
    t.Kind.DATASEC: _datasec,
    t.Kind.FLOAT: lambda s, i, n, size, v, k, w, a: t.Float(s, i, n, size),
    t.Kind.DECL_TAG: lambda s, i, n, target, v, k, w, a: t.DeclTag(s, i, n, target, _s32(w[a])),
    t.Kind.TYPE_TAG: _ref(t.TypeTag),
    t.Kind.ENUM64: _enum64,
}


def load_raw(path: str | Path, base: Spec | None = None) -> Spec:
    """A raw BTF file (``/sys/kernel/btf/*``, ``bpftool btf dump ... format raw`` input)."""
    return Spec(Path(path).read_bytes(), base)


def kernel_spec(path: str | Path = KERNEL_BTF / "vmlinux") -> Spec:
    """The running kernel's BTF (OSError if the kernel has none: CONFIG_DEBUG_INFO_BTF off)."""
    return load_raw(path)


def module_spec(module: str, base: Spec | None = None) -> Spec:
    """A kernel module's split BTF (``/sys/kernel/btf/<module>``) on ``base`` (default: vmlinux)."""
    return load_raw(KERNEL_BTF / module, base if base is not None else kernel_spec())
