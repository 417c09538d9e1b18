"""Debug metadata that LLVM's BPF backend turns into .BTF and .BTF.ext.

BTF is what makes the object a first-class libbpf citizen: maps are
BTF-defined (the ``.maps`` section), every struct and global has a type, and
line info carries the Python source lines into verifier logs and bpftool.
The rules that matter (measured, see docs/internals.md):

* a compile unit, a file (with the source text), and the module flag
  "Debug Info Version" = 3, or LLVM silently drops all of it;
* a map's global has the type ``struct { int (*type)[T]; int (*max_entries)[N];
  K *key; V *value; }``;
* every function has a subprogram whose parameters are *named* local
  variables in ``retainedNodes``, or the kernel rejects the BTF.
"""

from __future__ import annotations

from .codegen.ir import ir_string
from .types import (
    ArrayType,
    BoolType,
    BpfType,
    CharType,
    IntType,
    PtrType,
    StructType,
    VoidType,
)

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds of every compile
if TYPE_CHECKING:
    import builtins  # DebugInfo.tuple shadows the builtin inside the class
    from collections.abc import Sequence


def _quote(text: str) -> str:
    """A metadata string.  File names may carry undecodable bytes as surrogates (os.fsdecode):
    they go back to those bytes, so BTF line info names the file that was compiled."""
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        data = text.encode("utf-8", "backslashreplace")
    return ir_string(data)


