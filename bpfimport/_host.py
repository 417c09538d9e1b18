"""Facts about this machine that several layers need, each found cheaply and in one place.

* Which llvmlite is installed (:func:`installed`), found without importing
  it: the cache's key includes the LLVM that compiled an object, and the
  compiler's backend calls llvmlite's library directly when it knows the
  version.  Importing llvmlite costs ~50 ms, which a cache hit must not pay,
  so its ``_version.py`` is read as a file.
* Whether this process may load BPF programs (:func:`privileged`): a
  privileged importer trusts fewer cache files (their objects run in the
  kernel), and the runtime's errors say "run as root" only to a process that
  is not.

It imports neither the cache, the compiler nor the runtime, so they share
these facts without importing each other (one module, not two: each module
imported on a cache hit costs ~0.15 ms).
"""

from __future__ import annotations

import os
import sys


class Installed:
    """The llvmlite ``import llvmlite`` would find: its folder, version and ``_version.py`` bytes."""

    __slots__ = ("folder", "version", "version_file")

    def __init__(self, folder: str, version_file: bytes) -> None:
        self.folder = folder
        self.version_file = version_file  # its version and git revision, hashed into cache keys
        self.version = parse_version(version_file)

    def library(self) -> str:
        """The path of its LLVM shared library (``binding/libllvmlite.so``)."""
        return os.path.join(self.folder, "binding", "libllvmlite.so")

    def library_size(self) -> int:
        """The size of its LLVM library (-1 if missing): builds against other LLVMs differ in it."""
        for lib in ("libllvmlite.so", "libllvmlite.dylib", "llvmlite.dll"):
            try:
                return os.stat(f"{self.folder}/binding/{lib}").st_size
            except OSError:
                continue
        return -1


def parse_version(version_file: bytes) -> str:
    """The ``version_version`` that llvmlite's ``_version.py`` sets ("" when it sets none)."""
    for line in version_file.decode("utf-8", "replace").splitlines():
        if line.startswith("version_version"):
            return line.partition("=")[2].strip().strip("'\"")
    return ""


def _read(path: str) -> bytes:
    with open(path, "rb", buffering=0) as f:
        return f.readall()


def installed() -> Installed | None:
    """The installed llvmlite, or None when there is none.

    One ``open`` per ``sys.path`` entry (tens of µs) before the general but
    slower ``importlib.util.find_spec`` (a few hundred µs).
    """
    loaded: str | None = getattr(sys.modules.get("llvmlite"), "__file__", None)
    folders = [os.path.dirname(loaded)] if loaded else []
    folders += [f"{entry or '.'}/llvmlite" for entry in sys.path if isinstance(entry, str)]
    for folder in folders:
        try:
            return Installed(folder, _read(f"{folder}/_version.py"))
        except OSError:
            continue
    return _installed_by_find_spec()


def _installed_by_find_spec() -> Installed | None:
    """:func:`installed` through the import system (a zip, a custom finder).

    Asks each ``sys.meta_path`` finder, as ``importlib.util.find_spec`` would, without
    importing ``importlib.util``: on a runtime-only install (no llvmlite) every cache hit
    comes here, and that import (with ``contextlib``) cost 1-4 ms of it (docs/packaging.md).
    """
    spec = None
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        if find is None:
            continue
        try:
            spec = find("llvmlite", None)
        except (ImportError, ValueError):
            continue
        if spec is not None:
            break
    if spec is None or not spec.origin:
        return None
    folder = os.path.dirname(spec.origin)
    try:
        return Installed(folder, _read(os.path.join(folder, "_version.py")))
    except OSError:
        return Installed(folder, b"")


CAP_SYS_ADMIN = 21
CAP_BPF = 39


def effective_caps() -> int:
    """The effective capability set (``CapEff`` of ``/proc/self/status``; 0 if unreadable)."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        pass
    return 0


def privileged() -> bool:
    """Root, or CAP_BPF / CAP_SYS_ADMIN effective, now (one read of ``/proc/self/status``)."""
    return os.geteuid() == 0 or effective_caps() & ((1 << CAP_BPF) | (1 << CAP_SYS_ADMIN)) != 0


__all__ = [
    "CAP_BPF",
    "CAP_SYS_ADMIN",
    "Installed",
    "effective_caps",
    "installed",
    "parse_version",
    "privileged",
]
