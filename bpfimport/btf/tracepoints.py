"""Tracepoint records by name: the layout ``ctx.FIELD`` reads in a ``@tracepoint("CAT/EVENT")``.

A tracepoint program's context is the event's record: a ``struct trace_entry``
(the ``common_*`` fields) and the event's own fields.  Three sources describe it,
tried in this order by :func:`tracepoint_record`:

``'syscalls'``
    ``syscalls/sys_enter_NAME`` and ``sys_exit_NAME``.  The kernel has one record
    type for all of them (``struct syscall_trace_enter { ent; int nr; unsigned long
    args[]; }``, ``syscall_trace_exit { ent; int nr; long ret; }``) and keeps the
    argument names only in the tracefs format files, which only root reads.  The
    names and C types ship in ``syscalls.json`` (written by
    ``scripts/gen_syscall_table.py``); offsets come from the running kernel's BTF,
    and the compiler relocates them (``args`` sits at 16 here, 24 on some kernels).
``'btf'``
    Every other event whose record type BTF names: ``trace_event_raw_<event>``
    when the event is its own class (``TRACE_EVENT``), else
    ``trace_event_raw_<class>``.  BTF has no event -> class table, but each event
    has a typedef ``btf_trace_<event>`` (a pointer to its probe's prototype) and
    each class a function ``__bpf_trace_<class>``: the class is the one whose
    parameter types are the event's.  Relocatable: the compiler CO-RE-relocates
    each field against ``btf_struct`` along ``TpField.access``.
``'format'``
    The tracefs ``format`` file (``/sys/kernel/tracing/events/CAT/EVENT/format``,
    root only), when BTF leaves several classes (or none) or has no BTF at all.
    Not relocatable: the offsets are this kernel's, so an object built from them
    depends on the running kernel (the compiler puts the kernel's identity into
    its cache key).

Nothing here needs root except the ``'format'`` source.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from . import types as t
from .kernel import KernelBtf, KernelBtfMissing, kernel_btf
from .reader import NameTable, Spec

TRACEFS = Path("/sys/kernel/tracing")
SYSCALL_TABLE = "syscalls.json"
# Patterns, compiled on first use (re.match's own cache): a compile pays only for those it uses.
_SYSCALL_EVENT = r"sys_(enter|exit)_(\w+)"
_SAFE_NAME = r"[\w.+-]+"  # a tracefs folder name, never '..' or a path
_FIELD_LINE = (r"^\s*field:(?P<decl>[^;]*);\s*offset:(?P<offset>\d+);\s*size:(?P<size>\d+);"
               r"\s*signed:(?P<signed>\d+);")
_DECL = r"^(?P<type>.*?)\s*\b(?P<name>[A-Za-z_]\w*)\s*(?P<dims>(?:\[\d*\])*)$"
_LOC_PREFIXES = {"__data_loc_": False, "__rel_loc_": True}  # BTF member prefix -> relative?


class UnknownTracepoint(LookupError):
    """No tracepoint of that name on this kernel (the message names the closest that exist)."""


class AmbiguousTracepoint(LookupError):
    """BTF leaves several record types for an event and the format file can't be read (not root)."""

    def __init__(self, message: str, candidates: list[str]) -> None:
        super().__init__(message)
        self.candidates = candidates


# The records are named tuples: immutable, compared and hashed by value, built by
# position or keyword like a frozen dataclass, and made without importing ``dataclasses``
# (with ``inspect``, ~5 ms) or ``typing`` (~3 ms), which a compile would otherwise pay.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple

    class _TpField(NamedTuple):
        name: str
        offset: int
        size: int
        ctype: str
        signed: bool
        data_loc: bool
        array_len: int | None
        type_id: int | None
        access: tuple[str | int, ...] | None = None
        user_pointer: bool = False
        rel_loc: bool = False

    class _TpRecord(NamedTuple):
        category: str
        event: str
        fields: tuple[TpField, ...]
        btf_struct: str | None
        source: str
