"""bpfimport.btf: the kernel's BTF checked against bpftool, objects' BTF against their source.

The facts about the running kernel (task_struct's size, the offset of ``pid``, a
typedef chain, an enum value, a function's id) come from ``bpftool btf dump ...
format raw``, not from this reader, and none is hard-coded: the test compares the
two on whatever kernel it runs on.  Objects are compiled from ``tests/programs``
and checked against their source text and the compiler's spec.
"""

from __future__ import annotations

import ctypes
import re
import struct
import subprocess
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bpfimport import btf
from bpfimport.btf import Kind
from tests.btf.conftest import VMLINUX, RawDump, no_collections
from tests.conftest import PROGRAMS, need
from tests.runtime_objects import compiled


@pytest.fixture(scope="module")
def vmlinux() -> btf.Spec:
    need(VMLINUX.exists(), f"this kernel has no BTF ({VMLINUX}: CONFIG_DEBUG_INFO_BTF is off)")
    return btf.kernel_spec()


@pytest.mark.slow
def test_vmlinux_has_as_many_types_as_bpftool_lists(vmlinux: btf.Spec, vmlinux_dump: RawDump) -> None:
    assert vmlinux.count - 1 == max(vmlinux_dump.types)


def test_task_struct_size_and_pid_offset_match_bpftool(vmlinux: btf.Spec, vmlinux_dump: RawDump) -> None:
    want_id = vmlinux_dump.only("STRUCT", "task_struct")
    ts = vmlinux.type_by_name("task_struct", Kind.STRUCT)
    assert isinstance(ts, btf.Struct)
    assert ts.id == want_id
    assert ts.size == vmlinux_dump.attr(want_id, "size")
    pid_line = next(x for x in vmlinux_dump.types[want_id][3] if x.startswith("'pid' "))
    pid = ts.member("pid")
    assert f"type_id={pid.type_id} bits_offset={pid.bit_offset}" in pid_line
    assert len(ts.members) == vmlinux_dump.attr(want_id, "vlen")


def test_the_name_index_is_bpftools(vmlinux: btf.Spec, vmlinux_dump: RawDump) -> None:
    """``Spec.names()`` (the dict a kernel_spec() looks names up in): every name, every id."""
    assert vmlinux.names() == vmlinux_dump.names()


def test_typedef_chain_matches_bpftool(vmlinux: btf.Spec, vmlinux_dump: RawDump) -> None:
    """pid_t -> ... -> an INT: each step's id and name as bpftool prints them, and the int's size."""
    t = vmlinux.type_by_name("pid_t", Kind.TYPEDEF)
    steps = 0
    while isinstance(t, btf.Typedef):
        kind, name, rest, _ = vmlinux_dump.types[t.id]
        assert (kind, name) == ("TYPEDEF", t.name)
        assert f"type_id={t.target_id}" in rest
        t, steps = t.target, steps + 1
    assert steps >= 1 and isinstance(t, btf.Int)
    assert vmlinux_dump.types[t.id][:2] == ("INT", t.name)
    assert t.size == vmlinux_dump.attr(t.id, "size")
    assert btf.sizeof(vmlinux.type_by_name("pid_t", Kind.TYPEDEF)) == t.size


def test_enum_value_matches_bpftool(vmlinux: btf.Spec, vmlinux_dump: RawDump) -> None:
    enum_id = vmlinux_dump.only("ENUM", "bpf_map_type")
    lines = vmlinux_dump.types[enum_id][3]
    want = dict(re.match(r"'(\w+)' val=(-?\d+)", x).groups() for x in lines)  # type: ignore[union-attr]
    e = vmlinux.type_by_id(enum_id)
    assert isinstance(e, btf.Enum) and e.name == "bpf_map_type"
    assert {v.name: str(v.value) for v in e.values} == want
    assert e.value("BPF_MAP_TYPE_HASH") == int(want["BPF_MAP_TYPE_HASH"])


