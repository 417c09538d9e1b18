"""The kernel-data examples, run as a user would: ``python examples/execsnoop.py`` and opensnoop.

Each test starts the app, waits for its header (printed once both programs are
attached), makes the events itself — an exec of a marked child with known arguments
and of a missing file; an open of a present and of a missing marked path — then
interrupts the app and checks the lines for exactly what the kernel must have seen:
pids, the parent's pid (read from task_struct), arguments, paths, flags, results.
"""

from __future__ import annotations

import os
import re
import secrets
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import ROOT

EXAMPLES = ROOT / "examples"


@contextmanager
def running_app(name: str, *args: str, ready_s: float = 60) -> Iterator[Callable[[], str]]:
    """Start ``examples/<name>`` and wait for its header; give a function that stops it and
    returns everything it printed (stdout), failing with its stderr if it did not exit 0."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.Popen([sys.executable, str(EXAMPLES / name), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    header = ""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if sel.select(ready_s):
            header = proc.stdout.readline()
    if not header:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"{name} printed no header within {ready_s} s (exit {proc.returncode})\n{out}\n{err}")

    def stop() -> str:
        time.sleep(0.3)  # the exit programs run and the events reach the ring buffer
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        assert proc.returncode == 0, f"{name} exit {proc.returncode}\n--- stdout\n{out}\n--- stderr\n{err}"
        return header + out

    try:
        yield stop
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


EXEC_LINE = re.compile(r"^(?P<comm>.{16}) +(?P<pid>\d+) +(?P<ppid>\d+) +(?P<ret>-?\d+) (?P<path>\S+) +(?P<args>.*)$")


def exec_lines(out: str, marker: str) -> list[re.Match[str]]:
    return [m for line in out.splitlines() if marker in line and (m := EXEC_LINE.match(line))]


def test_execsnoop_shows_pid_ppid_argv_and_result(tracing: None) -> None:
    marker = f"bpfimport-mark-{secrets.token_hex(4)}"
    missing = Path(f"/nonexistent-{marker}")  # short: an argument is cut at 63 bytes
    with running_app("execsnoop.py") as stop:
        child = subprocess.Popen(["/bin/true", marker, "second arg", "3"])
        child.wait()
        with pytest.raises(FileNotFoundError):
            subprocess.run([str(missing), marker])
        out = stop()
    assert out.splitlines()[0].split() == ["PCOMM", "PID", "PPID", "RET", "PATH", "ARGS"]

    ran = [m for m in exec_lines(out, marker) if m["path"] == "/bin/true"]
    assert len(ran) == 1, out
    m = ran[0]
    assert int(m["pid"]) == child.pid  # the exec'ing process: the child
    assert int(m["ppid"]) == os.getpid()  # task->real_parent->tgid: this test
    assert int(m["ret"]) == 0
    assert m["comm"].strip() == "true"  # the name after the exec
    assert m["args"] == f"/bin/true {marker} second arg 3"

    failed = [m for m in exec_lines(out, marker) if m["path"] == str(missing)]
    assert len(failed) == 1, out
    assert int(failed[0]["ppid"]) == os.getpid()
    assert int(failed[0]["ret"]) == -2  # -ENOENT
    assert failed[0]["args"] == f"{missing} {marker}"


def test_execsnoop_marks_cut_argument_lists(tracing: None) -> None:
    """More than MAXARGS (8) arguments: the first 8 and "..."."""
    marker = f"bpfimport-many-{secrets.token_hex(4)}"
    argv = ["/bin/true", marker, *(str(i) for i in range(2, 12))]
    with running_app("execsnoop.py") as stop:
        subprocess.run(argv, check=True)
        out = stop()
    (m,) = exec_lines(out, marker)
    assert m["args"] == " ".join(argv[:8]) + " ..."


OPEN_LINE = re.compile(r"^ *(?P<pid>\d+) (?P<comm>.{16}) +(?P<fd>-?\d+) +(?P<err>\d+) (?P<flags>[0-7]{8}) (?P<path>.*)$")


def test_opensnoop_shows_path_flags_fd_and_errno(tracing: None, tmp_path: Path) -> None:
    marker = f"bpfimport-mark-{secrets.token_hex(4)}"
    present = tmp_path / f"{marker}-present"
    present.write_text("x")
    missing = tmp_path / f"{marker}-missing"
    flags_present = os.O_RDONLY | os.O_CLOEXEC
    flags_missing = os.O_WRONLY | os.O_CLOEXEC
    with running_app("opensnoop.py", "--pid", str(os.getpid())) as stop:
        fd = os.open(present, flags_present)
        os.close(fd)
        with pytest.raises(FileNotFoundError):
            os.open(missing, flags_missing)
        out = stop()
    assert out.splitlines()[0].split() == ["PID", "COMM", "FD", "ERR", "FLAGS", "PATH"]
    lines = {m["path"]: m for line in out.splitlines() if (m := OPEN_LINE.match(line))}

    ok = lines.get(str(present))
    assert ok is not None, out
    assert int(ok["pid"]) == os.getpid()
    assert int(ok["fd"]) == fd and int(ok["err"]) == 0
    assert int(ok["flags"], 8) == flags_present

    bad = lines.get(str(missing))
    assert bad is not None, out
    assert int(bad["pid"]) == os.getpid()
    assert (int(bad["fd"]), int(bad["err"])) == (-1, 2)  # ENOENT
    assert int(bad["flags"], 8) == flags_missing
    assert all(int(m["pid"]) == os.getpid() for m in lines.values())  # --pid filters
