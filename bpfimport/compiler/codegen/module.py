"""Module level codegen: maps, globals, LICENSE, strings, functions, and the debug info tying them to BTF."""

from __future__ import annotations

import os

from ..._version import __version__
from ...btf.boot import VMLINUX as VMLINUX_PATH
from ...kinds import MAP_KINDS
from .. import pyast as ast
from ..debuginfo import DebugInfo
from ..frontend.model import GlobalDecl, MapDecl, ModuleModel
from ..types import CHAR, BoolType, IntType, MapRefType, mem_llvm
from .builder import FunctionBuilder
from .function import lower_function, start_function
from .ir import ir_string

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds of every compile
if TYPE_CHECKING:
    from ..core import KernelTypes

HEADER = (
    'target datalayout = "e-m:e-p:64:64-i64:64-i128:128-n32:64-S128"\n'
    'target triple = "bpfel-unknown-none"\n'
)
INTRINSICS = (
    "declare void @llvm.memset.p0.i64(ptr nocapture writeonly, i8, i64, i1 immarg)\n"
    "declare void @llvm.memcpy.p0.p0.i64(ptr noalias nocapture writeonly, ptr noalias nocapture readonly, "
    "i64, i1 immarg)\n"
    "declare i16 @llvm.bswap.i16(i16)\n"
    "declare i32 @llvm.bswap.i32(i32)\n"
    "declare void @llvm.assume(i1 noundef)\n"
)
DEFAULT_LICENSE = "GPL"