def test_function_id_and_prototype_match_bpftool(vmlinux: btf.Spec, vmlinux_dump: RawDump) -> None:
    func_id = vmlinux_dump.only("FUNC", "do_nanosleep")
    f = vmlinux.type_by_name("do_nanosleep", Kind.FUNC)
    assert isinstance(f, btf.Func) and f.id == func_id
    assert f"type_id={f.target_id}" in vmlinux_dump.types[func_id][2]
    proto = f.target
    assert isinstance(proto, btf.FuncProto)
    want_params = vmlinux_dump.types[f.target_id][3]
    assert tuple(f"'{p.name}' type_id={p.type_id}" for p in proto.params) == want_params


def test_every_kind_in_vmlinux_decodes_like_bpftool(vmlinux: btf.Spec, vmlinux_dump: RawDump) -> None:
    """The first type of each kind bpftool lists decodes to that kind and name, with the same vlen."""
    firsts: dict[str, int] = {}
    for tid, (kind, _, _, _) in sorted(vmlinux_dump.types.items()):
        firsts.setdefault(kind, tid)
    assert len(firsts) >= 10  # vmlinux has ints, pointers, structs, unions, enums, funcs...
    for kind, tid in firsts.items():
        t = vmlinux.type_by_id(tid)
        name = vmlinux_dump.types[tid][1]
        assert (t.kind.name, t.name or "(anon)") == (kind, name), tid
        members = getattr(t, "members", None) or getattr(t, "values", None) or getattr(t, "params", None)
        if members is not None:
            assert len(members) == vmlinux_dump.attr(tid, "vlen"), tid


LINKAGE = {0: "static", 1: "global", 2: "extern"}
INT_ENCODING = {0: "(none)", 1: "SIGNED", 2: "CHAR", 4: "BOOL"}
KIND_NAME = {k: k.name for k in Kind}


def _composite(t: btf.Composite) -> tuple[str, tuple[str, ...]]:
    return f"size={t.size} vlen={len(t.members)}", tuple(
        f"'{m.name or '(anon)'}' type_id={m.type_id} bits_offset={m.bit_offset}"
        + (f" bitfield_size={m.bitfield_size}" if m.bitfield_size else "") for m in t.members)


def _enum(t: btf.Enum, suffix: str = "") -> tuple[str, tuple[str, ...]]:
    return (f"encoding={'SIGNED' if t.signed else 'UNSIGNED'} size={t.size} vlen={len(t.values)}",
            tuple(f"'{v.name}' val={v.value}{suffix}" for v in t.values))


def _datasec(t: btf.Datasec) -> tuple[str, tuple[str, ...]]:
    spec = t._spec
    assert spec is not None
    return f"size={t.size} vlen={len(t.vars)}", tuple(
        f"type_id={v.type_id} offset={v.offset} size={v.size} (VAR '{spec.type_by_id(v.type_id).name}')"
        for v in t.vars)


def _ref(t: btf.Ref) -> tuple[str, tuple[str, ...]]:
    return f"type_id={t.target_id}", ()


# how ``bpftool btf dump ... format raw`` prints each kind: the header's tail, the item lines
RAW_LINE: dict[Kind, Callable[[Any], tuple[str, tuple[str, ...]]]] = {
    Kind.INT: lambda t: (f"size={t.size} bits_offset={t.bit_offset} nr_bits={t.bits} "
                         f"encoding={INT_ENCODING[t.encoding]}", ()),
    Kind.ARRAY: lambda t: (f"type_id={t.element_id} index_type_id={t.index_id} nr_elems={t.nelems}", ()),
    Kind.STRUCT: _composite,
    Kind.UNION: _composite,
    Kind.ENUM: _enum,
    Kind.ENUM64: lambda t: _enum(t, "LL" if t.signed else "ULL"),
    Kind.FWD: lambda t: (f"fwd_kind={'union' if t.is_union else 'struct'}", ()),
    Kind.FUNC: lambda t: (f"type_id={t.target_id} linkage={LINKAGE[t.linkage]}", ()),
    Kind.FUNC_PROTO: lambda t: (f"ret_type_id={t.return_id} vlen={len(t.params)}", tuple(
        f"'{p.name or '(anon)'}' type_id={p.type_id}" for p in t.params)),
    Kind.VAR: lambda t: (f"type_id={t.target_id}, linkage={LINKAGE[t.linkage]}", ()),
    Kind.DATASEC: _datasec,
    Kind.FLOAT: lambda t: (f"size={t.size}", ()),
    Kind.DECL_TAG: lambda t: (f"type_id={t.target_id} component_idx={t.component_idx}", ()),
    **dict.fromkeys([Kind.PTR, Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG], _ref),
}


