"""bashreadline run as a user runs it: an interactive bash on a pty reads a marked command
through readline(); the tool's line must name that bash's pid and the command as typed."""

from __future__ import annotations

import os
import pty
import select
import time
import uuid

from tests.tools.test_tools_cli import run_tool
from tests.tools.test_tools_kernel import Tool


def interactive_bash(*lines: bytes) -> int:
    """Run ``bash -i`` on a pseudo-terminal, type ``lines`` into its readline; its pid."""
    pid, fd = pty.fork()
    if pid == 0:     # the child: no rc files, a plain terminal
        os.execve("/bin/bash", ["bash", "--norc", "--noprofile", "-i"],
                  {"PATH": "/usr/bin:/bin", "TERM": "dumb", "PS1": "$ "})
    try:
        for line in lines:
            time.sleep(0.2)     # let readline take the terminal before typing
            os.write(fd, line)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:     # read until bash exits (EIO on the pty)
            ready, _, _ = select.select([fd], [], [], 0.5)
            try:
                if ready and not os.read(fd, 4096):
                    break
            except OSError:
                break
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return pid


def test_bashreadline_names_the_typed_command(kernel: None) -> None:
    mark = "echo bashreadline-" + uuid.uuid4().hex[:10]
    tool = Tool("bashreadline")
    tool.wait_for("COMMAND")
    pid = interactive_bash(mark.encode() + b"\n", b"exit\n")
    lines, _ = tool.stop()
    assert lines[0].split() == ["TIME", "PID", "COMMAND"]
    mine = [line.split(None, 2) for line in lines[1:] if line.split()[1] == str(pid)]
    assert [row[1:] for row in mine] == [[str(pid), mark], [str(pid), "exit"]], lines
    assert all(len(row[0]) == 8 and row[0].count(":") == 2 for row in mine)   # HH:MM:SS


def test_bashreadline_without_the_binary_says_so() -> None:
    done = run_tool("bashreadline", "-s", "/no/such/libreadline.so.8")
    assert done.returncode == 1
    assert done.stderr == ("bashreadline: /no/such/libreadline.so.8 does not exist, so there "
                           "is no readline library to trace here.\n")
    assert done.stdout == ""


def test_bashreadline_help_and_usage_errors() -> None:
    done = run_tool("bashreadline", "-h")
    assert done.returncode == 0 and not done.stderr
    assert done.stdout.startswith("usage: python -m bpfimport.tools.bashreadline")
    assert "examples:\n" in done.stdout and "./bashreadline " in done.stdout
    bad = run_tool("bashreadline", "-d", "-1")
    assert bad.returncode == 2 and "error:" in bad.stderr.splitlines()[-1], bad.stderr
