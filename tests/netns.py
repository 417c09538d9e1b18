"""A veth pair into a network namespace of the test run's own, for live packet tests.

Everything made here is named ``bpfi<pid>...`` (interfaces, namespaces, cgroups), so runs
of the suite side by side never meet, and is removed by the fixture's finalizer on every
way out of the test; leftovers of a run that was killed (its pid no longer alive) are
removed by the next run. Addresses are in a /30 chosen from the pid, on the veth alone:
traffic goes between this process and the namespace it made, nowhere else.

Sockets inside the namespace are made by a short thread that enters it (``setns`` moves
only the calling thread): a socket stays in the namespace it was created in, so the test
then uses it from any thread, with no child process.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
PREFIX = f"bpfi{os.getpid()}"


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ip ARGS``; a failure raises with ip's own message."""
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


def tc(*args: str) -> str:
    """``tc ARGS``'s output (an empty string when tc fails: no qdisc, no such device)."""
    r = subprocess.run(["tc", *args], capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else ""


def iproute2_usable() -> str | None:
    """Why veth pairs in namespaces cannot be made here, or None."""
    if shutil.which("ip") is None or shutil.which("tc") is None:
        return "iproute2 (ip, tc) is not installed"
    if not Path("/proc/self/ns/net").exists():
        return "the kernel has no network namespaces"
    return None


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def remove_leftovers() -> None:
    """Delete interfaces and namespaces of earlier runs whose process is gone."""
    own = re.compile(r"^bpfi(\d+)")
    for name in ip("netns", "list", check=False).stdout.split():
        m = own.match(name)
        if m and not _alive(int(m.group(1))):
            ip("netns", "del", name, check=False)
    for line in ip("-o", "link", "show", check=False).stdout.splitlines():
        fields = line.split(":")
        name = fields[1].strip().split("@")[0] if len(fields) > 1 else ""
        m = own.match(name)
        if m and not _alive(int(m.group(1))):
            ip("link", "del", name, check=False)
    root = cgroup2_mount()
    for folder in root.glob("bpfi*") if root is not None else ():
        m = own.match(folder.name)
        if m and not _alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                folder.rmdir()


_pairs = 0


@dataclass
class VethPair:
    """``host`` in this namespace, ``peer`` in namespace ``ns``; IPv4 addresses on both."""

    ns: str
    host: str
    peer: str
    host_ip: str
    peer_ip: str

    def socket(self, kind: int = socket.SOCK_DGRAM, family: int = socket.AF_INET) -> socket.socket:
        """A socket created inside the namespace (usable from any thread afterwards)."""
        return socket_in_netns(self.ns, family, kind)

    def remove(self) -> None:
        ip("link", "del", self.host, check=False)  # takes the peer with it
        ip("netns", "del", self.ns, check=False)


def make_veth_pair() -> VethPair:
    """A new pair with a /30 of its own: 10.(200+a).b.c/30 from the pid and a counter."""
    global _pairs
    _pairs += 1
    n = (os.getpid() % 4096) * 16 + _pairs % 16
    net = f"10.{200 + (n >> 14) % 50}.{(n >> 6) & 255}.{(n & 63) * 4}"
    base = net.rsplit(".", 1)[0] + "."
    last = int(net.rsplit(".", 1)[1])
    pair = VethPair(ns=f"{PREFIX}n{_pairs}", host=f"{PREFIX}h{_pairs}", peer=f"{PREFIX}p{_pairs}",
                    host_ip=f"{base}{last + 1}", peer_ip=f"{base}{last + 2}")
    try:
        ip("netns", "add", pair.ns)
        ip("link", "add", pair.host, "type", "veth", "peer", "name", pair.peer, "netns", pair.ns)
        ip("addr", "add", f"{pair.host_ip}/30", "dev", pair.host)
        ip("link", "set", pair.host, "up")
        ip("-n", pair.ns, "addr", "add", f"{pair.peer_ip}/30", "dev", pair.peer)
        ip("-n", pair.ns, "link", "set", pair.peer, "up")
        ip("-n", pair.ns, "link", "set", "lo", "up")
    except BaseException:
        pair.remove()
        raise
    return pair


@contextlib.contextmanager
def veth_pair() -> Iterator[VethPair]:
    remove_leftovers()
    pair = make_veth_pair()
    try:
        yield pair
    finally:
        pair.remove()


def socket_in_netns(ns: str, family: int, kind: int) -> socket.socket:
    """A socket made by a thread that entered namespace ``ns`` (setns moves one thread only)."""
    return in_netns(ns, lambda: socket.socket(family, kind))


def in_netns(ns: str, fn: Callable[[], T]) -> T:
    """``fn()`` run by a short thread that entered namespace ``ns``; its result or exception."""
    libc = ctypes.CDLL(None, use_errno=True)
    result: list[Any] = []

    def run() -> None:
        try:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns into {ns}: {os.strerror(err)}")
            finally:
                os.close(fd)
            result.append(fn())
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            result.append(e)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


def receive_all(sock: socket.socket, timeout: float = 0.3) -> list[bytes]:
    """Every datagram that arrives until ``timeout`` seconds pass without one."""
    got: list[bytes] = []
    sock.settimeout(timeout)
    try:
        while True:
            got.append(sock.recv(65536))
    except (TimeoutError, BlockingIOError):
        pass
    return got


@contextlib.contextmanager
def cgroup_v2() -> Iterator[Path]:
    """A new cgroup v2 folder named after the run, removed afterwards (its processes gone)."""
    root = cgroup2_mount()
    if root is None:
        raise RuntimeError("cgroup v2 is not mounted")
    path = root / f"{PREFIX}cg{threading.get_ident() % 1000}"
    path.mkdir()
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.rmdir()


def cgroup2_mount() -> Path | None:
    """Where cgroup v2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified in hybrid mode)."""
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 2 and fields[2] == "cgroup2":
                return Path(fields[1])
    return None