@pytest.mark.slow
def test_every_vmlinux_type_reads_as_bpftool_reads_it(vmlinux: btf.Spec, vmlinux_dump: RawDump) -> None:
    """All ~10^5 types: kind, name, every attribute and every member/value/parameter line.

    A spec of its own (on the module spec's offsets), emptied at the end: the module's
    would keep ~10^5 decoded types alive for the garbage collector to walk through every
    later test.
    """
    spec = btf.Spec(VMLINUX.read_bytes(), index=btf.Index(vmlinux.index.offsets))
    assert set(vmlinux_dump.types) == set(range(1, spec.count))
    type_by_id = spec.type_by_id
    with no_collections():
        for tid, (kind, name, rest, items) in vmlinux_dump.types.items():
            t = type_by_id(tid)
            got = (KIND_NAME[t.kind], t.name or "(anon)", *RAW_LINE[t.kind](t))
            assert got == (kind, name, rest.strip(), items), tid
        spec._decoded.clear()  # types refer to their spec: freed now, not by a collection


def test_kernel_spec_is_lazy(vmlinux: btf.Spec) -> None:
    """Opening vmlinux decodes no type; a lookup decodes what it returns and little else."""
    fresh = btf.kernel_spec()
    assert fresh._decoded == {} and fresh.index.names is None
    fresh.type_by_name("task_struct", Kind.STRUCT)
    assert len(fresh._decoded) == 1
    assert fresh.index.names is not None


def test_lookup_errors_are_clear(vmlinux: btf.Spec) -> None:
    with pytest.raises(KeyError, match="no BTF struct named 'no_such_struct_xyz'"):
        vmlinux.type_by_name("no_such_struct_xyz", Kind.STRUCT)
    with pytest.raises(KeyError, match="no BTF type id"):
        vmlinux.type_by_id(vmlinux.count)
    with pytest.raises(KeyError, match="no BTF type id -1"):
        vmlinux.type_by_id(-1)


def test_index_can_be_reused(vmlinux: btf.Spec) -> None:
    """A spec built from a stored index answers like one that scanned (what a cache will do)."""
    vmlinux.names()
    data = vmlinux.index.to_bytes()
    stored = btf.Index.from_bytes(data)
    assert stored.offsets == vmlinux.index.offsets and stored.names == vmlinux.index.names
    again = btf.Spec(VMLINUX.read_bytes(), index=stored)
    for name in ("task_struct", "sk_buff", "pt_regs"):
        got, want = again.type_by_name(name, Kind.STRUCT), vmlinux.type_by_name(name, Kind.STRUCT)
        assert (got.id, got.size, got.members) == (want.id, want.size, want.members)  # type: ignore[attr-defined]
    with pytest.raises(btf.BtfFormatError, match="not a serialised BTF index"):
        btf.Index.from_bytes(b"garbage")
    with pytest.raises(btf.BtfFormatError, match="truncated"):
        btf.Index.from_bytes(data[:100])


# ---- hand-built BTF: split BTF and malformed input ------------------------------------------


def encode(types: list[tuple[int, int, int, list[int]]], strings: bytes) -> bytes:
    """Raw BTF from (name_off, info, size_or_type, extra words) records, as the kernel lays it out."""
    body = b"".join(struct.pack(f"<III{len(x)}I", n, i, s, *x) for n, i, s, x in types)
    return struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(body), len(body), len(strings)) + body + strings


def info(kind: int, vlen: int = 0, kflag: int = 0) -> int:
    return kflag << 31 | kind << 24 | vlen


BASE_STRINGS = b"\0int\0pair\0"  # int@1, pair@5
BASE = encode([(1, info(1), 4, [1 << 24 | 32]),  # [1] int, signed, 32 bits
               (5, info(4, 1), 4, [1, 1, 0])],  # [2] struct pair { int int; }: member named "int"
              BASE_STRINGS)
SPLIT_STRINGS = b"mod_s\0x\0bits\0"  # offsets continue the base's: mod_s@10, x@16, bits@18
SPLIT = encode([(0, info(2), 2, []),  # [3] struct pair *
                (10, info(4, 2, kflag=1), 16, [16, 3, 0, 18, 1, 3 << 24 | 64])],  # [4] mod_s
               SPLIT_STRINGS)


