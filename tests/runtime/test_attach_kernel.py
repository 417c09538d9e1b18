"""Packet programs attached for real: XDP and tc on a veth pair into a namespace the test
makes, a socket filter on a Python socket, cgroup_skb on a cgroup the test makes, and
what the kernel removes when the attaching process dies (docs/runtime.md says which).

Traffic is UDP between sockets of this process and sockets made inside the test's
namespace (tests/netns.py); nothing leaves the veth pair.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from bpfimport import BpfError
from tests import netns
from tests.conftest import need, program_module


@pytest.fixture(scope="module")
def veth(kernel_session: None) -> Iterator[netns.VethPair]:
    need(netns.iproute2_usable() is None, netns.iproute2_usable() or "")
    with netns.veth_pair() as pair:
        yield pair


@pytest.fixture
def pk(kernel: None, tmp_path: Path) -> Iterator[ModuleType]:
    with program_module(tmp_path, "attach.bpf.py") as m:
        yield m


def udp_pair(veth: netns.VethPair, port: int) -> tuple[socket.socket, socket.socket]:
    """(a socket in the namespace, this side's socket bound to ``port`` on the host address)."""
    inside = veth.socket()
    here = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    here.bind((veth.host_ip, port))
    return inside, here


def xdp_of(ifname: str) -> str:
    """What ``ip link`` says of the interface's XDP program ('' when none)."""
    out = netns.ip("-d", "link", "show", ifname).stdout
    return " ".join(ln.strip() for ln in out.splitlines() if "xdp" in ln)


def test_xdp_drops_while_attached(pk: ModuleType, veth: netns.VethPair) -> None:
    inside, here = udp_pair(veth, 40001)
    with inside, here:
        inside.sendto(b"warm-up", (veth.host_ip, 40001))  # ARP resolved before counting
        assert netns.receive_all(here) == [b"warm-up"]
        with pk.xdp_drop_all.attach(ifname=veth.host, mode="skb") as link:
            assert "xdpgeneric" in xdp_of(veth.host) and "xdp_drop_all" in xdp_of(veth.host)
            for i in range(5):
                inside.sendto(b"dropped %d" % i, (veth.host_ip, 40001))
            assert netns.receive_all(here) == []
            assert pk.counts[0] >= 5
        assert not link.attached and xdp_of(veth.host) == ""
        inside.sendto(b"after", (veth.host_ip, 40001))
        assert netns.receive_all(here) == [b"after"]


def test_xdp_drops_one_udp_port_and_passes_another(pk: ModuleType, veth: netns.VethPair) -> None:
    inside = veth.socket()
    dropped = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dropped.bind((veth.host_ip, 40011))
    kept = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    kept.bind((veth.host_ip, 40012))
    with inside, dropped, kept:
        pk.ports[40011] = 1
        with pk.xdp_drop_ports.attach(ifname=veth.host, mode="skb"):
            for i in range(4):
                inside.sendto(b"a%d" % i, (veth.host_ip, 40011))
                inside.sendto(b"b%d" % i, (veth.host_ip, 40012))
            assert netns.receive_all(kept) == [b"b0", b"b1", b"b2", b"b3"]
            assert netns.receive_all(dropped, 0.05) == []
        inside.sendto(b"a-after", (veth.host_ip, 40011))
        assert netns.receive_all(dropped) == [b"a-after"]


def test_xdp_modes_and_ifindex(pk: ModuleType, veth: netns.VethPair) -> None:
    index = socket.if_nametoindex(veth.host)
    with pk.xdp_count.attach(ifindex=index, mode="drv") as link:  # veth has native XDP
        shown = xdp_of(veth.host)
        assert "xdp_count" in shown and "xdpgeneric" not in shown
        assert link.fd > 0 and "drv" in repr(link)
    with pk.xdp_count.attach(ifname=veth.host):  # no mode: the kernel chooses
        assert "xdp_count" in xdp_of(veth.host)
        with pytest.raises(BpfError, match=f"cannot attach program 'xdp_drop_all' to xdp on "
                                           f"{veth.host}: the interface already has an XDP "
                                           f"program; detach it first"):
            pk.xdp_drop_all.attach(ifname=veth.host)
    assert xdp_of(veth.host) == ""


def test_a_pinned_xdp_link_outlives_the_module(pk: ModuleType, veth: netns.VethPair) -> None:
    need(os.path.ismount("/sys/fs/bpf"), "bpffs is not mounted at /sys/fs/bpf")
    path = f"/sys/fs/bpf/{netns.PREFIX}-xdp"
    link = pk.xdp_count.attach(ifname=veth.host, mode="skb")
    try:
        link.pin(path)
        assert link.pin_path == path and os.path.exists(path)
        pk.close()  # the module's handle goes; the pin keeps the program attached
        assert not link.attached and "xdp_count" in xdp_of(veth.host)
        link.unpin()
        assert not os.path.exists(path) and xdp_of(veth.host) == ""
    finally:
        if os.path.exists(path):
            os.unlink(path)


def test_tc_and_socket_links_refuse_a_pin(pk: ModuleType, veth: netns.VethPair) -> None:
    with pk.tc_count.attach(ifname=veth.host) as link:
        with pytest.raises(BpfError, match="cannot be pinned: a tc filter is not a kernel link "
                                           ".*tcx=True attaches a link that can be pinned"):
            link.pin("/sys/fs/bpf/never")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sock, pk.sock_drop_all.attach(sock) as link:
        with pytest.raises(BpfError, match="a socket filter lives as long as its socket"):
            link.pin("/sys/fs/bpf/never")
    assert not os.path.exists("/sys/fs/bpf/never")


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({}, TypeError, "program 'xdp_count' attaches to a network interface: pass "
                    "ifname='eth0' or ifindex=N"),
    ({"ifname": "bpfi-none"}, BpfError, "cannot attach program 'xdp_count': no network "
                                        "interface named 'bpfi-none' in this network namespace"),
    ({"ifindex": 999999}, BpfError, "no network interface with index 999999"),
    ({"ifname": "lo", "mode": "fast"}, ValueError, "mode= is one of 'skb', 'drv', 'hw'"),
    ({"ifname": "lo", "mode": "hw"}, BpfError, "cannot attach program 'xdp_count' to xdp on "
                                               "lo: its driver cannot run XDP in mode 'hw'"),
    ({"ifname": "lo", "ifindex": 1}, TypeError, "takes ifname= or ifindex=, not both"),
    ({"ifname": "lo", "direction": "egress"}, TypeError,
     "program 'xdp_count' \\(xdp\\) does not take direction=; it takes ifname= or ifindex="),
    ({"cgroup": "/sys/fs/cgroup"}, TypeError, "does not take cgroup="),
])
def test_xdp_attach_errors(pk: ModuleType, kwargs: dict[str, object], error: type[Exception],
                           message: str) -> None:
    with pytest.raises(error, match=message) as info:
        pk.xdp_count.attach(**kwargs)
    assert "\n" not in str(info.value)  # one line, no libbpf log
    assert pk.xdp_count._obj.links == []


