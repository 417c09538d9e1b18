"""The running kernel's BTF as a compile input: found once per process, indexed once per kernel.

:func:`kernel_btf` opens ``/sys/kernel/btf/vmlinux`` (world-readable: no root
needed) and returns a :class:`KernelBtf`, memoised per path for the process.
Types are decoded only when a program touches them (:meth:`KernelBtf.find`);
module BTF (``/sys/kernel/btf/<module>``) is read only when vmlinux lacks a name.

**The index cache.**  Finding a type by name needs a name index, and building one
for vmlinux (~127 000 types, ~70 000 names) takes ~0.1-0.2 s of pure Python.  It
is built once per kernel BTF and stored under the user's cache folder
(``$XDG_CACHE_HOME/bpfimport/btf/`` or ``~/.cache/bpfimport/btf/``) as
``<identity>.idx``: a fixed header and four little-endian ``u32`` arrays (type
offsets, then a :class:`~.reader.NameTable`: name string offsets sorted by name,
id ranges, ids).  A later process reads it, checks it and searches it in place:
nothing is rebuilt.  The file is named and checked by the BTF's
:attr:`~KernelBtf.identity`, so a new kernel gets a new index.  Anything wrong with
the cache (missing, corrupt, foreign, owned by another user, unwritable folder,
no home) only means the index is built in memory: never an error.

**The warm start.**  vmlinux cannot change until the next boot, so the first
process of a boot records its identity in ``boot.memo``; later processes take it
from there, check the index against the live file's size and edge pages, and read
vmlinux a page at a time (:meth:`.reader.Spec.paged`) instead of all 5.5 MB: ~2 ms
to open instead of ~10.
"""

from __future__ import annotations

import errno
import os
import struct
from _imp import source_hash as _source_hash
from _thread import allocate_lock
from array import array
from collections.abc import Callable
from pathlib import Path

from . import types as t
from .boot import boot_id as _boot_id
from .boot import cache_folder as _boot_cache_folder
from .boot import identity_of
from .boot import memo_key as _memo_key
from .boot import memo_lookup as _memo_lookup
from .boot import memo_store as _memo_store
from .boot import read_own as _read_own
from .boot import store as _write_atomic
from .reader import KERNEL_BTF, BtfFormatError, Index, NameTable, PagedFile, Spec

VMLINUX = KERNEL_BTF / "vmlinux"

# magic, format, type count, name count, id count, checksum of the body, the BTF's size,
# a hash of its first and last 16 KiB (_edges), its identity (ASCII, NUL-padded)
_HEADER = struct.Struct("<8sIIII8sI8s48s")
_MAGIC = b"BPFIBTF\0"
_FORMAT = 2
_EDGE = 1 << 14
_HASH_KEY = 0x6B62_7466_6964_7831  # any fixed key keeps identities stable across processes

# Which type find() returns for a bare name when several kinds share it: a complete
# type over a forward declaration, a type over a function or variable.
_PREFERENCE = {k: i for i, k in enumerate((
    t.Kind.STRUCT, t.Kind.UNION, t.Kind.ENUM, t.Kind.ENUM64, t.Kind.TYPEDEF, t.Kind.INT,
    t.Kind.FLOAT, t.Kind.FUNC, t.Kind.VAR, t.Kind.DATASEC, t.Kind.FWD))}


class KernelBtfMissing(OSError):
    """The kernel's BTF cannot be read; ``str()`` is one sentence saying why and what still works."""

    def __init__(self, path: str | Path, reason: str | None = None) -> None:
        if reason is None:
            message = (f"this kernel has no BTF ({path} does not exist: it was built without "
                       "CONFIG_DEBUG_INFO_BTF), so kernel types, CO-RE reads and typed tracepoint "
                       "fields are unavailable; programs using only their own types, maps and "
                       "raw ctx.args still compile, and as root tracepoint fields come from the "
                       "tracefs format files")
        else:
            message = f"cannot read the kernel's BTF at {path}: {reason}"
        super().__init__(errno.ENOENT if reason is None else errno.EIO, message)
        self.path = str(path)

    def __str__(self) -> str:
        return str(self.strerror)


def cache_folder() -> Path | None:
    """Where index files go: ``$XDG_CACHE_HOME/bpfimport/btf`` (an absolute one, as the XDG spec
    requires) or ``~/.cache/bpfimport/btf``; None when there is no home to put it in."""
    folder = _boot_cache_folder()
    return None if folder is None else Path(folder)


