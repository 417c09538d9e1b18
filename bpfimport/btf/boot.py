"""The running kernel's BTF identity for this boot, without the BTF layer (``os`` only).

A kernel's layouts are named by its BTF's identity (:func:`identity_of`: the size and a
keyed hash of every byte of ``/sys/kernel/btf/vmlinux``).  vmlinux cannot change until
the next boot, so the first process of a boot that needs the identity hashes the file
once and records it in ``boot.memo`` (in the index folder, :func:`cache_folder`); later
processes read that line.  :mod:`bpfimport.btf.kernel` keeps its index beside the memo.

This module is what the runtime imports to ask "is this the kernel an object was compiled
against?" when it loads a cached object (``BpfObject`` uses the object's own BTF for its
CO-RE relocations then, and libbpf need not read the 5.5 MB vmlinux): importing the BTF
layer instead (``pathlib``, the decoders) would cost a tool ~14 ms and ~2 MB.
"""

from __future__ import annotations

import os
from _imp import source_hash as _source_hash

from .._files import write_atomic

VMLINUX = "/sys/kernel/btf/vmlinux"
MEMO = "boot.memo"
_HASH_KEY = 0x6B62_7466_6964_7831  # any fixed key keeps identities stable across processes


def cache_folder() -> str | None:
    """Where index files and the memo go: ``$XDG_CACHE_HOME/bpfimport/btf`` (an absolute one,
    as the XDG spec requires) or ``~/.cache/bpfimport/btf``; None when there is no home."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return os.path.join(xdg, "bpfimport", "btf")
    home = os.path.expanduser("~")
    if not os.path.isabs(home):
        return None
    return os.path.join(home, ".cache", "bpfimport", "btf")


def identity_of(data: bytes) -> str:
    """A stable id of a BTF blob: its size and a 64-bit keyed SipHash of every byte.

    The bytes themselves, because nothing cheaper identifies a kernel's layout:
    sysfs gives the file a fresh mtime whenever its inode is made, and two kernels
    with the same release string can differ in a struct.  The hash is CPython's
    built-in ``_imp.source_hash`` (the one hash-based ``.pyc`` files use, as
    bpfimport's object cache does): 1-3 ms for vmlinux's 5.5 MB, against 5 ms for
    sha256.  The first process of a boot pays it; later ones take the identity from
    the boot memo and read no more of vmlinux than they decode.
    """
    return f"{len(data):x}-{_source_hash(_HASH_KEY, data).hex()}"


def read_own(path: str | os.PathLike[str]) -> bytes | None:
    """A cache file's bytes, if it exists and only this user could have written it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            return None  # someone else's file: a compile input the user did not make
        with open(fd, "rb", closefd=False) as f:
            return f.read()
    except OSError:
        return None
    finally:
        os.close(fd)


def store(path: str | os.PathLike[str], data: bytes) -> bool:
    """Store ``data`` atomically (a temporary file, then a rename); False if it can't be written."""
    try:
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        write_atomic(path, data, 0o644)
    except OSError:
        return False
    return True


# ---- the boot memo: "<boot id> <size> <identity> <path>" lines for the current boot ----------
#
# A file under /sys/kernel/btf cannot change while the kernel runs (a module's could, by
# unloading and loading it again: modules are not cached), so its identity, once hashed,
# holds until the next boot; /proc/sys/kernel/random/boot_id is new at every boot.


def boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id", "rb") as f:
            return f.read().decode("ascii").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def memo_key(path: str | os.PathLike[str]) -> str | None:
    """Where this boot's memo applies: files of sysfs's BTF folder only (others may change)."""
    real = os.path.realpath(path)
    return real if real.startswith("/sys/kernel/btf/") and " " not in real else None


def memo_lookup(cache: str | os.PathLike[str], boot: str, real: str, size: int) -> str | None:
    data = read_own(os.path.join(cache, MEMO))
    if data is None:
        return None
    for line in data.decode("ascii", "replace").splitlines():
        fields = line.split(" ", 3)
        if len(fields) == 4 and fields[0] == boot and fields[1] == str(size) and fields[3] == real:
            return fields[2]
    return None


def memo_store(cache: str | os.PathLike[str], boot: str, real: str, size: int, identity: str) -> None:
    old = read_own(os.path.join(cache, MEMO)) or b""
    keep = [x for x in old.decode("ascii", "replace").splitlines()
            if x.startswith(boot + " ") and not x.endswith(" " + real)]  # other boots' lines are dead
    store(os.path.join(cache, MEMO),
          "".join(f"{x}\n" for x in [*keep, f"{boot} {size} {identity} {real}"]).encode())


def vmlinux_identity(path: str = VMLINUX) -> str | None:
    """The running kernel's BTF identity (:func:`identity_of`), None when it has no BTF.

    Read from this boot's memo when there is one (a few small reads); else the file is
    hashed once and the memo written for the next process of this boot.
    """
    try:
        size = os.stat(path).st_size
    except OSError:
        return None
    cache, boot, real = cache_folder(), boot_id(), memo_key(path)
    if cache is not None and boot is not None and real is not None:
        known = memo_lookup(cache, boot, real, size)
        if known is not None:
            return known
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    identity = identity_of(data)
    if cache is not None and boot is not None and real is not None and len(data) == size:
        memo_store(cache, boot, real, size, identity)
    return identity
