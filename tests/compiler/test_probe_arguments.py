"""Probe arguments (issue 8, item 4): a kprobe/uprobe program's parameters after ctx are the
probed function's arguments, read from struct pt_regs by the host's calling convention; a
kretprobe/uretprobe's one parameter is the return value.

The loads are checked in the compiled object (its BPF instructions), the register table
against the running kernel's own struct pt_regs (vmlinux BTF), and every misuse is a
CompileError at the user's line."""

from __future__ import annotations

import os
import re
import struct

import pytest

from bpfimport import CompileError
from bpfimport.compiler import compile_source
from bpfimport.compiler.frontend import probes
from tests.elfread import exec_sections

HEAD = "from bpfimport.lang import *\nout = ArrayMap(key=u32, value=u64, max_entries=16)\n"


def compile_text(src: str) -> bytes:
    return compile_source(HEAD + src, "/virtual/mod.bpf.py", "mod_bpf").object


def ctx_loads(obj: bytes, section: str) -> list[tuple[int, int]]:
    """(size in bytes, offset) of every load from memory (BPF_LDX|BPF_MEM) in ``section``
    other than from the stack: the programs below load nothing else but their context.
    """
    code = exec_sections(obj)[section]
    sizes = {0x61: 4, 0x69: 2, 0x71: 1, 0x79: 8}  # ldxw, ldxh, ldxb, ldxdw
    loads = []
    for at in range(0, len(code), 8):
        op, regs, off = struct.unpack_from("<BBh", code, at)
        if op in sizes and regs >> 4 != 10:  # not from the stack (r10)
            loads.append((sizes[op], off))
    return loads


SIX = '''
@kprobe("do_thing")
def p(ctx, a: u64, b: i64, c: c_char_p, d: c_void_p, e: u64, f: i64) -> int:
    out[0] = a
    out[1] = b
    out[2] = c
    out[3] = d
    out[4] = e
    out[5] = f
    return 0
'''
RET = '''
@kretprobe("do_thing")
def r(ctx, ret: i64) -> int:
    out[6] = ret
    return 0
'''


@pytest.mark.parametrize("machine,args,ret", [
    ("x86_64", [112, 104, 96, 88, 72, 64], 80),  # di si dx cx r8 r9; ax
    ("aarch64", [0, 8, 16, 24, 32, 40], 0),  # regs[0..5]; regs[0]
])
def test_arguments_are_loaded_from_the_calling_conventions_registers(
        machine: str, args: list[int], ret: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probes, "host_machine", lambda: machine)
    compiled = compile_source(HEAD + SIX + RET, "/virtual/mod.bpf.py", "mod_bpf")
    obj = compiled.object
    assert sorted(ctx_loads(obj, "kprobe/do_thing")) == sorted((8, off) for off in args)
    assert ctx_loads(obj, "kretprobe/do_thing") == [(8, ret)]
    # and in the order of the parameters: a from the first register, b from the second...
    assert param_registers(compiled.ir) == list(zip([*"abcdef", "ret"], [*args, ret]))


def param_registers(ir: str) -> list[tuple[str, int]]:
    """(parameter, pt_regs offset) in the order the IR loads them: each register is read
    (a getelementptr from the context) and stored into its parameter's stack slot."""
    found, offset = [], None
    for line in ir.splitlines():
        if m := re.search(r"getelementptr inbounds i8, ptr %arg\.ctx, i64 (\d+)", line):
            offset = int(m.group(1))
        elif "load i64, ptr %arg.ctx," in line:  # offset 0 needs no address arithmetic
            offset = 0
        elif (m := re.search(r"store \w+ %t\d+, ptr %l\.(\w+)\.\d+", line)) and offset is not None:
            found.append((m.group(1), offset))
            offset = None
    return found


def test_arm64_passes_eight_arguments_in_registers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probes, "host_machine", lambda: "aarch64")
    params = ", ".join(f"a{i}: u64" for i in range(8))
    body = "".join(f"    out[{i}] = a{i}\n" for i in range(8))
    obj = compile_text(f"@uprobe('/bin/true', 'main')\ndef p(ctx, {params}) -> int:\n{body}    return 0\n")
    assert sorted(ctx_loads(obj, "uprobe//bin/true:main")) == [(8, 8 * i) for i in range(8)]