else:
    from collections import namedtuple

    _TpField = namedtuple("TpField", "name offset size ctype signed data_loc array_len type_id access "
                          "user_pointer rel_loc", defaults=(None, False, False))
    _TpRecord = namedtuple("TpRecord", "category event fields btf_struct source")


class TpField(_TpField):
    """One field of a tracepoint record, as the format file lists it.

    ``name, offset, size, ctype, signed, data_loc, array_len, type_id`` and, with
    defaults, ``access, user_pointer, rel_loc``.  ``ctype`` is the C spelling
    (``'pid_t'``, ``'const char *'``, ``'char[16]'``, ``'__data_loc char[]'``);
    ``size`` is the bytes the record holds for it (a syscall argument's 8-byte
    slot; a ``__data_loc`` field's u32, whose low 16 bits are the data's offset in
    the record and high 16 bits its length); ``array_len`` the element count of an
    array field.  ``type_id`` is the BTF id of the member's type in ``btf_struct``
    (for a syscall argument, the slot's ``unsigned long``: ``ctype`` says what it
    holds), None for a 'format' record.  ``access`` is the member path in
    ``btf_struct`` a CO-RE relocation follows (``('ent', 'pid')``, ``('prev_pid',)``,
    ``('args', 1)``), None for 'format'.  ``user_pointer``: the field holds a
    user-space address (a syscall's pointer argument), read with
    ``probe_read_user*``.  ``rel_loc``: a ``__rel_loc`` field, whose offset counts
    from the end of the field instead of the record's start.  BTF does not record a
    dynamic array's element type: a ``__data_loc`` field from BTF is spelled
    ``'__data_loc char[]'`` (320 of 336 are strings on 6.18; the bytes are the same).
    """

    __slots__ = ()


class TpRecord(_TpRecord):
    """The record of ``category/event``: its ``fields`` in format-file order, common ones first.

    ``btf_struct`` is the kernel struct the fields relocate against (None for a
    'format' record); ``source`` is ``'btf'``, ``'syscalls'`` or ``'format'``.
    """

    __slots__ = ()

    @property
    def relocatable(self) -> bool:
        """Whether an object reading this record loads on kernels with other layouts (CO-RE)."""
        return self.btf_struct is not None

    def field(self, name: str) -> TpField | None:
        return next((f for f in self.fields if f.name == name), None)

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def unknown_field_message(self, name: str) -> str:
        """``"sched/sched_switch has no field 'prev_pd'; its fields are: prev_pid, ..."`` (closest first)."""
        return (f"{self.category}/{self.event} has no field {name!r}; its fields are: "
                + ", ".join(closest_names(name, self.field_names())))


def closest_names(name: str, names: Iterable[str], limit: int | None = None) -> list[str]:
    """``names`` ordered by likeness to ``name`` (difflib's ratio), closest first; ties keep their order."""
    import difflib  # error paths only: not imported by a compile that succeeds

    matcher = difflib.SequenceMatcher(None, "", name)  # seq2 is the one difflib preprocesses: set once
    scored = []
    for i, other in enumerate(names):
        matcher.set_seq1(other)
        scored.append((-matcher.ratio(), i, other))
    scored.sort()
    return [other for _, _, other in scored[:limit]]


# ---- the syscall table ---------------------------------------------------------------------


@functools.cache
def syscall_table() -> dict[str, tuple[tuple[str, str], ...]]:
    """Syscall name -> its arguments as (name, C type), from the package's ``syscalls.json``."""
    import json  # here: a compile that reads no syscall record does not import it

    data = json.loads(_package_data(SYSCALL_TABLE))
    return {name: tuple((a, c) for a, c in args) for name, args in data["syscalls"].items()}