def test_split_btf_continues_its_base_ids_and_strings() -> None:
    base = btf.Spec(BASE)
    split = btf.Spec(SPLIT, base=base)
    assert (base.count, split.first_id, split.count) == (3, 3, 5)
    s = split.type_by_name("mod_s", Kind.STRUCT)
    assert isinstance(s, btf.Struct) and s.size == 16
    assert s.members == [btf.Member("x", 3, 0, 0), btf.Member("bits", 1, 64, 3)]
    ptr = s.member_type("x")
    assert isinstance(ptr, btf.Ptr) and ptr.target.name == "pair"  # resolved in the base
    assert s.member_type("bits").name == "int" and s.member("bits").offset == 8
    assert split.ids_by_name("int") == [1]  # the base's types are found through the split spec
    assert [t.id for t in split.types()] == [3, 4]


def test_a_name_stored_twice_is_one_name() -> None:
    """Strings need not be deduplicated: two types whose names sit at two offsets share a name,
    in the dict index and in the sorted table alike."""
    data = encode([(1, info(4, 0), 0, []), (6, info(7), 0, []), (11, info(1), 4, [32])],
                  b"\0pair\0pair\0int\0")  # [1] struct pair, [2] fwd pair (another offset), [3] int
    spec = btf.Spec(data)
    assert spec.names() == {"pair": (1, 2), "int": (3,)}
    table = btf.NameTable.build(spec)
    assert list(table.entries()) == [("int", array("I", [3])), ("pair", array("I", [1, 2]))]
    assert table["pair"] == [1, 2] and "pai" not in table and len(table) == 2


@pytest.mark.parametrize("data, match", [
    (b"\xeb\x9f" + BASE[2:], "not BTF: magic"),  # big-endian BTF
    (BASE[:10], "too short"),
    (BASE[:-8], "outside the data"),
    (encode([(0, info(4, 5), 4, [])], b"\0"), "truncated|past the end"),
    (encode([(0, info(25), 0, [])], b"\0"), "unknown kind"),
], ids=["magic", "short", "header", "truncated", "kind"])
def test_malformed_btf_is_one_clear_error(data: bytes, match: str) -> None:
    with pytest.raises(btf.BtfFormatError, match=match):
        btf.Spec(data).type_by_id(1)


EXT_STRINGS = b"\0int\0pair\0kprobe/f\0f.bpf.py\0    x = 1\0" + b"0:0\0"
EXT_SPEC = encode([(1, info(1), 4, [1 << 24 | 32]), (5, info(4, 1), 4, [1, 1, 0])], EXT_STRINGS)
SEC, FILE, TEXT, ACCESS = (EXT_STRINGS.index(x) for x in (b"kprobe/f", b"f.bpf.py", b"    x = 1", b"0:0"))


def encode_ext(func: bytes, line: bytes, core: bytes) -> bytes:
    """A .BTF.ext with a 32-byte header (CO-RE records included) and the three tables after it."""
    head = struct.pack("<HBBIIIIIII", 0xEB9F, 1, 0, 32, 0, len(func), len(func), len(line),
                       len(func) + len(line), len(core))
    return head + func + line + core


def table(rec_size: int, sec: int, *records: tuple[int, ...]) -> bytes:
    body = b"".join(struct.pack(f"<{len(r)}I", *r) for r in records)
    return struct.pack("<III", rec_size, sec, len(records)) + body


def test_btf_ext_records_of_every_kind() -> None:
    spec = btf.Spec(EXT_SPEC)
    ext = btf.parse_ext(encode_ext(
        table(8, SEC, (0, 2)),
        table(16, SEC, (0, FILE, TEXT, 7 << 10 | 5), (24, FILE, TEXT, 8 << 10)),
        table(16, SEC, (8, 2, ACCESS, 0))), spec)
    assert ext.func_info == {"kprobe/f": [btf.FuncInfo(0, 2)]}
    assert ext.line_info == {"kprobe/f": [btf.LineInfo(0, "f.bpf.py", "    x = 1", 7, 5),
                                          btf.LineInfo(24, "f.bpf.py", "    x = 1", 8, 0)]}
    assert ext.core_relos == {"kprobe/f": [btf.CoreRelo(8, 2, "0:0", btf.CoreKind.FIELD_BYTE_OFFSET)]}


