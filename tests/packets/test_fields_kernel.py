"""Every field of IpHdr and TcpHdr through the kernel, on random packets: what BPF code reads
is what struct.unpack reads, and writing a set of fields changes exactly their bits.

The oracle is written here from RFC 791 / RFC 793 (+ RFC 3168's CWR/ECE, RFC 3540's AE bit,
as Linux's tcphdr has them), independent of bpfimport.headers."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import program_module

pytestmark = pytest.mark.usefixtures("kernel")

IP, TCP = 14, 34  # where the headers start in the test packets (after 14 bytes of Ethernet)
# name, byte offset in the packet, size in bytes (read big-endian), bit shift, bit width
FIELDS = [
    ("ip.version", IP, 1, 4, 4), ("ip.ihl", IP, 1, 0, 4), ("ip.tos", IP + 1, 1, 0, 8),
    ("ip.tot_len", IP + 2, 2, 0, 16), ("ip.id", IP + 4, 2, 0, 16),
    ("ip.frag_off", IP + 6, 2, 0, 16), ("ip.ttl", IP + 8, 1, 0, 8),
    ("ip.protocol", IP + 9, 1, 0, 8), ("ip.check", IP + 10, 2, 0, 16),
    ("ip.saddr", IP + 12, 4, 0, 32), ("ip.daddr", IP + 16, 4, 0, 32),
    ("tcp.source", TCP, 2, 0, 16), ("tcp.dest", TCP + 2, 2, 0, 16), ("tcp.seq", TCP + 4, 4, 0, 32),
    ("tcp.ack_seq", TCP + 8, 4, 0, 32), ("tcp.doff", TCP + 12, 1, 4, 4),
    ("tcp.res1", TCP + 12, 1, 1, 3), ("tcp.ae", TCP + 12, 1, 0, 1),
    ("tcp.cwr", TCP + 13, 1, 7, 1), ("tcp.ece", TCP + 13, 1, 6, 1), ("tcp.urg", TCP + 13, 1, 5, 1),
    ("tcp.ack", TCP + 13, 1, 4, 1), ("tcp.psh", TCP + 13, 1, 3, 1), ("tcp.rst", TCP + 13, 1, 2, 1),
    ("tcp.syn", TCP + 13, 1, 1, 1), ("tcp.fin", TCP + 13, 1, 0, 1),
    ("tcp.window", TCP + 14, 2, 0, 16), ("tcp.check", TCP + 16, 2, 0, 16),
    ("tcp.urg_ptr", TCP + 18, 2, 0, 16),
]
PACKET_LEN = TCP + 20


def field_value(packet: bytes, index: int) -> int:
    _, at, size, shift, width = FIELDS[index]
    return (int.from_bytes(packet[at:at + size], "big") >> shift) & ((1 << width) - 1)


def with_field(packet: bytearray, index: int, value: int) -> None:
    _, at, size, shift, width = FIELDS[index]
    mask = ((1 << width) - 1) << shift
    unit = int.from_bytes(packet[at:at + size], "big") & ~mask | (value << shift) & mask
    packet[at:at + size] = unit.to_bytes(size, "big")


@pytest.fixture(scope="module")
def pf(kernel_session: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    with program_module(tmp_path_factory.mktemp("fields"), "packet_fields.bpf.py") as mod:
        yield mod


def test_the_program_covers_every_field() -> None:
    from bpfimport.headers import HEADERS

    names = {f"ip.{f.name}" for f in HEADERS["IpHdr"].fields}
    names |= {f"tcp.{f.name}" for f in HEADERS["TcpHdr"].fields}
    assert names == {name for name, *_ in FIELDS}


SETTINGS = settings(max_examples=40, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(packet=st.binary(min_size=PACKET_LEN, max_size=PACKET_LEN))
def test_every_field_reads_as_struct_unpack_does(pf: ModuleType, packet: bytes) -> None:
    assert pf.read_all.test_run(data=packet).retval == 2
    for i, (name, *_) in enumerate(FIELDS):
        assert pf.values[i] == field_value(packet, i), name


@pytest.mark.parametrize("prog", ["write_some", "write_some_at_once"])
@SETTINGS
@given(packet=st.binary(min_size=PACKET_LEN, max_size=PACKET_LEN),
       mask=st.integers(0, (1 << len(FIELDS)) - 1),
       values=st.lists(st.integers(0, 2**32 - 1), min_size=len(FIELDS), max_size=len(FIELDS)))
def test_writing_fields_changes_exactly_their_bits(pf: ModuleType, prog: str, packet: bytes,
                                                   mask: int, values: list[int]) -> None:
    """write_some tests both headers after taking both (each outcome kept in a register),
    write_some_at_once each right after taking it (one pointer comparison each)."""
    want = bytearray(packet)
    for i, (_, _, _, _, width) in enumerate(FIELDS):
        pf.values[i] = values[i]
        if mask >> i & 1:  # a wider value keeps its low bits, as an assignment in C
            with_field(want, i, values[i] & ((1 << width) - 1))
    pf.write_mask[0] = mask
    result = getattr(pf, prog).test_run(data=packet)
    assert result.retval == 2
    assert bytes(result.data) == bytes(want)