class DebugInfo:
    """Numbered metadata nodes, deduplicated by text, rendered at the end of the module."""

    def __init__(self, filename: str, directory: str, source: str, producer: str) -> None:
        self._nodes: dict[int, str] = {}
        self._by_text: dict[str, int] = {}
        self._next = 0
        self.globals: list[int] = []
        self.file = self.node(
            f"!DIFile(filename: {_quote(filename)}, directory: {_quote(directory)}, "
            f"source: {_quote(source)})"
        )
        self.cu = self.reserve()
        self._producer = producer
        self._type_cache: dict[object, int] = {}

    # ------------------------------------------------------------ node table
    def reserve(self) -> int:
        n = self._next
        self._next += 1
        return n

    def set(self, n: int, text: str) -> int:
        self._nodes[n] = text
        return n

    def node(self, text: str, distinct: bool = False) -> int:
        if not distinct and text in self._by_text:
            return self._by_text[text]
        n = self.set(self.reserve(), ("distinct " if distinct else "") + text)
        if not distinct:
            self._by_text[text] = n
        return n

    def tuple(self, items: list[int]) -> int:
        return self.node("!{" + ", ".join(f"!{i}" for i in items) + "}")

    def render(self, module_flags: list[str]) -> str:
        self.set(
            self.cu,
            f"distinct !DICompileUnit(language: DW_LANG_C99, file: !{self.file}, "
            f"producer: {_quote(self._producer)}, isOptimized: true, runtimeVersion: 0, "
            f"emissionKind: FullDebug, globals: !{self.tuple(self.globals)})",
        )
        flags = [self.node(f) for f in module_flags]
        flags.append(self.node('!{i32 2, !"Debug Info Version", i32 3}'))
        flags.append(self.node('!{i32 7, !"Dwarf Version", i32 5}'))
        lines = [
            f"!llvm.dbg.cu = !{{!{self.cu}}}",
            "!llvm.module.flags = !{" + ", ".join(f"!{f}" for f in flags) + "}",
        ]
        lines += [f"!{n} = {text}" for n, text in sorted(self._nodes.items())]
        return "\n".join(lines)

    # ------------------------------------------------------------ types
    def type(self, t: BpfType | None) -> int | None:
        """The DI type node for ``t`` (None for void)."""
        if t is None or isinstance(t, VoidType):
            return None
        key = t if not isinstance(t, StructType) else ("struct", t.name)
        if key in self._type_cache:
            return self._type_cache[key]
        n = self._make_type(t)
        self._type_cache[key] = n
        return n

    def _make_type(self, t: BpfType) -> int:
        if isinstance(t, IntType):
            names = {
                (8, True): "signed char", (8, False): "unsigned char",
                (16, True): "short", (16, False): "unsigned short",
                (32, True): "int", (32, False): "unsigned int",
                (64, True): "long long", (64, False): "unsigned long long",
            }
            enc = "DW_ATE_signed" if t.signed else "DW_ATE_unsigned"
            return self.node(
                f'!DIBasicType(name: "{names[(t.bits, t.signed)]}", size: {t.bits}, encoding: {enc})'
            )
        if isinstance(t, BoolType):
            return self.node('!DIBasicType(name: "_Bool", size: 8, encoding: DW_ATE_boolean)')
        if isinstance(t, CharType):
            return self.node('!DIBasicType(name: "char", size: 8, encoding: DW_ATE_signed_char)')
        if isinstance(t, PtrType):
            base = self.type(t.pointee)
            base_s = f"!{base}" if base is not None else "null"
            return self.node(f"!DIDerivedType(tag: DW_TAG_pointer_type, baseType: {base_s}, size: 64)")
        if isinstance(t, ArrayType):
            return self.array(self.type(t.elem), t.size * 8, t.length)
        if isinstance(t, StructType):
            return self.struct(t)
        raise TypeError(f"no debug type for {t!r}")

    def array(self, elem: int | None, bits: int, count: int) -> int:
        sub = self.node(f"!{{!DISubrange(count: {count})}}")
        return self.node(
            f"!DICompositeType(tag: DW_TAG_array_type, baseType: !{elem}, size: {bits}, elements: !{sub})"
        )

    def struct(self, t: StructType) -> int:
        n = self.reserve()
        self._type_cache[("struct", t.name)] = n  # members may refer back
        members = [
            self.member(n, f.name, self.type(f.type), f.type.size * 8, f.offset * 8, t.lineno)
            for f in t.fields
        ]
        self.set(
            n,
            f"distinct !DICompositeType(tag: DW_TAG_structure_type, name: {_quote(t.name)}, "
            f"file: !{self.file}, line: {t.lineno}, size: {t.size * 8}, align: {t.align * 8}, "
            f"elements: !{self.tuple(members)})",
        )
        return n

    def member(self, scope: int, name: str, ty: int | None, bits: int, offset_bits: int, line: int) -> int:
        return self.node(
            f"!DIDerivedType(tag: DW_TAG_member, name: {_quote(name)}, scope: !{scope}, file: !{self.file}, "
            f"line: {line}, baseType: !{ty}, size: {bits}, offset: {offset_bits})"
        )

    # ------------------------------------------------------------ kernel types (core.py)
    def basic_type(self, name: str, bits: int, encoding: str) -> int:
        return self.node(f"!DIBasicType(name: {_quote(name)}, size: {bits}, encoding: {encoding})")

    def pointer_type(self, base: int | None) -> int:
        base_s = f"!{base}" if base is not None else "null"
        return self.node(f"!DIDerivedType(tag: DW_TAG_pointer_type, baseType: {base_s}, size: 64)")

    def typedef(self, name: str, base: int | None) -> int:
        base_s = f"!{base}" if base is not None else "null"
        return self.node(f"!DIDerivedType(tag: DW_TAG_typedef, name: {_quote(name)}, file: !{self.file}, "
                         f"baseType: {base_s})")

    def enum_type(self, name: str, bits: int, unsigned: bool, values: list[builtins.tuple[str, int]]) -> int:
        flag = ", isUnsigned: true" if unsigned else ""
        items = [self.node(f"!DIEnumerator(name: {_quote(n)}, value: {v}{flag})") for n, v in values]
        named = f"name: {_quote(name)}, " if name else ""
        return self.node(f"!DICompositeType(tag: DW_TAG_enumeration_type, {named}file: !{self.file}, "
                         f"size: {bits}, elements: !{self.tuple(items)})")

    def forward_decl(self, name: str, union: bool) -> int:
        tag = "DW_TAG_union_type" if union else "DW_TAG_structure_type"
        return self.node(f"!DICompositeType(tag: {tag}, name: {_quote(name)}, file: !{self.file}, "
                         "flags: DIFlagFwdDecl)")

    def kernel_member(self, scope: int, name: str, ty: int | None, bits: int, offset_bits: int,
                      storage: int | None = None) -> int:
        """A member of a kernel struct; ``storage``: a bitfield's storage unit offset (bits)."""
        named = f"name: {_quote(name)}, " if name else ""
        base = f"!{ty}" if ty is not None else "null"
        extra = f", flags: DIFlagBitField, extraData: i64 {storage}" if storage is not None else ""
        return self.node(f"!DIDerivedType(tag: DW_TAG_member, {named}scope: !{scope}, file: !{self.file}, "
                         f"baseType: {base}, size: {bits}, offset: {offset_bits}{extra})")

    def kernel_composite(self, n: int, name: str, union: bool, bits: int, members: list[int]) -> None:
        """Fill the reserved node ``n`` with a kernel struct or union (CO-RE matches it by name)."""
        tag = "DW_TAG_union_type" if union else "DW_TAG_structure_type"
        named = f"name: {_quote(name)}, " if name else ""
        self.set(n, f"distinct !DICompositeType(tag: {tag}, {named}file: !{self.file}, size: {bits}, "
                    f"elements: !{self.tuple(members)})")

    # ------------------------------------------------------------ globals
    def global_var(self, name: str, ty: int, line: int, local: bool = False) -> int:
        var = self.node(
            f"distinct !DIGlobalVariable(name: {_quote(name)}, scope: !{self.cu}, file: !{self.file}, "
            f"line: {line}, type: !{ty}, isLocal: {'true' if local else 'false'}, isDefinition: true)"
        )
        expr = self.node(f"!DIGlobalVariableExpression(var: !{var}, expr: !DIExpression())")
        self.globals.append(expr)
        return expr

    def map_type(self, map_type: int, max_entries: int, key: int | None, value: int | None,
                 flags: int, line: int, key_size: int | None = None,
                 value_size: int | None = None, inner: int | None = None) -> int:
        """The anonymous struct libbpf reads a BTF-defined map from.

        ``inner``: for a map of maps, the definition struct of its inner maps' template,
        given as libbpf's ``__array(values, struct inner)`` is: a last member ``values``,
        a zero-length array of pointers to that struct.
        """
        n = self.reserve()
        int_t = self.type(IntType(32, True))
        members: list[int] = []
        offset = 0

        def add_int_array(name: str, count: int) -> None:
            nonlocal offset
            arr = self.array(int_t, 32 * count, count)
            ptr = self.node(f"!DIDerivedType(tag: DW_TAG_pointer_type, baseType: !{arr}, size: 64)")
            members.append(self.member(n, name, ptr, 64, offset, line))
            offset += 64

        def add_ptr(name: str, ty: int) -> None:
            nonlocal offset
            ptr = self.node(f"!DIDerivedType(tag: DW_TAG_pointer_type, baseType: !{ty}, size: 64)")
            members.append(self.member(n, name, ptr, 64, offset, line))
            offset += 64

        add_int_array("type", map_type)
        if max_entries:
            add_int_array("max_entries", max_entries)
        if key is not None:
            add_ptr("key", key)
        elif key_size is not None:
            add_int_array("key_size", key_size)
        if value is not None:
            add_ptr("value", value)
        elif value_size is not None:
            add_int_array("value_size", value_size)
        if flags:
            add_int_array("map_flags", flags)
        if inner is not None:
            ptr = self.node(f"!DIDerivedType(tag: DW_TAG_pointer_type, baseType: !{inner}, size: 64)")
            members.append(self.member(n, "values", self.array(ptr, 0, 0), 0, offset, line))
        self.set(
            n,
            f"distinct !DICompositeType(tag: DW_TAG_structure_type, file: !{self.file}, line: {line}, "
            f"size: {offset}, elements: !{self.tuple(members)})",
        )
        return n

    # ------------------------------------------------------------ functions
    def subprogram(self, name: str, line: int, ret: BpfType | None,
                   params: Sequence[builtins.tuple[str, BpfType]], local: bool) -> int:
        sp = self.reserve()
        ret_t = self.type(ret)
        types = [f"!{ret_t}" if ret_t is not None else "null"]
        args = []
        for i, (pname, ptype) in enumerate(params, start=1):
            pt = self.type(ptype)
            types.append(f"!{pt}")
            args.append(self.node(
                f"!DILocalVariable(name: {_quote(pname)}, arg: {i}, scope: !{sp}, file: !{self.file}, "
                f"line: {line}, type: !{pt})"
            ))
        sub_t = self.node(f"!DISubroutineType(types: !{{{', '.join(types)}}})")
        flags = "DISPFlagDefinition | DISPFlagOptimized" + (" | DISPFlagLocalToUnit" if local else "")
        self.set(
            sp,
            f"distinct !DISubprogram(name: {_quote(name)}, scope: !{self.file}, file: !{self.file}, "
            f"line: {line}, type: !{sub_t}, scopeLine: {line}, flags: DIFlagPrototyped | "
            f"DIFlagAllCallsDescribed, spFlags: {flags}, unit: !{self.cu}, retainedNodes: !{self.tuple(args)})",
        )
        return sp

    def location(self, line: int, col: int, scope: int) -> int:
        return self.node(f"!DILocation(line: {line}, column: {col}, scope: !{scope})")
