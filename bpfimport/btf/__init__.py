"""BTF, the BPF Type Format: a type model and a reader for objects and the kernel.

* :func:`read_object` — an ELF object's ``.BTF`` and ``.BTF.ext`` (what the compiler
  emitted: map definitions, struct layouts, function and line info, CO-RE records);
* :func:`kernel_spec` / :func:`module_spec` — ``/sys/kernel/btf/vmlinux`` and a
  module's split BTF, indexed in one fast pass and decoded lazily by id or name;
* :func:`kernel_btf` — the running kernel's BTF as a compile input: opened once per
  process, its name index cached per kernel in the user's cache folder (:mod:`.kernel`);
* :mod:`.tracepoints` (imported on its own) — tracepoint records by name, for ``ctx.FIELD``.

Nothing in bpfimport imports this package at import time: a cache hit never pays for it.
The names below load their module on first use (PEP 562), so ``bpfimport.btf.kernel``
does not bring in the object reader (``ext``, ``objects``) or ``typing`` with it.
"""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .ext import CoreKind, CoreRelo, Ext, FuncInfo, LineInfo, parse_ext
    from .kernel import KernelBtf, KernelBtfMissing, kernel_btf
    from .objects import MapDef, ObjectBtf, read_object
    from .reader import BtfFormatError, Index, NameTable, Spec, kernel_spec, load_raw, module_spec
    from .types import (
        Array,
        Composite,
        Const,
        Datasec,
        DeclTag,
        Enum,
        Enum64,
        EnumValue,
        Float,
        Func,
        FuncProto,
        Fwd,
        Int,
        Kind,
        Member,
        Param,
        Ptr,
        Ref,
        Restrict,
        Struct,
        Type,
        Typedef,
        TypeTag,
        Union,
        Var,
        VarSecinfo,
        Void,
        Volatile,
        c_name,
        sizeof,
        skip_qualifiers,
    )

# name -> the module that defines it, imported when the name is first asked for
_EXPORTS = {
    "CoreKind": "ext", "CoreRelo": "ext", "Ext": "ext", "FuncInfo": "ext", "LineInfo": "ext",
    "parse_ext": "ext", "KernelBtf": "kernel", "KernelBtfMissing": "kernel", "kernel_btf": "kernel",
    "MapDef": "objects", "ObjectBtf": "objects", "read_object": "objects",
    "BtfFormatError": "reader", "Index": "reader", "NameTable": "reader", "Spec": "reader",
    "kernel_spec": "reader", "load_raw": "reader", "module_spec": "reader", "Array": "types",
    "Composite": "types", "Const": "types", "Datasec": "types", "DeclTag": "types", "Enum": "types",
    "Enum64": "types", "EnumValue": "types", "Float": "types", "Func": "types",
    "FuncProto": "types", "Fwd": "types", "Int": "types", "Kind": "types", "Member": "types",
    "Param": "types", "Ptr": "types", "Ref": "types", "Restrict": "types", "Struct": "types",
    "Type": "types", "TypeTag": "types", "Typedef": "types", "Union": "types", "Var": "types",
    "VarSecinfo": "types", "Void": "types", "Volatile": "types", "c_name": "types",
    "sizeof": "types", "skip_qualifiers": "types",
}


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "Array", "BtfFormatError", "Composite", "Const", "CoreKind", "CoreRelo", "Datasec", "DeclTag",
    "Enum", "Enum64", "EnumValue", "Ext", "Float", "Func", "FuncInfo", "FuncProto", "Fwd", "Index",
    "Int", "KernelBtf", "KernelBtfMissing", "Kind", "LineInfo", "MapDef", "Member", "NameTable",
    "ObjectBtf", "Param", "Ptr", "Ref", "Restrict", "Spec", "Struct", "Type", "TypeTag", "Typedef",
    "Union", "Var", "VarSecinfo", "Void", "Volatile", "c_name", "kernel_btf", "kernel_spec",
    "load_raw", "module_spec", "parse_ext", "read_object", "sizeof", "skip_qualifiers",
]
