"""Kernel types that only a module's BTF has: ``kernel.NAME`` finds them in the module's split
BTF (``/sys/kernel/btf/<module>``, ids continuing vmlinux's), and the object's CO-RE records
name the module's struct and its member path, for libbpf to find in the running kernel's
module BTF.

This kernel has no module BTF, so a hand-built one stands in: a folder holding a copy of
vmlinux and a split blob whose struct ``fake_mod_conn`` has members of vmlinux's types.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from bpfimport import CompileError, btf
from bpfimport.btf import kernel, tracepoints
from bpfimport.compiler import core
from tests.btf.test_btf import encode, info
from tests.compiler.test_core_relocation import compiled, relocations

VMLINUX = Path("/sys/kernel/btf/vmlinux")

HEAD = "from bpfimport.lang import *\nout = ArrayMap(key=u32, value=u64, max_entries=4)\n"
PROGRAM = HEAD + """
@raw_tracepoint("sched_switch")
def p(ctx) -> int:
    c = kernel.fake_mod_conn(ctx.args[0])
    out[0] = c.pid + c.bytes
    out[1] = c.owner.tgid
    return 0
"""


def split_module(vmlinux: bytes, names: tuple[str, ...], event: str | None = None,
                 base: btf.Spec | None = None) -> bytes:
    """A module's split BTF continuing ``vmlinux``: per name, ``struct NAME { struct task_struct
    *owner; pid_t pid; u64 bytes; }``, the members' types vmlinux's own ids; with ``event``, its
    tracepoint record ``struct trace_event_raw_EVENT { struct trace_entry ent; u32 conn_id; }``."""
    base = base if base is not None else btf.Spec(vmlinux)  # one scan serves several modules
    str_base = struct.unpack_from("<HBBIIIII", vmlinux)[7]  # the base's string section size
    task, pid_t, u64, u32, entry = (base.type_by_name(n, k).id for n, k in (
        ("task_struct", btf.Kind.STRUCT), ("pid_t", btf.Kind.TYPEDEF), ("u64", btf.Kind.TYPEDEF),
        ("u32", btf.Kind.TYPEDEF), ("trace_entry", btf.Kind.STRUCT)))
    strings = b"owner\0pid\0bytes\0"  # owner@0, pid@6, bytes@10 (after the base's strings)
    ptr = base.count  # [count] struct task_struct *: the first id of the module
    types = [(0, info(2), task, [])]
    for name in names:
        at = len(strings)
        strings += name.encode() + b"\0"
        types.append((str_base + at, info(4, 3), 24, [
            str_base, ptr, 0, str_base + 6, pid_t, 64, str_base + 10, u64, 128]))
    if event is not None:
        at = len(strings)
        strings += f"trace_event_raw_{event}\0ent\0conn_id\0".encode()
        ent, conn = at + len(f"trace_event_raw_{event}") + 1, at + len(f"trace_event_raw_{event}") + 5
        types.append((str_base + at, info(4, 2), 16, [str_base + ent, entry, 0, str_base + conn, u32, 64]))
    return encode(types, strings)


@pytest.fixture(scope="module")
def btf_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A /sys/kernel/btf look-alike with modules ``fakemod`` (struct fake_mod_conn) and
    ``othermod`` (struct other_mod_conn), built once for the module's tests (~0.3 s), with
    the index cache folder beside it that the first test fills."""
    if not VMLINUX.exists():
        pytest.skip(f"the kernel has no BTF ({VMLINUX}): kernel types need it")
    folder = tmp_path_factory.mktemp("modules") / "btf"
    folder.mkdir()
    vmlinux = VMLINUX.read_bytes()
    (folder / "vmlinux").write_bytes(vmlinux)
    base = btf.Spec(vmlinux)
    (folder / "fakemod").write_bytes(split_module(vmlinux, ("fake_mod_conn",), "fake_mod_event", base))
    (folder / "othermod").write_bytes(split_module(vmlinux, ("other_mod_conn",), base=base))
    return folder


