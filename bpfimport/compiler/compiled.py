"""What a compile produces, in a module of its own so the driver and the package share it.

(The package's ``compile_source`` imports the driver lazily; the driver
importing the package back for this class would be an import cycle.)
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..spec import ObjectSpec


class CompiledModule:
    """What a compile produces: the object, its spec, and the IR it came from."""

    __slots__ = ("object", "spec", "ir")

    def __init__(self, object: bytes, spec: ObjectSpec, ir: str) -> None:
        self.object = object  # the BPF ELF object (with .BTF and .BTF.ext)
        self.spec = spec
        self.ir = ir  # the LLVM IR text that produced it (for `python -m bpfimport ir`)


__all__ = ["CompiledModule"]
