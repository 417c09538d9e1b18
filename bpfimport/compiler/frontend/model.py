"""The checked program model the frontend hands to the codegen."""

from __future__ import annotations

from ...errors import CompileError
from ...kinds import MAP_KINDS, MapKind
from .. import pyast as ast
from ..types import BpfType, StructType


class _Final:
    """A record of the final model: set once in ``__init__``, read-only afterwards.

    Codegen used to write back into the model (a map's event types); now every
    fact is known before codegen starts, and the model says so by refusing writes.
    """

    __slots__: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is part of the final model and immutable")

    def _set(self, **values: object) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)


class MapDecl(_Final):
    """A map: ``kind`` is a key of kinds.MAP_KINDS; perf event arrays give sizes, not types.

    ``event_types``: for an event map, the types its programs send (``frontend/events.py``
    infers them); ``None`` when one of them is not known before codegen.
    """

    __slots__ = ("name", "kind", "key", "value", "max_entries", "flags", "lineno", "key_size",
                 "value_size", "event_types", "ref", "initial")
    name: str
    kind: str
    key: BpfType | None
    value: BpfType | None
    max_entries: int
    flags: int
    lineno: int
    key_size: int | None
    value_size: int | None
    event_types: tuple[BpfType, ...] | None
    ref: str | None  # an inner map found through a map of maps: the IR value of its pointer
    initial: tuple[tuple[int, str], ...]  # a map of maps' slots filled at load: (slot, map name)

    def __init__(self, name: str, kind: str, key: BpfType | None, value: BpfType | None,
                 max_entries: int, flags: int, lineno: int, key_size: int | None = None,
                 value_size: int | None = None,
                 event_types: tuple[BpfType, ...] | None = (),
                 initial: tuple[tuple[int, str], ...] = ()) -> None:
        self._set(name=name, kind=kind, key=key, value=value, max_entries=max_entries, flags=flags,
                  lineno=lineno, key_size=key_size, value_size=value_size, event_types=event_types,
                  ref=None, initial=initial)

    def through(self, ref: str, name: str) -> MapDecl:
        """This declaration as the template of an inner map reached through a map of maps:
        BPF code uses the map at ``ref`` (an IR pointer, None when the slot is empty), and
        errors call it ``name`` (the expression that found it)."""
        decl = MapDecl(name, self.kind, self.key, self.value, self.max_entries, self.flags,
                       self.lineno, self.key_size, self.value_size, self.event_types)
        decl._set(ref=ref)
        return decl

    def with_event_types(self, event_types: tuple[BpfType, ...] | None) -> MapDecl:
        return MapDecl(self.name, self.kind, self.key, self.value, self.max_entries, self.flags,
                       self.lineno, self.key_size, self.value_size, event_types, self.initial)

    @property
    def map_kind(self) -> MapKind:
        """The kind's record: what BPF code may do with this map, and how."""
        return MAP_KINDS[self.kind]

    @property
    def is_array(self) -> bool:
        """Array maps hold every index: no insert on first use, no delete."""
        return MAP_KINDS[self.kind].array


class GlobalDecl(_Final):
    """A global variable in ``.rodata`` (Final), ``.data`` or ``.bss``."""

    __slots__ = ("name", "ty", "section", "initial", "final", "lineno")
    name: str
    ty: BpfType
    section: str
    initial: int | bytes
    final: bool
    lineno: int

    def __init__(self, name: str, ty: BpfType, section: str, initial: int | bytes, final: bool,
                 lineno: int) -> None:
        self._set(name=name, ty=ty, section=section, initial=initial, final=final, lineno=lineno)


class ProbeArg(_Final):
    """A probe program's parameter after ``ctx``: the probed function's argument (or return
    value), read from the saved register at ``offset`` bytes into ``struct pt_regs``."""

    __slots__ = ("name", "ty", "register", "offset")
    name: str
    ty: BpfType
    register: str
    offset: int

    def __init__(self, name: str, ty: BpfType, register: str, offset: int) -> None:
        self._set(name=name, ty=ty, register=register, offset=offset)


class FunctionDecl(_Final):
    """A program (``section`` set) or a subprogram, with its checked signature.

    ``params`` are the BPF function's own parameters (a program has one, its context);
    ``probe_args`` the parameters a probe program reads from its context's registers.
    """

    __slots__ = ("name", "node", "params", "ret", "section", "decorator", "probe_args")
    name: str
    node: ast.FunctionDef
    params: tuple[tuple[str, BpfType], ...]
    ret: BpfType
    section: str | None
    decorator: str | None
    probe_args: tuple[ProbeArg, ...]

    def __init__(self, name: str, node: ast.FunctionDef, params: list[tuple[str, BpfType]],
                 ret: BpfType, section: str | None = None, decorator: str | None = None,
                 probe_args: tuple[ProbeArg, ...] = ()) -> None:
        self._set(name=name, node=node, params=tuple(params), ret=ret, section=section,
                  decorator=decorator, probe_args=probe_args)


class Source:
    """The user's file: every error points into it."""

    def __init__(self, filename: str, text: str) -> None:
        self.filename = filename
        self.text = text
        self.lines = text.splitlines()

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


    def utf8(self, node: ast.AST | None, text: str, what: str) -> bytes:
        """``text`` as the UTF-8 bytes the object will hold.  A lone surrogate (a ``\\udXXX``
        escape) has no UTF-8 form: refused here rather than crashing the code generator."""
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise self.error(node, f"{what} holds {text[e.start]!r}, a lone surrogate, which has no "
                             "UTF-8 encoding", "remove the \\udXXX escape or write the character "
                             "itself") from None


class ModuleModel:
    """Everything a module declares, in declaration order."""

    def __init__(self, source: Source, module_name: str) -> None:
        self.source = source
        self.module_name = module_name
        self.names: dict[str, str] = {}  # local name -> builtin name ("u32", "ktime")
        self.modules: dict[str, str] = {}  # local name -> imported module
        self.structs: dict[str, StructType] = {}
        self.maps: dict[str, MapDecl] = {}
        self.globals: dict[str, GlobalDecl] = {}
        self.constants: dict[str, int | str] = {}
        self.functions: dict[str, FunctionDecl] = {}
        self.license: str | None = None
        self.license_line = 0

    def defined(self, name: str) -> bool:
        return any(
            name in table
            for table in (self.structs, self.maps, self.globals, self.constants, self.functions)
        ) or (name == "LICENSE" and self.license is not None)
