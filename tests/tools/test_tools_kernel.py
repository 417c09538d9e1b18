"""The bcc-style tools run as a user runs them: ``python -m bpfimport.tools.NAME``, then Ctrl-C.

Each test starts the tool, waits for its header (printed once the programs are
attached), makes a workload whose pid, arguments, paths, errno, exit code or
syscall count it knows, sends SIGINT and checks the tool's lines name what the
workload did, and that the tool exited 0 without a traceback.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT


class Tool:
    """A running tool: started, ready once its header is out, stopped with a signal."""

    def __init__(self, name: str, *args: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"bpfimport.tools.{name}", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=str(ROOT))
        self.lines: list[str] = []
        self._buf = b""

    def wait_for(self, text: str, seconds: float = 60.0) -> None:
        """Read stdout until a line contains ``text`` (the header: the programs are attached)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                self._buf += chunk
                *done, self._buf = self._buf.split(b"\n")
                self.lines += [d.decode(errors="replace") for d in done]
        err = self.proc.stderr.read().decode() if self.proc.poll() is not None and self.proc.stderr else ""
        raise AssertionError(f"no {text!r} from the tool; stdout {self.lines!r}; stderr {err!r}")

    def stop(self, sig: int = signal.SIGINT, settle: float = 0.5) -> tuple[list[str], str]:
        """Let events drain, send ``sig``; the output lines and stderr, after checking a clean exit."""
        time.sleep(settle)
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=30)
        lines = self.lines + (self._buf + out).decode(errors="replace").splitlines()
        text = err.decode(errors="replace")
        assert self.proc.returncode == 0, (self.proc.returncode, text)
        assert "Traceback" not in text, text
        return lines, text


def columns(line: str) -> list[str]:
    return line.split()


@pytest.fixture
def mark() -> str:
    return "tools-" + uuid.uuid4().hex[:10]


def test_execsnoop(tracing: None, mark: str) -> None:
    tool = Tool("execsnoop")
    tool.wait_for("PCOMM")
    ok = subprocess.run(["/bin/true", mark, "two words"], check=True)
    assert ok.returncode == 0
    missing = f"/nonexistent-{mark}"
    with pytest.raises(FileNotFoundError):
        subprocess.run([missing, "x"])
    lines, _ = tool.stop()
    assert lines[0].split() == ["PCOMM", "PID", "PPID", "RET", "ARGS"]
    ran = [line for line in lines if f"/bin/true {mark} two words" in line]
    assert len(ran) == 1, lines
    pcomm, pid, ppid, ret = columns(ran[0])[:4]
    assert (pcomm, int(ppid), ret) == ("true", os.getpid(), "0")
    assert int(pid) > 0
    failed = [line for line in lines if missing in line]
    assert len(failed) == 1, lines
    assert columns(failed[0])[2:5] == [str(os.getpid()), "-2", missing]


def test_execsnoop_failed_only_and_name(tracing: None, mark: str) -> None:
    tool = Tool("execsnoop", "-x", "-T")
    tool.wait_for("PCOMM")
    subprocess.run(["/bin/true", mark], check=True)
    missing = f"/nonexistent-{mark}"
    with pytest.raises(FileNotFoundError):
        subprocess.run([missing])
    lines, _ = tool.stop()
    assert lines[0].split()[:2] == ["TIME", "PCOMM"]
    assert not [line for line in lines if f"/bin/true {mark}" in line], lines
    failed = [line for line in lines if missing in line]
    assert len(failed) == 1 and columns(failed[0])[4] == "-2", lines

    tool = Tool("execsnoop", "-n", "^true$", "-P", str(os.getpid()))
    tool.wait_for("PCOMM")
    subprocess.run(["/bin/true", mark], check=True)
    subprocess.run(["/bin/echo", mark], check=True, stdout=subprocess.DEVNULL)
    lines, _ = tool.stop()
    assert [line for line in lines if f"/bin/true {mark}" in line], lines
    assert not [line for line in lines if f"/bin/echo {mark}" in line], lines


def test_opensnoop(tracing: None, mark: str, tmp_path: Path) -> None:
    present = tmp_path / f"present-{mark}"
    present.write_text("x")
    missing = tmp_path / f"missing-{mark}"
    tool = Tool("opensnoop", "-p", str(os.getpid()))
    tool.wait_for("PATH")
    fd = os.open(present, os.O_RDONLY)
    os.close(fd)
    with pytest.raises(FileNotFoundError):
        os.open(missing, os.O_RDONLY)
    lines, _ = tool.stop()
    assert lines[0].split() == ["PID", "COMM", "FD", "ERR", "PATH"]
    opened = [columns(line) for line in lines if line.endswith(str(present))]
    assert opened == [[str(os.getpid()), opened[0][1], str(fd), "0", str(present)]], lines
    failed = [columns(line) for line in lines if line.endswith(str(missing))]
    assert failed == [[str(os.getpid()), failed[0][1], "-1", "2", str(missing)]], lines
    # -p: nobody else's opens
    assert all(columns(line)[0] == str(os.getpid()) for line in lines[1:]), lines


def test_opensnoop_failed_only(tracing: None, mark: str, tmp_path: Path) -> None:
    present = tmp_path / f"present-{mark}"
    present.write_text("x")
    missing = tmp_path / f"missing-{mark}"
    tool = Tool("opensnoop", "-x", "-T", "-p", str(os.getpid()))
    tool.wait_for("PATH")
    os.close(os.open(present, os.O_RDONLY))
    with pytest.raises(FileNotFoundError):
        os.open(missing, os.O_RDONLY)
    lines, _ = tool.stop(signal.SIGTERM)
    assert lines[0].split()[:2] == ["TIME(s)", "PID"]
    assert not [line for line in lines if str(present) in line], lines
    assert [line for line in lines if line.endswith(str(missing))], lines


