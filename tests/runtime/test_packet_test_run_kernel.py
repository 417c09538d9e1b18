"""test_run on packets built with scapy: the verdict, and the packet as the program left it."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests import background
from tests.conftest import program_module
from tests.scapy_layers import scapy


@pytest.fixture
def pk(kernel: None, tmp_path: Path) -> Iterator[ModuleType]:
    with program_module(tmp_path, "attach.bpf.py") as m:
        yield m


_COLLECTION = ("import sys; sys.path.insert(0, sys.argv[1]); "
               "import tests.scapy_layers, tests.runtime.test_packet_test_run_kernel; "
               "print('scapy' in sys.modules)")


def collection_run() -> background.Command:
    """A fresh interpreter importing what collecting this module imports (queued early)."""
    root = Path(__file__).resolve().parents[2]
    return background.run("scapy at collection", lambda: background.Command(
        [sys.executable, "-c", _COLLECTION, str(root)], timeout=60))


def start_early() -> None:
    collection_run()


def test_scapy_is_not_imported_by_collection() -> None:
    """Importing the packet test modules does not import scapy (its import takes ~1 s)."""
    out = collection_run().result()
    assert out.stdout.strip() == "False", out.stdout + out.stderr


def test_xdp_test_run_gives_back_the_packet(pk: ModuleType) -> None:
    s = scapy()
    frame = bytes(s.Ether(dst="02:00:00:00:00:02") / s.IP(dst="10.9.0.2") / s.UDP(dport=53) / b"q")
    r = pk.xdp_count.test_run(data=frame, repeat=3)
    assert r.retval == 2 and r.data == frame and len(r.data) == len(frame)
    assert pk.counts[0] == 3
    assert pk.xdp_drop_all.test_run(data=frame).retval == 1


def test_socket_filter_and_tc_test_run(pk: ModuleType) -> None:
    s = scapy()
    frame = bytes(s.Ether() / s.IP(dst="10.9.0.2") / s.TCP(dport=80, flags="S"))
    assert pk.sock_keep_all.test_run(data=frame).retval == 0xFFFF
    assert pk.sock_drop_all.test_run(data=frame).retval == 0
    r = pk.tc_count.test_run(data=frame)
    assert r.retval == 0 and r.data == frame and pk.counts[1] == 1
    from bpfimport.errors import BpfError

    for prog in (pk.tc_count, pk.sock_keep_all, pk.xdp_count):  # the kernel wants ETH_HLEN
        with pytest.raises(BpfError, match=r"need data of at least 14 bytes \(an Ethernet header"):
            prog.test_run(data=frame[:13])


# ---------------------------------------------------------------- the packet examples, test-run

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
XDP_DROP, XDP_PASS = 1, 2


@pytest.fixture
def example(kernel: None, tmp_path: Path) -> Iterator[Callable[[str], ModuleType]]:
    """``example("xdp_protocols")``: the example's BPF module, imported from a copy."""
    with contextlib.ExitStack() as stack:
        def load(name: str) -> ModuleType:
            source = (EXAMPLES / f"{name}.bpf.py").read_text()
            return stack.enter_context(program_module(tmp_path, f"{name}.bpf.py", source))
        yield load


def test_xdp_protocols_verdicts(example: Callable[[str], ModuleType]) -> None:
    s = scapy()
    m = example("xdp_protocols")
    m.drop_ports[9999] = 0
    ip = s.IP(src="10.9.0.1", dst="10.9.0.2")
    cases = [
        (s.Ether() / ip / s.UDP(dport=9999) / b"x", XDP_DROP),
        (s.Ether() / ip / s.UDP(dport=53) / b"x", XDP_PASS),
        (s.Ether() / ip / s.TCP(dport=9999), XDP_DROP),
        (s.Ether() / ip / s.TCP(dport=80), XDP_PASS),
        # IP options move the UDP header: ihl=7, a variable offset
        (s.Ether() / s.IP(dst="10.9.0.2", options=[s.IPOption(b"\x01" * 8)]) / s.UDP(dport=9999),
         XDP_DROP),
        (s.Ether() / ip / s.ICMP(), XDP_PASS),
        (s.Ether() / s.IPv6() / s.UDP(dport=9999), XDP_PASS),  # IPv4 only
        (s.Ether() / s.Dot1Q(vlan=5) / ip / s.UDP(dport=9999), XDP_PASS),  # no VLAN parsing
    ]
    for pkt, verdict in cases:
        frame = bytes(pkt)
        r = m.xdp_filter.test_run(data=frame)
        assert (r.retval, r.data) == (verdict, frame), pkt.summary()
    assert m.packets[17] == 3 and m.packets[6] == 2 and m.packets[1] == 1
    assert m.drop_ports[9999] == 3


