"""CO-RE is real: the objects carry CO-RE relocation records by member name, libbpf moves
each read to where the target BTF has the field, and bpftool loads the objects.

The records are read back with ``bpfimport.btf`` (``.BTF.ext``); the relocation is shown
against a *custom* target BTF in which ``task_struct`` has another layout (libbpf's
``btf_custom_path``): the same object then reads other memory, exactly where that BTF says.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from bpfimport import btf
from bpfimport.compiler import compile_source
from tests.btf.test_btf import encode, info
from tests.conftest import PROGRAMS, need

VMLINUX = Path("/sys/kernel/btf/vmlinux")

IDS = """\
from bpfimport.lang import *

ids = ArrayMap(key=u32, value=u64, max_entries=3)


@raw_tracepoint("sched_switch")
def read_ids(ctx) -> int:
    t = current_task()
    ids[0] = t.pid
    ids[1] = t.tgid
    return 0
"""


@pytest.fixture(autouse=True)
def kernel_btf() -> None:
    need(VMLINUX.exists(), f"the kernel has no BTF ({VMLINUX}): kernel types need it")


def compiled(source: str, name: str = "prog") -> tuple[bytes, btf.ObjectBtf]:
    obj = compile_source(source, f"/virtual/{name}.bpf.py", f"{name}_bpf").object
    return obj, btf.read_object(obj)


def access_names(spec: btf.Spec, type_id: int, access: str) -> str:
    """A CO-RE access string in words, walked through the object's own BTF: ``0:93`` of
    task_struct is ``task_struct.tgid`` (an anonymous member is ``(anon)``)."""
    t = btf.skip_qualifiers(spec.type_by_id(type_id))
    words = [t.name]
    for step in [int(x) for x in access.split(":")[1:]]:
        if isinstance(t, btf.Composite):
            m = t.members[step]
            words.append("." + (m.name or "(anon)"))
            t = btf.skip_qualifiers(spec.type_by_id(m.type_id))
        else:
            assert isinstance(t, btf.Array)
            words.append(f"[{step}]")
            t = btf.skip_qualifiers(t.element)
    return "".join(words)


def relocations(objbtf: btf.ObjectBtf) -> list[tuple[str, str]]:
    assert objbtf.ext is not None
    return [(r.kind.name, access_names(objbtf.spec, r.type_id, r.access))
            for relos in objbtf.ext.core_relos.values() for r in relos]


def test_each_read_carries_a_co_re_record_naming_its_field() -> None:
    src = IDS.replace("    return 0\n", """\
    ids[0] = t.real_parent.tgid + t.mm.arg_start + t.se.vruntime + t.comm[2]
    ids[1] = t.sched_reset_on_fork
    ids[2] = t.rcu_read_unlock_special.b.blocked + t.thread_pid.numbers[1].nr
    return 0
