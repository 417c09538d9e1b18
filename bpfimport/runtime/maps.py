"""Map handles: BPF maps as Python dicts (docs/runtime.md, "Maps").

``m[k]`` raises KeyError when missing, ``m.get(k)`` gives None, ``m[k] = v``,
``del m[k]``, ``k in m``, ``len(m)``, ``keys() values() items()``, ``clear()``
and iteration all work.  ``keys()/values()/items()`` return lists: a snapshot
of a map the kernel keeps changing, not a live view.

Bulk reads use the kernel's batch operations (``BPF_MAP_LOOKUP_BATCH``): a
few syscalls for the whole map, decoded in one pass per column (integers with
one ``memoryview.cast``).  Where the kernel or the map type has no batch ops,
they fall back to a ``get_next_key`` walk; ``items(batch=False)`` forces the
walk (the benchmark compares the two).

Per-CPU maps give and take a list with one value per *possible* CPU; a single
value written to a per-CPU map is stored on every CPU.

The handle class of a map is chosen by its kind (:data:`HANDLE_CLASSES`):
event maps (ring buffer, perf event array) are read with ``poll()``.  This
module is imported on the first use of a module's handle, not by a cache-hit
import (see :mod:`.module`); codecs, ctypes and libbpf only when a map is used.
"""

from __future__ import annotations

import errno as E
import gc

from ..errors import BpfError, MapError
from ..spec import BPF_ANY
from ._lazy import ctypes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, MutableSet
    from typing import Any, Generic, TypeVar

    K = TypeVar("K")  # the key type (a module's struct class, int, ...)
    V = TypeVar("V")  # the value type
    Ev = TypeVar("Ev")  # what an event map's callbacks get

    from ..spec import MapSpec
    from .codec import Codec
    from .events import EventReader
    from .object import BpfObject
else:
    from ._lazy import Generic  # generic for checkers only: no typing import at run time

    K = V = Ev = None
    Any = object  # a class's base below names it

_BATCH_BYTES = 4 << 20  # aim for ~4 MiB of keys+values per batch syscall
_BATCH_MIN = 256
_NO_BATCH = (E.EINVAL, E.ENOTSUP, E.EOPNOTSUPP, 524, E.ENOSYS)
_MISSING = object()


def _round8(n: int) -> int:
    return (n + 7) & ~7


def _check_flags(flags: Any) -> None:
    """Update flags are a u64: refuse what ctypes would truncate or fail on obscurely."""
    if isinstance(flags, bool) or not isinstance(flags, int):
        raise TypeError(f"flags must be an int (BPF_ANY=0, BPF_NOEXIST=1, BPF_EXIST=2, "
                        f"BPF_F_LOCK=4), got {type(flags).__name__}")
    if not 0 <= flags < 1 << 64:
        raise OverflowError(f"flags must be 0..2**64-1, got {flags}")


def _print_lines(lines: list[str], file: Any) -> None:
    """Print lines to ``file`` (stdout when None), as print() would, in one write."""
    import sys

    if lines:
        (file if file is not None else sys.stdout).write("\n".join(lines) + "\n")


