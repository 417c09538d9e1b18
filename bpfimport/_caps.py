"""Whether this process may load BPF programs: root, or CAP_BPF / CAP_SYS_ADMIN effective.

One definition for the two places that ask: the cache (a privileged
importer trusts fewer cache files: their objects run in the kernel) and the
runtime's error messages (EPERM from an unprivileged process means "run as
root", from root it means something else).  Imports nothing.
"""

from __future__ import annotations

import os

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


__all__ = ["CAP_BPF", "CAP_SYS_ADMIN", "effective_caps", "privileged"]