class ModuleCodegen:
    def __init__(self, model: ModuleModel, line_info: bool, cpu: str) -> None:
        self.model = model
        self.line_info = line_info  # DILocations on instructions: .BTF.ext line info
        # atomic or/and/xor arrived with ISA v3; LLVM exits on them for older CPUs
        self.has_atomics = cpu not in ("v1", "v2", "generic")
        path = os.path.abspath(model.source.filename)
        self.debug = DebugInfo(os.path.basename(path), os.path.dirname(path), model.source.text,
                               f"bpfimport {__version__}")
        self._strings: dict[bytes, str] = {}
        self.current: FunctionBuilder | None = None  # the function being lowered, for error locations
        self._kernel: KernelTypes | None = None  # made by the first use of a kernel type
        # What was read at this kernel's fixed offsets (not CO-RE relocated): the object
        # then depends on this kernel's layout, and its spec says so (driver.py)
        self.layout_notes: list[str] = []

    def kernel_types(self) -> KernelTypes:
        """The kernel types this module uses (reads the kernel's BTF on first use)."""
        if self._kernel is None:
            from ..core import KernelTypes

            self._kernel = KernelTypes(self.debug)
        return self._kernel

    def relocations(self) -> int:
        """How many CO-RE relocations the module's code carries."""
        return self._kernel.relocation_count() if self._kernel is not None else 0

    def core_kernel(self) -> str | None:
        """The identity of the vmlinux BTF the relocated types were written from (the object's
        own BTF then holds that kernel's layouts: spec.CORE_KERNEL_KEY); None without
        relocations, or once a kernel module's type was used (a module can be reloaded with
        another layout while the kernel runs)."""
        if self._kernel is None or not self._kernel.relocation_count():
            return None
        system = self._kernel.system
        if system.module is not None or str(system.kbtf.path) != VMLINUX_PATH:
            return None
        return system.kbtf.identity

    def fixed_layout(self, what: str) -> None:
        """Note a read at a fixed offset of this kernel (the object is then kernel-specific)."""
        self.layout_notes.append(what)

    def string_constant(self, data: bytes) -> str:
        """A read-only byte string in .rodata (format strings must live in a read-only map)."""
        name = self._strings.get(data)
        if name is None:
            name = f"@.str.{len(self._strings)}"
            self._strings[data] = name
        return name

    # ------------------------------------------------------------ the module
    def generate(self) -> str:
        self.check_calls()
        parts = [HEADER]
        parts += [self.map_ir(name) for name in self.model.maps]
        parts += [self.global_ir(g) for g in self.model.globals.values()]
        parts.append(self.license_ir())
        functions = []
        for decl in self.model.functions.values():
            self.current = None  # an error while setting up points at no stale function
            self.current = start_function(self, decl)
            functions.append(lower_function(self.current))
        parts += [self.string_ir(data, name) for data, name in self._strings.items()]
        parts += functions
        parts.append(INTRINSICS)
        if self._kernel is not None:
            parts.append(self._kernel.finish())  # before the debug info: it writes kernel types
        parts.append('attributes #0 = { nounwind "frame-pointer"="all" }')
        parts.append(self.debug.render([]))
        return "\n".join(parts) + "\n"

    def map_ir(self, name: str) -> str:
        decl = self.model.maps[name]
        var = self.debug.global_var(name, self.map_def(decl), decl.lineno)
        inner = isinstance(decl.value, MapRefType)
        members = 1 + bool(decl.max_entries) + (decl.key is not None or decl.key_size is not None) \
            + (decl.value is not None and not inner or decl.value_size is not None) + bool(decl.flags)
        if decl.initial:
            # C's `.values = { [0] = &a }`: the global runs past its definition (whose BTF keeps
            # `values` zero-length); libbpf reads the slots from the pointers' relocations
            count = decl.initial[-1][0] + 1
            slots = dict(decl.initial)
            values = ", ".join(f"ptr @{slots[i]}" if i in slots else "ptr null" for i in range(count))
            head = ", ".join(["ptr null"] * members)
            return (f'@{name} = dso_local global {{ {", ".join(["ptr"] * members)}, [{count} x ptr] }} '
                    f'{{ {head}, [{count} x ptr] [{values}] }}, section ".maps", align 8, !dbg !{var}')
        body = ", ".join(["ptr"] * members + ["[0 x ptr]"] * inner)
        return f'@{name} = dso_local global {{ {body} }} zeroinitializer, section ".maps", align 8, !dbg !{var}'

    def map_def(self, decl: MapDecl) -> int:
        """The debug type of a map's definition; a map of maps names its template's."""
        d = self.debug
        if isinstance(decl.value, MapRefType):
            template = decl.value.template
            assert isinstance(template, MapDecl)
            return d.map_type(MAP_KINDS[decl.kind].type_id, decl.max_entries, d.type(decl.key), None,
                              decl.flags, decl.lineno, inner=self.map_def(template))
        return d.map_type(MAP_KINDS[decl.kind].type_id, decl.max_entries, d.type(decl.key),
                          d.type(decl.value), decl.flags, decl.lineno, decl.key_size, decl.value_size)

    def global_ir(self, g: GlobalDecl) -> str:
        ty = self.debug.type(g.ty)
        assert ty is not None  # a global's type is never void
        var = self.debug.global_var(g.name, ty, g.lineno)
        # Final globals are constants that user space may fill in before load:
        # externally_initialized tells LLVM their initializer is not their value, so no
        # read of one (a field, an element, a copy) is folded.  They share one
        # read-only .rodata section with the print format strings.
        kind = "externally_initialized constant" if g.final else "global"
        return (f"@{g.name} = dso_local {kind} {mem_llvm(g.ty)} {initializer(g)}, "
                f"section {ir_string(g.section.encode())}, align {g.ty.align}, !dbg !{var}")

    def license_ir(self) -> str:
        text = (self.model.license or DEFAULT_LICENSE).encode() + b"\0"
        arr = self.debug.array(self.debug.type(CHAR), 8 * len(text), len(text))
        var = self.debug.global_var("LICENSE", arr, self.model.license_line)
        return (f"@LICENSE = dso_local global [{len(text)} x i8] c{ir_string(text)}, "
                f'section "license", align 1, !dbg !{var}')

    def string_ir(self, data: bytes, name: str) -> str:
        return (f"{name} = private constant [{len(data)} x i8] c{ir_string(data)}, "
                f'section ".rodata", align 1')

    # ------------------------------------------------------------ checks across functions
    def check_calls(self) -> None:
        """Reject recursion up front: BPF has no recursion and LLVM would not say so clearly."""
        graph: dict[str, list[ast.Call]] = {}
        for name, decl in self.model.functions.items():
            graph[name] = [
                node for node in ast.walk(decl.node)
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in self.model.functions
                and self.model.functions[node.func.id].section is None  # calling a program: its own error
            ]
        state: dict[str, int] = {}

        def visit(name: str) -> None:
            state[name] = 1
            for call in graph[name]:
                callee = call.func.id  # type: ignore[attr-defined]
                if state.get(callee) == 1:
                    raise self.model.source.error(
                        call, f"'{callee}' is called recursively ({name} → {callee})",
                        "BPF does not allow recursion: rewrite it as a bounded loop")
                if callee not in state:
                    visit(callee)
            state[name] = 2

        for name in graph:
            if name not in state:
                visit(name)


def initializer(g: GlobalDecl) -> str:
    if isinstance(g.initial, bytes):
        return "zeroinitializer" if not any(g.initial) else f"c{ir_string(g.initial)}"
    if isinstance(g.ty, BoolType):
        return "1" if g.initial else "0"
    if isinstance(g.ty, IntType):
        return str(g.ty.wrap(g.initial))
    return "zeroinitializer"
