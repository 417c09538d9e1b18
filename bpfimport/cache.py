"""The object cache: where a compiled ``.bpf.py`` lives, how it is keyed, validated and written.

Modelled on CPython's ``.pyc`` handling (``importlib._bootstrap_external``).
This module knows files only: paths, the file format, validation and atomic
writes.  It never compiles and never imports the compiler; the loader
(:func:`bpfimport.importer.compile_or_read`) owns the flow, as
``SourceLoader.get_code`` does: read the cache, validate, compile on a miss,
write.

* **Where.** ``pkg/mytrace.bpf.py`` is cached as
  ``pkg/__pycache__/mytrace.bpf.bpfimport-<version>.o``.  Under
  ``sys.pycache_prefix`` (``PYTHONPYCACHEPREFIX``, ``-X pycache_prefix``) it is
  ``<prefix>/<absolute source folder>/mytrace.bpf.bpfimport-<version>.o``
  instead, exactly like ``.pyc`` files.  The version is in the name so that two
  bpfimport versions sharing a tree keep one object each instead of
  overwriting each other's.

* **What.** The file is a standard BPF ELF object (``bpftool``/libbpf load it
  as-is: ELF readers ignore bytes after the section headers) followed by the
  module's :class:`~bpfimport.spec.ObjectSpec` (``marshal``: built in, where
  ``json`` costs ~3 ms to import) and a fixed :data:`TRAILER` of 56 bytes::

      ELF object | spec (marshal) | trailer
      trailer = <u16 format, u16 flags, u32 spec_len, u64 elf_len,
                 8s source_key, 8s build_key, 8s toolchain_key, 8s checksum,
                 8s magic "BPFIMPC\\0">    (little-endian; flags: PORTABLE or 0)

  ``source_key`` hashes the source's absolute path and bytes (the object's
  line info names the file, which verifier errors quote), or for a
  :data:`PORTABLE` object (``compileall --portable``, the wheel build hook) its
  bytes alone, so the file stays valid where the tree is installed or copied; ``build_key`` the bpfimport
  version, the cache and spec formats and the compile options; ``toolchain_key``
  llvmlite's version file and the size of its LLVM library (which tells LLVM
  builds apart); ``checksum`` everything before the trailer.  The hashes are
  CPython's own ``_imp.source_hash`` (keyed SipHash, the one hash-based
  ``.pyc`` files use): it is built in, so checking a hit imports nothing.

* **When it is trusted.** Only when the file is complete, the magic, format,
  lengths and checksum agree, every key matches the current source and
  toolchain, and the spec parses.  Anything else (truncated, corrupt, foreign,
  stale) is silently recompiled, never trusted and never a crash.  A hit never
  imports llvmlite or :mod:`bpfimport.compiler`: the llvmlite version is read
  from its small ``_version.py`` without importing it (:mod:`bpfimport._host`).  Where llvmlite is not
  installed at all (a runtime-only deployment whose caches were prefilled with
  ``python -m bpfimport compileall``), the toolchain key is not compared: an
  object built for this exact source, bpfimport version and options is used
  rather than failing for want of a compiler.

* **Which kernel.** An object whose reads are all CO-RE relocated (or that reads no
  kernel memory) runs on any kernel and is cached as any other.  One that read a
  tracepoint field at this kernel's fixed offset (no BTF describes the record) names the
  kernel in its spec (``ObjectSpec.kernel``: the identity of its BTF); on another
  kernel the cache treats it as stale and the loader compiles it again.

* **Which machine.** A program with probe arguments reads the registers of the
  compiling machine's calling convention; its spec names the machine
  (``ObjectSpec.extra["machine"]``) and on another architecture the cache treats it as
  stale.  Other objects are the same BPF on every architecture.

* **Who wrote it.** A privileged importer (root, CAP_BPF, CAP_SYS_ADMIN)
  uses a cache file only when no user besides root, itself and the source's
  owner could have written it or its folder (:class:`Trust`); otherwise it
  compiles in memory and writes nothing: the object runs in the kernel.

* **Writing.** Atomic: a temporary file in the same folder, then
  ``os.replace``, so a reader sees the old file or the new one, never half of
  one, and concurrent importers of the same new module each leave a valid
  object.  An unwritable folder (read-only tree, no permission for
  ``__pycache__``) is not an error: :func:`write` returns False.  When to
  write at all (``sys.dont_write_bytecode``, sources inside a zip) is the
  loader's decision.  ``python -X verbose`` (``-v``) reports what the cache
  did on stderr.
"""

