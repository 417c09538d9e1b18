"""A setuptools hook that puts each ``.bpf.py`` file's compiled object into the wheel.

An app that ships ``.bpf.py`` files can then be installed where llvmlite is not (a runtime-only
install, docs/packaging.md): its imports read the shipped objects.  In the app's ``setup.py``::

    from setuptools import setup
    from bpfimport.build import build_py

    setup(cmdclass={"build_py": build_py})

with ``bpfimport`` (the version the app will run with: the cache file's name carries it) in
``[build-system] requires``.  After setuptools' own ``build_py`` has copied the packages into
the build folder, every ``.bpf.py`` there is compiled into ``__pycache__/`` beside it as a
*portable* object (keyed by the source's bytes, not its path: the build folder is not where
the wheel is installed).  A file that does not compile fails the build with its
``file:line:col: error:`` line.
"""

from __future__ import annotations

import os

from setuptools.command.build_py import build_py as _build_py

from .cache import cache_path
from .errors import CompileError
from .importer import SOURCE_SUFFIX, compile_or_read, module_name


def compile_tree(root: str) -> list[str]:
    """Compile every ``.bpf.py`` under ``root`` into a portable object beside it; their paths.

    Beside the source whatever ``PYTHONPYCACHEPREFIX`` says: the objects go into the wheel.
    Raises CompileError (the first file that fails), OSError when one can't be written.
    """
    written = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if not name.endswith(SOURCE_SUFFIX):
                continue
            path = os.path.join(folder, name)
            cached = os.path.join(folder, "__pycache__", os.path.basename(cache_path(path)))
            entry = compile_or_read(path, module_name(path), cached=cached, write_cache=True,
                                    portable=True)
            if not entry.written:
                raise OSError(f"could not write {cached}")
            written.append(cached)
    return written


class build_py(_build_py):  # noqa: N801 - named as the setuptools command it replaces
    """setuptools' ``build_py``, then a portable object for every ``.bpf.py`` it copied."""

    def run(self) -> None:
        super().run()
        try:
            for cached in compile_tree(self.build_lib):
                self.announce(f"bpfimport: compiled {cached}", 2)
        except CompileError as exc:
            from setuptools.errors import CompileError as BuildCompileError

            raise BuildCompileError(exc.one_line()) from None


__all__ = ["build_py", "compile_tree"]
