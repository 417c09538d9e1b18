"""Compile options: what changes the object for the same source.

Its own small module so the cache can compute the default options' key on a
cache hit without importing the compiler (or dataclasses).
"""

from __future__ import annotations

from .spec import _Record


class CompileOptions(_Record):
    """``cpu``: BPF ISA version v1..v4 ("generic" is v1); ``opt_level``: LLVM -O level;
    ``debug``: BTF line info, which puts Python lines into verifier logs and bpftool."""

    __slots__ = ("cpu", "opt_level", "debug")
    cpu: str
    opt_level: int
    debug: bool
    _defaults = {"cpu": "v3", "opt_level": 2, "debug": True}

    def key(self) -> str:
        """The part of the cache key these options contribute."""
        return f"cpu={self.cpu};O{self.opt_level};g={int(self.debug)}"


DEFAULT_OPTIONS = CompileOptions()