def _package_data(name: str) -> bytes:
    """The bytes of package data file ``name``, wherever the package lives (folder, zip, wheel).

    The module's own loader first (``get_data``, what ``pkgutil.get_data`` calls): a
    folder's and a zip's loaders both have it, and it imports nothing.  The
    resources API otherwise (a loader without ``get_data``): importing it costs
    10-20 ms (``importlib.resources`` pulls in zipfile, tempfile, shutil), which a
    compile that reads one syscall's arguments should not pay when it need not.
    """
    loader = getattr(__spec__, "loader", None)
    get_data = getattr(loader, "get_data", None)
    if get_data is not None and __file__:
        try:
            return bytes(get_data(os.path.join(os.path.dirname(__file__), name)))
        except OSError:
            pass
    if sys.version_info >= (3, 12):
        from importlib.resources import files
    else:
        from importlib_resources import files
    return files(__package__).joinpath(name).read_bytes()


# ---- tracefs -------------------------------------------------------------------------------


def _tracefs_events() -> Path | None:
    """``TRACEFS/events`` if this process can list it (root, tracefs mounted), else None."""
    events = TRACEFS / "events"
    return events if os.access(events, os.R_OK | os.X_OK) and events.is_dir() else None


def _categories_of(event: str) -> list[str]:
    """The tracefs categories that have ``event`` (for 'it is in category X' messages)."""
    events = _tracefs_events()
    if events is None:
        return []
    try:
        return sorted(c.name for c in events.iterdir() if (c / event).is_dir())
    except OSError:
        return []


def read_format(category: str, event: str, tracefs: Path | None = None) -> TpRecord | None:
    """The record as ``events/CAT/EVENT/format`` describes it; None if that file can't be read."""
    tracefs = TRACEFS if tracefs is None else tracefs
    if not (re.fullmatch(_SAFE_NAME, category) and re.fullmatch(_SAFE_NAME, event)) or ".." in (category, event):
        return None
    try:
        text = (tracefs / "events" / category / event / "format").read_text()
    except (OSError, UnicodeDecodeError):
        return None
    return TpRecord(category, event, tuple(parse_format(text)), None, "format")


def parse_format(text: str) -> Iterator[TpField]:
    """The fields of a tracefs format file's text (``field:TYPE NAME; offset:N; size:N; signed:N;``)."""
    for line in text.splitlines():
        m = re.match(_FIELD_LINE, line)
        if m is None:
            continue
        decl = m["decl"].strip()
        data_loc = decl.startswith(("__data_loc ", "__rel_loc "))
        if data_loc:
            ctype, _, name = decl.rpartition(" ")
            dims = ""
        else:
            d = re.match(_DECL, decl)
            if d is None:
                continue  # a declaration this reader can't split: left out, not guessed
            ctype, name, dims = d["type"].strip(), d["name"], d["dims"]
        array_len = int(dims[1:dims.index("]")]) if dims and dims[1] != "]" else None
        yield TpField(name, int(m["offset"]), int(m["size"]), ctype + dims, m["signed"] == "1",
                      data_loc, array_len, None, rel_loc=decl.startswith("__rel_loc "))


# ---- BTF -----------------------------------------------------------------------------------


def _names_with_prefix(spec: Spec, prefix: str) -> list[str]:
    names = spec.names()
    if isinstance(names, NameTable):
        return names.with_prefix(prefix)
    return sorted(n for n in names if n.startswith(prefix))


def _spec_of(kbtf: KernelBtf, ty: t.Type) -> Spec:
    """The spec (vmlinux or a module's) a type found through ``kbtf`` came from."""
    if ty.id < kbtf.spec.count:
        return kbtf.spec
    return next((m for m in kbtf.modules() if m.first_id <= ty.id < m.count), kbtf.spec)


def _probe_params(kbtf: KernelBtf, event: str) -> tuple[Spec, list[t.Param]] | None:
    """The parameters of ``btf_trace_<event>``'s prototype after ``void *__data``, and its spec."""
    td = kbtf.find(f"btf_trace_{event}", t.Kind.TYPEDEF)
    if td is None:
        return None
    ptr = t.skip_qualifiers(td)
    proto = t.skip_qualifiers(ptr.target) if isinstance(ptr, t.Ptr) else None
    if not isinstance(proto, t.FuncProto) or not proto.params:
        return None
    return _spec_of(kbtf, td), proto.params[1:]


