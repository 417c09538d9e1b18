"""bpfimport.btf.tracepoints: every record it resolves against the kernel's own format files.

The oracle is tracefs: ``/sys/kernel/tracing/events/CAT/EVENT/format`` is the
kernel's description of each record, read here with a parser of this file's own
(not ``tracepoints.parse_format``).  For each event whose record comes from BTF or
from the syscall table, every field's name, offset, size and signedness must be
the format file's; that covers all of ``sched/*``, all of ``syscalls/*`` and every
other event of this kernel.  Children run as ``nobody`` show what works without
root, and bpftool's reading of vmlinux checks what comes from BTF prototypes.
"""

from __future__ import annotations

import builtins
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types
from collections import Counter
from pathlib import Path

import pytest

from bpfimport.btf import Kind
from bpfimport.btf import tracepoints as tp
from bpfimport.btf.kernel import kernel_btf
from bpfimport.btf.tracepoints import (
    AmbiguousTracepoint,
    TpField,
    TpRecord,
    UnknownTracepoint,
    closest_names,
    raw_tracepoint_args,
    tracepoint_exists,
    tracepoint_record,
)
from tests.btf.conftest import VMLINUX, RawDump
from tests.conftest import ROOT, TRACEFS, need
from tests.support import child, child_env

EVENTS = TRACEFS / "events"
# "field:TYPE NAME;	offset:N;	size:N;	signed:N;" -> NAME (the last identifier before any [N])
ORACLE_FIELD = re.compile(r"field:(?:.*[\s*])?(\w+)(?:\[\d*\])?;\s*offset:(\d+);\s*size:(\d+);\s*signed:([01]);")
ORACLE_TYPE = re.compile(r"field:(.*?)\s*\b\w+((?:\[\d*\])?);")


def format_fields(category: str, event: str) -> list[tuple[str, int, int, bool]]:
    """(name, offset, size, signed) of each field, as the kernel's format file lists them."""
    text = (EVENTS / category / event / "format").read_text()
    return [(m[1], int(m[2]), int(m[3]), m[4] == "1") for m in ORACLE_FIELD.finditer(text)]


def layout(record: TpRecord) -> list[tuple[str, int, int, bool]]:
    return [(f.name, f.offset, f.size, f.signed) for f in record.fields]


def all_events() -> list[tuple[str, str]]:
    return sorted((c.name, e.name) for c in EVENTS.iterdir() if c.is_dir()
                  for e in c.iterdir() if (e / "format").is_file())


@pytest.fixture(scope="module")
def records() -> dict[tuple[str, str], TpRecord]:
    """Every event's record as root resolves it (BTF and the table first, the format file last)."""
    need(VMLINUX.exists(), f"this kernel has no BTF ({VMLINUX})")
    need(os.geteuid() == 0 and (EVENTS).is_dir(), f"reading {EVENTS} needs root and tracefs mounted")
    return {key: tracepoint_record(*key) for key in all_events()}


# ---- against the format files (root) --------------------------------------------------------


def test_every_sched_event_matches_its_format_file(tracing: None, records: dict) -> None:
    sched = {k: r for k, r in records.items() if k[0] == "sched"}
    assert len(sched) > 10 and ("sched", "sched_switch") in sched
    for (cat, event), record in sched.items():
        assert layout(record) == format_fields(cat, event), event
    from_btf = [e for (_, e), r in sched.items() if r.source == "btf"]
    assert {"sched_switch", "sched_process_fork", "sched_process_exec"} <= set(from_btf)


def test_every_syscall_event_matches_its_format_file(tracing: None, records: dict) -> None:
    """All of syscalls/*: BTF's layout plus the shipped table's names and types, field by field."""
    syscalls = {k: r for k, r in records.items() if k[0] == "syscalls"}
    assert len(syscalls) >= 600
    for (cat, event), record in syscalls.items():
        assert record.source == "syscalls" and record.relocatable, event
        assert layout(record) == format_fields(cat, event), event
        text = (EVENTS / cat / event / "format").read_text()
        ctypes = [m[1] + m[2] for m in ORACLE_TYPE.finditer(text)]
        assert [f.ctype for f in record.fields] == ctypes, event
    enter = records[("syscalls", "sys_enter_openat")]
    assert enter.btf_struct == "syscall_trace_enter"
    filename = enter.field("filename")
    assert filename == TpField("filename", 24, 8, "const char *", False, False, None, filename.type_id,  # type: ignore[union-attr]
                               ("args", 1), user_pointer=True)
    assert enter.field("flags").user_pointer is False  # type: ignore[union-attr]
    ret = records[("syscalls", "sys_exit_openat")].field("ret")
    assert (ret.ctype, ret.signed, ret.access) == ("long", True, ("ret",))  # type: ignore[union-attr]


