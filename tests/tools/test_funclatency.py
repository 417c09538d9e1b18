"""funclatency run as a user runs it: a child calls libc's usleep() a known number of times
with a known duration; the histogram must put every call in the bucket that holds it and the
summary line must count them. Kernel functions need kprobes: where the kernel has none the tool
says so in one sentence.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import kernel_has_kprobes
from tests.tools.test_tools_cli import run_tool
from tests.tools.test_tools_kernel import Tool

CALLS, SLEEP_US = 12, 20_000     # 20 ms: the 16384 -> 32767 usecs bucket, with room either side

# Waits for a line on stdin (the tool is attached by then), then sleeps CALLS times.
SLEEPER = f"""
import ctypes, sys
libc = ctypes.CDLL("libc.so.6")
sys.stdin.readline()
for _ in range({CALLS}):
    libc.usleep({SLEEP_US})
"""


def histogram(lines: list[str]) -> dict[str, int]:
    """``{"16384 -> 32767": 12, ...}`` from the tool's histogram rows."""
    rows = {}
    for line in lines:
        if "|" in line and "->" in line:
            bucket, _, rest = line.partition(":")
            rows[" ".join(bucket.split())] = int(rest.split()[0])
    return rows


def sleeper_run(*args: str) -> list[str]:
    """Start the sleeper, trace it with funclatency ``args`` (plus ``-p``), let it sleep, then
    stop the tool with Ctrl-C, or (``-d``) let it end by itself; the tool's output lines."""
    child = subprocess.Popen([sys.executable, "-c", SLEEPER], stdin=subprocess.PIPE)
    try:
        tool = Tool("funclatency", *args, "-p", str(child.pid), "c:usleep")
        tool.wait_for("Hit Ctrl-C to end")
        assert child.stdin is not None
        child.stdin.write(b"go\n")
        child.stdin.close()
        assert child.wait(timeout=30) == 0
        if "-d" not in args:
            return tool.stop()[0]
        out, err = tool.proc.communicate(timeout=30)
        assert tool.proc.returncode == 0 and not err, err
        return tool.lines + out.decode().splitlines()
    finally:
        child.kill()
        child.wait()


def test_funclatency_histogram_of_usleep(kernel: None) -> None:
    lines = sleeper_run("-u")
    assert lines[0] == 'Tracing 1 functions for "c:usleep"... Hit Ctrl-C to end.'
    assert "     usecs               : count     distribution" in lines
    rows = histogram(lines)
    assert {k: v for k, v in rows.items() if v} == {"16384 -> 32767": CALLS}, lines
    avg = [line for line in lines if line.startswith("avg = ")]
    assert len(avg) == 1 and avg[0].endswith(f"usecs, count: {CALLS}"), avg
    mean = int(avg[0].split()[2])
    assert SLEEP_US <= mean < 2 * SLEEP_US
    assert lines[-1] == "Detaching..."


def test_funclatency_milliseconds_and_duration(kernel: None) -> None:
    """-m buckets in milliseconds; -d ends the tool by itself, printing once, exit status 0."""
    lines = sleeper_run("-m", "-d", "2")
    assert {k: v for k, v in histogram(lines).items() if v} == {"16 -> 31": CALLS}, lines
    assert lines.count("     msecs               : count     distribution") == 1


def test_funclatency_kernel_function(kernel: None) -> None:
    """A bare FUNC is a kernel function: traced with kprobes where the kernel has them, else
    refused in one sentence (the branch from conftest's own probe of the kernel)."""
    if kernel_has_kprobes():
        tool = Tool("funclatency", "-d", "1", "do_nanosleep")
        tool.wait_for("Hit Ctrl-C to end")
        subprocess.run(["sleep", "0.01"], check=True)
        out, _ = tool.proc.communicate(timeout=30)
        assert tool.proc.returncode == 0
        assert sum(histogram(out.decode().splitlines()).values()) >= 1
        return
    done = run_tool("funclatency", "do_nanosleep")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == ("funclatency: this kernel has no kprobes (CONFIG_KPROBES is off), so "
                           "the kernel function 'do_nanosleep' cannot be traced; user functions "
                           "(LIB:FUNC) can.\n")


