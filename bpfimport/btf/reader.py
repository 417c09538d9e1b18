"""Read raw BTF: an object's ``.BTF``, the kernel's ``/sys/kernel/btf/vmlinux``, module split BTF.

Reading is two-speed, as the kernel's BTF is large (~5.5 MB, ~150 000 types) and a
program needs a handful of them:

* :class:`Spec` indexes the type section once — where each type starts — in one
  tight loop over the section's 32-bit words (no per-type object);
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
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import accumulate
from operator import itemgetter
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

        table = self.names if self.names is None or isinstance(self.names, dict) else dict(self.names.items())
        names = json.dumps(table, separators=(",", ":")).encode()  # tuples and arrays alike
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
            table = json.loads(data[head + 4 * n :])
        except ValueError as e:
            raise BtfFormatError(f"a serialised BTF index has a bad name table: {e}") from None
        names = None if table is None else {name: tuple(ids) for name, ids in table.items()}
        return cls(offsets, names)


class Spec:
    """One BTF blob: its types (decoded on demand) and strings; ``base`` for split BTF."""

    _str_end: int  # one past this spec's last string offset (where a split spec's strings start)

    def __init__(self, data: bytes, base: Spec | None = None, index: Index | None = None) -> None:
        types, strings = _sections(data)
        # The words are read through a memoryview, scan and decoding alike: the scan reads
        # 2 of vmlinux's ~800 000 words per type, so a list of them all (~20 MB of int
        # objects, walked by every garbage collection) costs more than it saves: 35 ms, not 20.
        words = types.cast("I")
        if index is None:
            index = Index(_scan(words))
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
        return _kind(self._words[self._at(type_id) + 1], type_id)

    def kind_codes(self) -> bytes:
        """Every own type's kind number, one byte each: ``codes[type_id - first_id]``.

        One pass over the type section, for questions about all types at once (which
        names are structs?) that asking :meth:`kind_of` ~10^5 times would answer in
        ~100 ms.  A paged spec reads the whole section for it.
        """
        words = self._words
        if isinstance(words, _PagedWords):
            words = words.whole()
        infos = array("I", _gather(words, map((1).__add__, self.index.offsets)))
        return infos.tobytes()[3::4].translate(_KIND_BITS)  # the info word's top byte, little-endian

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

    def whole(self) -> memoryview:
        """The whole section as 32-bit words (every page read), for a pass over all types."""
        return memoryview(self._f.read(self._start, 4 * self._count)).cast("I")


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
        page, pages = PagedFile.PAGE, self._f._pages
        at = self._start + start
        end = self._start + self._len
        while at < end:
            n = at // page
            data = pages.get(n) or self._f.page(n)
            base = n * page
            hit = data.find(sub, at - base, min(len(data), end - base))
            if hit >= 0:
                return base + hit - self._start
            at = base + len(data)
        return -1

    def __getitem__(self, s: slice) -> bytes:
        start, stop, _ = s.indices(self._len)
        at, length = self._start + start, max(0, stop - start)
        n, off = divmod(at, PagedFile.PAGE)
        if off + length <= PagedFile.PAGE:  # within one page: most names
            data = self._f._pages.get(n) or self._f.page(n)
            return data[off : off + length]
        return self._f.read(at, length)


_KINDS = tuple({k.value: k for k in t.Kind}.get(code) for code in range(32))  # 5 bits: 0..31
_KIND_BITS = bytes(b & 0x1F for b in range(256))  # an info word's top byte -> its 5 kind bits


def _kind(info: int, type_id: int) -> t.Kind:
    kind = _KINDS[(info >> 24) & 0x1F]
    if kind is None:
        raise BtfFormatError(f"BTF type #{type_id} has unknown kind {(info >> 24) & 0x1F}")
    return kind


def _gather(seq: _Words | Sequence[int], indexes: Iterator[int] | Sequence[int]) -> tuple[int, ...]:
    """``tuple(seq[i] for i in indexes)`` in one C call (~20x faster over vmlinux's types)."""
    indexes = tuple(indexes)
    if len(indexes) == 1:
        return (seq[indexes[0]],)
    return itemgetter(*indexes)(seq) if indexes else ()


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


def _name_index(spec: Spec, words: _Words, offsets: array[int]) -> dict[str, tuple[int, ...]]:
    """name -> ids (ascending) for this spec's named types; each distinct string decoded once.

    The types are grouped by name offset with a sort and a count, and the names
    decoded in one piece: C loops all, ~70 ms on vmlinux.  The ids are tuples: the
    garbage collector stops walking a tuple of ints, where ~70 000 lists would be
    walked at every full collection for as long as the spec lives.
    """
    name_of = _gather(words, offsets)
    per_offset = Counter(name_of)
    ids = tuple(map(spec.first_id.__add__, sorted(range(len(name_of)), key=name_of.__getitem__)))
    unnamed = per_offset.pop(0, 0)  # offset 0: sorted first
    offs = sorted(per_offset)
    bounds = list(accumulate(map(per_offset.__getitem__, offs), initial=unnamed))
    groups = list(map(ids.__getitem__, map(slice, bounds, bounds[1:])))  # each offset's ids
    strings, base = spec._strings, spec._str_base
    if offs and (offs[0] < base or offs[-1] - base >= len(strings)):
        texts = [spec.string(off) for off in offs]  # base strings (split BTF), or an error
    else:
        find = strings.find  # names hold no NUL: joined by one, decoded at once, split again
        raw = [strings[off - base : find(b"\0", off - base)] for off in offs]
        texts = b"\0".join(raw).decode("utf-8", "replace").split("\0")
    names = dict(zip(texts, groups))
    if len(names) < len(texts):  # the same name at two offsets (strings need not be deduplicated)
        names = {}
        for text, group in zip(texts, groups):
            got = names.get(text)
            names[text] = group if got is None else tuple(sorted(got + group))
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
        """The table of ``spec``'s own names (~80 ms on vmlinux, most of it in C loops).

        Each distinct name offset gets a rank in name order (a name stored at two
        offsets gets one rank); sorting the types by their name's rank then lays out
        ``ids``, and counting them per rank gives ``starts``.
        """
        if spec.base is not None:
            raise ValueError("a NameTable indexes base BTF only (split BTF names may live in the base)")
        strings = spec._strings
        name_of = _gather(spec._words, spec.index.offsets)
        distinct = sorted(set(name_of) - {0})
        if distinct and distinct[-1] >= len(strings):
            raise BtfFormatError(f"BTF string offset {distinct[-1]} is outside the string section")
        find = strings.find  # finds a NUL: the section ends with one
        keys = [strings[off : find(b"\0", off)] for off in distinct]
        name_offs, rank_of = array("I"), {}
        last = None
        for i in sorted(range(len(keys)), key=keys.__getitem__):
            if keys[i] != last:  # else the same name at two offsets (strings need not be deduplicated)
                last = keys[i]
                name_offs.append(distinct[i])
            rank_of[distinct[i]] = len(name_offs) - 1
        unnamed = rank_of[0] = len(name_offs)  # after every name
        ranks = list(map(rank_of.__getitem__, name_of))
        per_rank = Counter(ranks)
        order = sorted(range(len(ranks)), key=ranks.__getitem__)  # stable: a name's ids ascend
        ids = array("I", map(spec.first_id.__add__, order[: len(ranks) - per_rank[unnamed]]))
        starts = array("I", accumulate(map(per_rank.__getitem__, range(unnamed)), initial=0))
        return cls(strings, name_offs, starts, ids)

    def _key(self, i: int) -> bytes:
        off = self.name_offs[i]
        return self._strings[off : self._strings.find(b"\0", off)]

    def _first_at_least(self, key: bytes) -> int:
        offs, strings = self.name_offs, self._strings
        find = strings.find
        lo, hi = 0, len(offs)
        while lo < hi:  # _key inlined: the loop runs ~17 times a lookup
            mid = (lo + hi) // 2
            off = offs[mid]
            if strings[off : find(b"\0", off)] < key:
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

    def with_code(self, codes: bytes, code: int) -> list[str]:
        """Every name with an id whose byte in ``codes`` (indexed by id) is ``code``, in order.

        For :meth:`.kernel.KernelBtf.names` (``codes`` from :meth:`Spec.kind_codes`):
        one C pass gives each id's code in table order, and only names that match are
        decoded.
        """
        of_ids = bytes(_gather(codes, self.ids))
        starts, want, out = self.starts, bytes([code]), []
        at = of_ids.find(want)
        while at >= 0:
            i = bisect_right(starts, at) - 1
            out.append(self._key(i).decode("utf-8", "replace"))
            at = of_ids.find(want, starts[i + 1])
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
        strings, starts, ids = self._strings, self.starts, self.ids
        find = strings.find
        for i, off in enumerate(self.name_offs):
            yield strings[off : find(b"\0", off)].decode("utf-8", "replace"), ids[starts[i] : starts[i + 1]]

    def __iter__(self) -> Iterator[str]:
        strings = self._strings
        find = strings.find
        for off in self.name_offs:
            yield strings[off : find(b"\0", off)].decode("utf-8", "replace")

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
