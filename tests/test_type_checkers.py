"""Type checkers accept what the README promises they understand (issue 7, item 12)."""

from __future__ import annotations

from bpfimport.compiler import compile_source


def test_annotated_array_spellings_compile_like_the_ctypes_ones() -> None:
    """``Annotated[bytes, N]`` and ``Annotated[list[T], N]`` lay out as ``c_char * N``, ``T * N``."""
    def fields(annotations: str) -> list[tuple[str, str, int]]:
        src = ("from bpfimport.lang import *\n\n@struct\nclass S:\n"
               + "".join(f"    {line}\n" for line in annotations.splitlines())
               + "\nm = HashMap(key=u32, value=S, max_entries=1)\n\n"
               "@syscall\ndef p(ctx) -> int:\n    return 0\n")
        spec = compile_source(src, "s.bpf.py", "s_bpf").spec
        return [(f.name, f.type, f.offset) for f in spec.struct("S").fields]

    new = fields("a: Annotated[bytes, 16]\nb: Annotated[list[u16], 3]\nc: Annotated[u32, 'doc']")
    old = fields("a: c_char * 16\nb: u16 * 3\nc: u32")
    assert new == old == [("a", "char[16]", 0), ("b", "u16[3]", 16), ("c", "u32", 24)]
