"""Kernel data that does not exist is a CompileError at the user's line, naming what exists:
a field (the struct's fields, closest first), a type (similar names), a tracepoint field or
argument, an enum value; reading what cannot be read says why; a machine without kernel BTF
gets one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpfimport import CompileError
from bpfimport.compiler import compile_source
from tests.conftest import need

HEAD = "from bpfimport.lang import *\nout = ArrayMap(key=u32, value=u64, max_entries=4)\n"
RAW = HEAD + '@raw_tracepoint("sched_switch")\ndef p(ctx) -> int:\n'
LINE = RAW.count("\n") + 1  # the first body line


@pytest.fixture(autouse=True)
def kernel_btf() -> None:
    need(Path("/sys/kernel/btf/vmlinux").exists(), "the kernel has no BTF: kernel types need it")


def error(source: str) -> CompileError:
    with pytest.raises(CompileError) as info:
        compile_source(source, "/virtual/k.bpf.py", "k_bpf")
    return info.value


def body_error(*lines: str) -> CompileError:
    return error(RAW + "".join(f"    {x}\n" for x in lines) + "    return 0\n")


def test_a_missing_field_lists_the_structs_fields_closest_first() -> None:
    e = body_error("t = current_task()", "out[0] = t.real_parent.tgidd")
    assert (e.lineno, e.offset) == (LINE + 1, 14)
    assert e.message == "struct task_struct has no field 'tgidd'"
    assert (e.hint or "").startswith("its fields, closest first: tgid, pid, ")


def test_a_field_inside_an_anonymous_member_is_a_field() -> None:
    compile_source(RAW + "    out[0] = current_task().mm.arg_start\n    return 0\n", "/v/k.bpf.py", "k_bpf")
    e = body_error("out[0] = current_task().mm.arg_strat")
    assert e.message == "struct mm_struct has no field 'arg_strat'"
    assert "arg_start" in (e.hint or "").split(": ", 1)[1].split(", ")[:3]


def test_a_missing_kernel_type_names_similar_ones() -> None:
    e = body_error("t: kernel.task_strut = current_task()")
    assert (e.lineno, e.message) == (LINE, "the kernel has no type named 'task_strut'")
    assert (e.hint or "").startswith("similar kernel types: task_struct")
    e = body_error("out[0] = type_exists(kernel.no_such_type_anywhere)")
    assert e.lineno == LINE and "no struct or union or typedef or enum named" in e.message


def test_a_missing_enum_value_lists_the_enums_values() -> None:
    e = body_error("out[0] = enum_value(kernel.bpf_map_type.BPF_MAP_TYPE_HASSH)")
    assert e.message == "enum bpf_map_type has no value 'BPF_MAP_TYPE_HASSH'"
    assert (e.hint or "").startswith("its values, closest first: BPF_MAP_TYPE_HASH")


def test_a_raw_tracepoint_argument_that_is_not_there() -> None:
    e = body_error("out[0] = ctx.prevv.pid")
    assert e.message == "raw tracepoint 'sched_switch' has no argument 'prevv'"
    assert (e.hint or "").startswith("its arguments, closest first: prev, ")


@pytest.mark.parametrize(("lines", "message"), [
    (["current_task().pid = 1"], "kernel memory is read-only to BPF code"),
    (["x = current_task().se"], "struct sched_entity is kernel memory and is not copied whole"),
    (["out[0] = current_task().comm[16]"], "index 16 is out of range for char[16]"),
    (["out[0] = field_size(current_task().sched_reset_on_fork)"], "a bitfield has no byte size"),
    (["out[0] = field_exists(out[0])"], "this takes a field of kernel memory"),
    (["out[0] = current_task().nonexistent_field_x"], "struct task_struct has no field"),
    (["x = kernel.task_struct"], "kernel.task_struct is a kernel type, not a value"),
    (["x = current_task().cpus_ptr[0]"], "a kernel pointer to struct cpumask cannot be indexed"),
    (["t = current_task()", "t = t.mm"],
     "'t' holds a kernel pointer to struct task_struct and cannot be rebound to a kernel pointer "
     "to struct mm_struct"),
])
def test_what_cannot_be_done_with_kernel_memory(lines: list[str], message: str) -> None:
    e = body_error(*lines)
    assert e.lineno == LINE + len(lines) - 1 and message in e.message


def test_tracepoint_fields_by_name() -> None:
    src = HEAD + '@tracepoint("syscalls/sys_enter_openat")\ndef p(ctx) -> int:\n    out[0] = ctx.{}\n    return 0\n'
    compile_source(src.format("flags"), "/v/k.bpf.py", "k_bpf")
    e = error(src.format("flagz"))
    assert e.lineno == src.count("\n") - 1
    assert e.message == "tracepoint syscalls/sys_enter_openat has no field 'flagz'"
    assert (e.hint or "").startswith("its fields, closest first: flags, ")
    e = error(src.format("common_pid"))
    assert "'common_pid' is not visible to BPF programs" in e.message and "tgid()" in (e.hint or "")


def test_a_tracepoint_that_does_not_exist() -> None:
    src = HEAD + '@tracepoint("sched/sched_proces_exec")\ndef p(ctx) -> int:\n    out[0] = ctx.pid\n    return 0\n'
    e = error(src)
    assert (e.lineno, e.offset) == (3, 13)  # the decorator's argument
    assert "no tracepoint" in e.message and "sched/sched_proces_exec" in e.message
    assert "sched_process_exec" in e.msg  # what exists, in the message or its hint


@pytest.fixture
def no_btf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A kernel without BTF, as bpfimport.btf.kernel reports it (tests/btf/test_kernel.py checks
    that report against a missing file)."""
    from bpfimport.btf import kernel, tracepoints
    from bpfimport.compiler import core

    def missing(*args: object, **kwargs: object) -> None:
        raise kernel.KernelBtfMissing(tmp_path / "vmlinux")

    monkeypatch.setattr(core, "_SYSTEM", [])
    monkeypatch.setattr(kernel, "kernel_btf", missing)
    monkeypatch.setattr(tracepoints, "kernel_btf", missing)
    return tmp_path


def test_raw_tracepoint_args_need_no_kernel_btf(no_btf: Path) -> None:
    compile_source(RAW + "    out[0] = ctx.args[1]\n    return 0\n", "/v/k.bpf.py", "k_bpf")


def test_no_kernel_btf_is_one_clear_sentence(no_btf: Path) -> None:
    tmp_path = no_btf
    e = body_error("out[0] = current_task().pid")
    assert e.lineno == LINE
    assert e.message.startswith(f"this kernel has no BTF ({tmp_path / 'vmlinux'} does not exist")
    assert "kernel types" in e.message and ". " not in e.message  # one sentence
    assert "CONFIG_DEBUG_INFO_BTF" in (e.hint or "")
