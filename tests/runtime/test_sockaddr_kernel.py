"""cgroup socket programs attached for real (tests/programs/sockaddr.bpf.py): a connect4 program
counts, refuses and redirects the connects of a child process the test moves into a cgroup v2
it makes; a sock_create program refuses its UDP sockets. The test's own connects, from outside
the cgroup, are neither counted nor changed.

All traffic is TCP on 127.0.0.1 between the child and listeners of this process.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests import netns
from tests.conftest import need, program_module

# Waits until it is in the cgroup (its sockets are its cgroup's from their creation), then
# connects to each port in argv and says what happened: "ok" or the errno's name; "udp" makes
# a UDP socket.
CHILD = textwrap.dedent("""
    import errno, socket, sys
    sys.stdin.readline()
    for arg in sys.argv[1:]:
        try:
            if arg == "udp":
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()
            else:
                with socket.create_connection(("127.0.0.1", int(arg)), timeout=2) as s:
                    s.sendall(b"from %s" % arg.encode())
            print("ok", flush=True)
        except OSError as e:
            print(errno.errorcode.get(e.errno, str(e)), flush=True)
""")


@pytest.fixture
def sa(kernel: None, tmp_path: Path) -> Iterator[ModuleType]:
    with program_module(tmp_path, "sockaddr.bpf.py") as m:
        yield m


@pytest.fixture
def cgroup(kernel: None) -> Iterator[Path]:
    need(netns.cgroup2_mount() is not None, "cgroup v2 is not mounted")
    with netns.cgroup_v2() as cg:
        yield cg


def listener() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    s.settimeout(2)
    return s


def free_port() -> int:
    """A port nothing listens on (connects there are refused unless a program says otherwise)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_in_cgroup(cg: Path, args: list[str]) -> list[str]:
    """Run CHILD in the cgroup with ``args``; its one line per argument."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, *args], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        (cg / "cgroup.procs").write_text(str(child.pid))
        out, _ = child.communicate("go\n", timeout=20)
    finally:
        child.kill()
        child.wait()
    return out.splitlines()


def received(srv: socket.socket) -> bytes:
    conn, _ = srv.accept()
    with conn:
        conn.settimeout(2)
        return conn.recv(100)


def test_connect4_counts_denies_and_rewrites_the_port(sa: ModuleType, cgroup: Path) -> None:
    plain, target = listener(), listener()
    with plain, target:
        p_plain, p_target = plain.getsockname()[1], target.getsockname()[1]
        p_denied, p_moved = free_port(), free_port()
        sa.denied[p_denied] = 1
        sa.rewrites[p_moved] = p_target
        assert sa.connect4.type == "cgroup_sock_addr"
        with sa.connect4.attach(cgroup=cgroup):
            # outside the cgroup: not seen, and p_moved is not moved
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", p_moved), timeout=2)
            lines = run_in_cgroup(cgroup, [str(p_plain), str(p_denied), str(p_moved),
                                           str(p_moved)])
            assert lines == ["ok", "EPERM", "ok", "ok"]
            assert received(plain) == b"from %d" % p_plain
            # the two connects to p_moved landed on the listener at p_target
            assert received(target) == b"from %d" % p_moved
            assert received(target) == b"from %d" % p_moved
            assert dict(sa.connects.items()) == {p_plain: 1, p_denied: 1, p_moved: 2}
        # detached: the cgroup's connects are its own again
        assert run_in_cgroup(cgroup, [str(p_denied), str(p_moved)]) == ["ECONNREFUSED",
                                                                        "ECONNREFUSED"]
        assert dict(sa.connects.items()) == {p_plain: 1, p_denied: 1, p_moved: 2}


def test_sock_create_refuses_udp_sockets(sa: ModuleType, cgroup: Path) -> None:
    srv = listener()
    with srv, sa.udp_create.attach(cgroup=str(cgroup)):
        port = str(srv.getsockname()[1])
        assert sa.udp_create.type == "cgroup_sock"
        assert run_in_cgroup(cgroup, ["udp", port]) == ["ok", "ok"]
        sa.deny_udp[0] = 1
        assert run_in_cgroup(cgroup, ["udp", port, "udp"]) == ["EPERM", "ok", "EPERM"]
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()  # outside: allowed
        assert received(srv) == b"from " + port.encode()
        assert received(srv) == b"from " + port.encode()


def every_field_program() -> str:
    """One program per cgroup hook that reads every field the compiler lets it read and writes
    every field it lets it write: the verifier then checks uapi.HOOK_ACCESS, hook by hook."""
    from bpfimport.compiler.uapi import CONTEXT_STRUCTS, HOOK_ACCESS
    from bpfimport.kinds import PROGRAM_KINDS

    lines = ["from bpfimport.lang import *", "seen = ArrayMap(key=u32, value=u64, max_entries=1)"]
    for kind in (k for k in PROGRAM_KINDS.values() if k.hooks):
        for hook in kind.hooks:
            access = HOOK_ACCESS[hook]
            fields = [f for f in CONTEXT_STRUCTS[access.struct].values()
                      if f.name not in access.hidden and f.how != "pointer"]
            lines += [f'@{kind.decorator}("{hook}")', f"def p_{hook}(ctx) -> int:", "    n: u64 = 0"]
            for f in fields:
                for ref in ([f"ctx.{f.name}[{i}]" for i in range(f.count)] if f.how == "array"
                            else [f"ctx.{f.name}"]):
                    lines.append(f"    n += {ref}")
                    if f.name in access.writable:
                        lines.append(f"    {ref} = {ref}")
            lines += ["    seen[0] = n", "    return 1"]
    return "\n".join([*lines, 'LICENSE = "GPL"', ""])


def test_every_field_each_hook_may_use_passes_the_verifier(kernel: None, tmp_path: Path) -> None:
    source = every_field_program()
    with program_module(tmp_path, "every_field.bpf.py", source) as m:
        for name in (n for n in dir(m) if n.startswith("p_")):
            prog = getattr(m, name)
            assert prog.fd > 0, name
            assert prog.type in ("cgroup_sock_addr", "cgroup_sock"), name
        assert source.count("def p_") == 16 and source.count(" = ctx.") > 30


# hook -> (returned, the verifier takes it): each range's edges (uapi.Access.returns)
VERDICTS = {"connect4": [(0, True), (1, True), (2, False)],
            "getpeername6": [(1, True), (0, False)],
            "bind4": [(3, True), (4, False)],
            "sock_create": [(1, True), (2, False)]}


@pytest.mark.parametrize("hook", sorted(VERDICTS))
def test_the_return_values_the_compiler_refuses_are_the_verifiers(kernel: None, tmp_path: Path,
                                                                   hook: str) -> None:
    """A constant the compiler would refuse, returned through a local it does not fold: the
    verifier refuses exactly those (and takes the range's edges)."""
    from bpfimport import BpfError
    from bpfimport.compiler.uapi import HOOK_ACCESS

    decorator = "cgroup_sock" if hook == "sock_create" else "cgroup_sock_addr"
    low, high = HOOK_ACCESS[hook].returns or (0, 0)
    for value, taken in VERDICTS[hook]:
        assert taken == (low <= value <= high)
        source = (f'from bpfimport.lang import *\n@{decorator}("{hook}")\ndef p(ctx) -> int:\n'
                  f'    n: u32 = {value}\n    return n\nLICENSE = "GPL"\n')
        with program_module(tmp_path, f"ret_{hook}_{value}.bpf.py", source) as m:
            if taken:
                assert m.p.fd > 0
            else:
                with pytest.raises(BpfError, match=rf"R0 .* should have been in \[{low}, {high}\]"):
                    _ = m.p.fd
