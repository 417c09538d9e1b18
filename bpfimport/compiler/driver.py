"""The compiler pipeline: parse → frontend → codegen → backend → object + spec.

``compile_source`` raises ``CompileError`` and nothing else: an unexpected
exception inside the compiler is reported as an internal error at the line
being compiled, so a user never sees a traceback from the compiler's guts.
"""

from __future__ import annotations

import os
import warnings

from ..errors import CompileError, SetupError
from ..options import CompileOptions
from ..spec import (
    CO_RE_KEY,
    CORE_KERNEL_KEY,
    KERNEL_KEY,
    LAYOUT_KEY,
    MACHINE_KEY,
    FieldSpec,
    GlobalSpec,
    MapSpec,
    ObjectSpec,
    ProgramSpec,
    StructSpec,
)
from . import pyast as ast
from .backend import BackendError, deepest_stack, emit_object
from .codegen.module import DEFAULT_LICENSE, ModuleCodegen
from .compiled import CompiledModule
from .elf import Elf
from .frontend import ModuleModel, analyze_module, probes
from .frontend.histograms import log2_histograms
from .frontend.model import MapDecl, Source
from .tables import BUG_HINT, STACK_HINT, STACK_LIMIT


def compile_source(source: str | bytes, filename: str, module_name: str,
                   options: CompileOptions) -> CompiledModule:
    if isinstance(source, bytes):
        try:
            text = source.decode("utf-8")
        except UnicodeDecodeError as e:
            raise CompileError(f"{filename} is not UTF-8: {e}", filename, 1, 1) from None
    else:
        text = source
    src = Source(filename, text)
    name = module_name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings are Python's to give, not the compiler's
            tree = ast.parse(text, filename=filename)
    except SyntaxError as e:
        raise CompileError(e.msg, filename, e.lineno, e.offset, e.text) from None
    except RecursionError:  # Python's own parser gives up on very deep expressions
        raise CompileError("expression nested too deeply for Python's parser", filename, 1, 1,
                           hint="split it into several statements") from None
    except ValueError as e:  # e.g. source with NUL bytes
        raise CompileError(str(e), filename, 1, 1) from None
    model: ModuleModel | None = None
    codegen: ModuleCodegen | None = None
    try:
        model = analyze_module(src, tree, name)
        codegen = ModuleCodegen(model, line_info=options.debug, cpu=options.cpu)
        ir = codegen.generate()
        obj = emit_object(ir, options.cpu, options.opt_level)
        check_stack(obj, model)
        spec = build_spec(model, obj, codegen.layout_notes, codegen.relocations(), codegen.core_kernel())
    except (CompileError, SetupError):
        raise
    except RecursionError:
        raise src.error(_current_node(codegen), "expression nested too deeply",
                        "split it into several statements") from None
    except BackendError as e:
        raise src.error(_current_node(codegen), f"internal compiler error: {e}", BUG_HINT) from None
    except Exception as e:  # noqa: BLE001 - nothing else may escape the compiler
        raise src.error(_current_node(codegen), f"internal compiler error: {type(e).__name__}: {e}",
                        BUG_HINT) from e
    return CompiledModule(obj, spec, ir)


def _current_node(codegen: ModuleCodegen | None) -> ast.AST | None:
    fc = getattr(codegen, "current", None)
    return getattr(fc, "node", None)


def check_stack(obj: bytes, model: ModuleModel) -> None:
    """LLVM was told not to stop at 512 bytes (it would exit the process): check here."""
    for name, depth in deepest_stack(obj).items():
        if depth > STACK_LIMIT:
            owner = model.functions.get(name)
            raise model.source.error(
                owner.node if owner else None,
                f"'{name}' uses {depth} bytes of BPF stack; the kernel allows {STACK_LIMIT}",
                STACK_HINT)


def map_value_spec(m: MapDecl) -> str | None:
    """The value type user space decodes; for an event map, the one type its programs send;
    for a map of maps, the u32 map ids the kernel gives back."""
    if m.map_kind.value == "map":
        return "u32"
    if m.value is not None:
        return m.value.spec
    if m.event_types is not None and len(m.event_types) == 1:  # inferred by frontend/events.py
        return m.event_types[0].spec
    return None


def build_spec(model: ModuleModel, obj: bytes, layout_notes: list[str] | None = None,
               relocations: int = 0, core_kernel: str | None = None) -> ObjectSpec:
    """The spec of the object; ``layout_notes``: what it reads at this kernel's fixed offsets
    (the spec then names the kernel, ``extra["kernel"]``, and the cache checks it);
    ``relocations``: how many CO-RE relocations it carries; ``core_kernel``: the identity of
    the vmlinux BTF their types came from (``extra["co_re_kernel"]``, see spec.py)."""
    elf = Elf(obj)
    offsets = {s.name: s.value for s in elf.symbols if s.kind == 1}  # STT_OBJECT
    programs = tuple(
        ProgramSpec(f.name, f.section, f.decorator or "section", f.node.lineno)
        for f in model.functions.values() if f.section is not None
    )
    log2 = log2_histograms(model)
    maps = tuple(
        MapSpec(m.name, m.kind, m.key.spec if m.key is not None else None, map_value_spec(m),
                m.max_entries, m.flags, m.lineno, "log2" if m.name in log2 else None)
        for m in model.maps.values()
    )
    structs = tuple(
        StructSpec(s.name, s.size, s.align, tuple(FieldSpec(f.name, f.type.spec, f.offset) for f in s.fields),
                   s.lineno)
        for s in model.structs.values()
    )
    globals_ = tuple(
        GlobalSpec(g.name, g.ty.spec, g.section, offsets.get(g.name, 0),
                   g.initial.hex() if isinstance(g.initial, bytes) else int(g.initial), g.final, g.lineno)
        for g in model.globals.values()
    )
    extra: dict[str, object] = {CO_RE_KEY: relocations} if relocations else {}
    if relocations and core_kernel is not None:
        extra[CORE_KERNEL_KEY] = core_kernel
    if layout_notes:
        from .core import kernel_identity

        extra.update({KERNEL_KEY: kernel_identity(), LAYOUT_KEY: list(layout_notes)})
    if any(f.probe_args for f in model.functions.values()):
        extra[MACHINE_KEY] = probes.host_machine()  # its registers are this architecture's
    return ObjectSpec(model.module_name, os.path.abspath(model.source.filename),
                      model.license or DEFAULT_LICENSE, programs, maps, structs, globals_,
                      extra=extra)