""", 1)
    _, objbtf = compiled(src)
    relos = relocations(objbtf)
    byte_off = [where for kind, where in relos if kind == "FIELD_BYTE_OFFSET"]
    assert byte_off == ["task_struct.pid", "task_struct.tgid", "task_struct.real_parent",
                        "task_struct.tgid", "task_struct.mm", "mm_struct.(anon).arg_start",
                        "task_struct.se.vruntime", "task_struct.comm[2]",
                        "task_struct.sched_reset_on_fork",
                        "task_struct.rcu_read_unlock_special.b.blocked",  # a union, a struct in it
                        "task_struct.thread_pid", "pid.numbers[1].nr"]  # a flexible array
    bitfield = sorted(kind for kind, where in relos if where == "task_struct.sched_reset_on_fork")
    assert bitfield == ["FIELD_BYTE_OFFSET", "FIELD_BYTE_SIZE", "FIELD_LSHIFT_U64",
                        "FIELD_RSHIFT_U64"]


def test_the_object_holds_the_kernel_structs_it_uses_and_no_more() -> None:
    _, objbtf = compiled(IDS)
    kernel = btf.kernel_spec()
    real = kernel.type_by_name("task_struct", btf.Kind.STRUCT)
    [task] = objbtf.spec.types_by_name("task_struct", btf.Kind.STRUCT)
    assert isinstance(task, btf.Struct) and isinstance(real, btf.Struct)
    # every member, in the kernel's order at the kernel's offsets (the kernel refuses a BTF
    # struct whose offsets go backwards) ...
    assert [(m.name, m.bit_offset) for m in task.members] == [(m.name, m.bit_offset) for m in real.members]
    # ... but only the members read have their real types: the rest are placeholders of the
    # same size, so the kernel's type graph does not follow them into the object
    def member_type(name: str) -> btf.Type:
        return btf.skip_qualifiers(objbtf.spec.type_by_id(task.member(name).type_id))  # type: ignore[union-attr]

    pid = member_type("pid")
    assert isinstance(pid, btf.Int) and pid.name == "int"
    se = member_type("se")  # struct sched_entity, not read: bytes
    assert isinstance(se, btf.Array) and se.nelems == btf.sizeof(kernel.type_by_id(real.member("se").type_id))
    parent = member_type("real_parent")  # a task_struct *, not read: a void *
    assert isinstance(parent, btf.Ptr) and parent.target_id == 0
    assert not objbtf.spec.types_by_name("sched_entity", btf.Kind.STRUCT)
    assert len(list(objbtf.spec.types())) < 100


def test_the_same_access_compiles_twice_in_one_process() -> None:
    """LLVM's own CO-RE pass keeps a process-wide table of the globals it makes: the second
    module with the same access used to hit a freed module's global (an LLVM assertion)."""
    first, _ = compiled(IDS, "one")
    second, _ = compiled(IDS, "one")
    assert first == second


# ---- in the kernel ---------------------------------------------------------------------------


@pytest.fixture
def ids_mod(kernel: None, bpf_dir: Path) -> Iterator[ModuleType]:
    import importlib

    import bpfimport  # noqa: F401 - the import hook

    (bpf_dir / "core_ids.bpf.py").write_text(IDS + '\nLICENSE = "GPL"\n')
    mod = importlib.import_module("core_ids_bpf")
    yield mod
    mod.close()


def ids_in_a_thread(mod: ModuleType) -> tuple[int, int, int]:
    """(pid, tgid) as the program reads them for a second thread, and that thread's id."""
    got: list[int] = []

    def body() -> None:
        mod.read_ids.test_run(ctx=bytes(32))
        got.extend([mod.ids[0], mod.ids[1], threading.get_native_id()])

    t = threading.Thread(target=body)
    t.start()
    t.join()
    return got[0], got[1], got[2]


def swapped_task_struct(path: Path) -> None:
    """A raw BTF file whose ``task_struct`` has ``tgid`` where the kernel has ``pid`` and
    ``pid`` where the kernel has ``tgid`` (the kernel's offsets come from its BTF, which
    tests/btf/test_btf.py checks against bpftool)."""
    real = btf.kernel_spec().type_by_name("task_struct", btf.Kind.STRUCT)
    assert isinstance(real, btf.Struct)
    pid, tgid = real.member("pid").bit_offset, real.member("tgid").bit_offset
    assert pid < tgid
    strings = b"\0int\0task_struct\0tgid\0pid\0"  # int@1 task_struct@5 tgid@17 pid@22
    path.write_bytes(encode([
        (1, info(1), 4, [1 << 24 | 32]),  # [1] int
        (5, info(4, 2), real.size, [17, 1, pid, 22, 1, tgid]),  # [2] tgid@pid, pid@tgid
    ], strings))


