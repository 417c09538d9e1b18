"""``.BTF.ext``: function info, line info and CO-RE relocation records of an object.

Layout (linux/bpf/btf_ext.h as libbpf reads it): a header, then for each of the
three kinds a record size followed by per-ELF-section groups
``{section name offset, count, records...}``.  Every string offset points into the
object's ``.BTF`` string section, so a :class:`~.reader.Spec` resolves them.
``insn_off`` is a byte offset into the program's ELF section (libbpf divides by 8).
"""

from __future__ import annotations

import enum
import struct
from typing import NamedTuple

from .reader import BtfFormatError, Spec

EXT_HEADER = struct.Struct("<HBBIIIII")  # magic, version, flags, hdr_len, func/line info off+len
CORE_HEADER = struct.Struct("<II")  # core_relo_off, core_relo_len (when hdr_len >= 32)


class FuncInfo(NamedTuple):
    """A function starts at ``insn_off`` (bytes) and has BTF type ``type_id`` (a FUNC)."""

    insn_off: int
    type_id: int


class LineInfo(NamedTuple):
    """The instruction at ``insn_off`` (bytes) comes from ``line`` of ``file``, whose text is ``text``."""

    insn_off: int
    file: str
    text: str
    line: int
    column: int


class CoreKind(enum.IntEnum):
    """``enum bpf_core_relo_kind``: what a CO-RE relocation asks the loader to compute."""

    FIELD_BYTE_OFFSET = 0
    FIELD_BYTE_SIZE = 1
    FIELD_EXISTS = 2
    FIELD_SIGNED = 3
    FIELD_LSHIFT_U64 = 4
    FIELD_RSHIFT_U64 = 5
    TYPE_ID_LOCAL = 6
    TYPE_ID_TARGET = 7
    TYPE_EXISTS = 8
    TYPE_SIZE = 9
    ENUMVAL_EXISTS = 10
    ENUMVAL_VALUE = 11
    TYPE_MATCHES = 12


class CoreRelo(NamedTuple):
    """A CO-RE relocation at ``insn_off``: ``access`` (e.g. ``"0:1:2"``) into local type ``type_id``."""

    insn_off: int
    type_id: int
    access: str
    kind: CoreKind


class Ext(NamedTuple):
    """The decoded ``.BTF.ext``, each kind grouped by ELF section name."""

    func_info: dict[str, list[FuncInfo]]
    line_info: dict[str, list[LineInfo]]
    core_relos: dict[str, list[CoreRelo]]


def parse_ext(data: bytes, spec: Spec) -> Ext:
    """Decode ``.BTF.ext`` bytes; ``spec`` is the same object's ``.BTF`` (for the strings)."""
    if len(data) < EXT_HEADER.size:
        raise BtfFormatError(f".BTF.ext too short for its header ({len(data)} bytes)")
    magic, _version, _flags, hdr_len, func_off, func_len, line_off, line_len = EXT_HEADER.unpack_from(data)
    if magic != 0xEB9F:
        raise BtfFormatError(f"not .BTF.ext: magic {magic:#06x}")
    core_off = core_len = 0
    if hdr_len >= EXT_HEADER.size + CORE_HEADER.size:
        core_off, core_len = CORE_HEADER.unpack_from(data, EXT_HEADER.size)

    def records(off: int, length: int, fmt: str) -> dict[str, list[tuple[int, ...]]]:
        return _groups(data, hdr_len + off, length, struct.Struct(fmt), spec)

    funcs = records(func_off, func_len, "<II")
    lines = records(line_off, line_len, "<IIII")
    relos = records(core_off, core_len, "<IIII")
    return Ext(
        {sec: [FuncInfo(*r) for r in rs] for sec, rs in funcs.items()},
        {sec: [_line(r, spec) for r in rs] for sec, rs in lines.items()},
        {sec: [CoreRelo(r[0], r[1], spec.string(r[2]), CoreKind(r[3])) for r in rs] for sec, rs in relos.items()},
    )


def _line(r: tuple[int, ...], spec: Spec) -> LineInfo:
    insn_off, file_off, text_off, line_col = r
    return LineInfo(insn_off, spec.string(file_off), spec.string(text_off), line_col >> 10, line_col & 0x3FF)


def _groups(data: bytes, at: int, length: int, rec: struct.Struct, spec: Spec) -> dict[str, list[tuple[int, ...]]]:
    """The records of one kind: a u32 record size, then ``{sec_name_off, n, n records}`` groups."""
    out: dict[str, list[tuple[int, ...]]] = {}
    if length == 0:
        return out
    end = at + length
    if end > len(data):
        raise BtfFormatError(".BTF.ext: a record table runs past the end of the section")
    (rec_size,) = struct.unpack_from("<I", data, at)
    if rec_size < rec.size:
        raise BtfFormatError(f".BTF.ext: record size {rec_size} is smaller than {rec.size}")
    at += 4
    while at < end:
        sec_off, n = struct.unpack_from("<II", data, at)
        at += 8
        if at + n * rec_size > end:
            raise BtfFormatError(".BTF.ext: a section's records run past the end of the table")
        out.setdefault(spec.string(sec_off), []).extend(
            rec.unpack_from(data, at + i * rec_size) for i in range(n))
        at += n * rec_size
    return out