def test_every_event_resolved_from_btf_matches_its_format_file(tracing: None, records: dict) -> None:
    """Every event of every category (not a sample): each BTF-resolved field's offset and size."""
    sources = Counter(r.source for r in records.values())
    assert sources["btf"] > 1000  # this kernel: 1267 of 1603 non-syscall events
    for (cat, event), record in records.items():
        if record.source == "btf":
            assert record.btf_struct and record.btf_struct.startswith("trace_event_raw_")
            assert layout(record) == format_fields(cat, event), f"{cat}/{event}"
            struct = kernel_btf().find(record.btf_struct, Kind.STRUCT)
            assert struct is not None
            assert all(f.type_id is not None and f.access for f in record.fields)


def test_format_records_are_the_format_file(tracing: None, records: dict) -> None:
    fallback = {k: r for k, r in records.items() if r.source == "format"}
    assert fallback  # this kernel has events BTF can't place (sched_wakeup is one)
    for (cat, event), record in fallback.items():
        assert not record.relocatable and record.btf_struct is None
        assert layout(record) == format_fields(cat, event)
        assert all(f.type_id is None and f.access is None for f in record.fields)


def test_data_loc_and_array_fields(tracing: None, records: dict) -> None:
    fork = records[("sched", "sched_process_fork")]
    comm = fork.field("parent_comm")
    assert comm is not None and (comm.data_loc, comm.size, comm.ctype) == (True, 4, "__data_loc char[]")
    assert comm.access == ("__data_loc_parent_comm",)
    assert format_fields("sched", "sched_process_fork")[4][:3] == ("parent_comm", comm.offset, 4)
    switch = records[("sched", "sched_switch")]
    prev = switch.field("prev_comm")
    assert prev is not None and (prev.ctype, prev.array_len, prev.size) == ("char[16]", 16, 16)
    assert switch.field("prev_pid").ctype == "pid_t"  # type: ignore[union-attr]
    assert switch.field("common_pid").access == ("ent", "pid")  # type: ignore[union-attr]


def test_syscall_table_is_every_syscall_event(tracing: None) -> None:
    names = {e.name for e in (EVENTS / "syscalls").iterdir() if e.is_dir()}
    table = tp.syscall_table()
    assert {f"sys_{w}_{n}" for n in table for w in ("enter", "exit")} == names


def test_the_shipped_table_is_what_the_script_writes(tracing: None, tmp_path: Path) -> None:
    out = tmp_path / "syscalls.json"
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_syscall_table.py"), "--out", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    fresh = json.loads(out.read_text())["syscalls"]
    shipped = tp.syscall_table()  # the installed package's file (the wheel's, in CI's wheel pass)
    assert {name: tuple(tuple(a) for a in args) for name, args in fresh.items()} == shipped


def test_wrong_category_names_the_right_one(tracing: None) -> None:
    with pytest.raises(UnknownTracepoint, match="sched_switch is in sched/sched_switch"):
        tracepoint_record("syscalls", "sched_switch")
    with pytest.raises(UnknownTracepoint, match=r"closest in sched are: sched_switch"):
        tracepoint_record("sched", "sched_swich")
    with pytest.raises(UnknownTracepoint, match=r"no tracepoint category 'schedd'; the closest are: sched"):
        tracepoint_record("schedd", "no_such_event_xyz")


def test_existence_follows_tracefs(tracing: None) -> None:
    assert tracepoint_exists("sched", "sched_switch") and tracepoint_exists("syscalls", "sys_exit_read")
    assert not tracepoint_exists("syscalls", "sched_switch") and not tracepoint_exists("sched", "nope_xyz")


# ---- without root ---------------------------------------------------------------------------

AS_NOBODY = """
import json, sys
from bpfimport.btf import tracepoints as tp
out = {}
for cat, event in json.loads(sys.argv[1]):
    try:
        r = tp.tracepoint_record(cat, event)
        out[f"{cat}/{event}"] = [r.source, [[f.name, f.offset, f.size, f.signed] for f in r.fields]]
    except LookupError as e:
        out[f"{cat}/{event}"] = [type(e).__name__, str(e)]
exists = {f"{c}/{e}": tp.tracepoint_exists(c, e) for c, e in json.loads(sys.argv[2])}
print(json.dumps([out, exists]))
"""