def test_xdp_protocols_truncated_frames_pass(example: Callable[[str], ModuleType]) -> None:
    """Cut anywhere before the end of the UDP header, a frame to a dropped port passes."""
    s = scapy()
    m = example("xdp_protocols")
    m.drop_ports[9999] = 0
    frame = bytes(s.Ether() / s.IP(dst="10.9.0.2") / s.UDP(dport=9999))
    assert m.xdp_filter.test_run(data=frame).retval == XDP_DROP
    for cut in range(14, len(frame)):  # XDP test_run needs 14 bytes
        assert m.xdp_filter.test_run(data=frame[:cut]).retval == XDP_PASS, cut
    assert m.packets[17] == 1 + (len(frame) - 14 - 20)  # counted once the IP header is whole


def test_xdp_ratelimit_per_source(example: Callable[[str], ModuleType]) -> None:
    s = scapy()
    m = example("xdp_ratelimit")
    m.LIMIT.value = 3
    a = bytes(s.Ether() / s.IP(src="10.9.0.1", dst="10.9.0.9") / s.UDP(dport=1))
    b = bytes(s.Ether() / s.IP(src="10.9.0.2", dst="10.9.0.9") / s.UDP(dport=1))
    verdicts = [m.ratelimit.test_run(data=a).retval for _ in range(5)]
    assert verdicts == [XDP_PASS] * 3 + [XDP_DROP] * 2
    assert m.ratelimit.test_run(data=b).retval == XDP_PASS
    w = m.windows[0x0A090001]
    assert (w.passed, w.dropped, w.packets) == (3, 2, 5)
    assert m.windows[0x0A090002].passed == 1


def test_tc_bytes_counts_frame_lengths(example: Callable[[str], ModuleType]) -> None:
    s = scapy()
    m = example("tc_bytes")
    small = bytes(s.Ether() / s.IP(dst="10.9.0.7") / s.UDP(dport=1) / b"a")
    big = bytes(s.Ether() / s.IP(dst="10.9.0.7") / s.TCP(dport=2) / (b"b" * 500))
    for frame in (small, big, small):
        r = m.count_egress.test_run(data=frame)
        assert (r.retval, r.data) == (0, frame)
    m.count_egress.test_run(data=bytes(s.Ether() / s.IPv6() / s.UDP()))  # not counted
    t = m.sent[0x0A090007]
    assert (t.packets, t.bytes) == (3, 2 * len(small) + len(big))
    assert len(m.sent) == 1


def test_dns_only_keeps_dns(example: Callable[[str], ModuleType]) -> None:
    """test_run gives a socket filter the packet after its first 14 bytes (as the kernel's
    eth_type_trans leaves it); the example reads from the Ethernet header on, as a packet
    socket sees it, so each frame gets 14 bytes in front."""
    s = scapy()
    m = example("dns_only")
    lead = b"\0" * 12 + b"\x08\x00"
    ip = s.IP(src="10.9.0.1", dst="10.9.0.53")
    kept = [s.Ether() / ip / s.UDP(sport=40000, dport=53) / b"query",
            s.Ether() / ip / s.UDP(sport=53, dport=40000) / b"answer",
            s.Ether() / s.IP(dst="10.9.0.53", options=[s.IPOption(b"\x01" * 4)]) / s.UDP(dport=53)]
    dropped = [s.Ether() / ip / s.UDP(sport=40000, dport=54),
               s.Ether() / ip / s.TCP(dport=53),
               s.Ether() / s.IPv6() / s.UDP(dport=53)]
    for pkt in kept:
        frame = bytes(pkt)
        assert m.dns_only.test_run(data=lead + frame).retval == len(frame), pkt.summary()
    for pkt in dropped:
        assert m.dns_only.test_run(data=lead + bytes(pkt)).retval == 0, pkt.summary()
    frame = bytes(kept[0])
    # cut inside a header: nothing to read, dropped. The kernel wants an IPv4 header's 20
    # bytes after the 14 it strips (the lead's EtherType says IPv4), hence from 20 on
    for cut in range(20, 14 + 20 + 8):
        assert m.dns_only.test_run(data=lead + frame[:cut]).retval == 0, cut