def test_exitsnoop(tracing: None) -> None:
    tool = Tool("exitsnoop")
    tool.wait_for("EXIT_CODE")
    code = subprocess.Popen(["/bin/sh", "-c", "sleep 0.2; exit 7"])
    assert code.wait() == 7
    killed = subprocess.Popen(["/bin/sleep", "30"])
    time.sleep(0.1)
    killed.kill()
    killed.wait()
    lines, _ = tool.stop()
    assert lines[0].split() == ["PCOMM", "PID", "PPID", "TID", "AGE(s)", "EXIT_CODE"]
    rows = {int(columns(line)[1]): line for line in lines[1:] if len(columns(line)) >= 6}
    sh = columns(rows[code.pid])
    assert sh[0] == "sh" and int(sh[2]) == os.getpid() and int(sh[3]) == code.pid
    assert 0.15 <= float(sh[4]) < 10
    assert sh[5:] == ["code", "7"]
    sleep = columns(rows[killed.pid])
    assert sleep[0] == "sleep" and int(sleep[2]) == os.getpid()
    assert sleep[5:] == ["signal", "9", "(KILL)"]


def test_exitsnoop_failed_only(tracing: None) -> None:
    tool = Tool("exitsnoop", "-x", "-t")
    tool.wait_for("EXIT_CODE")
    ok = subprocess.Popen(["/bin/true"])
    bad = subprocess.Popen(["/bin/false"])
    ok.wait()
    bad.wait()
    lines, _ = tool.stop()
    assert lines[0].split()[:2] == ["TIME-TZ", "PCOMM"]
    pids = {int(columns(line)[2]) for line in lines[1:] if len(columns(line)) >= 7}
    assert bad.pid in pids and ok.pid not in pids, lines


def _rows(lines: list[str]) -> dict[str, list[str]]:
    return {columns(line)[0]: columns(line) for line in lines if columns(line)}


def test_syscount(tracing: None) -> None:
    burst = 3000
    tool = Tool("syscount", "-p", str(os.getpid()))
    tool.wait_for("Ctrl+C")
    for _ in range(burst):
        os.sched_yield()
    lines, _ = tool.stop()
    assert "SYSCALL" in lines[1] and "COUNT" in lines[1], lines
    rows = _rows(lines)
    assert burst <= int(rows["sched_yield"][1]) < burst + 50, lines
    assert lines[-1] == "Detaching..."


def test_syscount_by_process_failed_latency(tracing: None, tmp_path: Path) -> None:
    burst = 500
    missing = str(tmp_path / "missing")
    tool = Tool("syscount", "-P", "-L", "-e", "ENOENT", "-p", str(os.getpid()))
    tool.wait_for("Ctrl+C")
    for _ in range(burst):
        try:
            os.open(missing, os.O_RDONLY)
        except FileNotFoundError:
            pass
    os.close(os.open(__file__, os.O_RDONLY))  # succeeds: not counted
    lines, _ = tool.stop()
    assert lines[1].split() == ["PID", "COMM", "COUNT", "TIME", "(us)"], lines
    row = _rows(lines)[str(os.getpid())]
    assert int(row[2]) == burst, lines
    assert float(row[3]) > 0

    tool = Tool("syscount", "-x", "--syscall", "openat", "-d", "1")
    tool.wait_for("Ctrl+C")
    for _ in range(burst):
        try:
            os.open(missing, os.O_RDONLY)
        except FileNotFoundError:
            pass
    out, err = tool.proc.communicate(timeout=30)
    assert tool.proc.returncode == 0 and "Traceback" not in err.decode()
    rows = _rows(out.decode().splitlines())
    assert set(rows) >= {"openat"} and int(rows["openat"][1]) >= burst, out
    assert "close" not in rows


def test_syscount_interval(tracing: None) -> None:
    tool = Tool("syscount", "-i", "0.3", "-d", "1", "-p", str(os.getpid()))
    out, err = tool.proc.communicate(timeout=30)
    assert tool.proc.returncode == 0, err
    stamps = [line for line in out.decode().splitlines() if line.startswith("[")]
    assert 3 <= len(stamps) <= 4, out


def test_a_warm_tool_neither_compiles_nor_reads_the_kernel_btf(tracing: None, tmp_path: Path) -> None:
    """A tool with a cached object imports no llvmlite, no compiler and no BTF layer, and
    libbpf does not read vmlinux for its CO-RE reads (its own BTF is the target on the
    kernel it was compiled for): what keeps a running tool near 15 MB instead of 26."""
    from tests.runtime.test_module import _imported

    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=str(tmp_path / "pycache"),
               XDG_CACHE_HOME=str(tmp_path / "xdg"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cmd = [sys.executable, "-X", "importtime", "-m", "bpfimport.tools.syscount", "-d", "0.1"]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    assert _imported(first.stderr, "bpfimport.compiler"), "the first run should have compiled"
    warm = subprocess.run(["strace", "-f", "-e", "trace=openat", *cmd] if shutil.which("strace")
                          else cmd, capture_output=True, text=True, env=env, timeout=120)
    assert warm.returncode == 0, warm.stderr
    assert "Tracing syscalls" in warm.stdout
    for heavy in ("llvmlite", "bpfimport.compiler", "bpfimport.btf.kernel", "bpfimport.btf.reader"):
        assert _imported(warm.stderr, heavy) == [], heavy
    if shutil.which("strace"):
        assert "openat(" in warm.stderr  # strace saw the opens
        assert "/sys/kernel/btf/vmlinux" not in warm.stderr  # neither Python nor libbpf opened it
