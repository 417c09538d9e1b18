"""Where a module's typed stub lives and whether it is fresh: the cheap half of the stubs.

``python -m bpfimport stubs`` writes ``NAME_bpf.pyi`` beside ``NAME.bpf.py``
(:mod:`bpfimport.compiler.stubs` makes the text).  Its first line records the source's hash
and the bpfimport version, so the import hook, asked to keep stubs fresh
(``BPFIMPORT_STUBS=1`` or ``bpfimport.install(stubs=True)``), reads one line per import and
runs the compiler's frontend only when the stub is missing or stale.
"""

from __future__ import annotations

import os
from _imp import source_hash

from ._version import __version__

MARK = "# bpfimport-stub:"
_KEY = 0x7374_7562_6270_6669  # any fixed key keeps the hashes stable


def stub_path(source_path: str, module_name: str) -> str:
    """``dir/a-b.bpf.py`` (module ``a_b_bpf``) → ``dir/a_b_bpf.pyi``: beside the source."""
    return os.path.join(os.path.dirname(source_path), module_name + ".pyi")


def stub_header(source: bytes) -> str:
    """The first line of the stub of ``source``: what a later import compares."""
    return f"{MARK} {__version__} {source_hash(_KEY, source).hex()}"


def stub_is_fresh(path: str, source: bytes) -> bool:
    """Whether the stub at ``path`` was written from these source bytes by this version."""
    try:
        with open(path, "rb") as f:
            first = f.readline(200)
    except OSError:
        return False
    return first.decode("utf-8", "replace").rstrip("\n") == stub_header(source)


__all__ = ["MARK", "stub_header", "stub_is_fresh", "stub_path"]