def test_tc_egress_counts_and_removes_its_clsact(pk: ModuleType, veth: netns.VethPair) -> None:
    inside = veth.socket()
    inside.bind((veth.peer_ip, 40002))
    here = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with inside, here:
        here.sendto(b"warm-up", (veth.peer_ip, 40002))
        assert netns.receive_all(inside) == [b"warm-up"]
        assert "clsact" not in netns.tc("qdisc", "show", "dev", veth.host)
        with pk.tc_count.attach(ifname=veth.host, direction="egress") as link:
            assert "clsact" in netns.tc("qdisc", "show", "dev", veth.host)
            assert "tc_count" in netns.tc("filter", "show", "dev", veth.host, "egress")
            assert netns.tc("filter", "show", "dev", veth.host, "ingress") == ""
            for i in range(7):
                here.sendto(b"counted %d" % i, (veth.peer_ip, 40002))
            assert len(netns.receive_all(inside)) == 7
            assert 7 <= pk.counts[1] <= 9  # the datagrams, and maybe a neighbour probe
            assert "tc egress" in repr(link) and link.handle and link.priority
            with pytest.raises(BpfError, match="is a tc filter, not a kernel link"):
                _ = link.fd
        assert "clsact" not in netns.tc("qdisc", "show", "dev", veth.host)


def test_tc_keeps_a_clsact_it_did_not_make(pk: ModuleType, veth: netns.VethPair) -> None:
    subprocess.run(["tc", "qdisc", "add", "dev", veth.host, "clsact"], check=True)
    try:
        first = pk.tc_count.attach(ifname=veth.host)  # ingress by default
        second = pk.tc_count.attach(ifindex=socket.if_nametoindex(veth.host), direction="egress")
        assert "tc_count" in netns.tc("filter", "show", "dev", veth.host, "ingress")
        first.detach()
        assert netns.tc("filter", "show", "dev", veth.host, "ingress") == ""
        assert "tc_count" in netns.tc("filter", "show", "dev", veth.host, "egress")
        pk.close()  # detaches the second
        assert not second.attached
        assert netns.tc("filter", "show", "dev", veth.host, "egress") == ""
        assert "clsact" in netns.tc("qdisc", "show", "dev", veth.host)
    finally:
        subprocess.run(["tc", "qdisc", "del", "dev", veth.host, "clsact"], check=False)