def test_btf_ext_with_larger_records_skips_the_unknown_tail() -> None:
    """A newer writer may grow a record; the reader steps by the size the table declares."""
    ext = btf.parse_ext(encode_ext(table(12, SEC, (0, 2, 99), (8, 2, 99)), b"", b""), btf.Spec(EXT_SPEC))
    assert ext.func_info == {"kprobe/f": [btf.FuncInfo(0, 2), btf.FuncInfo(8, 2)]}


@pytest.mark.parametrize("data, match", [
    (b"\0" * 8, "too short"),
    (b"\x00\x00" + encode_ext(b"", b"", b"")[2:], "not .BTF.ext"),
    (encode_ext(table(8, SEC, (0, 2))[:-4], b"", b""), "past the end"),
    (encode_ext(table(4, SEC), b"", b""), "record size 4"),
], ids=["short", "magic", "truncated", "record-size"])
def test_malformed_btf_ext_is_one_clear_error(data: bytes, match: str) -> None:
    with pytest.raises(btf.BtfFormatError, match=match):
        btf.parse_ext(data, btf.Spec(EXT_SPEC))


# ---- objects the compiler produces ---------------------------------------------------------

# linux/bpf.h, enum bpf_map_type
MAP_TYPES = {"HashMap": 1, "ArrayMap": 2, "PerfEventArray": 4, "PerCpuHashMap": 5, "PerCpuArrayMap": 6,
             "LruHashMap": 9, "QueueMap": 22, "RingBuffer": 27, "BloomFilterMap": 30}
SCALARS = {"u16": 2, "u32": 4, "i32": 4, "u64": 8, "i64": 8}


@pytest.fixture(scope="module")
def main_object() -> Iterator[tuple[object, btf.ObjectBtf]]:
    c = compiled("runtime_main.bpf.py", "main_bpf")
    yield c, btf.read_object(c.object)


def spec_sizeof(spec: object, text: str) -> int:
    """The size of a spec type string (``u32``, ``struct Key``, ``char[8]``, ``u16[4]``)."""
    m = re.fullmatch(r"(\w+(?: \w+)?)(?:\[(\d+)\])?", text)
    assert m, text
    base, n = m[1], int(m[2] or 1)
    size = spec.struct(base.split()[1]).size if base.startswith("struct ") else SCALARS.get(base, 1)  # type: ignore[attr-defined]
    return size * n


def test_map_definitions_match_the_source(main_object) -> None:  # type: ignore[no-untyped-def]
    c, obj = main_object
    maps = obj.maps()
    assert set(maps) == {m.name for m in c.spec.maps}
    for m in c.spec.maps:
        got = maps[m.name]
        assert got.type == MAP_TYPES[m.kind], m.name
        if m.kind == "PerfEventArray":  # key_size/value_size numbers instead of types
            assert (got.numbers["key_size"], got.numbers["value_size"]) == (4, 4)
            continue
        assert got.max_entries == m.max_entries, m.name
        for side in ("key", "value"):
            text, typ = getattr(m, side), getattr(got, side)
            if text is None or m.kind == "RingBuffer":
                assert typ is None, (m.name, side)
            else:
                assert btf.sizeof(typ) == spec_sizeof(c.spec, text), (m.name, side, text)


def test_struct_layouts_follow_c_rules(main_object) -> None:  # type: ignore[no-untyped-def]
    """``Event {u32 pid; u64 ts; char comm[16]}``: pid@0, ts@8 (aligned), comm@16, size 32."""
    c, obj = main_object
    event = obj.spec.type_by_name("Event", Kind.STRUCT)
    assert isinstance(event, btf.Struct)
    assert [(m.name, m.offset) for m in event.members] == [("pid", 0), ("ts", 8), ("comm", 16)]
    assert event.size == 32
    comm = event.member_type("comm")
    assert isinstance(comm, btf.Array) and comm.nelems == 16 and btf.sizeof(comm.element) == 1
    for name in ("Event", "Key"):
        want = c.spec.struct(name)
        got = obj.spec.type_by_name(name, Kind.STRUCT)
        assert got.size == want.size  # type: ignore[attr-defined]
        assert [(m.name, m.offset) for m in got.members] == [(f.name, f.offset) for f in want.fields]  # type: ignore[attr-defined]


