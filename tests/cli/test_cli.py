"""The command line: compile, ir, asm, compileall, --help, --version, error reporting."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from bpfimport import cache
from bpfimport.__main__ import default_output, main
from tests import support
from tests.conftest import need
from tests.support import (
    BROKEN,
    BROKEN_LINE,
    BROKEN_MESSAGE,
    TRIVIAL,
    CompileCounter,
    child_env,
    is_bpf_object,
)

compile_counter = support.compile_counter
writable_cache = support.writable_cache


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bpfimport", *args], cwd=cwd, env=child_env(),
        capture_output=True, text=True, timeout=60,
    )


@pytest.fixture
def src(tmp_path: Path) -> Path:
    path = tmp_path / "mytrace.bpf.py"
    path.write_text(TRIVIAL)
    return path


def test_default_output_is_beside_the_source() -> None:
    assert default_output("/a/mytrace.bpf.py") == "/a/mytrace.bpf.o"
    assert default_output("x.py") == "x.o"


def test_compile_writes_the_object(src: Path, compile_counter: CompileCounter, capsys) -> None:
    assert main(["compile", str(src)]) == 0
    out = src.with_name("mytrace.bpf.o")
    assert is_bpf_object(out.read_bytes())
    assert str(out) in capsys.readouterr().out
    assert compile_counter.calls == [(str(src), "mytrace_bpf")]


def test_compile_output_option_writes_a_plain_elf(src: Path, tmp_path: Path, compile_counter: CompileCounter) -> None:
    out = tmp_path / "sub.o"
    assert main(["compile", str(src), "-o", str(out), "-q"]) == 0
    data = out.read_bytes()
    assert is_bpf_object(data) and not data.endswith(cache.MAGIC)  # no cache trailer


def test_compile_error_is_one_line(src: Path, compile_counter: CompileCounter, capsys) -> None:
    src.write_text(BROKEN)
    assert main(["compile", str(src)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{src}:{BROKEN_LINE}:1: error: {BROKEN_MESSAGE}") and err.count("\n") == 1
    assert not src.with_name("mytrace.bpf.o").exists()


def test_missing_file_is_one_line(tmp_path: Path, compile_counter: CompileCounter, capsys) -> None:
    assert main(["compile", str(tmp_path / "nope.bpf.py")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("bpfimport: error: cannot read ") and err.count("\n") == 1


def test_unwritable_output_is_one_line(src: Path, compile_counter: CompileCounter, capsys) -> None:
    assert main(["compile", str(src), "-o", str(src.parent / "no" / "such" / "x.o")]) == 1
    assert capsys.readouterr().err.startswith("bpfimport: error: cannot write ")


def test_ir_prints_the_ir(src: Path, compile_counter: CompileCounter, capsys) -> None:
    assert main(["ir", str(src)]) == 0
    out = capsys.readouterr().out
    assert 'target triple = "bpfel-unknown-none"' in out
    assert '@prog(' in out and 'section "syscall"' in out


def test_options_reach_the_compiler(src: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bpfimport.compiler
    from bpfimport.compiler import CompileOptions

    seen = []
    real = bpfimport.compiler.compile_source

    def spy(source, filename, module_name=None, options=None):
        seen.append(options)
        return real(source, filename, module_name, options)

    monkeypatch.setattr(bpfimport.compiler, "compile_source", spy)
    assert main(["compile", str(src), "--cpu", "v1", "-O", "0", "--no-debug", "-q"]) == 0
    assert seen == [CompileOptions(cpu="v1", opt_level=0, debug=False)]


def test_compileall_fills_caches_even_under_dont_write_bytecode(
    tmp_path: Path, compile_counter: CompileCounter, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setattr(sys, "pycache_prefix", None)
    pkg = tmp_path / "app" / "probes"
    pkg.mkdir(parents=True)
    (tmp_path / "app" / "a.bpf.py").write_text(TRIVIAL)
    (pkg / "b.bpf.py").write_text(TRIVIAL)
    (pkg / "not_bpf.py").write_text("")
    assert main(["compileall", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("compiled") == 2
    for s in (tmp_path / "app" / "a.bpf.py", pkg / "b.bpf.py"):
        assert cache.read(cache.cache_path(str(s)), s.read_bytes(), source_path=str(s)) is not None
    assert main(["compileall", "-q", str(tmp_path)]) == 0
    assert capsys.readouterr().out == ""
    assert len(compile_counter.calls) == 2  # the second run found them up to date
    assert main(["compileall", "-f", str(tmp_path / "app")]) == 0
    assert len(compile_counter.calls) == 4


def test_compileall_reports_every_failure_and_exits_1(
    tmp_path: Path, compile_counter: CompileCounter, writable_cache: None, capsys
) -> None:
    (tmp_path / "good.bpf.py").write_text(TRIVIAL)
    (tmp_path / "bad.bpf.py").write_text(BROKEN)
    assert main(["compileall", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith(f"{tmp_path / 'bad.bpf.py'}:{BROKEN_LINE}:1: error: {BROKEN_MESSAGE}")
    assert captured.err.count("\n") == 1
    assert "good.bpf.py: compiled" in captured.out
    assert main(["compileall", str(tmp_path / "missing")]) == 1


def test_help_reads_well() -> None:
    r = run_cli("--help")
    assert r.returncode == 0
    for word in ("compile", "ir", "asm", "compileall", "run", "examples:", "-o out.o"):
        assert word in r.stdout
    r = run_cli("compileall", "--help")
    assert r.returncode == 0 and "read-only" in r.stdout


def test_version() -> None:
    from bpfimport import __version__

    r = run_cli("--version")
    assert r.returncode == 0
    assert r.stdout.startswith(f"bpfimport {__version__} (llvmlite ")


def test_usage_error_exits_2() -> None:
    r = run_cli("compile")
    assert r.returncode == 2 and "usage:" in r.stderr and "Traceback" not in r.stderr


# ---------------------------------------------------------------- with the real compiler


def test_real_compile_gives_an_elf_object(src: Path) -> None:
    r = run_cli("compile", str(src), "-o", str(src.with_suffix(".o")))
    assert r.returncode == 0, r.stderr
    assert src.with_suffix(".o").read_bytes()[:4] == b"\x7fELF"


def test_real_compile_error_has_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bpf.py"
    bad.write_text(TRIVIAL + "x = 1 / 2\n")
    r = run_cli("compile", str(bad))
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    line = len(TRIVIAL.splitlines()) + 1  # the appended `x = 1 / 2`
    assert len(lines) == 1 and lines[0].startswith(f"{bad}:{line}:") and ": error: " in lines[0]
    assert not os.path.exists(default_output(str(bad)))


def test_asm_interleaves_python_lines(src: Path) -> None:
    from bpfimport.__main__ import _objdump

    need(_objdump() is not None, "llvm-objdump is not installed (apt-get install llvm)")
    r = run_cli("asm", str(src))
    assert r.returncode == 0, r.stderr
    assert "<prog>:" in r.stdout
    line = TRIVIAL.splitlines().index("    return 0") + 1
    # "; <line> | <source>" above its instructions: the source line, at its number in the file
    assert re.search(rf"^; +{line} \|     return 0$", r.stdout, re.M), r.stdout
    assert "exit" in r.stdout


def test_asm_without_objdump_says_what_to_install(
    src: Path, compile_counter: CompileCounter, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import bpfimport.__main__ as cli

    monkeypatch.setattr(cli, "_objdump", lambda: None)
    assert main(["asm", str(src)]) == 1
    assert "apt-get install llvm" in capsys.readouterr().err


RUN_SOURCE = """\
from bpfimport.lang import *