def test_tc_leaves_a_clsact_it_made_that_holds_another_programs_filter(
        pk: ModuleType, veth: netns.VethPair) -> None:
    """Destroying the clsact removes every filter on it: while another process's filter is on
    the clsact made here (put there by the kernel's own call, as `tc filter add` would), the
    last detach here leaves the clsact and that filter alone."""
    import ctypes

    from bpfimport.runtime import libbpf as L

    try:
        link = pk.tc_count.attach(ifname=veth.host, direction="egress")  # makes the clsact
        hook = L.TcHook(sz=ctypes.sizeof(L.TcHook), ifindex=socket.if_nametoindex(veth.host),
                        attach_point=L.BPF_TC_INGRESS)
        opts = L.TcOpts(sz=ctypes.sizeof(L.TcOpts), prog_fd=pk.tc_count.fd)
        assert L.lib().bpf_tc_attach(ctypes.byref(hook), ctypes.byref(opts)) == 0
        link.detach()
        assert netns.tc("filter", "show", "dev", veth.host, "egress") == ""
        assert "tc_count" in netns.tc("filter", "show", "dev", veth.host, "ingress")
        assert "clsact" in netns.tc("qdisc", "show", "dev", veth.host)
    finally:
        subprocess.run(["tc", "qdisc", "del", "dev", veth.host, "clsact"], check=False)
    with pk.tc_count.attach(ifname=veth.host, direction="egress"):  # alone again: removed
        assert "clsact" in netns.tc("qdisc", "show", "dev", veth.host)
    assert "clsact" not in netns.tc("qdisc", "show", "dev", veth.host)


def test_tc_attached_in_another_namespace_detaches_there(pk: ModuleType,
                                                         veth: netns.VethPair) -> None:
    """A thread inside the test's namespace attaches to the peer end; the main thread (in
    this namespace, where no such interface index need exist) detaches it over there."""
    here = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    inside = veth.socket()
    inside.bind((veth.peer_ip, 40006))
    with here, inside:
        link = netns.in_netns(veth.ns, lambda: pk.tc_count.attach(ifname=veth.peer))
        shown = netns.tc("-n", veth.ns, "filter", "show", "dev", veth.peer, "ingress")
        assert "tc_count" in shown
        for _ in range(3):
            here.sendto(b"x", (veth.peer_ip, 40006))
        assert len(netns.receive_all(inside)) == 3
        assert pk.counts[1] >= 3
        link.detach()  # from this thread, in the root namespace
        assert netns.tc("-n", veth.ns, "filter", "show", "dev", veth.peer, "ingress") == ""
        assert "clsact" not in netns.tc("-n", veth.ns, "qdisc", "show", "dev", veth.peer)


def test_tcx_link_counts_and_detaches(pk: ModuleType, veth: netns.VethPair) -> None:
    inside = veth.socket()
    inside.bind((veth.peer_ip, 40005))
    here = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with inside, here:
        here.sendto(b"warm-up", (veth.peer_ip, 40005))
        assert netns.receive_all(inside) == [b"warm-up"]
        with pk.tc_count.attach(ifname=veth.host, direction="egress", tcx=True) as link:
            assert link.fd > 0 and "tcx egress" in repr(link)
            for _ in range(4):
                here.sendto(b"x", (veth.peer_ip, 40005))
            assert len(netns.receive_all(inside)) == 4
            assert 4 <= pk.counts[1] <= 6
            assert "clsact" not in netns.tc("qdisc", "show", "dev", veth.host)  # no qdisc: a link
        before = pk.counts[1]
        here.sendto(b"x", (veth.peer_ip, 40005))
        assert len(netns.receive_all(inside)) == 1
        assert pk.counts[1] == before


def test_tc_attach_errors(pk: ModuleType) -> None:
    with pytest.raises(ValueError, match="direction= is 'ingress' or 'egress', got 'up'"):
        pk.tc_count.attach(ifname="lo", direction="up")
    with pytest.raises(TypeError, match=r"program 'tc_count' \(sched_cls\) does not take mode="):
        pk.tc_count.attach(ifname="lo", mode="skb")
    with pytest.raises(BpfError, match="no network interface named 'bpfi-none'"):
        pk.tc_count.attach(ifname="bpfi-none", direction="egress")
    with pytest.raises(TypeError, match=r"program 'xdp_count' \(xdp\) does not take tcx="):
        pk.xdp_count.attach(ifname="lo", tcx=True)


