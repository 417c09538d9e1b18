"""``python -m bpfimport run`` prints log2 histograms as histograms and stack traces by name."""

from __future__ import annotations

import ctypes
import os
import re
import threading
import time
from pathlib import Path

from bpfimport.compiler import compile_source
from tests.cli.test_cli import run_cli
from tests.conftest import need

SOURCE = """
from bpfimport.lang import *

@struct
class WriteArgs:
    common: u64
    nr: i64
    fd: u64
    buf: u64
    count: u64

@struct
class Site:
    pid: u32
    kernel_stack: i32
    user_stack: i32

sizes = HashMap(key=u32, value=u64, max_entries=64)
plain = HashMap(key=u32, value=u64, max_entries=64)
stacks = StackTraceMap(max_entries=256)
sites = HashMap(key=Site, value=u64, max_entries=256)

@tracepoint("syscalls/sys_enter_write")
def on_write(ctx) -> int:
    a = WriteArgs()
    probe_read_kernel(a, 40, ctx)
    sizes[log2(a.count)] += 1
    plain[a.count & 7] += 1
    return 0

@tracepoint("syscalls/sys_enter_getppid")
def on_getppid(ctx) -> int:
    sites[Site(pid=tgid(), kernel_stack=stacks.get_stackid(ctx, 0),
               user_stack=stacks.get_stackid(ctx, BPF_F_USER_STACK))] += 1
    return 0
"""

ROW = re.compile(r"^ {0,9}\d+ -> \d+ +: \d+ +\|[* ]{40}\|$")


def test_the_spec_marks_log2_histograms_only() -> None:
    spec = compile_source(SOURCE, "/virtual/r.bpf.py", "r_bpf").spec
    assert {m.name: m.histogram for m in spec.maps} == {
        "sizes": "log2", "plain": None, "stacks": None, "sites": None}
    keyed = SOURCE.replace("sizes[log2(a.count)] += 1",
                           "b = log2(a.count)\n    by_fd[Slot(fd=a.fd, slot=b)] += 1")
    keyed = keyed.replace("sizes = HashMap(", "@struct\nclass Slot:\n    fd: u32\n    slot: u32\n"
                          "by_fd = HashMap(key=Slot, value=u64, max_entries=8)\nsizes = HashMap(")
    maps = {m.name: m.histogram for m in compile_source(keyed, "/v/k.bpf.py", "k_bpf").spec.maps}
    assert maps["by_fd"] == "log2" and maps["sizes"] is None  # never written: not a histogram
    mixed = SOURCE.replace("plain[a.count & 7] += 1", "sizes[a.count & 7] += 1")
    maps = {m.name: m.histogram for m in compile_source(mixed, "/v/m.bpf.py", "m_bpf").spec.maps}
    assert maps["sizes"] is None  # one key that is not a bucket: a plain map


def test_run_prints_histograms_and_named_stacks(tmp_path: Path, tracing: None) -> None:
    need(os.path.isdir("/sys/kernel/tracing/events/syscalls/sys_enter_write"),
         "syscall tracepoints (CONFIG_FTRACE_SYSCALLS) are not available")
    src = tmp_path / "toolkit_run.bpf.py"
    src.write_text(SOURCE)
    getppid = ctypes.CDLL("libc.so.6", use_errno=True).getppid
    stop = time.monotonic() + 8
    done = threading.Event()

    def poke() -> None:
        fd = os.open("/dev/null", os.O_WRONLY)
        try:
            while not done.is_set() and time.monotonic() < stop:
                os.write(fd, b"x" * 70000)  # bucket 65536 -> 131071
                getppid()
                time.sleep(0.01)
        finally:
            os.close(fd)

    t = threading.Thread(target=poke)
    t.start()
    try:
        r = run_cli("run", str(src), "--no-trace", "--duration", "1.5")
    finally:
        done.set()
        t.join()
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    start = out.index("sizes (log2 histogram):")
    assert out[start + 1] in ("     value               : count     distribution",
                              "               value                         : count     distribution")
    rows = []
    for line in out[start + 2:]:
        if not ROW.match(line):
            break
        rows.append(line)
    assert any(re.match(r" +65536 -> 131071 +: [1-9]", x) for x in rows), rows
    assert "plain (HashMap" in r.stdout  # not every map is a histogram
    # stacks: kernel frames by name, user frames of this process by name in libc
    assert re.search(r"stacks \(StackTraceMap, \d+ stacks\):", r.stdout)
    assert re.search(r"^    (do_syscall_64|el0_svc|invoke_syscall)\+0x[0-9a-f]+ \(0x[0-9a-f]+\)$",
                     r.stdout, re.M), r.stdout[-3000:]
    mine = re.search(rf"^  stack \d+ \(pid {os.getpid()}\):\n    getppid\+0x[0-9a-f]+ \[libc",
                     r.stdout, re.M)
    assert mine, r.stdout[-3000:]