@functools.lru_cache(maxsize=8)
def _classes_by_params(spec: Spec) -> dict[tuple[int, ...], list[tuple[str, tuple[str, ...]]]]:
    """Every ``__bpf_trace_<class>`` of ``spec`` by its parameter types: (class, parameter names)."""
    found: dict[tuple[int, ...], list[tuple[str, tuple[str, ...]]]] = {}
    prefix = "__bpf_trace_"
    for name in _names_with_prefix(spec, prefix):
        for func in spec.types_by_name(name, t.Kind.FUNC):
            proto = func.target if isinstance(func, t.Func) else None
            if not isinstance(proto, t.FuncProto) or not proto.params:
                continue
            params = proto.params[1:]
            key = tuple(p.type_id for p in params)
            found.setdefault(key, []).append((name[len(prefix):], tuple(p.name for p in params)))
    return found


def event_classes(event: str, kbtf: KernelBtf | None = None) -> list[str] | None:
    """The classes whose probe prototype matches event ``event``'s; None if BTF has no such event."""
    kbtf = kbtf if kbtf is not None else kernel_btf()
    got = _probe_params(kbtf, event)
    if got is None:
        return None
    spec, params = got
    return sorted({c for c, _ in _classes_by_params(spec).get(tuple(p.type_id for p in params), [])})


def _signed(ty: t.Type) -> bool:
    """Signedness as the format file has it: an array's is its element's (``long x[3]`` is signed)."""
    base = t.skip_qualifiers(ty)
    while isinstance(base, t.Array):
        base = t.skip_qualifiers(base.element)
    return bool(isinstance(base, (t.Int, t.Enum)) and base.signed)


def _member_field(spec: Spec, name: str, offset: int, type_id: int, access: tuple[str | int, ...]) -> TpField:
    ty = spec.type_by_id(type_id)
    base = t.skip_qualifiers(ty)
    array_len = base.nelems if isinstance(base, t.Array) else None
    return TpField(name, offset, t.sizeof(ty), t.c_name(ty), _signed(ty), False, array_len, type_id, access)


def _common_fields(spec: Spec, member: t.Member) -> list[TpField]:
    """``struct trace_entry ent`` as the format file spells it: ``common_type``, ``common_pid``..."""
    entry = t.skip_qualifiers(spec.type_by_id(member.type_id))
    assert isinstance(entry, t.Struct)
    return [_member_field(spec, f"common_{m.name}", member.offset + m.offset, m.type_id, (member.name, m.name))
            for m in entry.members]


def _is_trace_entry(spec: Spec, member: t.Member) -> bool:
    ty = t.skip_qualifiers(spec.type_by_id(member.type_id))
    return isinstance(ty, t.Struct) and ty.name == "trace_entry"


def _btf_fields(spec: Spec, struct: t.Struct) -> list[TpField]:
    """A ``trace_event_raw_*`` struct's members as the format file lists the fields."""
    fields: list[TpField] = []
    for m in struct.members:
        if _is_trace_entry(spec, m):
            fields += _common_fields(spec, m)
            continue
        prefix = next((p for p in _LOC_PREFIXES if m.name.startswith(p)), None)
        if prefix is not None:
            name, rel = m.name[len(prefix):], _LOC_PREFIXES[prefix]
            ctype = ("__rel_loc" if rel else "__data_loc") + " char[]"
            fields.append(TpField(name, m.offset, t.sizeof(spec.type_by_id(m.type_id)), ctype, False, True,
                                  None, m.type_id, (m.name,), rel_loc=rel))
            continue
        ty = t.skip_qualifiers(spec.type_by_id(m.type_id))
        if m.name == "__data" and isinstance(ty, t.Array) and ty.nelems == 0:
            continue  # where the dynamic fields' bytes start: no field of its own
        fields.append(_member_field(spec, m.name, m.offset, m.type_id, (m.name,)))
    return fields