@pytest.fixture(scope="module")
def as_nobody(records: dict) -> tuple[dict, dict]:
    """Resolve every event, and ask whether it exists, in a child running as ``nobody``."""
    need(shutil.which("setpriv") is not None, "setpriv is not installed")
    keys = sorted(records)
    bogus = [("sched", "no_such_event_xyz"), ("syscalls", "sys_enter_no_such_call")]
    with tempfile.TemporaryDirectory(prefix="bpfimport-tp-") as folder:
        os.chmod(folder, 0o755)
        args = []
        for i, data in enumerate((keys + [("sched", "sched_swich")], keys + bogus)):
            path = Path(folder, f"{i}.json")
            path.write_text(json.dumps(data))
            path.chmod(0o644)
            args.append(str(path))
        code = f"import sys; sys.argv[1:] = [open(p).read() for p in {args!r}]\n" + AS_NOBODY
        r = child(code, "/", env=child_env(XDG_CACHE_HOME="/nonexistent"), user="nobody", timeout=120)
    assert r.returncode == 0, r.stderr
    got, exists = json.loads(r.stdout)
    return got, exists


def test_nobody_resolves_what_btf_and_the_table_place(tracing: None, records: dict, as_nobody: tuple) -> None:
    """Without root the same records come from BTF and the table; the rest is a clear error."""
    got, _ = as_nobody
    ambiguous = 0
    for (cat, event), record in records.items():
        mine = got[f"{cat}/{event}"]
        if record.source in ("btf", "syscalls"):
            assert mine == [record.source, [list(x) for x in layout(record)]], f"{cat}/{event}"
        elif cat != "ftrace":
            assert mine[0] in ("AmbiguousTracepoint", "UnknownTracepoint"), mine
            ambiguous += mine[0] == "AmbiguousTracepoint"
            assert f"{TRACEFS}/events/{cat}/{event}/format" in mine[1] or mine[0] == "UnknownTracepoint"
    assert ambiguous > 0
    typo = got["sched/sched_swich"]
    assert typo[0] == "UnknownTracepoint" and "the closest are: sched_switch" in typo[1]
    wakeup = got["sched/sched_wakeup"]
    assert wakeup[0] == "AmbiguousTracepoint"
    assert "trace_event_raw_sched_wakeup_template" in wakeup[1] and "root can read" in wakeup[1]


def test_nobody_knows_which_tracepoints_exist(tracing: None, records: dict, as_nobody: tuple) -> None:
    _, exists = as_nobody
    for cat, event in records:
        if cat != "ftrace":  # ftrace's own events are no tracepoints: BTF has no btf_trace_ for them
            assert exists[f"{cat}/{event}"], f"{cat}/{event}"
    assert not exists["sched/no_such_event_xyz"] and not exists["syscalls/sys_enter_no_such_call"]


def test_ambiguity_names_the_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    """With tracefs out of reach (as for any user), an event several classes fit is an error listing them."""
    need(VMLINUX.exists(), f"this kernel has no BTF ({VMLINUX})")
    monkeypatch.setattr(tp, "TRACEFS", Path("/nonexistent-tracefs"))
    with pytest.raises(AmbiguousTracepoint) as caught:
        tracepoint_record("sched", "sched_wakeup")
    candidates = caught.value.candidates
    assert "trace_event_raw_sched_wakeup_template" in candidates and len(candidates) >= 2
    assert "/nonexistent-tracefs/events/sched/sched_wakeup/format" in str(caught.value)
    with pytest.raises(UnknownTracepoint, match=r"closest are: sched_switch"):
        tracepoint_record("sched", "sched_swich")


# ---- raw tracepoint arguments, against bpftool ----------------------------------------------


