"""tcplife run as a user runs it: a child opens a TCP session on 127.0.0.1 with known byte
counts and lifetime; the tool must print both ends of it, each with the child's pid, the right
ports, the kilobytes each side sent and received, and a duration at least as long as the child
kept the session open.
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

SENT_KB, RECEIVED_KB, HOLD_S = 100, 300, 0.2

# On the listener the test passes (fd argv[1]): the client sends SENT_KB, the server answers
# RECEIVED_KB; the client closes first (its end goes FIN_WAIT1, the server's LAST_ACK, both in
# this process). Prints its pid and the client's port.
SESSION = f"""
import os, socket, sys, time
srv = socket.socket(fileno=int(sys.argv[1]))
c = socket.create_connection(srv.getsockname()); s, _ = srv.accept()
print(os.getpid(), c.getsockname()[1], flush=True)
def move(a, b, n):
    a.sendall(b"x" * n); got = 0
    while got < n:
        got += len(b.recv(65536))
move(c, s, {SENT_KB} * 1024)
move(s, c, {RECEIVED_KB} * 1024)
time.sleep({HOLD_S})
c.close(); time.sleep(0.05); s.close()
"""

COMM = os.path.basename(sys.executable)          # the name the child was exec()ed by


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    yield srv
    srv.close()


def run_session(srv: socket.socket) -> tuple[str, str]:
    """Run the child to its end on ``srv``: its pid and its client end's port."""
    child = subprocess.run([sys.executable, "-c", SESSION, str(srv.fileno())],
                           pass_fds=(srv.fileno(),), capture_output=True, text=True, check=True,
                           timeout=30)
    pid, client = child.stdout.split()
    return pid, client


def test_tcplife_counts_bytes_and_time(tracing: None, listening: socket.socket) -> None:
    server = str(listening.getsockname()[1])
    tool = Tool("tcplife")
    tool.wait_for("RX_KB")
    pid, client = run_session(listening)
    lines, _ = tool.stop()
    assert lines[0].split() == ["PID", "COMM", "LADDR", "LPORT", "RADDR", "RPORT", "TX_KB",
                                "RX_KB", "MS"]
    rows = {(row[3], row[5]): row for row in (line.split() for line in lines[1:])}
    ends = {(client, server): (SENT_KB, RECEIVED_KB), (server, client): (RECEIVED_KB, SENT_KB)}
    for (lport, rport), (tx, rx) in ends.items():
        row = rows[(lport, rport)]
        assert row[:8] == [pid, COMM[:10], "127.0.0.1", lport, "127.0.0.1", rport, str(tx),
                           str(rx)], row
        assert HOLD_S * 1000 <= float(row[8]) < 10_000, row


def test_tcplife_port_filters_and_csv(tracing: None, listening: socket.socket) -> None:
    """-D keeps the end whose remote port is listed (the client's), -L the end whose local port
    is (the server's); -s prints CSV and -w the wide layout with the IP version."""
    server = str(listening.getsockname()[1])
    tool = Tool("tcplife", "-s", "-D", server)
    tool.wait_for("RX_KB")
    pid, client = run_session(listening)
    lines, _ = tool.stop()
    assert lines[0] == "PID,COMM,LADDR,LPORT,RADDR,RPORT,TX_KB,RX_KB,MS"
    assert [line.split(",")[:8] for line in lines[1:]] == [
        [pid, COMM, "127.0.0.1", client, "127.0.0.1", server, str(SENT_KB), str(RECEIVED_KB)]]

    tool = Tool("tcplife", "-w", "-L", server)
    tool.wait_for("RX_KB")
    pid, client = run_session(listening)
    lines, _ = tool.stop()
    assert lines[0].split()[:4] == ["PID", "COMM", "IP", "LADDR"]
    assert [line.split()[:9] for line in lines[1:]] == [
        [pid, COMM[:16], "4", "127.0.0.1", server, "127.0.0.1", client, str(RECEIVED_KB),
         str(SENT_KB)]]


def test_tcplife_help_and_usage_errors() -> None:
    done = run_tool("tcplife", "-h")
    assert done.returncode == 0 and not done.stderr
    assert done.stdout.startswith("usage: python -m bpfimport.tools.tcplife")
    assert "examples:\n" in done.stdout and "./tcplife " in done.stdout
    bad = run_tool("tcplife", "-L", "70000")
    assert bad.returncode == 2 and "error:" in bad.stderr.splitlines()[-1], bad.stderr
