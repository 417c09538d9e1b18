"""A header reference tested right after it is taken gets a plain pointer comparison; one tested
later, twice, or together with another keeps its outcome in a register (codegen/packet.py,
tested_at_once).  Both must pass the verifier and find exactly the headers that fit: each
program of tests/programs/header_tests.bpf.py runs on a packet cut at every length, against
the same logic in Python."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType

import pytest

from tests.conftest import program_module
from tests.packets.build import eth, ipv4, tcp, udp

pytestmark = pytest.mark.usefixtures("kernel")

ETH_P_IP, TCP, UDP = 0x0800, 6, 17
PACKETS = [eth(ETH_P_IP) + ipv4(TCP, tcp(4000, 80)),
           eth(ETH_P_IP) + ipv4(UDP, udp(4000, 53, b"q" * 4)),
           eth(ETH_P_IP) + ipv4(UDP, udp(4000, 53), options=b"\x01" * 8)]


def fits(p: bytes, start: int, size: int) -> bool:
    return len(p) >= start + size


def be16(p: bytes, at: int) -> int:
    return int.from_bytes(p[at:at + 2], "big")


def model_deferred(p: bytes) -> int:
    if not fits(p, 0, 14):
        return 1
    if not (fits(p, 14, 20) and fits(p, 34, 20)):
        return 2
    return 1000 + p[22] + be16(p, 36) + be16(p, 12)


def model_not_leaving(p: bytes) -> int:
    port = be16(p, 36) if fits(p, 34, 8) else 0
    return 1000 + port + p[22] if fits(p, 14, 20) else 1 + port


def model_tested_twice(p: bytes) -> int:
    n = 0 if fits(p, 14, 20) else 1
    if not fits(p, 34, 20):
        return 5 + n
    return 1000 + p[22] + be16(p, 36)  # a TcpHdr at 34 fits: so does the IpHdr at 14


def model_spilled(p: bytes) -> int:
    if not fits(p, 14, 20):
        return 1
    return 1000 + p[22] + be16(p, 36) if fits(p, 34, 20) else 2


def model_spilled_twice(p: bytes) -> int:
    return 1000 + p[22] + be16(p, 36) if fits(p, 34, 20) else 2


def model_nested(p: bytes) -> int:
    if not (fits(p, 0, 14) and be16(p, 12) == ETH_P_IP):
        return 1
    if not fits(p, 14, 20):
        return 2
    l4 = 14 + (p[14] & 0xF) * 4
    if not fits(p, l4, 8):
        return 3
    return 1000 + be16(p, l4 + 2) + p[22]


MODELS: dict[str, Callable[[bytes], int]] = {
    "deferred": model_deferred, "not_leaving": model_not_leaving,
    "tested_twice": model_tested_twice,
    "spilled": model_spilled, "spilled_twice": model_spilled_twice, "nested": model_nested}


@pytest.fixture(scope="module")
def ht(kernel_session: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    with program_module(tmp_path_factory.mktemp("header_tests"), "header_tests.bpf.py") as mod:
        yield mod


@pytest.mark.parametrize("name", list(MODELS))
def test_every_cut_finds_the_headers_that_fit(ht: ModuleType, name: str) -> None:
    model, prog = MODELS[name], getattr(ht, name)
    for packet in PACKETS:
        for length in range(14, len(packet) + 1):  # XDP test_run takes at least an Ethernet header
            cut = packet[:length]
            assert int(prog.test_run(data=cut).retval) == model(cut), (name, length)
