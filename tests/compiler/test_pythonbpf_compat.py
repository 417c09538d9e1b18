"""pythonbpf programs compile unchanged (docs/language.md, "pythonbpf programs") and behave the same in the kernel."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

import bpfimport  # noqa: F401 - installs the import hook
from bpfimport import CompileError
from bpfimport.compiler import compile_source
from tests.conftest import PROGRAMS, need, program_module
from tests.elfread import sections


def test_seed_spellings_compile():
    src = (PROGRAMS / "seed_style.bpf.py").read_text()
    spec = compile_source(src, "seed_style.bpf.py", "seed_style_bpf").spec
    assert {m.name: m.kind for m in spec.maps} == {"last": "HashMap", "records": "HashMap", "results": "ArrayMap"}
    assert {p.name: p.section for p in spec.programs} == {
        "seeded": "syscall", "traced": "tracepoint/syscalls/sys_enter_execve"}
    assert [(f.name, f.type) for f in spec.struct("data_t").fields] == [
        ("pid", "u64"), ("ts", "u64"), ("comm", "char[16]")]
    (counter,) = spec.globals
    assert (counter.name, counter.type, counter.initial, counter.section) == ("counter", "u64", 5, ".data")
    assert spec.license == "GPL"


def test_seed_program_runs(kernel, tmp_path):
    with program_module(tmp_path, "seed_style.bpf.py") as mod:
        mod.seeded.test_run()
        assert 0 in mod.last
        assert mod.results[0] == (5 ^ 8) + (6 & 3)
        mod.seeded.test_run()  # second run finds the timestamp and deletes it
        assert 0 not in mod.last
        rec = mod.records[1]
        assert rec.pid == threading.get_native_id()
        assert rec.comm == Path("/proc/thread-self/comm").read_text().strip().encode()[:15]
        assert mod.counter.value == 5


def test_user_space_code_in_a_seed_file_is_a_clear_error():
    src = (PROGRAMS / "seed_style.bpf.py").read_text().replace(
        "compile()", "b = BPF()\nb.load()\nb.attach_all()\ntrace_pipe()")
    with pytest.raises(CompileError) as info:
        compile_source(src, "seed_style.bpf.py", "seed_style_bpf")
    assert "user-space code belongs in the Python module that imports it" in str(info.value)
    assert info.value.text.strip() == "b = BPF()"


def test_a_local_bound_once_to_a_string_prints_as_text():
    """pythonbpf's struct_and_perf prints ``strobj = "hellohellohello"``: a named constant."""
    src = (
        "from pythonbpf import bpf, section\nfrom ctypes import c_void_p, c_int32\n"
        "@bpf\n@section('syscall')\ndef p(ctx: c_void_p) -> c_int32:\n"
        "    strobj = 'hellohellohello'\n    print(f'says {strobj}')\n    return c_int32(0)\n"
    )
    obj = compile_source(src, "s.bpf.py", "s_bpf").object
    # print() adds Python's newline; the format string is NUL-terminated in read-only data
    assert b"says hellohellohello\n\0" in sections(obj)[".rodata"].data


def test_xdp_action_names(kernel, bpf_dir):
    """``return XDP_DROP`` (also imported from pythonbpf.helper) is the kernel's value."""
    (bpf_dir / "xdp_names.bpf.py").write_text(
        "from pythonbpf.helper import XDP_DROP\nfrom bpfimport.lang import xdp, XDP_PASS\n"
        "@xdp\ndef drop(ctx) -> int:\n    return XDP_DROP\n"
        "@xdp\ndef keep(ctx) -> int:\n    return XDP_PASS\n")
    import xdp_names_bpf as mod

    actions = xdp_actions()
    with mod:
        packet = bytes(64)
        assert mod.drop.test_run(data=packet).retval == actions["XDP_DROP"]
        assert mod.keep.test_run(data=packet).retval == actions["XDP_PASS"]


def xdp_actions() -> dict[str, int]:
    """``enum xdp_action`` as the kernel's uapi header defines it (implicit values count up)."""
    header = Path("/usr/include/linux/bpf.h")
    need(header.is_file(), "linux/bpf.h is not installed (apt-get install linux-libc-dev)")
    body = re.search(r"enum xdp_action \{(.*?)\};", header.read_text(), re.S)
    assert body, "no enum xdp_action in linux/bpf.h"
    values, nxt = {}, 0
    for item in filter(None, (x.strip() for x in body.group(1).split(","))):
        name, _, value = (p.strip() for p in item.partition("="))
        nxt = int(value, 0) if value else nxt
        values[name], nxt = nxt, nxt + 1
    assert len(values) >= 3, values
    return values