def test_the_relocated_offset_follows_the_target_btf(ids_mod: ModuleType, tmp_path: Path) -> None:
    pid, tgid, tid = ids_in_a_thread(ids_mod)
    assert (pid, tgid) == (tid, os.getpid())  # the running kernel's layout
    assert tid != os.getpid()
    ids_mod.close()
    custom = tmp_path / "swapped.btf"
    swapped_task_struct(custom)
    ids_mod.load(btf_custom_path=str(custom))  # the same object, relocated against that BTF
    pid, tgid, tid = ids_in_a_thread(ids_mod)
    assert (pid, tgid) == (os.getpid(), tid)  # each read went where the custom BTF put the field
    # libbpf says so: each instruction's offset was patched to the other field's
    real = btf.kernel_spec().type_by_name("task_struct", btf.Kind.STRUCT)
    pid_at, tgid_at = (real.member(n).offset for n in ("pid", "tgid"))  # type: ignore[attr-defined]
    log = ids_mod.__bpf_object__.libbpf_log
    assert f"imm {pid_at} -> {tgid_at}" in log and f"imm {tgid_at} -> {pid_at}" in log


def test_bpftool_loads_the_objects(kernel: None, tmp_path: Path) -> None:
    bpftool = shutil.which("bpftool")
    need(bpftool is not None, "bpftool is not installed")
    need(Path("/sys/fs/bpf").is_dir(), "bpffs is not mounted at /sys/fs/bpf")
    obj = compile_source((PROGRAMS / "kernel_data.bpf.py").read_text(), str(tmp_path / "k.bpf.py"),
                         "k_bpf").object
    path = tmp_path / "kernel_data.o"
    path.write_bytes(obj)
    pins = Path("/sys/fs/bpf") / f"bpfimport-core-{os.getpid()}"
    try:
        r = subprocess.run([bpftool, "-d", "prog", "loadall", str(path), str(pins)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr[-3000:]
        assert sorted(os.listdir(pins)) == ["on_exec", "on_exit", "on_fork", "on_open", "on_open_exit",
                                            "read_task"]
        assert "CO-RE relocating [" in r.stderr and "BTF is optional" not in r.stderr
    finally:
        shutil.rmtree(pins, ignore_errors=True)


# ---- code for old and new kernels: field, type and enum value relocations --------------------

CHECKS = """\
from bpfimport.lang import *

checks = ArrayMap(key=u32, value=i64, max_entries=8)


@raw_tracepoint("sched_switch")
def read_checks(ctx) -> int:
    t = current_task()
    checks[0] = field_exists(t.loginuid)
    if field_exists(t.comm):  # guarded: without comm the read below is never verified
        checks[1] = field_size(t.comm)
    else:
        checks[1] = -1
    checks[2] = type_exists(kernel.bpf_map)
    checks[3] = type_size(kernel.task_struct)
    checks[4] = enum_exists(kernel.bpf_map_type.BPF_MAP_TYPE_HASH)
    checks[5] = enum_value(kernel.bpf_map_type.BPF_MAP_TYPE_HASH)
    checks[6] = enum_exists(kernel.bpf_map_type.BPF_MAP_TYPE_ARRAY)
    if field_exists(t.loginuid):
        checks[7] = t.loginuid.val
    else:
        checks[7] = -1
    return 0


LICENSE = "GPL"
"""


@pytest.fixture
def checks_mod(kernel: None, bpf_dir: Path) -> Iterator[ModuleType]:
    import importlib

    import bpfimport  # noqa: F401 - the import hook

    (bpf_dir / "core_checks.bpf.py").write_text(CHECKS)
    mod = importlib.import_module("core_checks_bpf")
    yield mod
    mod.close()


def run_checks(mod: ModuleType) -> list[int]:
    mod.read_checks.test_run(ctx=bytes(32))
    return [mod.checks[i] for i in range(8)]


def old_kernel_btf(path: Path) -> None:
    """A target with little in it: task_struct holds only pid (no comm, no loginuid) and is
    123 bytes; there is no struct bpf_map; enum bpf_map_type has only BPF_MAP_TYPE_HASH, = 77."""
    strings = b"\0int\0task_struct\0pid\0bpf_map_type\0BPF_MAP_TYPE_HASH\0"
    # int@1 task_struct@5 pid@17 bpf_map_type@21 BPF_MAP_TYPE_HASH@34
    path.write_bytes(encode([
        (1, info(1), 4, [1 << 24 | 32]),  # [1] int
        (5, info(4, 1), 123, [17, 1, 0]),  # [2] struct task_struct { int pid; }
        (21, info(6, 1), 4, [34, 77]),  # [3] enum bpf_map_type { BPF_MAP_TYPE_HASH = 77 }
    ], strings))


def test_field_type_and_enum_relocations_on_this_kernel_and_an_older_one(
        checks_mod: ModuleType, tmp_path: Path) -> None:
    kernel = btf.kernel_spec()
    task = kernel.type_by_name("task_struct", btf.Kind.STRUCT)
    assert isinstance(task, btf.Struct)
    login = btf.skip_qualifiers(kernel.type_by_id(task.member("loginuid").type_id))
    uid = Path("/proc/self/loginuid").read_text().strip()
    assert isinstance(login, btf.Struct) and [m.name for m in login.members] == ["val"]
    assert run_checks(checks_mod) == [1, 16, 1, task.size, 1, 1, 1, int(uid) if uid != "-1" else (1 << 32) - 1]
    checks_mod.close()
    older = tmp_path / "older.btf"
    old_kernel_btf(older)
    checks_mod.load(btf_custom_path=str(older))
    assert run_checks(checks_mod) == [0, -1, 0, 123, 1, 77, 0, -1]


# ---- on the kernel it was compiled for, the object's own BTF is the CO-RE target ------------


def test_the_spec_names_the_kernel_its_relocated_types_came_from() -> None:
    from bpfimport.btf.boot import vmlinux_identity
    from bpfimport.spec import CORE_KERNEL_KEY

    core = compile_source(IDS, "/virtual/ids.bpf.py", "ids_bpf").spec
    plain = compile_source(IDS.replace("t.pid", "1").replace("t.tgid", "2").replace(
        "    t = current_task()\n", ""), "/virtual/plain.bpf.py", "plain_bpf").spec
    assert core.extra[CORE_KERNEL_KEY] == vmlinux_identity()
    assert CORE_KERNEL_KEY not in plain.extra  # no relocations: nothing to name


def test_on_that_kernel_libbpf_never_reads_vmlinux(ids_mod: ModuleType) -> None:
    ids_mod.load()
    log = ids_mod.__bpf_object__.libbpf_log
    assert "loading kernel BTF" not in log, log
    assert "found target candidate" in log  # relocated all the same, against the object's BTF
    pid, tgid, tid = ids_in_a_thread(ids_mod)
    assert (pid, tgid) == (tid, os.getpid())  # at the running kernel's offsets


def test_on_another_kernel_libbpf_relocates_against_vmlinux(ids_mod: ModuleType) -> None:
    from bpfimport.spec import CORE_KERNEL_KEY

    ids_mod.__bpf_object__.spec.extra[CORE_KERNEL_KEY] = "0-0000000000000000"  # not this one
    ids_mod.load()
    assert "loading kernel BTF '/sys/kernel/btf/vmlinux'" in ids_mod.__bpf_object__.libbpf_log
    pid, tgid, tid = ids_in_a_thread(ids_mod)
    assert (pid, tgid) == (tid, os.getpid())


def test_a_load_refused_with_the_objects_btf_is_tried_against_vmlinux(
        ids_mod: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    obj = ids_mod.__bpf_object__

    def unusable() -> int:  # a target BTF libbpf cannot parse
        fd = os.memfd_create("not-btf")
        os.write(fd, b"not BTF at all")
        return fd

    monkeypatch.setattr(obj, "_own_btf", unusable)
    ids_mod.load()
    assert "loading kernel BTF '/sys/kernel/btf/vmlinux'" in obj.libbpf_log
    pid, tgid, tid = ids_in_a_thread(ids_mod)
    assert (pid, tgid) == (tid, os.getpid())