def test_raw_tracepoint_args_are_the_probe_prototype(vmlinux_dump: RawDump) -> None:
    """sched_switch: types from btf_trace_sched_switch, names from __bpf_trace_sched_switch, per bpftool."""
    typedef = vmlinux_dump.only("TYPEDEF", "btf_trace_sched_switch")
    ptr = vmlinux_dump.attr(typedef, "type_id")
    proto = vmlinux_dump.attr(ptr, "type_id")
    want_ids = [int(re.search(r"type_id=(\d+)", x)[1]) for x in vmlinux_dump.types[proto][3]]  # type: ignore[index]
    func = vmlinux_dump.only("FUNC", "__bpf_trace_sched_switch")
    named = vmlinux_dump.types[vmlinux_dump.attr(func, "type_id")][3]
    want_names = [re.match(r"'(\w*)'", x)[1] for x in named]  # type: ignore[index]
    got = raw_tracepoint_args("sched_switch")
    assert got == list(zip(want_names[1:], want_ids[1:]))
    assert [n for n, _ in got] == ["preempt", "prev", "next", "prev_state"]  # type: ignore[union-attr]
    assert raw_tracepoint_args("no_such_tracepoint_xyz") is None


def test_raw_tracepoint_args_of_a_shared_class(vmlinux_dump: RawDump) -> None:
    """alarmtimer_start's class (alarm_class) names its parameters; sched_wakeup's candidate
    classes call theirs 'p', 't', 'tsk' or 'task', so no name is certain: arg0."""
    func = vmlinux_dump.only("FUNC", "__bpf_trace_alarm_class")
    named = vmlinux_dump.types[vmlinux_dump.attr(func, "type_id")][3]
    want = [re.match(r"'(\w*)' type_id=(\d+)", x).groups() for x in named[1:]]  # type: ignore[union-attr]
    assert not vmlinux_dump.by_name.get(("FUNC", "__bpf_trace_alarmtimer_start"))
    assert raw_tracepoint_args("alarmtimer_start") == [(n, int(i)) for n, i in want]
    args = raw_tracepoint_args("sched_wakeup")
    assert args is not None and [n for n, _ in args] == ["arg0"]
    assert kernel_btf().spec.type_by_id(args[0][1]).kind == Kind.PTR


# ---- units -----------------------------------------------------------------------------------


FORMAT = """name: demo
ID: 1
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;
\tfield:__data_loc char[] name;\toffset:24;\tsize:4;\tsigned:0;
\tfield:const char *const * argv;\toffset:32;\tsize:8;\tsigned:0;
\tfield:long vals[3];\toffset:40;\tsize:24;\tsigned:1;

print fmt: "%s", __get_str(name)
"""


def test_parse_format_reads_every_declaration_shape() -> None:
    fields = list(tp.parse_format(FORMAT))
    assert [(f.name, f.ctype, f.offset, f.size, f.signed, f.data_loc, f.array_len) for f in fields] == [
        ("common_type", "unsigned short", 0, 2, False, False, None),
        ("common_pid", "int", 4, 4, True, False, None),
        ("comm", "char[16]", 8, 16, False, False, 16),
        ("name", "__data_loc char[]", 24, 4, False, True, None),
        ("argv", "const char *const *", 32, 8, False, False, None),
        ("vals", "long[3]", 40, 24, True, False, 3),
    ]


def test_closest_names_orders_by_likeness() -> None:
    names = ["next_pid", "prev_comm", "prev_pid", "common_pid"]
    assert closest_names("prev_pd", names)[0] == "prev_pid"
    assert sorted(closest_names("prev_pd", names)) == sorted(names)  # every name, closest first
    assert closest_names("x", names, limit=2) == closest_names("x", names)[:2]
    record = TpRecord("sched", "sched_switch", tuple(TpField(n, 0, 4, "int", True, False, None, None)
                                                     for n in names), None, "format")
    msg = record.unknown_field_message("prev_pd")
    assert msg.startswith("sched/sched_switch has no field 'prev_pd'; its fields are: prev_pid, ")


def test_syscall_table_ships_as_package_data() -> None:
    table = tp.syscall_table()
    assert table["openat"] == (("dfd", "int"), ("filename", "const char *"), ("flags", "int"), ("mode", "umode_t"))
    assert table["execve"][1] == ("argv", "const char *const *")


def test_package_data_without_a_loader_reads_through_importlib_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    """A loader without get_data (some zip importers, frozen apps) falls back on the resources API."""
    want = tp._package_data(tp.SYSCALL_TABLE)
    monkeypatch.setattr(tp, "__spec__", types.SimpleNamespace(loader=None))
    imported = []
    real = builtins.__import__

    def spy(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        imported.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", spy)
    assert tp._package_data(tp.SYSCALL_TABLE) == want
    assert {"importlib.resources", "importlib_resources"} & set(imported)
