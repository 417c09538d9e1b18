"""tcpconnect run as a user runs it: connects from a child process to listeners the test opens.

The child connects over IPv4 to a listener on 127.0.0.1, over IPv6 to one on ::1 (where the
machine has IPv6), and to a port that ``-P`` leaves out; the tool's lines must name the child's
pid, both addresses and the ports it chose, and nothing else.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.tools.test_tools_cli import run_tool
from tests.tools.test_tools_kernel import Tool

CONNECTS = """
import socket, sys
for family, host, port in ((socket.AF_INET, "127.0.0.1", {v4}), (socket.AF_INET6, "::1", {v6}),
                           (socket.AF_INET, "127.0.0.1", {other})):
    if port:
        s = socket.socket(family)
        try:
            s.connect((host, port))
        except OSError:
            pass
        s.close()
"""


def listener(family: socket.AddressFamily, host: str) -> socket.socket | None:
    try:
        s = socket.socket(family)
        s.bind((host, 0))
    except OSError:
        return None      # no IPv6 on this machine
    s.listen(8)
    return s


def run_child(v4: int, v6: int, other: int) -> int:
    """Run the connecting child to its end; its pid."""
    proc = subprocess.Popen([sys.executable, "-c", CONNECTS.format(v4=v4, v6=v6, other=other)])
    assert proc.wait(timeout=30) == 0
    return proc.pid


Listeners = tuple[socket.socket, "socket.socket | None", socket.socket]


@pytest.fixture
def listeners() -> Iterator[Listeners]:
    v4 = listener(socket.AF_INET, "127.0.0.1")
    assert v4 is not None
    v6 = listener(socket.AF_INET6, "::1")
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))         # bound, never listening: a refused connect
    yield v4, v6, closed
    for s in (v4, v6, closed):
        if s is not None:
            s.close()


def ports(listeners: Listeners) -> tuple[int, int, int]:
    v4, v6, closed = listeners
    return (v4.getsockname()[1], v6.getsockname()[1] if v6 is not None else 0,
            closed.getsockname()[1])


def test_tcpconnect_names_each_connect(tracing: None, listeners: Listeners) -> None:
    v4_port, v6_port, other = ports(listeners)
    tool = Tool("tcpconnect", "-U", "-P", ",".join(str(p) for p in (v4_port, v6_port) if p))
    tool.wait_for("DPORT")
    pid = run_child(v4_port, v6_port, other)
    lines, _ = tool.stop()
    assert lines[0].split() == ["UID", "PID", "COMM", "IP", "SADDR", "DADDR", "DPORT"]
    comm = os.path.basename(sys.executable)[:12]       # the name the child was exec()ed by
    rows = [line.split() for line in lines[1:]]
    want = [[str(os.getuid()), str(pid), comm, "4", "127.0.0.1", "127.0.0.1", str(v4_port)]]
    if v6_port:
        want.append([str(os.getuid()), str(pid), comm, "6", "::1", "::1", str(v6_port)])
    assert rows == want         # the -P filter left the third connect out


def test_tcpconnect_pid_family_and_count(tracing: None, listeners: Listeners) -> None:
    """-4 drops the IPv6 connect, -p another process's connects, -c counts per address pair."""
    v4_port, v6_port, other = ports(listeners)
    tool = Tool("tcpconnect", "-4", "-c")
    tool.wait_for("Tracing connect")
    for _ in range(3):
        run_child(v4_port, v6_port, other)
    lines, _ = tool.stop()
    rows = [line.split() for line in lines[lines.index("") + 1:]]
    assert rows[0] == ["LADDR", "RADDR", "RPORT", "CONNECTS"]
    assert ["127.0.0.1", "127.0.0.1", str(v4_port), "3"] in rows
    assert ["127.0.0.1", "127.0.0.1", str(other), "3"] in rows
    assert not any(row[0] == "::1" for row in rows)

    tool = Tool("tcpconnect", "-p", str(os.getpid()))
    tool.wait_for("DPORT")
    run_child(v4_port, v6_port, other)          # another process: left out
    socket.create_connection(("127.0.0.1", v4_port)).close()
    lines, _ = tool.stop()
    assert [line.split()[-1] for line in lines[1:]] == [str(v4_port)]


def test_tcpconnect_help_and_usage_errors() -> None:
    done = run_tool("tcpconnect", "-h")
    assert done.returncode == 0 and not done.stderr
    assert done.stdout.startswith("usage: python -m bpfimport.tools.tcpconnect")
    assert "examples:\n" in done.stdout and "./tcpconnect " in done.stdout
    bad = run_tool("tcpconnect", "-P", "80,x")
    assert bad.returncode == 2 and "error:" in bad.stderr.splitlines()[-1], bad.stderr