def loopback_pair() -> tuple[socket.socket, socket.socket]:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    return socket.socket(socket.AF_INET, socket.SOCK_DGRAM), receiver


def test_socket_filter_keeps_some_datagrams(pk: ModuleType) -> None:
    sender, receiver = loopback_pair()
    with sender, receiver:
        link = pk.sock_every_other.attach(receiver)
        for i in range(6):
            sender.sendto(b"d%d" % i, receiver.getsockname())
        assert netns.receive_all(receiver, 0.1) == [b"d0", b"d2", b"d4"]
        assert pk.counts[4] == 6
        link.detach()
        for i in range(3):
            sender.sendto(b"e%d" % i, receiver.getsockname())
        assert netns.receive_all(receiver, 0.1) == [b"e0", b"e1", b"e2"]


def test_socket_filter_keeps_datagrams_by_udp_header(pk: ModuleType) -> None:
    """A socket filter on a UDP socket sees the datagram from its UDP header on."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    one, other = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2))
    with receiver, one, other:
        one.bind(("127.0.0.1", 0))
        other.bind(("127.0.0.1", 0))
        pk.ports[one.getsockname()[1]] = 1
        with pk.sock_keep_ports.attach(receiver):
            for i in range(3):
                one.sendto(b"one %d" % i, receiver.getsockname())
                other.sendto(b"other %d" % i, receiver.getsockname())
            assert netns.receive_all(receiver, 0.1) == [b"one 0", b"one 1", b"one 2"]


def test_socket_filter_by_fd_and_socket_close(pk: ModuleType) -> None:
    sender, receiver = loopback_pair()
    with sender:
        link = pk.sock_drop_all.attach(receiver.fileno())
        sender.sendto(b"gone", receiver.getsockname())
        assert netns.receive_all(receiver, 0.1) == []
        receiver.close()
        link.detach()  # the socket and its filter are gone: nothing to undo, no error
        assert not link.attached
    with pytest.raises(TypeError, match="socket filter 'sock_drop_all' attaches to a socket: "
                                        "attach\\(sock\\)"):
        pk.sock_drop_all.attach()
    with pytest.raises(TypeError, match="pass a socket object or its fd, got str"):
        pk.sock_drop_all.attach("eth0")
    fds = len(os.listdir("/proc/self/fd"))
    with open(os.devnull) as f, pytest.raises(BpfError, match="is not a socket"):
        pk.sock_drop_all.attach(f)
    assert len(os.listdir("/proc/self/fd")) == fds  # the failed attach left no fd open


def test_a_second_socket_filter_replaces_the_first(pk: ModuleType) -> None:
    """A socket has one filter: attaching another detaches the first link, whose detach()
    then leaves the second in place (SO_DETACH_BPF would have removed it)."""
    sender, receiver = loopback_pair()
    with sender, receiver:
        first = pk.sock_keep_all.attach(receiver)
        second = pk.sock_drop_all.attach(receiver)
        assert not first.attached and second.attached
        first.detach()  # nothing left to undo
        sender.sendto(b"dropped", receiver.getsockname())
        assert netns.receive_all(receiver, 0.1) == []  # the second filter still works
        pk.close()
        sender.sendto(b"kept", receiver.getsockname())
        assert netns.receive_all(receiver, 0.1) == [b"kept"]


def test_socket_filter_detached_by_module_close(pk: ModuleType) -> None:
    sender, receiver = loopback_pair()
    with sender, receiver:
        pk.sock_drop_all.attach(receiver)
        sender.sendto(b"gone", receiver.getsockname())
        assert netns.receive_all(receiver, 0.1) == []
        pk.close()
        sender.sendto(b"kept", receiver.getsockname())
        assert netns.receive_all(receiver, 0.1) == [b"kept"]


CHILD_TRAFFIC = textwrap.dedent("""
    import socket, sys
    sys.stdin.readline()          # moved into the cgroup: a socket belongs to its maker's cgroup
    inp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    inp.bind(("127.0.0.1", 0))
    inp.settimeout(2)
    print(inp.getsockname()[1], flush=True)
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(int(sys.argv[1])):
        out.sendto(b"x", ("127.0.0.1", int(sys.argv[2])))
    for _ in range(int(sys.argv[3])):
        inp.recv(100)
    print("done", flush=True)
