"""Build small BPF objects (with BTF) from hand-written LLVM IR, for runtime tests.

The runtime's tests must not depend on the compiler, so they describe maps,
globals and programs here and get back object bytes plus the ModuleSpec the
compiler would have produced.  The debug-info boilerplate that makes LLVM emit
BTF (map definitions in ``.maps``, DATASECs for globals, named program
parameters, line info) is generated; program bodies are IR text in which

* ``{loc:N}`` becomes a ``!dbg`` reference to a DILocation on source line N,
* ``{helper:N}`` becomes the callee for BPF helper number N.

llvmlite is imported only when an object is built (tests only).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from bpfimport.spec import (
    MAP_KINDS,
    SCALARS,
    FieldSpec,
    GlobalSpec,
    MapSpec,
    ModuleSpec,
    ProgramSpec,
    StructSpec,
    parse_type,
)

_DI_BASIC = {
    "u8": ("unsigned char", 8, "DW_ATE_unsigned_char"),
    "u16": ("unsigned short", 16, "DW_ATE_unsigned"),
    "u32": ("unsigned int", 32, "DW_ATE_unsigned"),
    "u64": ("unsigned long long", 64, "DW_ATE_unsigned"),
    "i8": ("signed char", 8, "DW_ATE_signed_char"),
    "i16": ("short", 16, "DW_ATE_signed"),
    "i32": ("int", 32, "DW_ATE_signed"),
    "i64": ("long long", 64, "DW_ATE_signed"),
    "bool": ("_Bool", 8, "DW_ATE_boolean"),
    "char": ("char", 8, "DW_ATE_signed_char"),
}
_LL_BASIC = {"u8": "i8", "u16": "i16", "u32": "i32", "u64": "i64", "i8": "i8", "i16": "i16",
             "i32": "i32", "i64": "i64", "bool": "i8", "char": "i8"}


@dataclass
class Func:
    name: str
    section: str
    body: str
    line: int
    decorator: str


@dataclass
class Module:
    """A module under construction: declare things, then :meth:`build`."""

    name: str = "t_bpf"
    filename: str = "t.bpf.py"
    source: str = ""
    maps: list[MapSpec] = field(default_factory=list)
    structs: list[StructSpec] = field(default_factory=list)
    globals: list[tuple[GlobalSpec, str]] = field(default_factory=list)
    funcs: list[Func] = field(default_factory=list)
    license: str = "GPL"
    include_license: bool = True
    declarations: list[str] = field(default_factory=list)  # extra top-level IR (declare ...)
    name_params: bool = True  # False gives BTF the kernel rejects ("Invalid arg#1")

    def struct(self, name: str, fields: list[tuple[str, str]]) -> StructSpec:
        offset = 0
        align = 1
        out = []
        for fname, ftype in fields:
            size, a = self.size_align(ftype)
            offset = (offset + a - 1) // a * a
            out.append(FieldSpec(fname, ftype, offset))
            offset += size
            align = max(align, a)
        size = (offset + align - 1) // align * align
        s = StructSpec(name, size, align, tuple(out))
        self.structs.append(s)
        return s

    def size_align(self, t: str) -> tuple[int, int]:
        base, dims = parse_type(t)
        if base.startswith("struct "):
            s = next(x for x in self.structs if x.name == base[7:])
            size, align = s.size, s.align
        else:
            size = align = SCALARS[base][0]
        for n in dims:
            size *= n
        return size, align

    def map(self, name: str, kind: str, key: str | None, value: str | None,
            max_entries: int, flags: int = 0) -> MapSpec:
        m = MapSpec(name, kind, key, value, max_entries, flags)
        self.maps.append(m)
        return m

    def global_(self, name: str, type: str, section: str, offset: int,
                initial: int | bytes = 0, final: bool = False) -> None:
        """A global; its IR initialiser is derived from ``initial`` (int, or raw bytes)."""
        size, _ = self.size_align(type)
        if isinstance(initial, bytes):
            raw = initial.ljust(size, b"\0")
            spec_initial: int | str = raw.hex()
        else:
            raw = (initial & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
            spec_initial = initial
        self.globals.append((GlobalSpec(name, type, section, offset, spec_initial, final), raw.hex()))

    def program(self, name: str, section: str, body: str, line: int = 1,
                decorator: str = "section") -> None:
        self.funcs.append(Func(name, section, body, line, decorator))

    def spec(self) -> ModuleSpec:
        return ModuleSpec(
            name=self.name, filename=self.filename, license=self.license,
            programs=tuple(ProgramSpec(f.name, f.section, f.decorator, f.line) for f in self.funcs),
            maps=tuple(self.maps), structs=tuple(self.structs),
            globals=tuple(g for g, _ in self.globals),
        )

    # ---- IR text -------------------------------------------------------

    def ir(self) -> str:
        md = _Metadata(self)
        return md.render()

    def build(self, cpu: str = "v3") -> tuple[bytes, ModuleSpec]:
        return compile_ir(self.ir(), cpu), self.spec()


class _Metadata:
    def __init__(self, mod: Module) -> None:
        self.mod = mod
        self.nodes: list[str] = []  # index = metadata number
        self.cache: dict[str, int] = {}
        self.file = self.add(
            f'!DIFile(filename: "{mod.filename}", directory: "/tmp", '
            f'source: "{_escape(mod.source)}")'
        )
        self.cu = self.reserve()
        self.int_t = self.basic("i32")

    def reserve(self) -> int:
        self.nodes.append("")
        return len(self.nodes) - 1

    def add(self, text: str, distinct: bool = False) -> int:
        key = text
        if not distinct and key in self.cache:
            return self.cache[key]
        self.nodes.append(("distinct " if distinct else "") + text)
        idx = len(self.nodes) - 1
        if not distinct:
            self.cache[key] = idx
        return idx

    def basic(self, t: str) -> int:
        name, bits, enc = _DI_BASIC[t if t != "ptr" else "u64"]
        return self.add(f'!DIBasicType(name: "{name}", size: {bits}, encoding: {enc})')

    def type(self, t: str) -> int:
        base, dims = parse_type(t)
        if base.startswith("struct "):
            s = self.mod.structs[[x.name for x in self.mod.structs].index(base[7:])]
            node = self.struct(s)
        else:
            node = self.basic(base)
        size, _ = self.mod.size_align(base)
        for n in reversed(dims):
            size *= n
            sub = self.add(f"!{{!DISubrange(count: {n})}}")
            node = self.add(f"!DICompositeType(tag: DW_TAG_array_type, baseType: !{node}, "
                            f"size: {size * 8}, elements: !{sub})")
        return node

    def struct(self, s: StructSpec) -> int:
        key = f"struct {s.name}"
        if key in self.cache:
            return self.cache[key]
        idx = self.reserve()
        self.cache[key] = idx
        members = []
        for f in s.fields:
            size, _ = self.mod.size_align(f.type)
            members.append(self.add(
                f'!DIDerivedType(tag: DW_TAG_member, name: "{f.name}", scope: !{idx}, '
                f"file: !{self.file}, baseType: !{self.type(f.type)}, size: {size * 8}, "
                f"offset: {f.offset * 8})"))
        elems = self.add("!{" + ", ".join(f"!{m}" for m in members) + "}")
        self.nodes[idx] = (f'distinct !DICompositeType(tag: DW_TAG_structure_type, name: "{s.name}", '
                           f"file: !{self.file}, size: {s.size * 8}, elements: !{elems})")
        return idx

    def ptr(self, node: int) -> int:
        return self.add(f"!DIDerivedType(tag: DW_TAG_pointer_type, baseType: !{node}, size: 64)")

    def int_array_ptr(self, n: int) -> int:
        sub = self.add(f"!{{!DISubrange(count: {n})}}")
        arr = self.add(f"!DICompositeType(tag: DW_TAG_array_type, baseType: !{self.int_t}, "
                       f"size: {32 * n}, elements: !{sub})")
        return self.ptr(arr)

    def map_type(self, m: MapSpec) -> int:
        idx = self.reserve()
        members: list[tuple[str, int]] = [
            ("type", self.int_array_ptr(MAP_KINDS[m.kind].type_id)),
            ("max_entries", self.int_array_ptr(m.max_entries)),
        ]
        typed = not MAP_KINDS[m.kind].events  # ring/perf buffers take no key/value BTF
        if m.key is not None and typed:
            members.append(("key", self.ptr(self.type(m.key))))
        if m.value is not None and typed:
            members.append(("value", self.ptr(self.type(m.value))))
        if m.kind == "PerfEventArray":  # libbpf 1.1 does not default these
            members.append(("key_size", self.int_array_ptr(4)))
            members.append(("value_size", self.int_array_ptr(4)))
        if m.flags:
            members.append(("map_flags", self.int_array_ptr(m.flags)))
        ids = []
        for i, (name, t) in enumerate(members):
            ids.append(self.add(
                f'!DIDerivedType(tag: DW_TAG_member, name: "{name}", scope: !{idx}, '
                f"file: !{self.file}, baseType: !{t}, size: 64, offset: {64 * i})"))
        elems = self.add("!{" + ", ".join(f"!{x}" for x in ids) + "}")
        self.nodes[idx] = (f"distinct !DICompositeType(tag: DW_TAG_structure_type, "
                           f"file: !{self.file}, size: {64 * len(members)}, elements: !{elems})")
        return idx

    def global_var(self, name: str, type_node: int, local: bool = False) -> int:
        var = self.add(
            f'!DIGlobalVariable(name: "{name}", scope: !{self.cu}, file: !{self.file}, line: 1, '
            f"type: !{type_node}, isLocal: {'true' if local else 'false'}, isDefinition: true)",
            distinct=True)
        return self.add(f"!DIGlobalVariableExpression(var: !{var}, expr: !DIExpression())")

    def render(self) -> str:
        mod = self.mod
        out = ['target datalayout = "e-m:e-p:64:64-i64:64-i128:128-n32:64-S128"',
               'target triple = "bpfel-unknown-none"', ""]
        gvars = []
        for m in mod.maps:
            typed = not MAP_KINDS[m.kind].events
            n = 2 + (m.key is not None and typed) + (m.value is not None and typed) + bool(m.flags)
            n += 2 * (m.kind == "PerfEventArray")
            g = self.global_var(m.name, self.map_type(m))
            gvars.append(g)
            out.append(f'@{m.name} = dso_local global [{n} x ptr] zeroinitializer, '
                       f'section ".maps", align 8, !dbg !{g}')
        for gs, raw_hex in mod.globals:
            g = self.global_var(gs.name, self.type(gs.type))
            gvars.append(g)
            size = len(raw_hex) // 2
            _, align = mod.size_align(gs.type)
            init = "c\"" + "".join(f"\\{raw_hex[i:i + 2].upper()}" for i in range(0, len(raw_hex), 2)) + "\""
            const = "constant" if gs.final else "global"
            out.append(f'@{gs.name} = dso_local {const} [{size} x i8] {init}, '
                       f'section "{gs.section}", align {align}, !dbg !{g}')
        if mod.include_license:
            lic = mod.license.encode() + b"\0"
            g = self.global_var("LICENSE", self.type(f"char[{len(lic)}]"))
            gvars.append(g)
            out.append(f'@LICENSE = dso_local global [{len(lic)} x i8] c"{mod.license}\\00", '
                       f'section "license", align 1, !dbg !{g}')
        out.append("")
        void_ptr = self.add("!DIDerivedType(tag: DW_TAG_pointer_type, baseType: null, size: 64)")
        sub_t = self.add(f"!DISubroutineType(types: !{{!{self.int_t}, !{void_ptr}}})")
        for f in mod.funcs:
            sp = self.reserve()
            pname = 'name: "ctx", ' if mod.name_params else ""
            arg = self.add(f'!DILocalVariable({pname}arg: 1, scope: !{sp}, file: !{self.file}, '
                           f"line: {f.line}, type: !{void_ptr})")
            nodes = self.add(f"!{{!{arg}}}")
            self.nodes[sp] = (
                f'distinct !DISubprogram(name: "{f.name}", scope: !{self.file}, file: !{self.file}, '
                f"line: {f.line}, type: !{sub_t}, scopeLine: {f.line}, flags: DIFlagPrototyped, "
                f"spFlags: DISPFlagDefinition | DISPFlagOptimized, unit: !{self.cu}, "
                f"retainedNodes: !{nodes})")

            def loc(match: re.Match[str], sp: int = sp) -> str:
                return f"!dbg !{self.add(f'!DILocation(line: {match.group(1)}, column: 1, scope: !{sp})')}"

            body = re.sub(r"\{loc:(\d+)\}", loc, f.body)
            body = re.sub(r"\{helper:(\d+)\}", r"inttoptr (i64 \1 to ptr)", body)
            out.append(f'define dso_local i32 @{f.name}(ptr noundef %ctx) #0 section "{f.section}" '
                       f"!dbg !{sp} {{\nentry:\n{body}\n}}")
        out.extend(mod.declarations)
        out.append('attributes #0 = { nounwind "frame-pointer"="all" }')
        out.append("")
        gl = self.add("!{" + ", ".join(f"!{g}" for g in gvars) + "}")
        self.nodes[self.cu] = (
            f"distinct !DICompileUnit(language: DW_LANG_C99, file: !{self.file}, producer: \"irkit\", "
            f"isOptimized: true, runtimeVersion: 0, emissionKind: FullDebug, globals: !{gl})")
        f1 = self.add('!{i32 2, !"Debug Info Version", i32 3}')
        f2 = self.add('!{i32 7, !"Dwarf Version", i32 5}')
        out.append(f"!llvm.dbg.cu = !{{!{self.cu}}}")
        out.append(f"!llvm.module.flags = !{{!{f1}, !{f2}}}")
        out.extend(f"!{i} = {text}" for i, text in enumerate(self.nodes))
        return "\n".join(out) + "\n"


def _escape(text: str) -> str:
    return "".join(c if c.isalnum() or c in " _.,:;=()[]+-*/<>!?#'" else f"\\{ord(c):02X}" for c in text)


@functools.cache
def _target_machine(cpu: str):  # type: ignore[no-untyped-def]
    import llvmlite.binding as llvm

    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    target = llvm.Target.from_triple("bpfel-unknown-none")
    return llvm, target.create_target_machine(cpu=cpu, opt=2, reloc="static", codemodel="small")


def compile_ir(text: str, cpu: str = "v3") -> bytes:
    """LLVM IR text → BPF ELF object bytes (in-process, like the compiler's backend)."""
    llvm, tm = _target_machine(cpu)
    mod = llvm.parse_assembly(text)
    mod.verify()
    return tm.emit_object(mod)
