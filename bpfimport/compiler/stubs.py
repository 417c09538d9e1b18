"""Typed stubs: ``NAME_bpf.pyi`` beside ``NAME.bpf.py``, so checkers know what the import gives.

``import NAME_bpf`` is made by the import hook at run time, a module no type checker can
see.  The stub declares its attributes with the runtime's own handle classes, generic in
the types the runtime converts to (``counts: Map[Key, int]``, ``TARGET: Global[int]``,
``events: RingBufferMap[Event]``, programs as ``Program``), each struct as a
``ctypes.Structure`` with its fields, and the module's ``load``/``close``.

Written from the frontend's checked model (:mod:`.frontend`): no code generation, no LLVM.
The first line records the source's hash and the bpfimport version, so the import hook can
tell a fresh stub from a stale one by reading one line (:func:`bpfimport._stubs.stub_is_fresh`).
Files are the loader's business (:func:`bpfimport.importer.write_stub`).
"""

from __future__ import annotations

import os
import warnings

from .._stubs import stub_header
from ..errors import CompileError
from ..kinds import MAP_KINDS
from . import pyast as ast
from .frontend import ModuleModel, analyze_module
from .frontend.model import MapDecl, Source
from .types import ArrayType, BoolType, BpfType, CharType, IntType, StructType

# Where each handle class lives, for the stub's imports (the map kinds name their class).
RUNTIME_CLASSES = {
    "Program": "bpfimport.runtime.program",
    "Global": "bpfimport.runtime.globals",
    "BpfModule": "bpfimport.runtime.module",
    **{kind.handle: "bpfimport.runtime.maps" for kind in MAP_KINDS.values()},
}
# Handle classes whose key and value types are fixed by the kind (not generic): stack ids to
# address lists, program and map slots to ids, redirect slots to ifindexes / queue sizes.
FIXED_TYPE_HANDLES = frozenset({"StackTraceMap", "ProgArrayMap", "MapOfMapsMap", "SlotMap"})


def module_model(source: bytes, filename: str, module_name: str) -> ModuleModel:
    """The checked model of a source (the compiler's frontend only); CompileError for its mistakes."""
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CompileError(f"{filename} is not UTF-8: {e}", filename, 1, 1) from None
    src = Source(filename, text)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text, filename=filename)
    except SyntaxError as e:
        raise CompileError(e.msg, filename, e.lineno, e.offset, e.text) from None
    except (RecursionError, ValueError) as e:
        raise CompileError(f"cannot parse: {e}", filename, 1, 1) from None
    try:
        return analyze_module(src, tree, module_name)
    except CompileError:
        raise
    except Exception as e:  # noqa: BLE001 - nothing else may escape the compiler
        raise CompileError(f"internal compiler error: {type(e).__name__}: {e}", filename, 1, 1) from e


def value_type(t: BpfType | None, p: str = "_") -> str:
    """The Python type the runtime converts a map value, key or global of type ``t`` to
    (``p``: the prefix of the stub's private names, :func:`private_prefix`)."""
    if t is None:
        return "None"
    if isinstance(t, BoolType):
        return "bool"
    if isinstance(t, IntType):  # also addresses (AddrType)
        return "int"
    if isinstance(t, CharType):
        return "bytes"
    if isinstance(t, ArrayType):
        return "bytes" if isinstance(t.elem, CharType) else f"list[{value_type(t.elem, p)}]"
    if isinstance(t, StructType):
        return t.name
    return f"{p}Any"


def field_type(t: BpfType, p: str = "_") -> tuple[str, str]:
    """(attribute type, constructor argument type) of a struct field in the module's ctypes class.

    ctypes gives char arrays as ``bytes`` and other arrays as ctypes arrays (the
    constructor also takes a list of the elements).
    """
    if isinstance(t, ArrayType) and not isinstance(t.elem, CharType):
        array = f"{p}ctypes.Array[{p}Any]"
        return array, f"{array} | {p}Sequence[{value_type(t.elem, p)}]"
    spelled = value_type(t, p)
    return spelled, spelled