def _btf_record(kbtf: KernelBtf, category: str, event: str) -> tuple[TpRecord | None, list[str] | None]:
    """The record from BTF, or None and the classes that matched (None: BTF doesn't know the event)."""
    own = kbtf.find(f"trace_event_raw_{event}", t.Kind.STRUCT)
    if isinstance(own, t.Struct):
        spec = _spec_of(kbtf, own)
        return TpRecord(category, event, tuple(_btf_fields(spec, own)), own.name, "btf"), [event]
    classes = event_classes(event, kbtf)
    if classes is None or len(classes) != 1:
        return None, classes
    struct = kbtf.find(f"trace_event_raw_{classes[0]}", t.Kind.STRUCT)
    if not isinstance(struct, t.Struct):
        return None, []
    spec = _spec_of(kbtf, struct)
    return TpRecord(category, event, tuple(_btf_fields(spec, struct)), struct.name, "btf"), classes


def _syscall_record(kbtf: KernelBtf, event: str) -> TpRecord | None:
    """A ``syscalls/sys_enter_*``/``sys_exit_*`` record: BTF's layout, the table's names and types."""
    m = re.fullmatch(_SYSCALL_EVENT, event)
    args = syscall_table().get(m[2]) if m else None
    if m is None or args is None:
        return None
    enter = m[1] == "enter"
    struct = kbtf.find("syscall_trace_enter" if enter else "syscall_trace_exit", t.Kind.STRUCT)
    if not isinstance(struct, t.Struct):
        return None
    spec = kbtf.spec
    members = {x.name: x for x in struct.members}
    if "nr" not in members or ("args" if enter else "ret") not in members:
        return None  # a kernel whose record this layer doesn't know: the format file decides
    fields: list[TpField] = []
    for x in struct.members:
        if _is_trace_entry(spec, x):
            fields += _common_fields(spec, x)
    nr = members["nr"]
    fields.append(_member_field(spec, "__syscall_nr", nr.offset, nr.type_id, ("nr",)))
    if not enter:
        ret = members["ret"]
        fields.append(_member_field(spec, "ret", ret.offset, ret.type_id, ("ret",)))
    else:
        slots = t.skip_qualifiers(spec.type_by_id(members["args"].type_id))
        if not isinstance(slots, t.Array):
            return None
        size = t.sizeof(slots.element)
        for i, (name, ctype) in enumerate(args):
            # signed=False as the format file says for every slot: an unsigned long holding the value
            fields.append(TpField(name, members["args"].offset + size * i, size, ctype, False, False, None,
                                  slots.element_id, ("args", i), user_pointer="*" in ctype))
    return TpRecord("syscalls", event, tuple(fields), struct.name, "syscalls")


# ---- the public lookups --------------------------------------------------------------------


def tracepoint_record(category: str, event: str, kbtf: KernelBtf | None = None) -> TpRecord:
    """The record of tracepoint ``category/event``: from the syscall table, BTF, or the format file.

    Raises :class:`UnknownTracepoint` (no such event: the message names the closest),
    :class:`AmbiguousTracepoint` (BTF leaves several classes and the format file
    needs root) or :class:`KernelBtfMissing` (no BTF and no readable format file).
    """
    if kbtf is None:
        try:
            kbtf = kernel_btf()
        except KernelBtfMissing:
            found = read_format(category, event)
            if found is not None:
                return found
            raise
    _check_category(category, event)
    classes: list[str] | None = None
    if category == "syscalls":
        record = _syscall_record(kbtf, event)
    else:
        record, classes = _btf_record(kbtf, category, event)
    if record is not None:
        return record
    found = read_format(category, event)
    if found is not None:
        return found
    if category == "syscalls":
        m = re.fullmatch(_SYSCALL_EVENT, event)
        known = [f"sys_{m[1] if m else 'enter'}_{n}" for n in syscall_table()]
        raise UnknownTracepoint(f"no tracepoint syscalls/{event}; the closest are: "
                                + ", ".join(closest_names(event, known, 5)))
    if classes is None:
        raise UnknownTracepoint(f"no tracepoint {category}/{event} in this kernel's BTF; the closest are: "
                                + ", ".join(closest_names(event, tracepoint_names(kbtf), 5)))
    structs = [f"trace_event_raw_{c}" for c in classes]
    which = (f"{len(classes)} record types match it ({', '.join(structs)})" if classes
             else "no record type matches its prototype")
    raise AmbiguousTracepoint(
        f"the record of {category}/{event} is not certain from BTF: {which}; root can read its layout "
        f"from {TRACEFS}/events/{category}/{event}/format", structs)