def test_narrow_arguments_keep_the_registers_low_bits() -> None:
    """An i32/u8 argument is the register's low bits (the callee ignores the rest): a load of
    only those bytes, or the whole register narrowed, never the wrong half."""
    src = '''
@uprobe("/bin/true", "main")
def p(ctx, a: i32, b: u8, c: bool, d: c_char) -> int:
    out[0] = a
    out[1] = b
    out[2] = c
    out[3] = d
    return 0
'''
    first = probes.CONVENTIONS[probes.host_machine()].args[:4]
    loads = ctx_loads(compile_text(src), "uprobe//bin/true:main")
    assert sorted(off for _, off in loads) == sorted(off for _, off in first)  # little-endian: low bytes first


@pytest.mark.skipif(not os.path.exists("/sys/kernel/btf/vmlinux"), reason="no vmlinux BTF")
def test_the_register_table_matches_this_kernels_struct_pt_regs() -> None:
    from bpfimport import btf

    machine = probes.host_machine()
    if machine not in probes.CONVENTIONS:
        pytest.skip(f"no calling convention for {machine}")
    conv = probes.CONVENTIONS[machine]
    spec = btf.kernel_spec()
    offsets = members(spec.types_by_name("pt_regs", btf.Kind.STRUCT)[0], spec)
    for name, offset in (*conv.args, conv.ret):
        base, _, index = name.partition("[")
        want = offsets[base] + (8 * int(index.rstrip("]")) if index else 0)
        assert offset == want, (name, offset, want)


def members(t: object, spec: object, base: int = 0) -> dict[str, int]:
    """Member name -> byte offset, looking inside anonymous structs and unions (arm64's regs)."""
    from bpfimport import btf

    found: dict[str, int] = {}
    for m in t.members:  # type: ignore[attr-defined]
        if m.name:
            found.setdefault(m.name, base + m.offset)
        else:
            inner = btf.skip_qualifiers(spec.type_by_id(m.type_id))  # type: ignore[attr-defined]
            for k, v in members(inner, spec, base + m.offset).items():
                found.setdefault(k, v)
    return found


def test_pointer_arguments_point_into_the_probed_codes_memory() -> None:
    """A uprobe's c_char_p is user memory, a kprobe's kernel memory, unless annotated."""
    with pytest.raises(CompileError, match="'name' points into user memory"):
        compile_text("@uprobe('/bin/true', 'f')\ndef p(ctx, name: c_char_p) -> int:\n"
                     "    b: c_char * 8 = 0\n    return probe_read_kernel_str(b, name)\n")
    with pytest.raises(CompileError, match="'name' points into kernel memory"):
        compile_text("@kprobe('f')\ndef p(ctx, name: c_char_p) -> int:\n"
                     "    b: c_char * 8 = 0\n    return probe_read_user_str(b, name)\n")
    compile_text("@kprobe('do_sys_openat2')\ndef p(ctx, dfd: i32, name: UserPtr[c_char]) -> int:\n"
                 "    b: c_char * 8 = 0\n    return probe_read_user_str(b, name)\n")
    compile_text("@kprobe('f')\ndef p(ctx, addr: c_void_p) -> int:\n"  # c_void_p: an address
                 "    b: c_char * 8 = 0\n    return probe_read_user_str(b, addr) + probe_read_kernel_str(b, addr)\n")


def test_more_parameters_than_argument_registers_point_at_the_first_extra_one() -> None:
    conv = probes.CONVENTIONS[probes.host_machine()]
    names = [f"a{i}" for i in range(len(conv.args) + 1)]
    params = ", ".join(f"{n}: u64" for n in names)
    with pytest.raises(CompileError) as info:
        compile_text(f"@kprobe('f')\ndef p(ctx, {params}) -> int:\n    return 0\n")
    err = info.value
    assert f"'p' has {len(names)} parameters after ctx; {conv.name} passes only the first " \
        f"{len(conv.args)} arguments in registers" in err.msg
    assert "declare at most" in (err.hint or "")
    line = (HEAD + "@kprobe('f')\n" + f"def p(ctx, {params}) -> int:").splitlines()[err.lineno - 1]
    assert line[err.offset - 1:].startswith(names[-1])