def map_type(m: MapDecl, p: str = "_") -> str:
    """``Map[Key, int]``: the handle class the map's kind names, with its key and value types."""
    kind = MAP_KINDS[m.kind]
    handle = p + kind.handle
    value = value_type(m.value, p) if m.value is not None else f"{p}Any"
    if kind.percpu:
        value = f"list[{value}]"  # one value per possible CPU
    if kind.events:
        sent = m.event_types
        event = value_type(m.value, p) if m.value is not None else (
            value_type(sent[0], p) if sent is not None and len(sent) == 1 else "bytes")
        return f"{handle}[{event}]"
    if kind.handle == "BloomFilterMap":
        return f"{handle}[{value}]"
    if kind.handle in FIXED_TYPE_HANDLES:
        return handle
    return f"{handle}[{value_type(m.key, p)}, {value}]"


# The stub's own names, after its prefix: its imports and the module handle
PRIVATE_NAMES = ("ctypes", "Sequence", "Any", "module", *RUNTIME_CLASSES)


def private_prefix(names: set[str]) -> str:
    """``_`` (``_Map``, ``_module``...) unless the module itself has a name spelled so: then
    ``_b_``, ``_bb_``... (never ``__``: a class body would mangle it)."""
    p, n = "_", 0
    while any(p + name in names for name in PRIVATE_NAMES):
        n += 1
        p = f"_{'b' * n}_"
    return p


def _struct_lines(s: StructType, p: str = "_") -> list[str]:
    lines = [f"class {s.name}({p}ctypes.Structure):"]
    params = []
    for f in s.fields:
        attr, arg = field_type(f.type, p)
        lines.append(f"    {f.name}: {attr}")
        params.append(f"{f.name}: {arg} = ...")
    lines.append(f"    def __init__(self, {', '.join(params)}) -> None: ..." if params
                 else "    def __init__(self) -> None: ...")
    # ctypes.Structure answers any attribute (Any): the module's classes have their fields only
    lines += ["    __getattr__: None  # type: ignore[misc, assignment]",
              "    __setattr__: None  # type: ignore[misc, assignment]", ""]
    return lines


def stub_text(model: ModuleModel, source: bytes) -> str:
    """The ``.pyi`` text of the module ``model`` describes."""
    from ..runtime.module import BpfModule

    taken = {name for name in dir(BpfModule) if not name.startswith("__")}  # load, close
    p = private_prefix({*model.structs, *model.functions, *model.maps, *model.globals})
    body: list[str] = []
    used = {"BpfModule"}
    for s in model.structs.values():
        body += _struct_lines(s, p)
    for f in model.functions.values():
        if f.section is not None and f.name not in taken:
            body.append(f"{f.name}: {p}Program")
            used.add("Program")
    for m in model.maps.values():
        if m.name not in taken:
            spelled = map_type(m, p)
            body.append(f"{m.name}: {spelled}")
            used.add(spelled.partition("[")[0][len(p):])
    for g in model.globals.values():
        if g.name not in taken:
            body.append(f"{g.name}: {p}Global[{value_type(g.ty, p)}]")
            used.add("Global")
    by_module: dict[str, list[str]] = {}
    for name in sorted(used):
        by_module.setdefault(RUNTIME_CLASSES[name], []).append(name)
    # Imported under private names: a struct, map or global may be called Map or Any, and
    # checkers name the classes by their own names in messages and hovers anyway.
    imports = [f"import ctypes as {p}ctypes", f"from collections.abc import Sequence as {p}Sequence",
               f"from typing import Any as {p}Any"]
    imports += [f"from {module} import {', '.join(f'{n} as {p}{n}' for n in names)}"
                for module, names in sorted(by_module.items())]
    head = [stub_header(source),
            f"# Typed stub of {model.module_name} ({os.path.basename(model.source.filename)}), "
            "written by `python -m bpfimport stubs`: do not edit.",
            *imports, ""]
    # The module's own functions, typed exactly as the runtime's (a bound method of a BpfModule).
    tail = ["", f"{p}module: {p}BpfModule",
            *(f"{name} = {p}module.{name}" for name in sorted(taken)), ""]
    return "\n".join(head + body + tail)


def render(source: bytes, filename: str, module_name: str) -> str:
    """The stub text of a source: its frontend model, rendered.  CompileError for its mistakes."""
    return stub_text(module_model(source, filename, module_name), source)


__all__ = ["PRIVATE_NAMES", "field_type", "map_type", "module_model", "private_prefix", "render",
           "stub_text", "value_type"]
