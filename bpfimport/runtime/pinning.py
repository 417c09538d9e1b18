"""Pinning: maps and links kept in bpffs so that a restarted agent finds them again.

``mod.load(pin_root=DIR)`` gives each of the module's maps the pin path
``DIR/<map name>`` before the object is loaded (``bpf_map__set_pin_path``, what
libbpf's pin-by-name does for C objects that say ``LIBBPF_PIN_BY_NAME``): libbpf
then reuses a map already pinned there, contents and all, after checking that
its definition matches, and pins the maps it creates.  Why by path and not the
``pin_root_path`` open option: that option only applies to maps whose BTF
definition asks for pinning, which would tie the choice to the compiled object;
here the agent chooses at load time.

Perf event arrays are not pinned: their entries are the perf events of the
process that read them, gone when it exits.

This module is imported only by a load with ``pin_root``, by ``unpin`` and by
link pinning; a plain load does not pay for it.
"""

from __future__ import annotations

import errno as E
import os
import re

from ..errors import BpfError
from ._lazy import ctypes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..spec import ObjectSpec

BPF_FS_MAGIC = 0xCAFE4A11
_REUSE_FAILED = re.compile(r"couldn't reuse pinned map at '([^']+)'")
# what bpf_map_info says against what the module's definition asks, by field
_COMPARED = ("type", "key_size", "value_size", "max_entries", "map_flags")


def pinned_maps(spec: ObjectSpec) -> list[str]:
    """The names of the maps a load with ``pin_root`` pins (every map but perf event arrays)."""
    return [m.name for m in spec.maps if m.kind != "PerfEventArray"]


def fs_type(path: str) -> int:
    """The ``f_type`` of the file system holding ``path`` (``statfs(2)``; Python has no binding)."""

    class _StatFs(ctypes.Structure):
        _fields_ = [("f_type", ctypes.c_long), ("_rest", ctypes.c_char * 112)]

    libc = ctypes.CDLL(None, use_errno=True)
    buf = _StatFs()
    if libc.statfs(os.fsencode(path), ctypes.byref(buf)) < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return buf.f_type & 0xFFFFFFFF


def check_on_bpffs(path: str, what: str) -> None:
    """Refuse a path that is not on a BPF file system, saying how to mount one."""
    probe = path
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    try:
        on_bpffs = fs_type(probe) == BPF_FS_MAGIC
    except OSError:
        on_bpffs = False
    if not on_bpffs:
        raise BpfError(f"{what} {path!r} is not on a BPF file system (bpffs): use a folder "
                       f"under /sys/fs/bpf (mount it with `mount -t bpf bpf /sys/fs/bpf`)",
                       E.EINVAL)


def prepare(pin_root: str, spec: ObjectSpec, maps: dict[str, int], lb: Any) -> None:
    """Give each pinnable map its path under ``pin_root`` before load, making the folder.

    The folder is made here, mode 0700 (a pinned map is open to whoever can
    reach its file), so that a failure is an error naming the folder.
    """
    check_on_bpffs(pin_root, "pin_root")
    if not os.path.isdir(pin_root):
        try:
            os.mkdir(pin_root, 0o700)
        except FileExistsError:
            pass
        except OSError as e:
            raise BpfError(f"cannot make pin_root {pin_root!r}: {e.strerror}", e.errno or 0) from None
    for name in pinned_maps(spec):
        ptr = maps.get(name)
        if not ptr:
            continue
        rc = lb.bpf_map__set_pin_path(ptr, os.fsencode(os.path.join(pin_root, name)))
        if rc < 0:
            raise BpfError(f"cannot set the pin path of map '{name}'", -rc)


def reuse_error(object_name: str, libbpf_log: str, maps: dict[str, int], lb: Any) -> BpfError | None:
    """A clear error for a pinned map whose definition differs from the module's, else None.

    libbpf only says "parameter mismatch"; this names the parameters, both values, and
    what to do (the old agent's map holds data of another shape: remove it, or pin elsewhere).
    """
    m = _REUSE_FAILED.search(libbpf_log)
    if m is None:
        return None
    path = m.group(1)
    name = os.path.basename(path)
    diffs = []
    ptr = maps.get(name)
    if ptr:
        found = map_info(path)
        wanted = {"type": lb.bpf_map__type(ptr), "key_size": lb.bpf_map__key_size(ptr),
                  "value_size": lb.bpf_map__value_size(ptr),
                  "max_entries": lb.bpf_map__max_entries(ptr),
                  "map_flags": lb.bpf_map__map_flags(ptr)}
        if found is not None:
            diffs = [f"{f} {getattr(found, f)} (pinned) != {wanted[f]} (module)"
                     for f in _COMPARED if getattr(found, f) != wanted[f]]
    detail = "; ".join(diffs) if diffs else "its definition differs"
    return BpfError(f"cannot load BPF object '{object_name}': the map pinned at {path} does "
                    f"not match map '{name}' of the module ({detail}); remove it "
                    f"(bpfimport.unpin(...) or `rm {path}`) or load with another pin_root",
                    E.EINVAL)


def map_info(path: str) -> Any:
    """``struct bpf_map_info`` of the map pinned at ``path`` (its head), or None."""
    from . import libbpf as L

    lb = L.lib()
    fd = lb.bpf_obj_get(os.fsencode(path))
    if fd < 0:
        return None
    try:
        info = L.MapInfo()
        size = ctypes.c_uint32(ctypes.sizeof(info))
        if lb.bpf_obj_get_info_by_fd(fd, ctypes.byref(info), ctypes.byref(size)) < 0:
            return None
        return info
    finally:
        os.close(fd)


def unpin_root(pin_root: str) -> list[str]:
    """Remove every pin under ``pin_root`` (maps, links, programs), then the folder; what went.

    Refuses a folder that is not on bpffs: what is removed there can only be
    pinned BPF objects, never a user's files.  A missing folder is nothing to do.
    """
    if not os.path.lexists(pin_root):
        return []
    check_on_bpffs(pin_root, "pin_root")
    if os.path.ismount(pin_root):
        # pin_root=/sys/fs/bpf (libbpf's own default) is fine for loading, but removing
        # everything under it would unpin every other program's maps and links
        raise BpfError(f"pin_root {pin_root!r} is the root of a BPF file system, shared with "
                       f"every other program that pins: unpin() removes only a folder of the "
                       f"agent's own (load with pin_root='{pin_root.rstrip('/')}/NAME'); "
                       f"remove these pins one by one (m.unpin(), link.unpin())", E.EBUSY)
    removed = []
    for dirpath, dirnames, filenames in os.walk(pin_root, topdown=False):
        for f in filenames:
            os.unlink(os.path.join(dirpath, f))
            removed.append(os.path.join(dirpath, f))
        for d in dirnames:
            os.rmdir(os.path.join(dirpath, d))
    os.rmdir(pin_root)
    return removed


__all__ = ["BPF_FS_MAGIC", "check_on_bpffs", "map_info", "pinned_maps", "prepare", "reuse_error",
           "unpin_root"]
