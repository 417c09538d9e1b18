"""The examples: every ``.bpf.py`` compiles, and the apps really run in the kernel.

The compile tests need nothing but the compiler.  The app tests run each example
app as a child process (as a user would: ``python examples/NAME.py``) and check
what it prints against what the kernel must have seen; they need root and tracefs
(the ``tracing`` fixture skips without, fails instead under BPFIMPORT_REQUIRE_KERNEL=1).
"""

from __future__ import annotations

import ast
import contextlib
import os
import re
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import netns
from tests.conftest import ROOT, kernel_has_kprobes, need

EXAMPLES = ROOT / "examples"
BPF_FILES = sorted(EXAMPLES.rglob("*.bpf.py"))
MAP_KINDS = {
    "HashMap", "ArrayMap", "PerCpuHashMap", "PerCpuArrayMap", "LruHashMap", "LruPerCpuHashMap",
    "RingBuffer", "PerfEventArray", "StackTraceMap", "LpmTrieMap", "ProgArray", "QueueMap",
    "StackMap", "BloomFilterMap",
}


def _call_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    return node.id if isinstance(node, ast.Name) else ""


def _first_str(node: ast.expr) -> str:
    assert isinstance(node, ast.Call) and isinstance(node.args[0], ast.Constant)
    return str(node.args[0].value)


def expected_declarations(path: Path) -> tuple[dict[str, str], set[str]]:
    """What the source declares, read with ast: {program: ELF section} and the map names."""
    programs: dict[str, str] = {}
    maps: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            for dec in node.decorator_list:
                kind = _call_name(dec)
                if kind == "section":
                    programs[node.name] = _first_str(dec)
                elif kind in ("tracepoint", "raw_tracepoint", "kprobe", "kretprobe"):
                    programs[node.name] = f"{kind}/{_first_str(dec)}"
                elif kind in ("xdp", "syscall", "tc", "perf_event"):
                    programs[node.name] = kind
                elif kind == "socket_filter":
                    programs[node.name] = "socket"  # libbpf's section name
                elif kind == "map":
                    maps.add(node.name)
        elif isinstance(node, ast.Assign) and _call_name(node.value) in MAP_KINDS:
            maps.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return programs, maps


@pytest.mark.parametrize("path", BPF_FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_compiles(path: Path) -> None:
    from bpfimport.compiler import compile_source

    module = path.name[: -len(".bpf.py")] + "_bpf"
    result = compile_source(path.read_bytes(), str(path), module)
    assert result.object[:4] == b"\x7fELF"
    programs, maps = expected_declarations(path)
    assert {p.name: p.section for p in result.spec.programs} == programs
    assert {m.name for m in result.spec.maps} == maps
    assert result.spec.license == "GPL"


def test_every_example_has_an_app() -> None:
    for path in BPF_FILES:
        app = path.with_name(path.name[: -len(".bpf.py")] + ".py")
        assert app.exists(), f"{path.relative_to(ROOT)} has no app {app.name}"


# ---------------------------------------------------------------- the apps, in the kernel


def run_app(relpath: str, *args: str, timeout: float = 120) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run ``python examples/<relpath> args``; gives the result and the child's pid."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / relpath), *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return result, proc.pid


def check(result: subprocess.CompletedProcess[str], returncode: int = 0) -> str:
    assert result.returncode == returncode, (
        f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result.stdout


ROW = re.compile(r"^\s*(\d+)\s+(.*?)\s+(\d+)\s*$")


def test_syscount_counts_its_own_syscalls(tracing: None) -> None:
    result, pid = run_app("syscount.py", "--seconds", "1", "--top", "100000")
    out = check(result)
    assert re.search(r"PID\s+COMM\s+SYSCALLS", out), out
    rows = [(int(m[1]), m[2], int(m[3])) for line in out.splitlines() if (m := ROW.match(line))]
    assert rows, out
    counts = [n for _, _, n in rows]
    assert counts == sorted(counts, reverse=True), "the table is sorted by count"
    mine = [n for p, _, n in rows if p == pid]
    assert mine and mine[0] > 0, f"no row for the app's own pid {pid}:\n{out}"


def test_syscount_default_top_ten(tracing: None) -> None:
    result, _ = run_app("syscount.py", "--seconds", "0.5")
    rows = [line for line in check(result).splitlines() if ROW.match(line)]
    assert 1 <= len(rows) <= 10


def test_hello_prints_from_the_kernel(tracing: None) -> None:
    result, _ = run_app("hello.py", "--seconds", "1.5")
    assert "Hello, World!" in check(result)


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        ("seed/hello_world.py", "Hello, World!"),
        ("seed/sys_sync.py", "sys_sync() called"),
        ("seed/binops_demo.py", "binops result 15"),
        ("seed/sync_timing.py", "multiple syncs, last"),
        ("seed/sync_count.py", "multiple syncs, last"),
    ],
)
def test_seed_trace_apps(tracing: None, app: str, expected: str) -> None:
    result, _ = run_app(app, "--seconds", "1.5")
    assert expected in check(result)