@pytest.mark.parametrize("pattern", ["c:usl*", "vfs_*"])
def test_funclatency_refuses_patterns(pattern: str) -> None:
    done = run_tool("funclatency", pattern)
    assert done.returncode == 2 and "wildcards" in done.stderr and "Traceback" not in done.stderr


def test_funclatency_help_and_usage_errors() -> None:
    done = run_tool("funclatency", "-h")
    assert done.returncode == 0 and not done.stderr
    assert done.stdout.startswith("usage: python -m bpfimport.tools.funclatency")
    assert "examples:\n" in done.stdout and "./funclatency " in done.stdout
    bad = run_tool("funclatency", "-p", "0", "c:usleep")
    assert bad.returncode == 2 and "error:" in bad.stderr.splitlines()[-1], bad.stderr


def test_a_short_library_name_is_found_among_the_mapped_libraries(tmp_path: Path) -> None:
    """``c:FUNC`` takes libc from the interpreter's own mappings (no ldconfig run): the
    exact soname or a glibc-versioned name, never a longer name or a deleted file."""
    from bpfimport.tools.funclatency import find_binary, mapped_library

    maps = tmp_path / "maps"
    maps.write_text(
        "7f00-7f01 r--p 00000000 08:01 1 /usr/lib/libcrypto.so.3\n"
        "7f01-7f02 r--p 00000000 08:01 2 /old/libm.so.6 (deleted)\n"
        "7f02-7f03 r--p 00000000 08:01 3 /usr/lib/libc-client.so\n"
        "7f03-7f04 r-xp 00000000 08:01 4 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
        "7f04-7f05 r-xp 00000000 08:01 5 /lib/libm-2.31.so\n"
        "7f05-7f06 rw-p 00000000 00:00 0 [heap]\n")
    assert mapped_library("c", str(maps)) == "/usr/lib/x86_64-linux-gnu/libc.so.6"
    assert mapped_library("m", str(maps)) == "/lib/libm-2.31.so"
    assert mapped_library("crypt", str(maps)) is None
    assert mapped_library("nosuch", str(tmp_path / "absent")) is None
    libc = find_binary("c")  # this interpreter has libc mapped
    assert os.path.basename(libc).startswith("libc") and os.path.isabs(libc) and os.path.exists(libc)


def test_funclatency_opens_its_uprobes_before_loading(kernel: None,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Both perf events are being opened (bpfimport.runtime.probes) before the tool's module is
    imported, so the kernel's slow first uprobe registration overlaps the compile and load;
    the links then own them (a prepared probe that fell back to libbpf would have no fd)."""
    from bpfimport.tools import funclatency

    order: list[str] = []
    probes = []
    real_prepare, real_module = funclatency.prepare_uprobe, funclatency.tool_module

    def prepare(*args, **kw):  # type: ignore[no-untyped-def]
        probes.append(real_prepare(*args, **kw))
        order.append("uretprobe" if kw.get("retprobe") else "uprobe")
        return probes[-1]

    def module(name: str):  # type: ignore[no-untyped-def]
        order.append("module")
        assert all(p.fd is not None for p in probes)  # opened (waits for the thread)
        return real_module(name)

    monkeypatch.setattr(funclatency, "prepare_uprobe", prepare)
    monkeypatch.setattr(funclatency, "tool_module", module)
    assert funclatency.main(["-d", "0.05", "c:getppid"]) == 0
    assert order == ["uprobe", "uretprobe", "module"]
    assert all(p.fd is None for p in probes)  # taken by the links, closed with them
    assert capsys.readouterr().out.startswith('Tracing 1 functions for "c:getppid"')