from __future__ import annotations

import errno
import io
import os
import struct
import sys
from _imp import source_hash as _source_hash
from stat import S_ISDIR, S_ISREG

from ._files import write_atomic
from ._host import installed as installed_llvmlite
from ._host import privileged as _privileged_now
from ._version import __version__
from .errors import SourceFileError
from .options import DEFAULT_OPTIONS
from .spec import MACHINE_KEY, SPEC_FORMAT, ObjectSpec

CACHE_FORMAT = 1
MAGIC = b"BPFIMPC\0"
TRAILER = struct.Struct("<HHIQ8s8s8s8s8s")
CACHE_TAG = f"bpfimport-{__version__}"
SOURCE_SUFFIX = ".bpf.py"
OBJECT_SUFFIX = ".o"

# The options an import compiles with (bpfimport.options is small: no compiler import).
DEFAULT_OPTIONS_KEY = DEFAULT_OPTIONS.key()

# A .bpf.py file is a few KiB; a larger one is a mistake (a device, a log), not a program.
MAX_SOURCE_BYTES = 8 << 20

# Trailer flag: the source key hashes the source's bytes, not its path (an object built into a
# wheel or image in one folder and loaded from another: its line info names the build folder).
PORTABLE = 1

_HASH_KEY = 0x6270_6669_6D70_6F72  # "bpfimpor": any fixed 64-bit key keeps hashes stable
_PYCACHE = "__pycache__"


def verbose(message: str) -> None:
    """Trace like CPython's importer does for ``.pyc`` files under ``python -v``."""
    if sys.flags.verbose:
        print(f"# bpfimport: {message}", file=sys.stderr)


def cache_path(source_path: str) -> str:
    """The cached object's path for a ``.bpf.py`` file (which need not exist).

    ``dir/NAME.bpf.py`` → ``dir/__pycache__/NAME.bpf.bpfimport-<version>.o``, or
    under ``sys.pycache_prefix`` the absolute source folder mirrored below the
    prefix, the rule CPython uses for ``.pyc`` files.
    """
    head, tail = os.path.split(os.fspath(source_path))
    base = tail[:-3] if tail.endswith(".py") else tail
    filename = f"{base}.{CACHE_TAG}{OBJECT_SUFFIX}"
    prefix = sys.pycache_prefix
    if prefix is not None:
        if not os.path.isabs(head):
            head = os.path.join(os.getcwd(), head)
        return os.path.join(prefix, head.lstrip(os.sep), filename)
    return os.path.join(head, _PYCACHE, filename)


# ---------------------------------------------------------------- keys


def _hash(data: bytes | memoryview) -> bytes:
    return _source_hash(_HASH_KEY, data)


def read_bytes(path: str) -> bytes:
    """A whole file; unbuffered (one fstat-sized read), the cheapest way measured."""
    with open(path, "rb", buffering=0) as f:
        return f.readall()