def test_seed_binops_demo_times_execs(tracing: None) -> None:
    result, _ = run_app("seed/binops_demo.py", "--seconds", "1.5")
    assert re.search(r"execve again after \d+ ms", check(result))


def test_seed_sync_count_keeps_a_count(tracing: None) -> None:
    result, _ = run_app("seed/sync_count.py", "--seconds", "1.5")
    m = re.search(r"sync\(\) calls seen in total: (\d+)", check(result))
    assert m and int(m[1]) >= 2, result.stdout


def test_seed_hello_fields_shows_its_own_clones(tracing: None) -> None:
    result, pid = run_app("seed/hello_fields.py", "--seconds", "1.5")
    out = check(result)
    assert re.search(rf"^\S+\s+\S.*\s{pid}\s+Hello, World!$", out, re.M), out


def test_seed_clone_count_counts_its_own_forks(tracing: None) -> None:
    result, pid = run_app("seed/clone_count.py", "--seconds", "0.5", "--forks", "7")
    out = check(result)
    rows = {int(m[1]): int(m[2]) for line in out.splitlines() if (m := re.match(r"^\s*(\d+)\s+(\d+)\s+#+$", line))}
    assert rows.get(pid, 0) >= 7, out


def test_seed_struct_and_perf_reads_its_own_clones(tracing: None) -> None:
    result, _ = run_app("seed/struct_and_perf.py", "--forks", "4")
    out = check(result)
    m = re.search(r"(\d+) clone\(\) events from this process", out)
    assert m and int(m[1]) >= 4, out


def test_seed_xdp_pass_counts_test_packets(kernel: None) -> None:
    result, _ = run_app("seed/xdp_pass.py", "--packets", "4")
    out = check(result)
    assert out.count("XDP_PASS") == 4, out
    assert "packets counted by the program: 4" in out


def test_seed_kprobes_attaches_or_says_why(tracing: None) -> None:
    result, _ = run_app("seed/kprobes.py", "--seconds", "1")
    if not kernel_has_kprobes():  # conftest's probe, not the app's own test
        check(result, returncode=2)
        assert "this kernel has no kprobes (CONFIG_KPROBES is off)" in result.stderr
    else:
        assert "do_unlinkat" in check(result)


def test_tracepipe_parses_kernel_trace_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("tracepipe", EXAMPLES / "tracepipe.py")
    assert spec is not None and spec.loader is not None
    tracepipe = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "tracepipe", tracepipe)  # dataclasses look their module up
    spec.loader.exec_module(tracepipe)
    line = tracepipe.parse("   kworker/u4:1-events-123  [001] d..31  5678.123456: bpf_trace_printk: a: b")
    assert (line.task, line.pid, line.cpu, line.ts, line.msg) == ("kworker/u4:1-events", 123, 1, 5678.123456, "a: b")
    line = tracepipe.parse("           <...>-6357    [001] ...1.   785.489509: tracing_mark_write: hi")
    assert (line.task, line.pid, line.msg) == ("<...>", 6357, "hi")
    assert tracepipe.parse("# tracer: nop") is None