counts = HashMap(key=u32, value=u64, max_entries=1024)


@tracepoint("syscalls/sys_enter_getppid")
def on_getppid(ctx) -> int:
    counts[tgid()] += 1
    print("getppid seen")
    return 0


@syscall
def not_attachable(ctx) -> int:
    return 0


@xdp
def no_interface(ctx) -> int:
    return XDP_PASS


LICENSE = "GPL"
"""


def test_run_attaches_streams_prints_and_dumps_maps(tmp_path: Path, tracing: None) -> None:
    import threading
    import time

    nonce = uuid.uuid4().hex  # a line left in the trace buffer by an earlier run lacks it
    src = tmp_path / "watch.bpf.py"
    src.write_text(RUN_SOURCE.replace("getppid seen", f"getppid seen {nonce}"))
    stop = time.monotonic() + 4
    done = threading.Event()

    def poke() -> None:
        while not done.is_set() and time.monotonic() < stop:
            os.getppid()
            time.sleep(0.01)

    # a line left unread in the trace pipe before the run is not this run's output
    Path("/sys/kernel/tracing/trace_marker").write_text(f"stale line {nonce}\n")
    t = threading.Thread(target=poke)
    t.start()
    try:
        r = run_cli("run", str(src), "--duration", "1.5")
    finally:
        done.set()
        t.join()
    assert r.returncode == 0, r.stderr
    assert "attached on_getppid" in r.stderr
    assert "not attached not_attachable" in r.stderr  # reported, not fatal
    assert ("not attached no_interface (xdp): program 'no_interface' attaches to a network "
            "interface: pass ifname='eth0' or ifindex=N") in r.stderr
    assert f"getppid seen {nonce}" in r.stdout
    assert f"stale line {nonce}" not in r.stdout
    assert "counts (HashMap" in r.stdout
    assert f"  {os.getpid()}: " in r.stdout


def test_struct_classes_print_their_fields() -> None:
    """run prints events and map values with repr(): fields, not `<x_bpf.Pair object at 0x…>`."""
    from bpfimport.spec import CTypes, FieldSpec, ObjectSpec, StructSpec

    pair = StructSpec("Pair", 12, 4, (FieldSpec("lo", "u32", 0), FieldSpec("hi", "u16[2]", 4),
                                      FieldSpec("tag", "char[4]", 8)))
    Pair = CTypes(ObjectSpec(name="x_bpf", filename="x.bpf.py", structs=(pair,))).structs["Pair"]
    assert repr(Pair(1, (2, 3), b"ab")) == "Pair(lo=1, hi=[2, 3], tag=b'ab')"


def test_dump_maps_hides_zero_array_entries_including_per_cpu_ones(capsys) -> None:  # type: ignore[no-untyped-def]
    from bpfimport.__main__ import _dump_maps
    from bpfimport.spec import MapSpec

    class Handle:
        def __init__(self, items: list) -> None:
            self._items = items

        def items(self) -> list:
            return self._items

    class Spec:
        maps = (MapSpec("pc", "PerCpuArrayMap", "u32", "u64", 3),
                MapSpec("h", "HashMap", "u32", "u64", 8))

    class Module:
        pc = Handle([(0, [0, 0]), (1, [0, 5]), (2, [0, 0])])
        h = Handle([(1, 0)])  # a hash map's zero value is an entry: shown

    _dump_maps(Module(), Spec())
    out = capsys.readouterr().out
    assert "pc (PerCpuArrayMap, 1 entries, 2 zero entries not shown):\n  1: [0, 5]\n" in out
    assert "h (HashMap, 1 entries):\n  1: 0\n" in out


def test_run_turns_a_poll_error_into_one_line_and_closes(
        tmp_path: Path, kernel: None, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from bpfimport.errors import BpfError
    from bpfimport.runtime.events import EventReader
    from bpfimport.runtime.module import BpfModule

    src = tmp_path / "rbrun.bpf.py"
    src.write_text("from bpfimport.lang import *\n\nevents = RingBuffer(max_entries=4096)\n\n\n"
                   "@syscall\ndef prog(ctx) -> int:\n    return 0\n\n\nLICENSE = 'GPL'\n")

    def broken_poll(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise BpfError("RingBuffer poll on map 'events' failed: Bad file descriptor (EBADF)", 9)

    closed: list[object] = []
    real_close = BpfModule.close
    monkeypatch.setattr(EventReader, "poll", broken_poll)  # run polls through bpfimport.poll
    monkeypatch.setattr(BpfModule, "close", lambda self: (closed.append(self), real_close(self)))
    assert main(["run", str(src), "--no-trace", "--duration", "5"]) == 1
    err = capsys.readouterr().err
    assert "bpfimport: error: RingBuffer poll on map 'events' failed" in err
    assert "Traceback" not in err
    assert closed and not closed[0].__bpf_object__.loaded  # type: ignore[attr-defined]


TWO_STREAMS = """\
from bpfimport.lang import *