@pytest.fixture
def modules(monkeypatch: pytest.MonkeyPatch, btf_folder: Path) -> Path:
    """The look-alike made the compiler's kernel BTF for this test: a fresh KernelBtf (its
    modules not read yet) and a fresh type system, as in a new process."""
    folder = btf_folder
    tmp_path = folder.parent
    monkeypatch.setattr(kernel, "_LOADED", {})
    kbtf = kernel.kernel_btf(folder / "vmlinux", cache_dir=tmp_path / "cache")
    monkeypatch.setattr(core, "_SYSTEM", [core.KernelTypeSystem(kbtf)])
    monkeypatch.setattr(tracepoints, "kernel_btf", lambda: kbtf)
    monkeypatch.setattr(tracepoints, "_tracefs_events", lambda: None)  # no such event on this kernel
    return folder


def test_a_module_struct_is_relocated_by_its_name_and_member_path(modules: Path) -> None:
    _, obj = compiled(PROGRAM, "modconn")
    assert sorted(relocations(obj)) == sorted([
        ("FIELD_BYTE_OFFSET", "fake_mod_conn.pid"), ("FIELD_BYTE_OFFSET", "fake_mod_conn.bytes"),
        ("FIELD_BYTE_OFFSET", "fake_mod_conn.owner"), ("FIELD_BYTE_OFFSET", "task_struct.tgid")])
    conn = obj.spec.type_by_name("fake_mod_conn", btf.Kind.STRUCT)  # the object's own BTF
    assert isinstance(conn, btf.Struct) and conn.size == 24
    assert [(m.name, m.offset) for m in conn.members] == [("owner", 0), ("pid", 8), ("bytes", 16)]
    assert conn.member_type("pid").name == "pid_t"  # a vmlinux type, reached from the module's


def test_a_module_tracepoints_record_is_relocated_against_the_modules_struct(modules: Path) -> None:
    record = tracepoints.tracepoint_record("fakemod", "fake_mod_event")
    assert record.btf_struct == "trace_event_raw_fake_mod_event" and record.source == "btf"
    _, obj = compiled(HEAD + """
@tracepoint("fakemod/fake_mod_event")
def p(ctx) -> int:
    out[0] = ctx.conn_id
    return 0
""", "modevent")
    assert relocations(obj) == [("FIELD_BYTE_OFFSET", "trace_event_raw_fake_mod_event.conn_id")]


def test_a_type_in_no_btf_names_close_matches_modules_included(modules: Path) -> None:
    with pytest.raises(CompileError) as e:
        compiled(PROGRAM.replace("kernel.fake_mod_conn", "kernel.fake_mod_cnn"), "typo")
    assert e.value.message == "the kernel has no type named 'fake_mod_cnn'"
    assert (e.value.hint or "").startswith("similar kernel types: fake_mod_conn")


def test_a_second_modules_type_is_refused_not_misread(modules: Path) -> None:
    compiled(PROGRAM, "first")
    with pytest.raises(CompileError) as e:
        compiled(PROGRAM.replace("fake_mod_conn", "other_mod_conn"), "second")
    assert e.value.message == ("kernel type 'other_mod_conn' is in module othermod's BTF, but this "
                               "process already uses types of module fakemod")


def test_loading_without_the_module_says_which_field_is_missing(modules: Path, kernel: None) -> None:
    """This kernel has no module ``fakemod``: libbpf finds no candidate for the struct, poisons
    the read, and the verifier's complaint names the struct and field, with a hint."""
    from bpfimport.compiler import compile_source
    from bpfimport.errors import VerifierError
    from bpfimport.runtime.object import BpfObject

    cm = compile_source(PROGRAM + 'LICENSE = "GPL"\n', "/virtual/m.bpf.py", "m_bpf")
    with pytest.raises(VerifierError) as e:
        BpfObject(cm.object, cm.spec, "m_bpf").load()
    assert str(e.value).splitlines()[1:] == [
        "  m.bpf.py:7: out[0] = c.pid + c.bytes",
        "  failed to resolve CO-RE relocation <byte_off> [17] struct fake_mod_conn.pid (0:1 @ offset 8)",
        "  hint: the running kernel's BTF (vmlinux and every loaded module's) has no such type or "
        "field: a kernel type of a module needs that module loaded"]