""")


def test_cgroup_skb_counts_a_cgroups_packets(pk: ModuleType) -> None:
    need(netns.cgroup2_mount() is not None, "cgroup v2 is not mounted")
    here = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    here.bind(("127.0.0.1", 0))
    with here, netns.cgroup_v2() as cg:
        child = subprocess.Popen([sys.executable, "-c", CHILD_TRAFFIC, "5", str(here.getsockname()[1]), "3"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None and child.stdin is not None
            (cg / "cgroup.procs").write_text(str(child.pid))
            with pk.cg_in.attach(cgroup=cg), pk.cg_out.attach(cgroup=str(cg)):
                child.stdin.write("go\n")
                child.stdin.flush()
                child_port = int(child.stdout.readline())
                for _ in range(3):
                    here.sendto(b"y", ("127.0.0.1", child_port))
                assert child.stdout.readline() == "done\n"
                assert len(netns.receive_all(here, 0.1)) == 5
                assert (pk.counts[2], pk.counts[3]) == (3, 5)
        finally:
            child.kill()
            child.wait()
    with pytest.raises(BpfError, match="cannot attach program 'cg_in': no cgroup folder at "
                                       "/nonexistent/cg"):
        pk.cg_in.attach(cgroup="/nonexistent/cg")
    with pytest.raises(TypeError, match=r"program 'cg_in' \(cgroup_skb\) attaches to a cgroup: "
                                        r"pass cgroup="):
        pk.cg_in.attach()


CHILD_ATTACH = textwrap.dedent("""
    import socket, sys, time
    sys.path.insert(0, sys.argv[1])
    import bpfimport, attach_bpf as m
    from bpfimport.runtime import libbpf as L
    m.xdp_count.attach(ifname=sys.argv[2], mode="skb")     # a bpf_link
    m.tc_count.attach(ifname=sys.argv[2], direction="egress")
    m.tc_pass.attach(ifname=sys.argv[2], direction="ingress", tcx=True)   # a bpf_link
    fdinfo = open(f"/proc/self/fdinfo/{m.tc_pass.fd}").read()
    print(fdinfo.split("prog_id:")[1].split()[0], flush=True)
    m.cg_in.attach(cgroup=sys.argv[3])                      # a bpf_link
    # netlink XDP without a link, as `ip link set dev X xdp obj ...` attaches it
    rc = L.lib().bpf_xdp_attach(socket.if_nametoindex(sys.argv[4]), m.xdp_drop_all.fd,
                                L.XDP_FLAGS_SKB_MODE, None)
    assert rc == 0, rc
    print("attached", flush=True)
    time.sleep(60)
""")


def test_what_stays_attached_when_the_process_dies(pk: ModuleType, veth: netns.VethPair,
                                                   tmp_path: Path) -> None:
    """SIGKILL a process that attached: links go with it (XDP, tcx, cgroup), tc filters and
    netlink XDP stay."""
    need(netns.cgroup2_mount() is not None, "cgroup v2 is not mounted")
    need(shutil.which("bpftool") is not None, "bpftool is not installed")
    second = netns.make_veth_pair()
    folder = Path(pk.__file__).parent
    try:
        with netns.cgroup_v2() as cg:
            child = subprocess.Popen([sys.executable, "-c", CHILD_ATTACH, str(folder), veth.host,
                                      str(cg), second.host], stdout=subprocess.PIPE, text=True)
            assert child.stdout is not None
            tcx_prog = child.stdout.readline().strip()
            assert child.stdout.readline() == "attached\n"
            assert bpftool_prog_exists(tcx_prog)
            assert "xdp_count" in xdp_of(veth.host) and "xdp_drop_all" in xdp_of(second.host)
            assert "tc_count" in netns.tc("filter", "show", "dev", veth.host, "egress")
            assert "cg_in" in bpftool_cgroup(cg)
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            assert xdp_of(veth.host) == ""                      # XDP link: gone
            assert bpftool_cgroup(cg) == ""                     # cgroup link: gone
            assert not bpftool_prog_exists(tcx_prog)  # tcx link: gone (its program with it)
            assert "xdp_drop_all" in xdp_of(second.host)        # netlink XDP: stays
            assert "tc_count" in netns.tc("filter", "show", "dev", veth.host, "egress")  # stays
    finally:
        subprocess.run(["tc", "qdisc", "del", "dev", veth.host, "clsact"], check=False)
        second.remove()


def bpftool_prog_exists(prog_id: str) -> bool:
    r = subprocess.run(["bpftool", "prog", "show", "id", prog_id], capture_output=True, text=True)
    return r.returncode == 0


def bpftool_cgroup(cg: Path) -> str:
    """The names of the programs attached to the cgroup, per bpftool."""
    r = subprocess.run(["bpftool", "cgroup", "show", str(cg)], capture_output=True, text=True)
    return " ".join(ln.split()[-1] for ln in r.stdout.splitlines()[1:] if ln.strip())
