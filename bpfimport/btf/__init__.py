"""BTF, the BPF Type Format: a type model and a reader for objects and the kernel.

* :func:`read_object` — an ELF object's ``.BTF`` and ``.BTF.ext`` (what the compiler
  emitted: map definitions, struct layouts, function and line info, CO-RE records);
* :func:`kernel_spec` / :func:`module_spec` — ``/sys/kernel/btf/vmlinux`` and a
  module's split BTF, indexed in one fast pass and decoded lazily by id or name.

Nothing in bpfimport imports this package at import time: a cache hit never pays for it.
"""

from __future__ import annotations

from .ext import CoreKind, CoreRelo, Ext, FuncInfo, LineInfo, parse_ext
from .objects import MapDef, ObjectBtf, read_object
from .reader import BtfFormatError, Index, Spec, kernel_spec, load_raw, module_spec
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
    sizeof,
    skip_qualifiers,
)

__all__ = [
    "Array", "BtfFormatError", "Composite", "Const", "CoreKind", "CoreRelo", "Datasec", "DeclTag", "Enum", "Enum64",
    "EnumValue", "Ext", "Float", "Func", "FuncInfo", "FuncProto", "Fwd", "Index", "Int", "Kind", "LineInfo",
    "MapDef", "Member", "ObjectBtf", "Param", "Ptr", "Ref", "Restrict", "Spec", "Struct", "Type", "TypeTag", "Typedef",
    "Union", "Var", "VarSecinfo", "Void", "Volatile", "kernel_spec", "load_raw", "module_spec", "parse_ext",
    "read_object", "sizeof", "skip_qualifiers",
]