def _check_category(category: str, event: str) -> None:
    """Where tracefs is readable, ``category/event`` must be there (BTF does not know categories)."""
    events = _tracefs_events()
    if events is None or not re.fullmatch(_SAFE_NAME, category) or not re.fullmatch(_SAFE_NAME, event):
        return
    if (events / category / event).is_dir():
        return
    elsewhere = _categories_of(event)
    if elsewhere:
        raise UnknownTracepoint(f"no tracepoint {category}/{event}: {event} is in "
                                + " and ".join(f"{c}/{event}" for c in elsewhere))
    if not (events / category).is_dir():
        cats = sorted(c.name for c in events.iterdir() if c.is_dir())
        raise UnknownTracepoint(f"no tracepoint category {category!r}; the closest are: "
                                + ", ".join(closest_names(category, cats, 5)))
    here = sorted(e.name for e in (events / category).iterdir() if e.is_dir())
    raise UnknownTracepoint(f"no tracepoint {category}/{event}; the closest in {category} are: "
                            + ", ".join(closest_names(event, here, 5)))


def tracepoint_names(kbtf: KernelBtf | None = None) -> list[str]:
    """Every event BTF knows (``btf_trace_<event>`` typedefs of vmlinux), without categories."""
    kbtf = kbtf if kbtf is not None else kernel_btf()
    prefix = "btf_trace_"
    return [n[len(prefix):] for n in _names_with_prefix(kbtf.spec, prefix)]


def tracepoint_exists(category: str, event: str) -> bool:
    """Whether tracepoint ``category/event`` exists, without root.

    Where tracefs is readable (root) its ``events`` folder answers, category
    included.  Otherwise BTF (a ``btf_trace_<event>`` typedef) or, for
    ``syscalls/sys_enter_*``/``sys_exit_*``, the syscall table: neither records
    categories, so there only the event name is checked.
    """
    events = _tracefs_events()
    if events is not None and re.fullmatch(_SAFE_NAME, category) and re.fullmatch(_SAFE_NAME, event):
        return (events / category / event / "format").is_file()
    if category == "syscalls":
        m = re.fullmatch(_SYSCALL_EVENT, event)
        return m is not None and m[2] in syscall_table()
    try:
        return kernel_btf().find(f"btf_trace_{event}", t.Kind.TYPEDEF) is not None
    except KernelBtfMissing:
        return False


def raw_tracepoint_args(name: str, kbtf: KernelBtf | None = None) -> list[tuple[str, int]] | None:
    """A raw tracepoint's arguments as (name, BTF type id), from ``btf_trace_<name>``; None if unknown.

    BTF keeps no parameter names in the typedef's prototype; they come from the
    ``__bpf_trace_<class>`` function of the event's class (the class named like the
    event, else every class with the same parameter types if they agree on the
    names), and are ``arg0``, ``arg1``... where no class settles them.
    """
    try:
        kbtf = kbtf if kbtf is not None else kernel_btf()
    except KernelBtfMissing:
        return None
    got = _probe_params(kbtf, name)
    if got is None:
        return None
    spec, params = got
    key = tuple(p.type_id for p in params)
    classes = _classes_by_params(spec).get(key, [])
    named = [names for cls, names in classes if cls == name] or [names for _, names in classes]
    names = named[0] if named and all(n == named[0] for n in named) else ()
    return [(names[i] if i < len(names) and names[i] else f"arg{i}", p.type_id) for i, p in enumerate(params)]
