"""Small file operations several layers share (the cache and the kernel BTF index)."""

from __future__ import annotations

import os


def write_atomic(path: str | os.PathLike[str], data: bytes, mode: int = 0o666) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a part.

    The temporary name carries the pid so concurrent writers never share one;
    ``O_EXCL`` refuses to follow anything planted there.  Raises OSError.
    """
    tmp = f"{os.fspath(path)}.{os.getpid()}.{id(data):x}.tmp"
    fd = os.open(tmp, os.O_EXCL | os.O_CREAT | os.O_WRONLY, mode & 0o666)
    try:
        with open(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
