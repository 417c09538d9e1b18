"""The checked program model the frontend hands to the codegen."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from ...errors import CompileError
from ..types import BpfType, StructType


@dataclass
class MapDecl:
    name: str
    kind: str  # a key of spec.MAP_KINDS
    key: BpfType | None
    value: BpfType | None
    max_entries: int
    flags: int
    lineno: int
    key_size: int | None = None  # for maps declared by size (perf event arrays)
    value_size: int | None = None

    @property
    def map_kind_array(self) -> bool:
        """Array maps hold every index: no insert on first use, no delete."""
        from ...spec import MAP_KINDS

        return MAP_KINDS[self.kind].array


@dataclass
class GlobalDecl:
    name: str
    ty: BpfType
    section: str  # ".rodata", ".data" or ".bss"
    initial: int | bytes
    final: bool
    lineno: int
    offset: int = 0  # filled in by the codegen's layout of each section


@dataclass
class FunctionDecl:
    name: str
    node: ast.FunctionDef
    params: list[tuple[str, BpfType]]
    ret: BpfType
    section: str | None = None  # programs only
    decorator: str | None = None


@dataclass
class Source:
    """The user's file: every error points into it."""

    filename: str
    text: str
    lines: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.lines = self.text.splitlines()

    def error(self, node: ast.AST | None, message: str, hint: str | None = None) -> CompileError:
        lineno = getattr(node, "lineno", None)
        col = getattr(node, "col_offset", None)
        text = self.lines[lineno - 1] + "\n" if lineno and 0 < lineno <= len(self.lines) else None
        end_lineno = getattr(node, "end_lineno", None)
        end_col = getattr(node, "end_col_offset", None)
        return CompileError(
            message,
            self.filename,
            lineno,
            col + 1 if col is not None else None,
            text,
            hint,
            end_lineno if end_lineno == lineno else None,
            end_col + 1 if end_col is not None and end_lineno == lineno else None,
        )


@dataclass
class ModuleModel:
    source: Source
    module_name: str
    names: dict[str, str] = field(default_factory=dict)  # local name -> builtin name ("u32", "ktime")
    modules: dict[str, str] = field(default_factory=dict)  # local name -> imported module
    structs: dict[str, StructType] = field(default_factory=dict)
    maps: dict[str, MapDecl] = field(default_factory=dict)
    globals: dict[str, GlobalDecl] = field(default_factory=dict)
    constants: dict[str, int | str] = field(default_factory=dict)
    functions: dict[str, FunctionDecl] = field(default_factory=dict)
    license: str | None = None
    license_line: int = 0

    def defined(self, name: str) -> bool:
        return any(
            name in table
            for table in (self.structs, self.maps, self.globals, self.constants, self.functions)
        ) or (name == "LICENSE" and self.license is not None)