def _kind(mode: int) -> str:
    if S_ISDIR(mode):
        return "a folder"
    from stat import S_ISBLK, S_ISCHR, S_ISFIFO, S_ISSOCK

    for test, name in ((S_ISFIFO, "a FIFO"), (S_ISCHR, "a character device"),
                       (S_ISBLK, "a block device"), (S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _refuse_special(path: str, mode: int) -> None:
    if not S_ISREG(mode):
        raise SourceFileError(errno.EINVAL, f"not a regular file ({_kind(mode)})", path)


def read_source(path: str, limit: int = MAX_SOURCE_BYTES) -> bytes:
    """A ``.bpf.py`` file's bytes, refusing what would hang or never end.

    Opening a FIFO blocks until a writer comes and ``/dev/zero`` never ends,
    so the path is checked before the open, opened non-blocking, checked
    again on the descriptor (it may have been swapped in between), and read
    at most ``limit`` bytes.  Raises OSError (:class:`SourceFileError` for
    the refusals).
    """
    _refuse_special(path, os.stat(path).st_mode)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    with open(fd, "rb", buffering=0) as f:
        st = os.fstat(fd)
        _refuse_special(path, st.st_mode)
        data = b"" if st.st_size > limit else _read_at_most(f, limit + 1)
    if st.st_size > limit or len(data) > limit:
        raise SourceFileError(
            errno.EFBIG, f"larger than the {limit >> 20} MiB limit for a .bpf.py source", path)
    return data


def _read_at_most(f: io.RawIOBase, size: int) -> bytes:
    """Up to ``size`` bytes (fewer at the end of the file): a file may grow while read."""
    parts = []
    while size > 0:
        part = f.read(size)
        if not part:
            break
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


_toolchain: tuple[str, bytes | None] | None = None


def toolchain() -> tuple[str, bytes | None]:
    """(description, key) of the LLVM that compiles; the key is None when llvmlite is absent.

    The key hashes llvmlite's ``_version.py`` (its version and git revision)
    and the size of its LLVM shared library: wheels of one llvmlite version
    bundle one LLVM, and a build against another LLVM has another size.
    Computed once per process.
    """
    global _toolchain
    if _toolchain is not None:
        return _toolchain
    found = installed_llvmlite()
    if found is None:
        _toolchain = ("llvmlite not installed", None)
        return _toolchain
    size = found.library_size()
    description = (f"llvmlite {found.version or 'unknown'} ({os.path.abspath(found.folder)}, "
                   f"LLVM library {size} bytes)")
    _toolchain = (description, _hash(found.version_file + b"\0" + str(size).encode()))
    return _toolchain


def build_key(options_key: str = DEFAULT_OPTIONS_KEY) -> bytes:
    """Hash of everything besides the source and LLVM that shapes the cached file."""
    text = f"{__version__}\0{CACHE_FORMAT}\0{SPEC_FORMAT}\0{options_key}"
    return _hash(text.encode())


# ---------------------------------------------------------------- format


def source_key(source: bytes, source_path: str | None) -> bytes:
    """Hash of the source bytes and its absolute path.

    The path counts because the object's BTF line info records it and
    verifier errors quote it: a moved tree whose ``__pycache__`` moved along
    must not keep naming the old place.  ``None`` keys the bytes alone.
    """
    if source_path is None:
        return _hash(source)
    return _hash(os.path.abspath(source_path).encode("utf-8", "surrogateescape") + b"\0" + source)


def pack(obj: bytes, spec: ObjectSpec, source: bytes, options_key: str = DEFAULT_OPTIONS_KEY,
         source_path: str | None = None, portable: bool = False) -> bytes:
    """The cache file's bytes: the ELF object, the spec (marshal), the trailer.

    ``portable``: keyed by the source's bytes alone (:data:`PORTABLE`), valid wherever the
    file is installed.
    """
    spec_bytes = spec.to_bytes()
    body = obj + spec_bytes
    tool_key = toolchain()[1] or bytes(8)
    trailer = TRAILER.pack(
        CACHE_FORMAT, PORTABLE if portable else 0, len(spec_bytes), len(obj),
        source_key(source, None if portable else source_path), build_key(options_key), tool_key, _hash(body), MAGIC,
    )
    return body + trailer


def unpack(data: bytes, source: bytes, module_name: str | None = None,
           source_path: str | None = None) -> tuple[bytes, ObjectSpec] | str:
    """The (object, spec) in a cache file's bytes, or a string saying why they can't be trusted.

    Checked in order of cost; nothing here raises for any input.
    """
    size = len(data)
    if size < TRAILER.size + 4:
        return "too short"
    (fmt, flags, spec_len, elf_len, src_key, build, tool_key, checksum,
     magic) = TRAILER.unpack_from(data, size - TRAILER.size)
    if magic != MAGIC or fmt != CACHE_FORMAT or flags & ~PORTABLE:
        return "not a bpfimport cache file of this format"
    if elf_len + spec_len + TRAILER.size != size or data[:4] != b"\x7fELF":
        return "truncated or malformed"
    if build != build_key():
        return "built by another bpfimport version or with other options"
    if src_key != source_key(source, None if flags & PORTABLE else source_path):
        return "source changed or moved"
    current_tool = toolchain()[1]
    if current_tool is not None and tool_key != current_tool:
        return "built by another llvmlite/LLVM"
    view = memoryview(data)
    if checksum != _hash(view[: elf_len + spec_len]):
        return "checksum mismatch (corrupt)"
    try:
        spec = ObjectSpec.from_bytes(bytes(view[elf_len : elf_len + spec_len]))
    except Exception as exc:  # noqa: BLE001 - a cache file must never crash an import
        return f"unreadable spec ({type(exc).__name__}: {exc})"
    if spec.kernel is not None and spec.kernel != running_kernel():
        return "reads another kernel's fixed layout"  # not CO-RE relocatable: compile again
    machine = spec.extra.get(MACHINE_KEY)
    if machine is not None and machine != os.uname().machine:
        return f"reads {machine} registers (probe arguments)"  # another architecture: compile again
    if module_name is not None and spec.name != module_name:
        # One file imported under two names (two sys.path entries): the object
        # is the same, only the spec's name differs.
        spec = spec.replace(name=module_name)
    return data[:elf_len], spec


def running_kernel() -> str:
    """The running kernel's identity, as the compiler records it in an object read at fixed
    offsets: asked only for such an object, so no other import loads the kernel BTF layer."""
    from .btf.kernel import kernel_identity

    return kernel_identity()


# ---------------------------------------------------------------- files


# ---------------------------------------------------------------- who may have written it

_privileged: bool | None = None


def privileged() -> bool:
    """Root, or CAP_BPF / CAP_SYS_ADMIN effective: a process whose objects run in the kernel.

    Computed once per process (:func:`bpfimport._host.privileged`).
    """
    global _privileged
    if _privileged is None:
        _privileged = _privileged_now()
    return _privileged


class Trust:
    """Whose cache files and folders a privileged process may load objects from.

    A cached object becomes kernel code with the importer's privileges, so,
    as for ``sudo`` and ``.pyc`` files in shared trees, it is used only when
    no one could have written it who could not also have written the source:
    its owner is root, this process's user or the source's owner, and it is
    group- or world-writable only where the source is (a sticky folder, like
    ``/tmp``, lets no one replace another's file and is fine).  Anything else
    is recompiled in memory and neither read nor written.
    """

    def __init__(self, source_path: str) -> None:
        self.owners = {0, os.geteuid()}
        self.source_mode = 0
        self.source_gid = -1
        try:
            st = os.stat(source_path)
        except (OSError, ValueError):  # a source in a zip: only root and this user
            return
        self.owners.add(st.st_uid)
        self.source_mode = st.st_mode
        self.source_gid = st.st_gid

    def problem(self, st: os.stat_result, what: str) -> str | None:
        """Why ``what`` (with status ``st``) may hold another user's bytes, or None."""
        if st.st_uid not in self.owners:
            return f"{what} is owned by uid {st.st_uid}{_user_name(st.st_uid)}"
        sticky = S_ISDIR(st.st_mode) and st.st_mode & 0o1000
        if st.st_mode & 0o002 and not sticky and not self.source_mode & 0o002:
            return f"{what} is world-writable"
        if (st.st_mode & 0o020 and not sticky and st.st_gid != 0
                and not (self.source_mode & 0o020 and st.st_gid == self.source_gid)):
            return f"{what} is writable by group {st.st_gid}"
        return None

    def folder_problem(self, folder: str) -> str | None:
        """Why the cache folder can't be trusted (None: trusted, or not there yet)."""
        try:
            st = os.stat(folder)
        except (OSError, ValueError):
            return None  # a missing folder is created by this process
        return self.problem(st, f"its folder {folder}")


def _user_name(uid: int) -> str:
    try:
        import pwd

        return f" ({pwd.getpwuid(uid).pw_name})"
    except (ImportError, KeyError):
        return ""


def trust(source_path: str) -> Trust | None:
    """The :class:`Trust` rules when this process is privileged; None (trust as CPython does) if not."""
    return Trust(source_path) if privileged() else None


def _read_trusted(path: str, trusted: Trust | None) -> bytes | str:
    """The file's bytes, or why they can't be trusted; the check is on the open file, no race."""
    with open(path, "rb", buffering=0) as f:
        if trusted is not None:
            why = trusted.problem(os.fstat(f.fileno()), "it")
            if why:
                return why
        return f.readall()


def read(path: str, source: bytes, module_name: str | None = None,
         source_path: str | None = None, trusted: Trust | None = None) -> tuple[bytes, ObjectSpec] | None:
    """A trusted (object, spec) from the cache file at ``path``, or None (missing or not valid).

    ``trusted`` (see :func:`trust`) also refuses a file another user could have written.
    """
    return lookup(path, source, module_name, source_path, trusted)[0]


def lookup(path: str, source: bytes, module_name: str | None, source_path: str | None,
            trusted: Trust | None) -> tuple[tuple[bytes, ObjectSpec] | None, str | None]:
    """:func:`read`'s answer, and why the file is distrusted (then it must not be replaced either).

    The loader uses this to decide whether it may write the file after compiling.
    """
    try:
        data = _read_trusted(path, trusted)
    except OSError:
        return None, None
    if isinstance(data, str):
        verbose(f"not using {path}: {data}, and this process is privileged (root or CAP_BPF); "
                 "compiling in memory")
        return None, data
    return _checked(path, data, source, module_name, source_path), None


def _checked(path: str, data: bytes, source: bytes, module_name: str | None,
             source_path: str | None) -> tuple[bytes, ObjectSpec] | None:
    result = unpack(data, source, module_name, source_path)
    if isinstance(result, str):
        verbose(f"ignoring {path}: {result}")
        return None
    verbose(f"{path} matches its source")
    return result


# A writer's temporary file lives milliseconds; one this old was left by a killed writer.
# Its pid being gone is not enough on its own: a writer in another pid namespace
# (a container sharing the tree) has a pid this process cannot see.
STALE_TMP_SECONDS = 15 * 60
DEAD_WRITER_TMP_SECONDS = 10
_TMP_NAME = None  # the compiled pattern, made on first use (re costs ~1 ms to import)


def _tmp_writer(name: str) -> int | None:
    """The writer pid in a name :func:`write_atomic` makes, or None for any other name."""
    global _TMP_NAME
    if not name.endswith(".tmp"):
        return None  # most names: no pattern, no re import (a cold import writes, then cleans)
    if _TMP_NAME is None:
        import re

        _TMP_NAME = re.compile(rf".+\.{re.escape(CACHE_TAG)}{re.escape(OBJECT_SUFFIX)}\.(\d+)\.[0-9a-f]+\.tmp")
    m = _TMP_NAME.fullmatch(name)
    return int(m.group(1)) if m else None


def _pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists here (another user's counts: EPERM)."""
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except (ProcessLookupError, OverflowError):  # no such process, or no such pid at all
        return False
    return True


def clean_stale_tmp(folder: str, now: float | None = None) -> list[str]:
    """Remove temporary files that killed writers left in a cache folder; returns their names.

    A ``SIGKILL`` between the temporary file's creation and its rename leaves
    it behind for good.  Only names :func:`write_atomic` makes are touched, and
    only when stale: older than :data:`STALE_TMP_SECONDS`, or older than
    :data:`DEAD_WRITER_TMP_SECONDS` with its writer's pid gone.  A concurrent
    writer's file is young and its pid alive, so it is left alone.
    """
    import time

    now = time.time() if now is None else now
    removed: list[str] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        pid = _tmp_writer(name)
        if pid is None:
            continue
        path = os.path.join(folder, name)
        try:
            age = now - os.lstat(path).st_mtime
            if age > STALE_TMP_SECONDS or (age > DEAD_WRITER_TMP_SECONDS and not _pid_alive(pid)):
                os.unlink(path)
                removed.append(name)
        except OSError:  # gone already (another cleaner, or its writer finished)
            continue
    if removed:
        verbose(f"removed stale temporary files in {folder}: {', '.join(removed)}")
    return removed


def write(path: str, data: bytes, mode: int = 0o666) -> bool:
    """Store a cache file, creating missing folders; False (and no error) when it can't be written.

    Like CPython's ``SourceFileLoader.set_data``: an unwritable location only
    means no cache, never a failed import.
    """
    parent = os.path.dirname(path)
    missing = []
    while parent and not os.path.isdir(parent):
        parent, part = os.path.split(parent)
        missing.append(part)
    for part in reversed(missing):
        parent = os.path.join(parent, part)
        try:
            os.mkdir(parent)
        except FileExistsError:
            continue  # another process made it first
        except OSError as exc:
            verbose(f"could not create {parent!r}: {exc!r}")
            return False
    try:
        write_atomic(path, data, mode)
    except OSError as exc:
        verbose(f"could not write {path!r}: {exc!r}")
        return False
    verbose(f"wrote {path}")
    clean_stale_tmp(os.path.dirname(path) or ".")
    return True


def store(cached: str, obj: bytes, spec: ObjectSpec, source: bytes, source_path: str,
          portable: bool = False) -> bool:
    """Write the cache file for a fresh compile (default options); False when it can't be written.

    The file gets the source's mode plus owner-write, as CPython gives ``.pyc`` files.
    """
    try:
        mode = os.stat(source_path).st_mode | 0o200
    except OSError:
        mode = 0o666
    return write(cached, pack(obj, spec, source, DEFAULT_OPTIONS_KEY, source_path, portable), mode)


__all__ = [
    "CACHE_TAG",
    "PORTABLE",
    "TRAILER",
    "SourceFileError",
    "Trust",
    "cache_path",
    "clean_stale_tmp",
    "lookup",
    "pack",
    "privileged",
    "read",
    "read_bytes",
    "read_source",
    "source_key",
    "store",
    "toolchain",
    "trust",
    "unpack",
    "write",
    "write_atomic",
]
