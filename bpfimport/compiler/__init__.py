"""The compiler: ``.bpf.py`` source → checked model → LLVM IR → BPF ELF object.

Only the loader (:mod:`bpfimport.importer`, on a cache miss) imports this
package: it loads LLVM (llvmlite's shared library, ~10-15 ms through
``llvmffi``; ~50 ms through ``llvmlite.binding``), so the runtime never does.
It knows nothing of files, caches or module names: it turns the source it is
given into an object under the name it is given (to compile a file, use
:func:`bpfimport.compile_file` or :func:`bpfimport.importer.compile_path`).
"""

from __future__ import annotations

from ..options import DEFAULT_OPTIONS, CompileOptions
from .compiled import CompiledModule


def compile_source(
    source: str | bytes,
    filename: str,
    module_name: str,
    options: CompileOptions | None = None,
) -> CompiledModule:
    """Compile one ``.bpf.py`` source as module ``module_name``.  Raises ``CompileError`` and nothing else.

    ``filename`` is where errors and the object's line info point; the name
    comes from the caller (the loader's :func:`~bpfimport.importer.module_name`
    rule), so a compiled file and an imported one always agree on it.
    """
    from .backend import start_loading

    start_loading()  # LLVM loads beside the imports and the frontend below
    from .driver import compile_source as _compile

    return _compile(source, filename, module_name, options or DEFAULT_OPTIONS)


__all__ = ["CompileOptions", "CompiledModule", "compile_source"]
