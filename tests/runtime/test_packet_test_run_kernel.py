"""test_run on packets built with scapy: the verdict, and the packet as the program left it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import program_module
from tests.scapy_layers import scapy


@pytest.fixture
def pk(kernel: None, tmp_path: Path) -> Iterator[ModuleType]:
    with program_module(tmp_path, "attach.bpf.py") as m:
        yield m


def test_scapy_is_not_imported_by_collection() -> None:
    """Importing the packet test modules does not import scapy (its import takes ~1 s)."""
    import subprocess

    code = ("import sys, tests.scapy_layers, tests.runtime.test_packet_test_run_kernel; "
            "print('scapy' in sys.modules)")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
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
