"""The language of docs/language.md, run in the kernel: each program writes what it computed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import bpfimport  # noqa: F401 - installs the import hook
from tests.conftest import PROGRAMS, program_module, traced_after_nonce


@pytest.fixture
def lang(kernel, tmp_path):
    with program_module(tmp_path, "lang_features.bpf.py") as mod:
        yield mod


def test_control_flow(lang):
    lang.control_flow.test_run()
    out = lang.out
    assert out[0] == 0 + 2 + 4 + 6
    assert out[1] == 105
    assert out[2] == 10741
    assert out[3] == 1
    assert (out[4], out[5], out[6]) == (1, 2, 3)
    assert out[7] == 90
    assert out[8] == 55
    assert out[9] == 21


def test_short_circuit(lang):
    lang.short_circuit.test_run()
    out = lang.out
    assert out[10] == 0 and out[11] == 1
    assert out[12] == 7 and out[13] == 9
    assert out[14] == 0
    assert out[15] == 2
    assert lang.calls.value == 2


def test_maps_inside_programs(lang):
    lang.maps_in_bpf.test_run()
    out = lang.out
    assert out[20] == 31
    assert out[21] == 1
    assert out[22] == 0 and out[23] == 42
    assert out[24] == 1 and out[25] == 1
    assert out[26] == 7
    assert out[27] == 115
    assert dict(lang.counts.items()) == {1: 115}
    assert sum(lang.pcpu[0]) == 3
    assert sum(lang.pcpu_hash[5]) == 4
    assert lang.lru[1 << 40] == 9 and out[28] == 9
    assert sum(lang.lru_pcpu[2]) == 1


def test_structs(lang):
    lang.structs.test_run()
    out = lang.out
    assert out[30] == 72
    assert out[31] == ord("b")
    assert out[32] == 5002
    assert out[33] == 15
    assert out[34] == 16
    (key, value), = lang.pairs.items()
    assert (key.lo, key.hi, key.tag) == (1, 2, b"ab")
    assert list(value.values) == [10, 5, 30, 40]


def test_globals_and_helpers(lang):
    lang.STEP.value = 4
    lang.globals_and_helpers.test_run()
    out = lang.out
    assert out[40] == 4
    assert out[41] == 77
    assert lang.seeded.value == 81
    assert out[42] == (-10) % (1 << 64)
    assert out[43] == os.getpid()
    assert out[44] == os.getuid()
    assert out[45] == 1
    assert out[46] == Path("/proc/self/comm").read_bytes()[0]
    assert out[47] == 1000
    assert out[48] == 1
    assert out[49] > 0


def test_print_reaches_trace_pipe(tracing, lang):
    result = traced_after_nonce(lang.printer.test_run, "bpfimport-", 2)
    assert any("bpfimport-print -5 3 hi bpf 100%" in x for x in result), result
    assert any("bpfimport-many 1 2 -5 3 True 6" in x for x in result), result


SECTIONS = {
    '@section("tracepoint/sched/sched_switch")': "tracepoint/sched/sched_switch",
    '@tracepoint("syscalls/sys_enter_execve")': "tracepoint/syscalls/sys_enter_execve",
    '@raw_tracepoint("sys_enter")': "raw_tracepoint/sys_enter",
    '@kprobe("do_sys_open")': "kprobe/do_sys_open",
    '@kretprobe("do_sys_open")': "kretprobe/do_sys_open",
    '@uprobe("/bin/bash", "readline")': "uprobe//bin/bash:readline",
    '@uretprobe("/bin/bash", "readline")': "uretprobe//bin/bash:readline",
    '@fentry("do_unlinkat")': "fentry/do_unlinkat",
    '@fexit("do_unlinkat")': "fexit/do_unlinkat",
    "@xdp": "xdp",
    "@socket_filter": "socket",
    "@tc": "tc",
    "@syscall": "syscall",
    '@cgroup_skb("ingress")': "cgroup_skb/ingress",
    "@perf_event": "perf_event",
    '@lsm("file_open")': "lsm/file_open",
}


def test_every_decorator_makes_its_section(tmp_path):
    from bpfimport.compiler import compile_source
    from bpfimport.compiler.elf import Elf

    lines = ["from bpfimport.lang import *"]
    for i, deco in enumerate(SECTIONS):
        lines += [deco, f"def prog{i}(ctx) -> int:", "    return 0", ""]
    compiled = compile_source("\n".join(lines), str(tmp_path / "secs.bpf.py"), "secs_bpf")
    got = {p.section for p in compiled.spec.programs}
    assert got == set(SECTIONS.values())
    names = {s.name for s in Elf(compiled.object).sections}
    assert set(SECTIONS.values()) <= names
    assert {".BTF", ".BTF.ext", "license"} <= names


def test_object_loads_with_bpftool_style_libbpf(kernel, tmp_path):
    """The object is standard: libbpf opens it as a file with no bpfimport code involved."""
    from bpfimport.importer import compile_path

    src = PROGRAMS / "lang_features.bpf.py"
    obj = tmp_path / "lang.o"
    obj.write_bytes(compile_path(str(src)).object)
    code = f"""
import ctypes
lib = ctypes.CDLL("libbpf.so.1")
lib.bpf_object__open_file.restype = ctypes.c_void_p
lib.bpf_object__open_file.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
lib.bpf_object__load.argtypes = [ctypes.c_void_p]
lib.bpf_object__close.argtypes = [ctypes.c_void_p]
obj = lib.bpf_object__open_file({str(obj)!r}.encode(), None)
assert obj, "open failed"
rc = lib.bpf_object__load(obj)
lib.bpf_object__close(obj)
raise SystemExit(rc)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "Retrying without BTF" not in r.stderr and "BTF is optional" not in r.stderr, r.stderr


def test_line_info_follows_the_debug_option(tmp_path):
    """BTF line info carries the Python source lines; debug=False leaves them out."""
    from bpfimport import btf
    from bpfimport.compiler import CompileOptions
    from bpfimport.compiler.elf import Elf
    from bpfimport.importer import compile_path

    src = PROGRAMS / "exact_count.bpf.py"
    marker = "calls[0] += 1"
    lineno = next(i for i, x in enumerate(src.read_text().splitlines(), 1) if marker in x)
    with_lines = compile_path(str(src)).object
    without = compile_path(str(src), options=CompileOptions(debug=False)).object
    ext = btf.read_object(with_lines).ext
    lines = [li for recs in ext.line_info.values() for li in recs]
    assert any(marker in li.text and li.line == lineno and li.file == str(src) for li in lines), lines
    ext_without = btf.read_object(without).ext
    lines_without = [li for recs in ext_without.line_info.values() for li in recs] if ext_without else []
    assert len(lines_without) < len(lines)
    assert not any(marker in li.text for li in lines_without), lines_without
    assert marker.encode() not in Elf(without).body(Elf(without).section(".BTF"))