class Map(Generic[K, V]):
    """A map of the module (``skel.NAME``): the dict protocol of the module docstring.

    Generic in its key and value types for type checkers: the stubs ``python -m bpfimport
    stubs`` writes declare ``counts: Map[Key, int]``.
    """

    def __init__(self, obj: BpfObject, spec: MapSpec) -> None:
        self._obj = obj
        self.spec = spec
        self._kind = spec.map_kind
        self._kc: Codec | None = None  # key and value codecs, made on first use
        self._vc: Codec | None = None
        self._batch_ok = self._kind.batch  # cleared when the kernel turns batches down

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def kind(self) -> str:
        """The map kind as bpfimport.lang spells it (``HashMap``, ``ArrayMap``, ...)."""
        return self.spec.kind

    @property
    def max_entries(self) -> int:
        return self.spec.max_entries

    @property
    def flags(self) -> int:
        return self.spec.flags

    @property
    def percpu(self) -> bool:
        return self._kind.percpu

    @property
    def fd(self) -> int:
        """The map's fd (loads the module's object on first use)."""
        return self._obj.map_fd(self.spec.name)

    @property
    def loaded(self) -> bool:
        """Whether the module's object is loaded (reading the map would not load it)."""
        return self._obj.loaded

    @property
    def pin_path(self) -> str | None:
        """Where the map is pinned: ``PIN_ROOT/NAME`` when the module was loaded with a
        ``pin_root`` and the pin is there (perf event arrays are never pinned), else None:
        after ``unpin()`` until a later load pins the map again."""
        path = self._pin_target()
        import os

        return path if path is not None and os.path.lexists(path) else None

    def _pin_target(self) -> str | None:
        """The path a load with the module's ``pin_root`` pins the map at, or None."""
        root = self._obj.pin_root
        if root is None or self.spec.kind == "PerfEventArray":
            return None
        import os

        return os.path.join(root, self.spec.name)

    def unpin(self) -> None:
        """Remove the map's pin: this process keeps using it, a later load starts a new one.

        Does nothing when the map is not pinned.
        """
        import os

        path = self._pin_target()
        if path is not None:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    @property
    def id(self) -> int:
        """The kernel's id of the map: what a map of maps' slot reads back when it holds
        this map (``outer[k] == mod.inner.id``)."""
        from . import libbpf as L

        info = L.MapInfo()
        size = ctypes.c_uint32(ctypes.sizeof(info))
        rc = self._call(self._lib().bpf_obj_get_info_by_fd, ctypes.byref(info), ctypes.byref(size))
        if rc < 0:
            raise self._error("reading the info", -rc)
        return int(info.id)

    def create(self, name: str | None = None) -> OwnedMap:
        """A new, empty map like this one (kind, key, value, max_entries, flags), made from
        Python (``bpf_map_create``) and owned by the handle returned: to fill the slots of a
        map of maps with as many maps as it needs (``mod.outer[k] = mod.inner.create()``).

        ``close()`` it (or use ``with``) when done: a map of maps that holds it keeps it
        alive in the kernel until its slot changes.  ``name``: the kernel's name of the map
        (15 characters kept; the template's by default).
        """
        from . import libbpf as L

        kind = self._kind
        if kind.ops != ("lookup", "get", "update", "delete"):  # kinds.KEYED_OPS: plain maps
            raise MapError(f"create() makes hash, array, per-CPU, LRU and LPM-trie maps, "
                           f"not a {kind.name} ('{self.name}')")
        name = self.name if name is None else name
        if not name.isascii() or not name.replace("_", "a").replace(".", "a").isalnum():
            raise ValueError(f"a map name is letters, digits, '_' and '.', got {name!r}")
        opts = L.MapCreateOpts(sz=ctypes.sizeof(L.MapCreateOpts), map_flags=self.spec.flags)
        fd = self._lib().bpf_map_create(kind.type_id, name[:15].encode(),
                                        self._key_codec().size, self._value_codec().size,
                                        self.spec.max_entries, ctypes.byref(opts))
        if fd < 0:
            raise self._error("creating a map like it", -fd)
        spec = type(self.spec)(name, self.spec.kind, self.spec.key, self.spec.value,
                               self.spec.max_entries, self.spec.flags, self.spec.lineno)
        return OwnedMap(_OwnFd(self._obj.types, fd, name), spec)

    def __repr__(self) -> str:
        kv = f"{self.spec.key}->{self.spec.value}" if self.spec.key else str(self.spec.value)
        return f"<{self.spec.kind} {self.spec.name!r} {kv} max_entries={self.spec.max_entries}>"

    @property
    def key_type(self) -> type | None:
        """The key's ctypes type (None for keyless maps)."""
        return self._key_codec().ctype if self.spec.key is not None else None

    @property
    def value_type(self) -> type | None:
        """The value's ctypes type (per CPU, for per-CPU maps; None when untyped)."""
        return self._value_codec().ctype if self.spec.value is not None else None

    # ---- codecs -------------------------------------------------------------------------

    def _key_codec(self) -> Codec:
        if self._kc is None:
            if self.spec.key is None:
                raise MapError(f"{self.spec.kind} '{self.name}' has no keys")
            self._kc = self._obj.types.codec(self.spec.key)
        return self._kc

    def _value_codec(self) -> Codec:
        if self._vc is None:
            if self.spec.value is None:
                raise MapError(f"{self.spec.kind} '{self.name}' has no value type")
            self._vc = self._obj.types.codec(self.spec.value)
        return self._vc

    def _ncpu(self) -> int:
        from . import libbpf as L

        return L.num_possible_cpus() if self._kind.percpu else 1

    def _value_stride(self) -> int:
        """Bytes per value in the kernel's buffers: per-CPU values are 8-aligned per CPU."""
        vc = self._value_codec()
        return _round8(vc.size) if self._kind.percpu else vc.size

    def _value_buf_size(self) -> int:
        return self._value_stride() * self._ncpu()

    def _encode_value(self, value: Any) -> bytes:
        vc = self._value_codec()
        if not self._kind.percpu:
            return vc.encode(value)
        ncpu = self._ncpu()
        stride = _round8(vc.size)
        if isinstance(value, list) and self._per_cpu_list(value, ncpu):
            return b"".join(vc.encode(v).ljust(stride, b"\0") for v in value)
        return vc.encode(value).ljust(stride, b"\0") * ncpu

    def _per_cpu_list(self, value: list[Any], ncpu: int) -> bool:
        """Whether a list written to a per-CPU map is one value per CPU (else: one value).

        A list is one value per CPU, except where the value type is an array,
        which is written as a list too: there a list of ``ncpu`` values that
        each fit is per CPU, and any other list is the array itself.
        """
        from .codec import ArrayCodec  # not at import: codec imports ctypes

        if not isinstance(self._value_codec(), ArrayCodec):
            if len(value) != ncpu:
                raise ValueError(f"per-CPU map '{self.name}' needs {ncpu} values "
                                 f"(one per possible CPU), got {len(value)}")
            return True
        if len(value) != ncpu:
            return False
        try:
            for v in value:
                self._value_codec().encode(v)
        except (OverflowError, TypeError, ValueError):
            return False
        return True

    def _decode_value(self, buf: Any) -> Any:
        vc = self._value_codec()
        if not self._kind.percpu:
            return vc.decode(buf)
        return vc.decode_many(buf, self._ncpu(), _round8(vc.size))

    def _check_keyed(self) -> None:
        if self._kind.keyless or self._kind.events:
            raise MapError(f"{self.spec.kind} '{self.name}' is not a key/value map")

    def _lib(self) -> Any:
        from . import libbpf as L

        return L.lib()

    def _call(self, fn: Callable[..., int], *args: Any) -> int:
        """``fn(fd, *args)``: one syscall on the map, its object held for the call.

        Holding the object (``obj.using``) is what makes the fd safe: a close()
        in another thread cannot free it, so the number cannot be handed to
        another object (and the write land in another module's map) meanwhile.
        """
        obj = self._obj
        name = self.spec.name
        live = obj._acquire(name)  # obj.using(name), without a context object: the hot path
        try:
            return fn(live.map_fd(name), *args)
        finally:
            obj._release(live)

    def _error(self, op: str, err: int) -> BpfError:
        from . import errors as rterrors

        return BpfError(f"{op} on map '{self.name}' failed: {rterrors.strerror(err)}", err)

    # ---- single-element operations ----------------------------------------------------

    def _lookup(self, key: Any) -> Any:
        """The decoded value, or _MISSING."""
        self._check_keyed()
        return self._lookup_raw(self._key_codec().encode(key))

    def _lookup_raw(self, kb: bytes) -> Any:
        vbuf = ctypes.create_string_buffer(self._value_buf_size())
        rc = self._call(self._lib().bpf_map_lookup_elem, kb, vbuf)
        if rc < 0:
            if rc == -E.ENOENT:
                return _MISSING
            raise self._error("lookup", -rc)
        return self._decode_value(vbuf.raw)

    def _key_or_none(self, key: Any) -> bytes | None:
        """The encoded key, or None for a key that cannot be in this map (wrong type, out of range).

        As for a dict, ``k in m`` is then False and ``m.get(k)`` the default;
        a map that has no keys at all still raises (MapError).
        """
        self._check_keyed()
        try:
            return self._key_codec().encode(key)
        except (OverflowError, TypeError, ValueError):
            return None

    def __getitem__(self, key: K) -> V:
        v = self._lookup(key)
        if v is _MISSING:
            raise KeyError(key)
        return v

    def get(self, key: K, default: Any = None) -> V | Any:
        kb = self._key_or_none(key)
        v = _MISSING if kb is None else self._lookup_raw(kb)
        return default if v is _MISSING else v

    def __contains__(self, key: Any) -> bool:
        kb = self._key_or_none(key)
        return kb is not None and self._lookup_raw(kb) is not _MISSING

    def __setitem__(self, key: K, value: V) -> None:
        self.set(key, value)

    def set(self, key: K, value: V, flags: int = BPF_ANY) -> None:
        """``m[k] = v`` with explicit update flags (BPF_ANY=0, BPF_NOEXIST=1, BPF_EXIST=2)."""
        self._check_keyed()
        _check_flags(flags)
        kb = self._key_codec().encode(key)
        vb = self._encode_value(value)
        rc = self._call(self._lib().bpf_map_update_elem, kb, vb, flags)
        if rc < 0:
            err = -rc
            if err == E.E2BIG and self._kind.array:
                raise KeyError(f"index {key!r} is out of range for {self.spec.kind} "
                               f"'{self.name}' (max_entries={self.max_entries})")
            if err == E.E2BIG:
                raise self._error(f"update (map is full: max_entries={self.max_entries})", err)
            raise self._error("update", err)

    def __delitem__(self, key: K) -> None:
        self._check_keyed()
        if self._kind.array:
            raise MapError(f"{self.spec.kind} '{self.name}' has every index from 0 to "
                           f"{self.max_entries - 1}; entries cannot be deleted "
                           f"(assign a zero value instead)", E.EINVAL)
        kb = self._key_codec().encode(key)
        rc = self._call(self._lib().bpf_map_delete_elem, kb)
        if rc < 0:
            if rc == -E.ENOENT:
                raise KeyError(key)
            raise self._error("delete", -rc)

    def pop(self, key: K, default: Any = _MISSING) -> V | Any:
        v = self._lookup(key)
        if v is _MISSING:
            if default is _MISSING:
                raise KeyError(key)
            return default
        try:
            del self[key]
        except KeyError:
            pass
        return v

    def update(self, other: Any = (), **kw: Any) -> None:
        """dict.update: from a mapping or an iterable of pairs, then the keywords.

        Many entries go to the kernel in batches (``BPF_MAP_UPDATE_BATCH``, a
        few syscalls for the lot) where the map kind and the kernel have it;
        else, or when a key or value does not convert, one ``m[k] = v`` per
        entry, in order, so an entry that fails raises the error ``m[k] = v``
        raises after the entries before it were written.
        """
        self._check_keyed()
        keys, values = _pairs(other)
        if kw:
            keys += kw.keys()
            values += kw.values()
        if len(keys) > 1 and self._batch_ok and self._update_batch(keys, values):
            return
        for k, v in zip(keys, values):
            self.set(k, v)

    def _update_batch(self, keys: list[Any], values: list[Any]) -> bool:
        """Write every entry with BPF_MAP_UPDATE_BATCH; False (nothing written) when an entry
        does not convert (the caller's one-by-one writes then raise at it).

        An entry the kernel refuses (a full map, an index out of range) is
        written again with ``set()``, which raises the error it raises for
        it; the entries before it stay written, as with dict.update.  A
        kernel or map kind without batch updates refuses the first call as a
        whole: the entries are then written one by one, and later updates of
        this handle skip the batch.
        """
        from . import libbpf as L

        kc = self._key_codec()
        try:
            kraw = kc.encode_many(keys)
            if self._kind.percpu:
                vraw = b"".join(map(self._encode_value, values))
            else:
                vraw = self._value_codec().encode_many(values)
        except (OverflowError, TypeError, ValueError):
            return False  # the one-by-one writes raise the error at its entry
        n = len(keys)
        ks = kc.size
        vs = len(vraw) // n
        kbuf = (ctypes.c_char * len(kraw)).from_buffer_copy(kraw)
        vbuf = (ctypes.c_char * len(vraw)).from_buffer_copy(vraw)
        kaddr, vaddr = ctypes.addressof(kbuf), ctypes.addressof(vbuf)
        per = max(_BATCH_MIN, _BATCH_BYTES // (ks + vs))
        opts = L.MapBatchOpts(sz=ctypes.sizeof(L.MapBatchOpts))
        count = ctypes.c_uint32()
        update = self._lib().bpf_map_update_batch
        with self._obj.using(self.spec.name) as live:
            fd = live.map_fd(self.spec.name)
            start = 0
            while start < n:
                count.value = k = min(per, n - start)
                rc = update(fd, kaddr + start * ks, vaddr + start * vs, ctypes.byref(count),
                            ctypes.byref(opts))
                if rc >= 0:
                    start += k
                    continue
                done = count.value  # entries written before the one that failed
                if done >= k:  # refused as a whole: the count is the one given, untouched
                    if -rc not in _NO_BATCH:
                        raise self._error("batch update", -rc)
                    self._batch_ok = False  # no batch update for this map here
                    for i in range(start, n):
                        self.set(keys[i], values[i])
                    return True
                failed = start + done
                self.set(keys[failed], values[failed])  # raises its error (or it was transient)
                start = failed + 1
        return True

    # ---- bulk operations -------------------------------------------------------------

    def __bool__(self) -> bool:
        """As for a dict: whether the map has an entry (one syscall, not a count).

        Maps without a length (queues, stacks, bloom filters, ring and perf
        buffers) are always true: a handle, as any object.
        """
        if self._kind.keyless or self._kind.events:
            return True
        if self._kind.array:
            return self.max_entries > 0
        cur = ctypes.create_string_buffer(self._key_codec().size)
        rc = self._call(self._lib().bpf_map_get_next_key, None, cur)
        if rc == -E.ENOENT:
            return False
        if rc < 0:
            raise self._error("get_next_key", -rc)
        return True

    def __len__(self) -> int:
        self._check_keyed()
        if self._kind.array:
            return self.max_entries
        return self._raw_items(True, values=False)[2]

    def __iter__(self) -> Iterator[K]:
        return iter(self.keys())

    def keys(self, batch: bool = True) -> list[K]:
        self._check_keyed()
        if self._kind.array:
            indices: list[Any] = list(range(self.max_entries))  # an array's keys: int
            return indices
        raw, _, n = self._raw_items(batch, values=False)
        return self._key_codec().decode_many(raw, n)

    def values(self, batch: bool = True) -> list[V]:
        self._check_keyed()
        kraw, vraw, n = self._raw_items(batch)
        return self._decode_values(vraw, n)

    def items(self, batch: bool = True) -> list[tuple[K, V]]:
        """All (key, value) pairs: one batched read when the kernel allows, else a key walk."""
        self._check_keyed()
        return self._decode_items(*self._raw_items(batch))

    def items_if_loaded(self) -> list[tuple[Any, Any]] | None:
        """``items()`` when the module is loaded, else None: never loads it.

        For readers that must not bring a closed module back (an exporter
        reading at scrape time): a ``close()`` in another thread cannot slip
        between the check and the read.
        """
        self._check_keyed()
        with self._obj.using(self.spec.name, load=False) as live:
            if live is None:
                return None
            raw = self._read_all(live.map_fd(self.spec.name), True)
        return self._decode_items(*raw)

    def _decode_items(self, kraw: bytes, vraw: bytes, n: int) -> list[tuple[Any, Any]]:
        # Building 100k tuples triggers many pointless gen-0 collections (they hold
        # only ints/bytes): pausing the collector halves the decode time.
        enabled = gc.isenabled()
        gc.disable()
        try:
            keys = self._key_codec().decode_many(kraw, n)
            return list(zip(keys, self._decode_values(vraw, n)))
        finally:
            if enabled:
                gc.enable()

    def clear(self) -> None:
        """Delete every entry (an ArrayMap has every index: its values are zeroed instead)."""
        self._check_keyed()
        with self._obj.using(self.spec.name) as live:
            fd = live.map_fd(self.spec.name)
            if self._kind.array:
                self._zero_all(fd)
            else:
                self._delete_all(fd)

    def _zero_all(self, fd: int) -> None:
        lib = self._lib()
        zero = bytes(self._value_buf_size())
        kc = self._key_codec()
        for i in range(self.max_entries):
            rc = lib.bpf_map_update_elem(fd, kc.encode(i), zero, BPF_ANY)
            if rc < 0:
                raise self._error("clear", -rc)

    def _delete_all(self, fd: int) -> None:
        lib = self._lib()
        ks = self._key_codec().size
        raw, _, n = self._raw_items(True, values=False)
        if not n:
            return
        start = 0
        if self._batch_ok:
            from . import libbpf as L

            count = ctypes.c_uint32(n)
            opts = L.MapBatchOpts(sz=ctypes.sizeof(L.MapBatchOpts))
            rc = lib.bpf_map_delete_batch(fd, raw, ctypes.byref(count), ctypes.byref(opts))
            if rc >= 0:
                return
            if rc == -E.ENOENT:
                # an entry vanished since the snapshot: the kernel stops at that key
                # (count says where), so delete the rest one by one
                start = count.value
            elif -rc not in _NO_BATCH:
                raise self._error("clear", -rc)
        view = memoryview(raw)
        for i in range(start, n):
            rc = lib.bpf_map_delete_elem(fd, bytes(view[i * ks:(i + 1) * ks]))
            if rc < 0 and rc != -E.ENOENT:
                raise self._error("clear", -rc)

    def _decode_values(self, vraw: bytes, n: int) -> list[Any]:
        vc = self._value_codec()
        if not self._kind.percpu:
            return vc.decode_many(vraw, n)
        ncpu = self._ncpu()
        flat = vc.decode_many(vraw, n * ncpu, _round8(vc.size))
        return [flat[i:i + ncpu] for i in range(0, n * ncpu, ncpu)]

    def _raw_items(self, batch: bool, values: bool = True) -> tuple[bytes, bytes, int]:
        """Every key (and value) as packed bytes, plus the count; the object held throughout."""
        with self._obj.using(self.spec.name) as live:
            return self._read_all(live.map_fd(self.spec.name), batch, values)

    def _read_all(self, fd: int, batch: bool, values: bool = True) -> tuple[bytes, bytes, int]:
        """``_raw_items`` on ``fd``, whose object the caller holds."""
        if batch and self._batch_ok:
            got = self._raw_items_batch(fd)
            if got is not None:
                return got
        return self._raw_items_walk(fd, values)

    def _raw_items_batch(self, fd: int) -> tuple[bytes, bytes, int] | None:
        """BPF_MAP_LOOKUP_BATCH over the whole map; None when the kernel has no batch ops."""
        from . import libbpf as L

        lib = self._lib()
        ks = self._key_codec().size
        vs = self._value_buf_size()
        per = max(_BATCH_MIN, min(self.max_entries, _BATCH_BYTES // (ks + vs)))
        tok_size = max(ks, 8)
        tokens = (ctypes.create_string_buffer(tok_size), ctypes.create_string_buffer(tok_size))
        opts = L.MapBatchOpts(sz=ctypes.sizeof(L.MapBatchOpts))
        count = ctypes.c_uint32()
        kparts: list[bytes] = []
        vparts: list[bytes] = []
        total = 0
        in_tok = None
        turn = 0
        kbuf = ctypes.create_string_buffer(per * ks)
        vbuf = ctypes.create_string_buffer(per * vs)
        while True:
            out_tok = tokens[turn]
            count.value = per
            rc = lib.bpf_map_lookup_batch(fd, in_tok, out_tok, kbuf, vbuf, ctypes.byref(count),
                                          ctypes.byref(opts))
            if rc < 0 and rc != -E.ENOENT:
                err = -rc
                if err == E.ENOSPC and count.value == 0:
                    per *= 2  # a hash bucket holds more entries than one batch
                    kbuf = ctypes.create_string_buffer(per * ks)
                    vbuf = ctypes.create_string_buffer(per * vs)
                    continue
                if err in _NO_BATCH and total == 0:
                    self._batch_ok = False
                    return None
                raise self._error("batch lookup", err)
            n = count.value
            if n:
                kparts.append(kbuf.raw[:n * ks] if n < per else kbuf.raw)
                vparts.append(vbuf.raw[:n * vs] if n < per else vbuf.raw)
                total += n
            if rc == -E.ENOENT:
                break
            in_tok = out_tok
            turn ^= 1
        kraw = kparts[0] if len(kparts) == 1 else b"".join(kparts)
        vraw = vparts[0] if len(vparts) == 1 else b"".join(vparts)
        return kraw, vraw, total

    def _raw_items_walk(self, fd: int, values: bool = True) -> tuple[bytes, bytes, int]:
        """A get_next_key walk, then one lookup per key (the pre-batch way)."""
        keys = self._walk_keys(fd)
        if not values:
            return b"".join(keys), b"", len(keys)
        lookup = self._lib().bpf_map_lookup_elem
        vbuf = ctypes.create_string_buffer(self._value_buf_size())
        kout: list[bytes] = []
        vout: list[bytes] = []
        for k in keys:
            rc = lookup(fd, k, vbuf)
            if rc < 0:
                if rc == -E.ENOENT:
                    continue  # deleted since the walk
                raise self._error("lookup", -rc)
            kout.append(k)
            vout.append(vbuf.raw)
        return b"".join(kout), b"".join(vout), len(kout)

    def _walk_keys(self, fd: int) -> list[bytes]:
        """Every key by get_next_key, each at most once even while the map changes.

        When the key a step starts from was deleted meanwhile, a hash map's
        get_next_key starts over from its first key: the keys already seen
        come again.  They are skipped, and the walk resumes after the latest
        key seen that is still in the map (so a restart costs a few syscalls,
        not a second walk).
        """
        next_key = self._lib().bpf_map_get_next_key
        keys: list[bytes] = []
        seen: set[bytes] = set()
        tried: set[bytes] = set()  # resume points used: each at most once, so the walk ends
        cur = ctypes.create_string_buffer(self._key_codec().size)
        prev: bytes | None = None
        while True:
            rc = next_key(fd, prev, cur)
            if rc < 0:
                if rc == -E.ENOENT:
                    return keys
                raise self._error("get_next_key", -rc)
            k = cur.raw
            if k in seen:  # started over (or a moved key): skip it
                prev = self._resume_point(fd, keys, tried) or k
                continue
            seen.add(k)
            keys.append(k)
            prev = k

    def _resume_point(self, fd: int, keys: list[bytes], tried: MutableSet[bytes]) -> bytes | None:
        """The latest of the last few keys walked that is still in the map (and not tried yet)."""
        lookup = self._lib().bpf_map_lookup_elem
        vbuf = ctypes.create_string_buffer(self._value_buf_size())
        for k in reversed(keys[-8:]):
            if k in tried:
                continue
            tried.add(k)
            if lookup(fd, k, vbuf) == 0:
                return k
        return None

    # ---- histograms (docs/runtime.md, "Histograms"; the layout: runtime/hist.py) --------

    def print_log2_hist(self, val_type: str = "value", section_header: str = "Bucket ptr",
                        section_print_fn: Callable[[Any], Any] | None = None,
                        bucket_fn: Callable[[Any], Any] | None = None,
                        strip_leading_zero: bool | None = None,
                        bucket_sort_fn: Callable[[list[Any]], Any] | None = None,
                        file: Any = None) -> None:
        """Print the map as a power-of-two histogram in bcc's layout.

        Keys are ``log2(x)`` bucket indexes (an integer key), or a struct key
        holding one (its field named ``slot``, else its last field) beside the
        section it belongs to (the other field, e.g. a disk or a pid): then
        one histogram per section, each under ``section_header = section``.
        ``section_print_fn`` formats a section, ``bucket_fn`` maps it (merging
        sections it maps together), ``bucket_sort_fn`` orders them (default:
        sorted).  ``strip_leading_zero`` leaves out the empty buckets before
        the first count.  ``file``: where to print (default: stdout).
        """
        from . import hist

        for section, counts in self._hist_sections("log2", section_header, section_print_fn,
                                                   bucket_fn, bucket_sort_fn):
            lines = hist.log2_lines(counts, val_type, bool(strip_leading_zero))
            _print_lines(([""] + [section] if section is not None else []) + lines, file)

    def print_linear_hist(self, val_type: str = "value", section_header: str = "Bucket ptr",
                          section_print_fn: Callable[[Any], Any] | None = None,
                          bucket_fn: Callable[[Any], Any] | None = None,
                          strip_leading_zero: bool | None = None,
                          bucket_sort_fn: Callable[[list[Any]], Any] | None = None,
                          file: Any = None) -> None:
        """Print the map as a linear histogram (bucket ``k`` is the key ``k``) in bcc's layout.

        Struct keys make one histogram per section; the arguments are those of
        :meth:`print_log2_hist`.
        """
        from . import hist

        for section, counts in self._hist_sections("linear", section_header, section_print_fn,
                                                   bucket_fn, bucket_sort_fn):
            lines = hist.linear_lines(counts, val_type, bool(strip_leading_zero))
            _print_lines(([""] + [section] if section is not None else []) + lines, file)

    def buckets(self, kind: str = "log2", bucket_fn: Callable[[Any], Any] | None = None) -> Any:
        """The histogram as plain data: ``[(low, high, count), ...]``.

        ``kind="log2"``: bucket ``k`` holds ``2**k .. 2**(k+1) - 1`` (bucket 0: 0 and 1);
        ``kind="linear"``: bucket ``k`` is ``(k, k, count)``.  The list runs from
        bucket 0 to the last non-zero one, empty buckets included, so it plots
        as it is (``lows, highs, counts = zip(*m.buckets())``).  With a struct
        key: a dict ``{section: [(low, high, count), ...]}`` (see
        :meth:`print_log2_hist`).
        """
        from . import hist

        make = {"log2": hist.log2_buckets, "linear": hist.linear_buckets}.get(kind)
        if make is None:
            raise ValueError(f"kind must be 'log2' or 'linear', got {kind!r}")
        grouped = self._hist_counts(kind, bucket_fn)
        if not isinstance(grouped, dict):
            return make(grouped)
        return {section: make(counts) for section, counts in grouped.items()}

    def _hist_counts(self, kind: str, bucket_fn: Callable[[Any], Any] | None) -> Any:
        """The counts by bucket: a list, or for a struct key a dict section -> list."""
        from . import hist
        from .codec import IntCodec, StructCodec

        self._check_keyed()
        limit = hist.LOG2_BUCKETS if kind == "log2" else None
        kc = self._key_codec()
        items: list[tuple[Any, int]] = [(k, hist.count_of(v)) for k, v in self.items()]
        if isinstance(kc, IntCodec):
            return hist.dense(items, limit, kind)
        if isinstance(kc, StructCodec):
            names = [name for name, _, _ in kc.fields]
            grouped = hist.sections(items, names, bucket_fn)
            return {s: hist.dense(pairs, limit, kind) for s, pairs in grouped.items()}
        raise TypeError(f"map '{self.name}' is keyed by {self.spec.key}: a histogram needs "
                        f"integer bucket keys, or a struct key holding a bucket")

    def _hist_sections(self, kind: str, header: str, print_fn: Callable[[Any], Any] | None,
                       bucket_fn: Callable[[Any], Any] | None,
                       sort_fn: Callable[[list[Any]], Any] | None) -> list[tuple[str | None, list[int]]]:
        """(section line or None, counts) per histogram to print, in order."""
        from . import hist

        grouped = self._hist_counts(kind, bucket_fn)
        if not isinstance(grouped, dict):
            return [(None, grouped)]
        return [(hist.section_line(header, s, print_fn), grouped[s])
                for s in hist.ordered(grouped, sort_fn)]

    # ---- keyless maps (queue, stack, bloom filter) -----------------------------------

    def push(self, value: V, flags: int = BPF_ANY) -> None:
        """Queue/stack: push a value; bloom filter: add one."""
        if not self._kind.keyless or self._kind.events:
            raise MapError(f"{self.spec.kind} '{self.name}' has no push(); use m[k] = v")
        _check_flags(flags)
        rc = self._call(self._lib().bpf_map_update_elem, None, self._encode_value(value), flags)
        if rc < 0:
            raise self._error("push", -rc)

    add = push

    def pop_value(self) -> V | None:
        """Queue/stack: remove and return the next value (None when empty)."""
        return self._take(delete=True)

    def peek(self) -> V | None:
        """Queue/stack: the next value without removing it (None when empty)."""
        return self._take(delete=False)

    def _take(self, delete: bool) -> Any:
        if not self._kind.keyless or self._kind.events:
            raise MapError(f"{self.spec.kind} '{self.name}' is not a queue or stack")
        lib = self._lib()
        vbuf = ctypes.create_string_buffer(self._value_buf_size())
        fn = lib.bpf_map_lookup_and_delete_elem if delete else lib.bpf_map_lookup_elem
        rc = self._call(fn, None, vbuf)
        if rc < 0:
            if rc == -E.ENOENT:
                return None
            raise self._error("pop" if delete else "peek", -rc)
        return self._decode_value(vbuf.raw)


class _OwnFd:
    """What a map handle needs of its object, for a map made from Python (``Map.create``):
    the handle's own fd, and the types of the module whose map it copies."""

    def __init__(self, types: Any, fd: int, name: str) -> None:
        import os
        import threading
        import weakref

        self.types = types
        self.fd = fd
        self.name = name
        self._finalizer = weakref.finalize(self, os.close, fd)  # if never closed
        # as a module's object: an operation in progress holds the fd, so a close() in
        # another thread cannot free the number for another file to reuse under it
        self._lock = threading.Lock()
        self._users = 0

    pin_root: str | None = None  # a map made from Python is never pinned by name

    @property
    def loaded(self) -> bool:
        """Whether the map is still open (``Map.loaded``)."""
        return self.fd >= 0

    def map_fd(self, name: str) -> int:
        if self.fd < 0:
            raise BpfError(f"map '{self.name}' (made with create()) is closed")
        return self.fd

    def _acquire(self, name: str, load: bool = True) -> _OwnFd | None:
        """Hold the fd for one operation; None (``load=False``) or BpfError once closed."""
        with self._lock:
            if self.fd < 0:
                if not load:
                    return None
                raise BpfError(f"map '{self.name}' (made with create()) is closed")
            self._users += 1
            return self

    def _release(self, live: _OwnFd | None) -> None:
        if live is None:
            return
        with self._lock:
            self._users -= 1
            if self._users == 0 and self.fd < 0:
                self._finalizer()  # closed meanwhile: the last user closes the fd

    def using(self, name: str, load: bool = True) -> Any:
        import contextlib

        @contextlib.contextmanager
        def held() -> Iterator[_OwnFd | None]:
            live = self._acquire(name, load)
            try:
                yield live
            finally:
                self._release(live)

        return held()

    def close(self) -> None:
        """Close the fd now, or when the operations in progress end. Idempotent."""
        with self._lock:
            self.fd = -1
            if self._users == 0:
                self._finalizer()


class OwnedMap(Map):
    """A map made from Python by ``Map.create()``: a map handle that owns its fd.

    Everything a module's map handle does, plus ``close()`` (also as a context manager):
    the map lives on in the kernel while a map of maps holds it.
    """

    def __init__(self, own: _OwnFd, spec: MapSpec) -> None:
        obj: Any = own  # stands in for the module's object: the few things a handle uses
        super().__init__(obj, spec)
        self._own = own

    def close(self) -> None:
        self._own.close()

    def __enter__(self) -> OwnedMap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pairs(other: Any) -> tuple[list[Any], list[Any]]:
    """The keys and values of dict.update's first argument: a mapping, or (key, value) pairs."""
    if isinstance(other, dict):
        return list(other), list(other.values())
    if hasattr(other, "keys"):  # dict.update's protocol for other mappings
        keys = list(other.keys())
        return keys, [other[k] for k in keys]
    keys, values = [], []
    for i, pair in enumerate(other):
        try:
            k, v = pair
        except (TypeError, ValueError):
            raise ValueError(f"update() sequence element #{i} is not a (key, value) pair: "
                             f"{pair!r}") from None
        keys.append(k)
        values.append(v)
    return keys, values


class BloomFilterMap(Map[None, V]):
    """A BloomFilterMap: ``m.add(v)`` (or ``push``) adds a value, ``v in m`` tests one."""

    def __contains__(self, value: Any) -> bool:
        """A bloom filter's test: False means never added, True only *maybe* added."""
        try:
            vb = self._encode_value(value)
        except (OverflowError, TypeError, ValueError):
            return False
        rc = self._call(self._lib().bpf_map_lookup_elem, None, vb)  # the kernel only reads vb
        if rc == -E.ENOENT:
            return False
        if rc < 0:
            raise self._error("lookup", -rc)
        return True

    def _take(self, delete: bool) -> Any:
        raise MapError(f"BloomFilterMap '{self.name}' gives no values back; "
                       f"test one with `value in m`")


class StackTraceMap(Map[int, list[int]]):
    """A StackTraceMap: ``stacks[stack_id]`` is the list of addresses, innermost first.

    The kernel stores a fixed-size array per stack with zeros after the last
    frame; they are cut off here.  ``symbols(stack_id)`` names the frames
    (kernel stacks through ``bpfimport.ksym``; with ``pid=`` user stacks of
    that process through ``bpfimport.usym``).  A negative id is the error a
    failed ``get_stackid()`` returned (``-EFAULT``: no stack, ``-EEXIST``: a
    hash collision without BPF_F_REUSE_STACKID, ``-ENOMEM``: the map is full);
    it is never in the map.
    """

    def _decode_value(self, buf: Any) -> Any:
        return _frames(super()._decode_value(buf))

    def _decode_values(self, vraw: bytes, n: int) -> list[Any]:
        return [_frames(v) for v in super()._decode_values(vraw, n)]

    def walk(self, stack_id: int) -> Iterator[int]:
        """The addresses of a stack, innermost first (bcc's spelling of ``iter(stacks[id])``)."""
        return iter(self[stack_id])

    def symbols(self, stack_id: int, pid: int | None = None, offset: bool = False) -> list[str]:
        """The names of a stack's frames, innermost first: kernel functions, or with ``pid``
        the functions of that process (user stacks: BPF_F_USER_STACK)."""
        from .. import symbols

        frames = self[stack_id]
        if pid is None:
            return [symbols.ksym(a, offset) for a in frames]
        return [symbols.usym(a, pid, offset) for a in frames]


def _frames(addresses: list[int]) -> list[int]:
    """A stored stack without the zero padding after its last frame."""
    end = len(addresses)
    while end and not addresses[end - 1]:
        end -= 1
    return addresses[:end]


class ProgArrayMap(Map[int, Any]):
    """A ProgArray: ``progs[i] = mod.prog`` puts a program in slot ``i`` for ``tail_call()``.

    A slot takes a program handle (or a program fd); reading a slot gives the
    kernel's id of the program in it.  ``del progs[i]`` empties the slot;
    ``len()``, ``keys()`` and iteration count the filled slots only.  The
    programs must have the type of the program that tail-calls them.
    """

    _slot_what = "program (mod.prog) or its fd"

    def set(self, key: Any, value: Any, flags: int = BPF_ANY) -> None:
        fd = getattr(value, "fd", value)
        if isinstance(fd, bool) or not isinstance(fd, int):
            raise TypeError(f"{self.kind} '{self.name}' slots take a {self._slot_what}, "
                            f"got {type(value).__name__}")
        super().set(key, fd, flags)

    def keys(self, batch: bool = True) -> list[Any]:
        return [k for k, _ in self.items(batch)]

    def __len__(self) -> int:
        return len(self.items())

    def __bool__(self) -> bool:
        return len(self) > 0


class MapOfMapsMap(ProgArrayMap):
    """An ArrayOfMaps / HashOfMaps: ``outer[k] = mod.inner`` puts a map in slot ``k``.

    A slot takes a map handle (or a map fd) like the declared template (the kernel
    refuses another kind, key, value or size); reading a slot gives the kernel's id of
    the map in it (``Map.id`` tells which handle that is); ``del outer[k]`` empties it.
    Swapping a slot at run time is one update: programs see the new map from their next
    lookup.  ``len()``, ``keys()`` and iteration count the filled slots only.
    """

    _slot_what = "map (mod.inner) or its fd"


class SlotMap(Map[Any, Any]):
    """A DevMap, DevMapHash, CpuMap or XskMap: the targets ``redirect_map()`` sends packets to.

    ``ports[0] = ifindex`` fills a slot (a CpuMap's value is the CPU's queue size, an
    XskMap's an AF_XDP socket, given as the socket object or its fd); ``del ports[0]``
    empties it.  ``len()``, ``keys()`` and iteration count the filled slots only: the
    kernel walks every slot of an array-shaped map.  The kernel does not let user space
    read an XskMap back.
    """

    def set(self, key: Any, value: Any, flags: int = BPF_ANY) -> None:
        fileno = getattr(value, "fileno", None)  # an AF_XDP socket object in an XskMap
        super().set(key, fileno() if callable(fileno) else value, flags)

    def keys(self, batch: bool = True) -> list[Any]:
        return [k for k, _ in self.items(batch)]

    def __len__(self) -> int:
        return len(self.items())

    def __bool__(self) -> bool:
        return len(self) > 0


class _EventMap(Map[None, Ev]):
    """Shared by RingBufferMap and PerfEventArrayMap: ``poll()``, ``consume()``, ``events()``.

    The readers are in :mod:`bpfimport.runtime.events` (how they read, and
    why they are safe against floods, signals and a concurrent close(), is
    said there).
    """

    def __init__(self, obj: BpfObject, spec: MapSpec) -> None:
        super().__init__(obj, spec)
        self._reader: EventReader | None = None  # opened on the first poll

    @property
    def _reader_class(self) -> type[EventReader]:
        raise NotImplementedError

    def poll(self, callback: Callable[[Ev], object], timeout_ms: int = 100, *,
             lost: Callable[[int], Any] | None = None) -> int:
        """Wait up to ``timeout_ms`` for events and call ``callback(event)`` for each.

        An event is decoded with the map's value type when the spec gives one
        (the struct the programs submit: an instance of its own, which may be
        kept), otherwise it is ``bytes``.  Returns the number of events
        handled.  It returns once the buffer is empty, ``timeout_ms`` has
        passed (a flood cannot hold it) or it handled one buffer's worth;
        events taken and not yet handled are delivered first by the next
        poll().  An exception raised by the callback, or by a signal handler
        meanwhile (KeyboardInterrupt), stops the poll and propagates; the
        events after it stay for the next poll().  The callback's return
        value is ignored.  ``lost(count)`` is called, after the events, with
        the samples the kernel dropped since it was last told (perf buffers).
        """
        from .events import _check_timeout, _checked_callback

        _checked_callback(callback)
        _check_timeout(timeout_ms)
        if lost is not None:
            _checked_callback(lost)
        return self._open_reader().poll(callback, timeout_ms, lost)

    def _open_reader(self) -> Any:
        """The reader for the loaded object, opened on first need (or at load, for perf arrays)."""
        from .events import open_reader

        return open_reader(self, self._reader_class)

    def consume(self, callback: Callable[[Ev], object], *,
                lost: Callable[[int], Any] | None = None) -> int:
        """Handle the events already in the buffer (one buffer's worth at most) without waiting."""
        return self.poll(callback, 0, lost=lost)

    def events(self, timeout_ms: int = 100) -> Iterator[Ev]:
        """``for event in m.events(timeout_ms=100)``: the events as they come.

        The iteration stops once ``timeout_ms`` passes without an event
        (``0``: once the buffer is empty; ``-1``: never, break out of the
        loop yourself).  Events taken from the kernel and not yet yielded
        when the loop stops stay for the next poll() or events().
        """
        from .events import _check_timeout, events_of

        _check_timeout(timeout_ms)
        return events_of((self,), timeout_ms, pairs=False)

    @property
    def lost(self) -> int:
        """Samples the kernel dropped because the buffer was full, since load (perf buffers).

        A ring buffer never drops silently: the program's ``output()`` or
        ``reserve()`` fails instead, which the program can count.
        """
        return self._reader.lost if self._reader is not None else 0


class RingBufferMap(_EventMap[Ev]):
    """A RingBuffer map: ``poll(callback, timeout_ms=100)`` delivers its events."""

    @property
    def _reader_class(self) -> type[EventReader]:
        from .events import RingReader

        return RingReader


class PerfEventArrayMap(_EventMap[Ev]):
    """A PerfEventArray map: ``poll(callback, timeout_ms=100)`` delivers its events.

    Perf samples carry padding up to an 8-byte boundary, so an undecoded event
    may be a few bytes longer than what the program wrote.
    """

    def __init__(self, obj: BpfObject, spec: MapSpec) -> None:
        super().__init__(obj, spec)
        self._page_cnt = 64  # events.PerfReader.PAGES (not imported: maps.py stays light)
        self._wakeup_events: int | None = None  # by bytes: events.PerfReader.WAKEUP_BYTES
        self._wakeup_bytes = 4096
        # a perf event array drops what is sent while no reader is open: open one at each
        # load, so events sent before the first poll() are kept
        obj.after_load.append(self._open_reader)

    @property
    def page_cnt(self) -> int:
        """Pages of buffer per CPU (a power of two; 64 by default, as bcc's tools use).

        The buffer is made at load (so no event sent before the first poll is
        lost): set it before the module loads, or after its ``close()``.
        """
        return self._page_cnt

    @page_cnt.setter
    def page_cnt(self, pages: int) -> None:
        self._check_setting("page_cnt", pages, self._page_cnt)
        if pages & (pages - 1):
            raise ValueError(f"page_cnt must be a power of two (1, 2, 4, ... pages per CPU), "
                             f"got {pages}")
        self._page_cnt = pages

    @property
    def wakeup_events(self) -> int | None:
        """Samples per wake-up of a waiting poll; None (the default): by bytes, ``wakeup_bytes``.

        Each wake-up costs the program that sends an interrupt. libbpf and bcc
        wake at every sample (``wakeup_events = 1``), which bounds a flood at
        ~120 k samples/s on this VM; waking by bytes (or every N samples) lets
        it through many times faster, and a waiting poll finds the samples that
        woke nobody within 10 ms (``LATE_SLICE_MS``).  Set it before load, as
        ``page_cnt``.
        """
        return self._wakeup_events

    @wakeup_events.setter
    def wakeup_events(self, n: int | None) -> None:
        if n is not None:
            self._check_setting("wakeup_events", n, self._wakeup_events)
            if n >= 1 << 32:
                raise ValueError(f"wakeup_events must fit in a u32, got {n}")
        else:
            self._check_setting("wakeup_events", None, self._wakeup_events, optional=True)
        self._wakeup_events = n

    @property
    def wakeup_bytes(self) -> int:
        """Bytes of samples per wake-up while ``wakeup_events`` is None (4096 by default; at
        most a quarter of one CPU's ring is used, so a wake-up comes long before it fills)."""
        return self._wakeup_bytes

    @wakeup_bytes.setter
    def wakeup_bytes(self, n: int) -> None:
        self._check_setting("wakeup_bytes", n, self._wakeup_bytes)
        if n >= 1 << 32:
            raise ValueError(f"wakeup_bytes must fit in a u32, got {n}")
        self._wakeup_bytes = n

    def _check_setting(self, name: str, value: Any, current: int | None,
                       optional: bool = False) -> None:
        """A positive int (or None, when ``optional``), and a change only while the buffer
        does not exist."""
        if not (value is None and optional) and (isinstance(value, bool)
                                                 or not isinstance(value, int)):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value is not None and value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")
        reader = self._reader
        if reader is not None and not reader.closed and value != current:
            raise BpfError(f"PerfEventArray '{self.name}' already has its buffer (made at load, "
                           f"{name}={current}): set {name} before the module loads, or close() "
                           f"it first")

    def _open_reader(self) -> Any:
        from .events import PerfReader, open_reader

        return open_reader(self, PerfReader, page_cnt=self._page_cnt,
                           wakeup_events=self._wakeup_events, wakeup_bytes=self._wakeup_bytes)

    @property
    def _reader_class(self) -> type[EventReader]:
        from .events import PerfReader

        return PerfReader


# The handle classes by name: each map kind names its own (``bpfimport.kinds``, ``handle``).
HANDLE_CLASSES: dict[str, type[Map]] = {
    cls.__name__: cls for cls in (Map, BloomFilterMap, StackTraceMap, ProgArrayMap, MapOfMapsMap,
                                  RingBufferMap, PerfEventArrayMap, SlotMap)
}


def make_map(obj: BpfObject, spec: MapSpec) -> Map:
    """The handle of a map, of the class its kind names."""
    return HANDLE_CLASSES[spec.map_kind.handle](obj, spec)


__all__ = ["BPF_ANY", "HANDLE_CLASSES", "BloomFilterMap", "Map", "MapError", "MapOfMapsMap",
           "OwnedMap", "PerfEventArrayMap", "ProgArrayMap", "RingBufferMap", "SlotMap", "StackTraceMap",
           "make_map"]