class KernelBtf:
    """One kernel's BTF: ``spec`` (vmlinux), ``identity``, and lookups that fall back to modules."""

    def __init__(self, path: Path, spec: Spec, identity: str, cache_state: str) -> None:
        self.path = path
        self.identity = identity
        self.spec = spec
        self.cache_state = cache_state  # 'hit', 'written', 'unwritable' or 'off': what the index cache did
        self._modules: dict[str, Spec] | None = None  # by module name, once read
        self._names_by_kind: dict[t.Kind, list[str]] = {}
        self._lock = allocate_lock()

    def __repr__(self) -> str:
        return f"<KernelBtf {self.path} {self.identity} ({self.spec.count} types)>"

    # ---- lookup ------------------------------------------------------------------------

    def find(self, name: str, kind: t.Kind | None = None) -> t.Type | None:
        """The type called ``name`` (of ``kind`` if given) in vmlinux, else in a module's BTF.

        Without ``kind``, a complete struct/union/enum/typedef is preferred to a
        forward declaration, function or variable of the same name.  None if no
        BTF of this kernel has it.
        """
        found = self.find_all(name, kind)
        if not found:
            return None
        return min(found, key=lambda x: (_PREFERENCE.get(x.kind, len(_PREFERENCE)), x.id))

    def find_all(self, name: str, kind: t.Kind | None = None) -> list[t.Type]:
        """Every type called ``name`` (of ``kind``) in vmlinux, or if it has none, in the modules."""
        found = self.spec.types_by_name(name, kind)
        if found:
            return found
        for module in self.modules():
            found = module.types_by_name(name, kind)
            if found:
                return found
        return []

    def modules(self) -> list[Spec]:
        """The split BTF of every loaded module, read on first use (a vmlinux miss)."""
        return list(self.named_modules().values())

    def named_modules(self) -> dict[str, Spec]:
        """The split BTF of every loaded module by module name (its file's name), read once."""
        with self._lock:
            if self._modules is None:
                self._modules = {}
                folder = self.path.parent
                try:
                    names = sorted(os.listdir(folder))
                except OSError:
                    names = []
                for entry in names:
                    if entry == self.path.name:
                        continue
                    try:
                        self._modules[entry] = Spec((folder / entry).read_bytes(), base=self.spec)
                    except (OSError, BtfFormatError):
                        continue  # a module unloaded meanwhile, or not split BTF of this kernel
            return self._modules

    def names(self, kind: t.Kind) -> list[str]:
        """Every vmlinux type name of ``kind``, sorted: for error messages (~30-50 ms a kind)."""
        got = self._names_by_kind.get(kind)
        if got is None:
            table = self.spec.names()
            codes = bytes(self.spec.first_id) + self.spec.kind_codes()  # by id; void first
            if isinstance(table, NameTable):
                got = table.with_code(codes, kind)
            else:
                got = [n for n, ids in table.items() if kind in (codes[i] for i in ids)]
            got.sort()
            self._names_by_kind[kind] = got
        return got


# ---- the index file --------------------------------------------------------------------


def _checksum(data: bytes | memoryview) -> bytes:
    return _source_hash(_HASH_KEY, data)


def _edges(read: Callable[[int, int], bytes], size: int) -> bytes:
    """A hash of the first and last 16 KiB of a BTF blob: a cheap second look at the live file.

    Stored in the index; a warm start (which trusts the boot memo instead of hashing
    all 5.5 MB) checks it against the file it is about to read, so even a wrong memo
    cannot pair one kernel's index with another kernel's BTF: the header's section
    sizes and the tail of the string section differ between builds.
    """
    return _checksum(read(0, _EDGE) + read(max(0, size - _EDGE), _EDGE))


def _pack(identity: str, size: int, edges: bytes, offsets: array[int], table: NameTable) -> bytes:
    body = b"".join(a.tobytes() if isinstance(a, (array, memoryview)) else array("I", a).tobytes()
                    for a in (offsets, table.name_offs, table.starts, table.ids))
    head = _HEADER.pack(_MAGIC, _FORMAT, len(offsets), len(table.name_offs), len(table.ids),
                        _checksum(body), size, edges, identity.encode("ascii"))
    return head + body


def _unpack(data: bytes, identity: str, size: int, edges: Callable[[], bytes]
            ) -> tuple[array[int], tuple[memoryview, memoryview, memoryview]]:
    """The offsets and name-table arrays stored in ``data``; BtfFormatError if not this BTF's index."""
    if len(data) < _HEADER.size:
        raise BtfFormatError("a BTF index file is truncated")
    magic, fmt, ntypes, nnames, nids, checksum, btf_size, btf_edges, ident = _HEADER.unpack_from(data)
    if magic != _MAGIC or fmt != _FORMAT:
        raise BtfFormatError("not a BTF index file of this format")
    if ident.rstrip(b"\0") != identity.encode("ascii") or btf_size != size:
        raise BtfFormatError("a BTF index file of another BTF")
    body = memoryview(data)[_HEADER.size :]
    if len(body) != 4 * (ntypes + 2 * nnames + 1 + nids) or _checksum(body) != checksum:
        raise BtfFormatError("a BTF index file is corrupt")
    if edges() != btf_edges:
        raise BtfFormatError("a BTF index file of another BTF")
    words = body.cast("I")
    offsets = array("I")
    offsets.frombytes(body[: 4 * ntypes])
    at = ntypes
    name_offs, at = words[at : at + nnames], at + nnames
    starts, at = words[at : at + nnames + 1], at + nnames + 1
    return offsets, (name_offs, starts, words[at:])