# ---------------------------------------------------------------- the packet examples, live


@pytest.fixture(scope="module")
def veth(kernel_session: None) -> Iterator[netns.VethPair]:
    need(netns.iproute2_usable() is None, netns.iproute2_usable() or "")
    with netns.veth_pair() as pair:
        yield pair


@contextlib.contextmanager
def started_app(relpath: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    """The app running, past its first line (it has attached); killed if still running after."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.Popen([sys.executable, str(EXAMPLES / relpath), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first, f"the app printed nothing; stderr:\n{proc.stderr.read() if proc.stderr else ''}"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def finished(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, f"exit {proc.returncode}\n--- stdout\n{out}\n--- stderr\n{err}"
    return out


def test_xdp_protocols_counts_and_drops(veth: netns.VethPair) -> None:
    here = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    here.bind((veth.host_ip, 40101))
    with here, veth.socket() as inside, started_app(
            "xdp_protocols.py", "--ifname", veth.host, "--drop", "40100", "--seconds", "1.5",
            "--mode", "skb") as app:
        for i in range(5):
            inside.sendto(b"drop me %d" % i, (veth.host_ip, 40100))
        for i in range(3):
            inside.sendto(b"keep me %d" % i, (veth.host_ip, 40101))
        assert netns.receive_all(here, 0.3) == [b"keep me 0", b"keep me 1", b"keep me 2"]
        out = finished(app)
    m = re.search(r"^UDP\s+(\d+)$", out, re.M)
    assert m and int(m[1]) >= 8, out
    assert "dropped 5 packets to port 40100" in out, out


def test_xdp_ratelimit_limits_a_source(veth: netns.VethPair) -> None:
    here = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    here.bind((veth.host_ip, 40102))
    with here, veth.socket() as inside, started_app(
            "xdp_ratelimit.py", "--ifname", veth.host, "--limit", "5", "--seconds", "1") as app:
        for i in range(20):
            inside.sendto(b"%d" % i, (veth.host_ip, 40102))
        assert netns.receive_all(here, 0.3) == [b"0", b"1", b"2", b"3", b"4"]
        out = finished(app)
    assert re.search(rf"^{re.escape(veth.peer_ip)}\s+5\s+15$", out, re.M), out


def test_tc_bytes_counts_what_is_sent(veth: netns.VethPair) -> None:
    here = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with here, veth.socket() as inside, started_app(
            "tc_bytes.py", "--ifname", veth.host, "--seconds", "1") as app:
        inside.bind((veth.peer_ip, 40103))
        for _ in range(4):
            here.sendto(b"x" * 100, (veth.peer_ip, 40103))
        assert len(netns.receive_all(inside, 0.3)) == 4
        out = finished(app)
    frame = 14 + 20 + 8 + 100
    assert re.search(rf"^{re.escape(veth.peer_ip)}\s+4\s+{4 * frame}$", out, re.M), out


def dns_query(name: str) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + labels + b"\0" + b"\0\1\0\1"


def test_dns_only_sees_dns_only(kernel: None) -> None:
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))
    port = sender.getsockname()[1]
    with sender, started_app("dns_only.py", "--ifname", "lo", "--seconds", "1") as app:
        sender.sendto(dns_query("example.test"), ("127.0.0.1", 53))
        sender.sendto(dns_query("not-dns.test"), ("127.0.0.1", 40104))
        out = finished(app)
    assert f"127.0.0.1:{port} -> 127.0.0.1:53 query example.test." in out, out
    assert "not-dns" not in out and ":40104" not in out, out
    m = re.search(r"^(\d+) DNS packets$", out, re.M)
    assert m and int(m[1]) >= 1, out