def test_globals_are_in_their_data_sections(main_object) -> None:  # type: ignore[no-untyped-def]
    c, obj = main_object
    names = {}
    for sec in (".rodata", ".data", ".bss"):
        ds = obj.datasec(sec)
        assert ds is not None, sec
        names[sec] = {obj.spec.type_by_id(v.type_id).name for v in ds.vars}
    assert names == {".rodata": {"TARGET", "LIMIT", "TAG"}, ".data": {"scale", "label"},
                     ".bss": {"hits", "tp_hits", "origin"}}


def test_line_info_points_at_the_python_lines(main_object) -> None:  # type: ignore[no-untyped-def]
    c, obj = main_object
    source = (PROGRAMS / "runtime_main.bpf.py").read_text().splitlines()
    assert obj.ext is not None
    sections = {p.section for p in c.spec.programs}
    assert sections <= set(obj.ext.line_info)
    seen = 0
    for records in obj.ext.line_info.values():
        for li in records:
            assert li.file.endswith("runtime_main.bpf.py")
            assert li.text == source[li.line - 1], li
            assert li.insn_off % 8 == 0
            seen += 1
    assert seen >= len(sections)
    put = obj.ext.line_info["syscall"]
    assert put[0].text.startswith("def put(ctx)")


def test_func_info_names_each_program(main_object) -> None:  # type: ignore[no-untyped-def]
    c, obj = main_object
    assert obj.ext is not None
    funcs: dict[str, set[str]] = {}
    for sec, infos in obj.ext.func_info.items():
        for fi in infos:
            f = obj.spec.type_by_id(fi.type_id)
            assert isinstance(f, btf.Func) and isinstance(f.target, btf.FuncProto)
            funcs.setdefault(sec, set()).add(f.name)
    want: dict[str, set[str]] = {}
    for p in c.spec.programs:
        want.setdefault(p.section, set()).add(p.name)
    assert funcs == want


def test_an_object_without_btf_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not a little-endian ELF64"):
        btf.read_object(b"not an object")


def test_runtime_struct_classes_match_the_object_btf(main_object) -> None:  # type: ignore[no-untyped-def]
    """The ctypes classes the runtime builds from the spec lay fields out as the object's BTF does."""
    from tests.runtime_objects import bound

    c, obj = main_object
    m = bound()
    try:
        for name in ("Event", "Key"):
            cls = getattr(m, name)
            want = obj.spec.type_by_name(name, Kind.STRUCT)
            assert ctypes.sizeof(cls) == want.size  # type: ignore[attr-defined]
            assert [(f, getattr(cls, f).offset) for f, *_ in cls._fields_] == [
                (x.name, x.offset) for x in want.members]  # type: ignore[attr-defined]
    finally:
        m.close()


def test_the_btf_package_is_not_imported_by_bpfimport() -> None:
    """A cache hit never pays for BTF: importing bpfimport and its runtime leaves it unloaded."""
    code = ("import sys, bpfimport, bpfimport.runtime.module, bpfimport.cache\n"
            "assert not [m for m in sys.modules if m.startswith('bpfimport.btf')], sys.modules")
    import sys

    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_conftest_fentry_probe_finds_the_function_bpftool_finds(vmlinux: btf.Spec, vmlinux_dump: RawDump,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/conftest.py's ``vmlinux_func_id`` (the fentry probe's attach id) reads through this package.

    It reads vmlinux afresh at each call (~0.1 s): the module's spec of the same file
    stands in for those reads, the probe's own lookup runs as it is.
    """
    from tests.conftest import vmlinux_func_id

    read = btf.kernel_spec
    monkeypatch.setattr(btf, "kernel_spec", lambda path=VMLINUX: vmlinux if Path(path) == VMLINUX else read(path))
    assert vmlinux_func_id("do_nanosleep") == vmlinux_dump.only("FUNC", "do_nanosleep")
    assert vmlinux_func_id("no_such_function_xyz") is None