# ---- the boot memo: this boot's identity without hashing -------------------------------
#
# A file under /sys/kernel/btf cannot change while the kernel runs (a module's could, by
# unloading and loading it again: modules are not cached), so its identity, once hashed,
# holds until the next boot.  ``boot.memo`` keeps "<boot id> <size> <identity> <path>"
# lines for the current boot; /proc/sys/kernel/random/boot_id is new at every boot.  A
# warm start reads the memo and the index, then only the pages of vmlinux it decodes:
# no 5.5 MB read, no hash.


# ---- opening -------------------------------------------------------------------------------


def _warm(path: Path, cache: Path) -> KernelBtf | None:
    """This boot's vmlinux from the memo and the index, reading only the pages it decodes."""
    real, boot = _memo_key(path), _boot_id()
    if real is None or boot is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None  # the cold path reports it
    try:
        size = os.fstat(fd).st_size
    except OSError:
        os.close(fd)
        return None
    f = PagedFile(fd, size)  # owns fd from here; sysfs gives a page per read at most: it reads on
    try:
        identity = _memo_lookup(cache, boot, real, size)
        stored = _read_own(cache / f"{identity}.idx") if identity is not None else None
        if identity is None or stored is None:
            f.close()
            return None
        offsets, arrays = _unpack(stored, identity, size, lambda: _edges(f.read, size))
        spec = Spec.paged(f, Index(offsets))
        spec.index.names = NameTable.of(spec, *arrays)
        return KernelBtf(path, spec, identity, "hit")
    except (OSError, BtfFormatError):
        f.close()
        return None


def _open(path: Path, cache: Path | None) -> KernelBtf:
    if cache is not None:
        warm = _warm(path, cache)
        if warm is not None:
            return warm
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KernelBtfMissing(path) from None
    except OSError as e:
        raise KernelBtfMissing(path, e.strerror or str(e)) from None
    identity = identity_of(data)
    edges = _edges(lambda at, n: data[at : at + n], len(data))
    if cache is None:
        state = "off"
    else:
        real, boot = _memo_key(path), _boot_id()
        if real is not None and boot is not None:
            _memo_store(cache, boot, real, len(data), identity)
        stored = _read_own(cache / f"{identity}.idx")
        if stored is not None:
            try:
                offsets, arrays = _unpack(stored, identity, len(data), lambda: edges)
                spec = Spec(data, index=Index(offsets))
                spec.index.names = NameTable.of(spec, *arrays)
                return KernelBtf(path, spec, identity, "hit")
            except BtfFormatError:
                pass  # corrupt or foreign: rebuilt and overwritten below
    spec = Spec(data)
    table = NameTable.build(spec)
    spec.index.names = table
    if cache is not None:
        packed = _pack(identity, len(data), edges, spec.index.offsets, table)
        state = "written" if _write_atomic(cache / f"{identity}.idx", packed) else "unwritable"
    return KernelBtf(path, spec, identity, state)


def kernel_identity(path: str | Path = VMLINUX) -> str:
    """What an object built from the running kernel's layout must be keyed by (a 'format'
    tracepoint record, any read that is not CO-RE relocated): its BTF's identity, or
    without BTF the kernel's release, build and machine as ``uname`` gives them."""
    try:
        return kernel_btf(path).identity
    except KernelBtfMissing:
        u = os.uname()
        return f"uname:{u.release} {u.version} {u.machine}"


_LOADED: dict[tuple[str, str | None], KernelBtf] = {}
_LOADING = allocate_lock()


def kernel_btf(path: str | Path = VMLINUX, *, cache_dir: str | Path | None = None) -> KernelBtf:
    """The kernel's BTF at ``path``, opened once per process (KernelBtfMissing if there is none).

    ``cache_dir`` overrides where the index is kept (default :func:`cache_folder`).
    """
    folder = Path(cache_dir) if cache_dir is not None else cache_folder()
    key = (os.path.abspath(path), None if folder is None else str(folder))
    got = _LOADED.get(key)
    if got is not None:
        return got
    with _LOADING:
        got = _LOADED.get(key)
        if got is None:
            got = _LOADED[key] = _open(Path(path), folder)
        return got
