"""The compiler: ``.bpf.py`` source → checked model → LLVM IR → BPF ELF object.

Only the import hook (on a cache miss) and the command line import this
package: it loads LLVM (llvmlite's shared library, ~10-15 ms through
``llvmffi``; ~50 ms through ``llvmlite.binding``), so the runtime never does.
"""

from __future__ import annotations

from ..options import CompileOptions
from ..spec import ModuleSpec


class CompiledModule:
    """What a compile produces: the object, its spec, and the IR it came from."""

    __slots__ = ("object", "spec", "ir")

    def __init__(self, object: bytes, spec: ModuleSpec, ir: str) -> None:
        self.object = object  # the BPF ELF object (with .BTF and .BTF.ext)
        self.spec = spec
        self.ir = ir  # the LLVM IR text that produced it (for `python -m bpfimport ir`)


def compile_source(
    source: str | bytes,
    filename: str,
    module_name: str | None = None,
    options: CompileOptions | None = None,
) -> CompiledModule:
    """Compile one ``.bpf.py`` source.  Raises ``CompileError`` and nothing else."""
    from .driver import compile_source as _compile

    return _compile(source, filename, module_name, options or CompileOptions())


def compile_file(
    path: str, module_name: str | None = None, options: CompileOptions | None = None
) -> CompiledModule:
    with open(path, "rb") as f:
        source = f.read()
    return compile_source(source, path, module_name, options)


__all__ = ["CompileOptions", "CompiledModule", "compile_file", "compile_source"]