ERRORS = [
    ("@kretprobe('f')\ndef p(ctx, ret: i64, more: u64) -> int:\n    return 0\n",
     "takes one parameter after ctx, the probed function's return value", "ret: i64", "more"),
    ("@uretprobe('/bin/true', 'f')\ndef p(ctx, ret: i64, more: u64) -> int:\n    return 0\n",
     "@uretprobe program takes one parameter after ctx", None, "more"),
    ("@tracepoint('sched/sched_switch')\ndef p(ctx, prev: u64) -> int:\n    return 0\n",
     "a @tracepoint program takes one parameter, its context", "fields from the context", "prev"),
    ("@raw_tracepoint('sys_enter')\ndef p(ctx, regs: u64) -> int:\n    return 0\n",
     "a @raw_tracepoint program takes one parameter", "read them from ctx", "regs"),
    ("@xdp\ndef p(ctx, other: u64) -> int:\n    return 0\n",
     "a @xdp program takes one parameter, its context (struct xdp_md *)", "@kprobe and @uprobe", "other"),
    ("@uprobe('/bin/true', 'f')\ndef p(ctx, name) -> int:\n    return 0\n",
     "parameter 'name' of @uprobe program 'p' needs a type", "name: c_char_p", "name"),
    ("@struct\nclass S:\n    a: u64\n@uprobe('/bin/true', 'f')\ndef p(ctx, s: S) -> int:\n    return 0\n",
     "parameter 's' is a struct S, which a register cannot hold", "UserPtr[S]", "S"),
    ("@uprobe('/bin/true', 'f')\ndef p(ctx, s: c_char * 8) -> int:\n    return 0\n",
     "which a register cannot hold", None, "c_char * 8"),
    ("@uprobe('/bin/true', 'f')\ndef p(ctx, s: nothing) -> int:\n    return 0\n",
     "parameter 's' is 'nothing', which a register cannot hold", None, "nothing"),
]


@pytest.mark.parametrize("src,message,hint,at", ERRORS, ids=[e[1][:40] for e in ERRORS])
def test_parameter_errors_point_at_the_parameter(src: str, message: str, hint: str | None,
                                                 at: str) -> None:
    with pytest.raises(CompileError) as info:
        compile_text(src)
    err = info.value
    assert message in err.msg, err.msg
    assert err.hint, err.msg
    if hint is not None:
        assert hint in err.hint, err.hint
    line = (HEAD + src).splitlines()[err.lineno - 1]
    assert line[err.offset - 1:].startswith(at), (line, err.offset)


def test_a_machine_without_a_table_is_a_compile_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probes, "host_machine", lambda: "mips")
    with pytest.raises(CompileError, match=r"probe arguments are not known for this machine \(mips\)"):
        compile_text("@uprobe('/bin/true', 'f')\ndef p(ctx, a: u64) -> int:\n    return 0\n")
    compile_text("@uprobe('/bin/true', 'f')\ndef p(ctx) -> int:\n    return 0\n")  # no arguments: fine


@pytest.mark.skipif(not os.path.exists("/sys/kernel/btf/vmlinux"), reason="no vmlinux BTF")
def test_a_kernel_struct_argument_is_read_through_co_re() -> None:
    """``sk: kernel.sock``: the first argument register as a kernel pointer, its fields read
    through CO-RE relocations as any kernel struct's."""
    compiled = compile_source(HEAD + '''
@kprobe("tcp_connect")
def p(ctx, sk: kernel.sock) -> int:
    out[0] = sk.__sk_common.skc_family
    out[1] = sk.__sk_common.skc_dport
    return 0
''', "/virtual/mod.bpf.py", "mod_bpf")
    assert compiled.spec.extra["co_re"] == 2
    assert compiled.spec.extra["machine"] == probes.host_machine()
    first = probes.CONVENTIONS[probes.host_machine()].args[0][1]
    assert param_registers(compiled.ir) == [("sk", first)]
    with pytest.raises(CompileError, match="'sk' points into kernel memory"):
        compile_text("@kprobe('tcp_connect')\ndef p(ctx, sk: kernel.sock) -> int:\n"
                     "    b: c_char * 8 = 0\n    return probe_read_user_str(b, sk)\n")
