"""A stand-in for ``bpfimport.btf.tracepoints`` (another branch builds the real one): the same
names and shapes, from the tracefs format file and the kernel's BTF.  Removed when that lands."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import NamedTuple

TRACEFS = Path("/sys/kernel/tracing/events")
_FIELD = re.compile(r"field:(?P<decl>[^;]*);\s*offset:(?P<offset>\d+);\s*size:(?P<size>\d+);"
                    r"\s*signed:(?P<signed>\d+);")


class UnknownTracepoint(LookupError):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class TpField(NamedTuple):
    name: str
    offset: int
    size: int
    ctype: str
    signed: bool
    data_loc: bool
    array_len: int | None
    type_id: int | None


class TpRecord(NamedTuple):
    category: str
    event: str
    fields: tuple[TpField, ...]
    btf_struct: str | None
    source: str

    def field(self, name: str) -> TpField | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None


def _parse(decl: str, offset: int, size: int, signed: bool) -> TpField:
    data_loc = decl.startswith("__data_loc ")
    if data_loc:
        decl = decl[len("__data_loc "):]
    m = re.match(r"(?P<ctype>.*?)\s*(?P<name>\w+)\s*(\[(?P<n>\d*)\])?$", decl)
    assert m is not None, decl
    ctype, name, n = m["ctype"], m["name"], m["n"]
    if data_loc:
        ctype = ctype.replace("[]", "").strip() + "[]"
    array_len = int(n) if n else None
    return TpField(name, offset, size, ctype.strip(), signed, data_loc, array_len, None)


@functools.cache
def tracepoint_record(category: str, event: str, kbtf: object = None) -> TpRecord:
    path = TRACEFS / category / event / "format"
    try:
        text = path.read_text()
    except FileNotFoundError:
        from .core import closest_first

        folder = TRACEFS / category
        names = [f"{category}/{e.name}" for e in folder.iterdir() if e.is_dir()] if folder.is_dir() \
            else [c.name + "/" for c in TRACEFS.iterdir() if c.is_dir()]
        near = closest_first(f"{category}/{event}", names, 6)
        raise UnknownTracepoint(f"the kernel has no tracepoint {category}/{event}",
                                "tracepoints like it: " + ", ".join(near)) from None
    fields = tuple(_parse(m["decl"].strip(), int(m["offset"]), int(m["size"]), m["signed"] == "1")
                   for m in _FIELD.finditer(text))
    btf_struct, source = None, "format"
    if category == "syscalls":
        btf_struct = "syscall_trace_enter" if event.startswith("sys_enter_") else "syscall_trace_exit"
        source = "syscalls"
    else:
        from ..btf.types import Kind
        from .core import kernel_btf

        spec = kernel_btf().spec
        members = {("__data_loc_" + f.name if f.data_loc else f.name) for f in fields
                   if not f.name.startswith("common_")}
        candidates = [f"trace_event_raw_{event}"] + [
            n for n in spec.names() if n.startswith("trace_event_raw_")]
        for cand in candidates:
            found = spec.types_by_name(cand, Kind.STRUCT)
            if found and {m.name for m in found[0].members} - {"ent", "__data"} == members:  # type: ignore[attr-defined]
                btf_struct, source = cand, "btf"
                break
    return TpRecord(category, event, fields, btf_struct, source)


__all__ = ["TpField", "TpRecord", "UnknownTracepoint", "tracepoint_record"]