rb = RingBuffer(max_entries=4096)
perf = PerfEventArray()


@struct
class Hit:
    tag: u32 = 0
    pid: u32 = 0


@tracepoint("syscalls/sys_enter_getppid")
def on_getppid(ctx) -> int:
    if tgid() == TARGET:
        rb.output(Hit(tag=1, pid=tgid()))
        perf.output(Hit(tag=2, pid=tgid()))
    return 0


TARGET: Final[u32] = 0
LICENSE = "GPL"
"""


def test_run_prints_the_events_of_every_event_map_in_one_loop(
        tmp_path: Path, tracing: None, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """A ring buffer and a perf buffer, both streamed by ``run`` through bpfimport.poll."""
    import threading
    import time

    from bpfimport.runtime import events as rt_events

    src = tmp_path / "streams2.bpf.py"
    src.write_text(TWO_STREAMS.replace("TARGET: Final[u32] = 0", f"TARGET: Final[u32] = {os.getpid()}"))
    polled: list[int] = []
    real = rt_events.poll_maps
    monkeypatch.setattr(rt_events, "poll_maps",
                        lambda cbs, **kw: (polled.append(len(cbs)), real(cbs, **kw))[1])
    done = threading.Event()

    def poke() -> None:
        while not done.is_set():
            os.getppid()
            time.sleep(0.01)

    t = threading.Thread(target=poke)
    t.start()
    try:
        assert main(["run", str(src), "--no-trace", "--duration", "1.5"]) == 0
    finally:
        done.set()
        t.join()
    out = capsys.readouterr().out
    me = os.getpid()
    assert f"event: Hit(tag=1, pid={me})" in out  # from the ring buffer
    assert f"event: Hit(tag=2, pid={me})" in out  # from the perf buffer
    assert polled and set(polled) == {2}  # one poll of both maps per round


def test_run_reports_lost_perf_samples(tmp_path: Path, kernel: None,
                                       monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from bpfimport.runtime import events as rt_events

    src = tmp_path / "lossy.bpf.py"
    src.write_text(TWO_STREAMS)

    def lossy(cbs, timeout_ms, lost):  # type: ignore[no-untyped-def]
        perf = next(m for m in cbs if m.name == "perf")
        lost(perf, 3)
        return 0

    monkeypatch.setattr(rt_events, "poll_maps", lossy)
    assert main(["run", str(src), "--no-trace", "--duration", "0.05"]) == 0
    assert "lost: 3 event(s) of perf" in capsys.readouterr().err
