"""Promised behaviour no other test exercised, run in the kernel (tests/programs/uncovered.bpf.py).

Every expected value is computed here from Python's own semantics (ctypes for
the wrapping casts), from memory the test itself owns, or from a kernel header
(TC_ACT_*): never from the compiler's output.
"""

from __future__ import annotations

import ctypes
import os
import re
import struct
from pathlib import Path

import pytest

import bpfimport  # noqa: F401 - installs the import hook
from bpfimport.errors import BpfError
from tests.conftest import need, program_module


@pytest.fixture
def mod(kernel: None, tmp_path: Path):
    with program_module(tmp_path, "uncovered.bpf.py") as m:
        yield m


def test_ring_buffer_discard_drops_exactly_the_discarded_records(mod) -> None:
    mod.ring_reserve.test_run()
    got: list[tuple[int, int]] = []
    assert mod.samples.consume(lambda s: got.append((s.seq, s.keep))) == 3
    assert got == [(i, 1) for i in range(6) if i % 2 == 0]  # odd ones were discarded
    assert mod.samples.consume(got.append) == 0  # nothing else was left behind


def test_consume_hands_bytes_when_a_map_carries_two_types(mod) -> None:
    mod.X.value = 0x1122334455667788
    mod.ring_reserve.test_run()
    got: list[object] = []
    assert mod.raw.consume(got.append) == 2
    assert all(type(e) is bytes for e in got)
    assert got == [struct.pack("<Q", 0x1122334455667788), struct.pack("<II", 7, 1)]


def test_probe_read_user_reads_the_callers_memory(mod) -> None:
    pattern = bytes(range(0xA0, 0xB0))
    text = b"bpfimport\0tail"
    buf = ctypes.create_string_buffer(pattern, 16)
    mod.ADDR.value = ctypes.addressof(buf)
    mod.X.value = 41
    mod.read_memory.test_run()
    assert bytes(mod.read_back[0].data) == pattern
    assert mod.read_rets[0] == 0
    mod.close()
    sbuf = ctypes.create_string_buffer(text, 16)
    mod.ADDR.value = ctypes.addressof(sbuf)
    mod.read_memory.test_run()
    assert mod.text_back[0].data == b"bpfimport"  # _str stops at the NUL
    assert mod.read_rets[1] == len(b"bpfimport") + 1  # the helper counts the NUL
    # probe_read_kernel of a user address fails (negative errno) and zeroes the buffer
    assert mod.read_rets[2] < 0 and bytes(mod.read_back[1].data) == bytes(16)
    assert mod.read_rets[3] == 42  # deref() of a map value reference


def wrap(ctype: type, value: int) -> int:
    return ctype(value).value


def test_wrapping_casts_powers_and_chained_comparisons(mod) -> None:
    x, y = 0x1_0000_01C8, -40_000  # 0x1c8 = 456: u8 wraps to 200, i8 to -56
    mod.X.value, mod.Y.value = x, y
    mod.arithmetic.test_run()
    u64 = 2**64
    want = [
        wrap(ctypes.c_uint8, x), wrap(ctypes.c_int8, x) % u64, wrap(ctypes.c_int16, y) % u64,
        wrap(ctypes.c_uint32, y), y % u64, x**3 % u64, wrap(ctypes.c_int32, y * y) % u64,
        (wrap(ctypes.c_uint8, 300) + wrap(ctypes.c_int8, 200)) % 2**8,  # u8 + i8 is a u8
        int(0 < 5 < 10), int(6 < 5 < 10),
        2,  # middle() ran once per chain
    ]
    assert [mod.out[i] for i in range(11)] == want


def test_i32_power_wraps_at_32_bits(mod) -> None:
    mod.Y.value = 50_000
    mod.arithmetic.test_run()
    assert mod.out[6] == wrap(ctypes.c_int32, 50_000**2) % 2**64


def test_8_and_16_bit_map_values_update_and_wrap(mod) -> None:
    mod.narrow_updates.test_run()
    assert mod.small[0] == (200 + 100) % 256
    assert mod.small[1] == (0 - 1) % 256
    assert mod.medium[0] == (65000 + 1000) % 65536


@pytest.mark.parametrize("index, read, total", [
    (2, 30, 10 + 20 + 99 + 40),
    (-1, 40, 10 + 20 + 30 + 99),  # negative counts from the end, as in Python
    (4, 0, 100),  # out of range: the read gives 0, the write does nothing
    (-5, 0, 100),
])
def test_variable_index_reads_and_writes(mod, index: int, read: int, total: int) -> None:
    mod.IDX.value = index
    mod.index_reads.test_run()
    assert (mod.out[11], mod.out[12]) == (read, total)


def tc_actions() -> dict[str, int]:
    """TC_ACT_* as the kernel's uapi header defines them."""
    header = Path("/usr/include/linux/pkt_cls.h")
    need(header.is_file(), "linux/pkt_cls.h is not installed (apt-get install linux-libc-dev)")
    found = re.findall(r"#define\s+(TC_ACT_\w+)\s+(-?\d+)", header.read_text())
    return {name: int(v) for name, v in found}


def test_tc_test_run_returns_the_tc_actions(mod) -> None:
    acts = tc_actions()
    packet = bytes(64)
    for verdict, name in enumerate(["TC_ACT_OK", "TC_ACT_SHOT", "TC_ACT_REDIRECT"]):
        mod.close()
        mod.VERDICT.value = verdict
        assert mod.classify.test_run(data=packet).retval == acts[name], name


def test_cgroup_skb_loads_and_runs(mod) -> None:
    assert mod.admit.type == "cgroup_skb"
    for verdict, allowed in ((0, 1), (1, 0)):
        mod.close()
        mod.VERDICT.value = verdict
        assert mod.admit.test_run(data=bytes(64)).retval == allowed


def test_perf_event_program_loads_and_counts_samples(mod) -> None:
    """Loaded, then attached by hand to a software CPU clock of this process."""
    assert mod.on_sample.type == "perf_event" and mod.on_sample.fd > 0
    libc = ctypes.CDLL(None, use_errno=True)
    attr = (ctypes.c_uint8 * 128)()
    struct.pack_into("<IIQQ", attr, 0, 1, 128, 0, 100_000)  # PERF_TYPE_SOFTWARE, size, CPU_CLOCK, period ns
    nr = {"x86_64": 298, "aarch64": 241}.get(os.uname().machine)
    need(nr is not None, "perf_event_open number unknown for this machine")
    fd = libc.syscall(nr, attr, 0, -1, -1, 0)
    need(fd >= 0, f"perf_event_open failed: {os.strerror(ctypes.get_errno())}")
    try:
        import fcntl

        fcntl.ioctl(fd, 0x40042408, mod.on_sample.fd)  # PERF_EVENT_IOC_SET_BPF
        fcntl.ioctl(fd, 0x2400, 0)  # PERF_EVENT_IOC_ENABLE
        end = os.times().elapsed + 0.3
        while os.times().elapsed < end and mod.out[13] < 3:
            sum(range(10_000))  # burn CPU so the clock fires
    finally:
        os.close(fd)
    assert mod.out[13] >= 3


def test_bpf_exist_and_dict_style_updates_from_user_space(mod) -> None:
    m = mod.stored
    with pytest.raises(BpfError) as info:
        m.set(1, 5, 2)  # BPF_EXIST on a missing key: ENOENT
    assert info.value.errno == 2
    m.update({1: 10, 2: 20})
    m.update([(3, 30)])
    m.set(1, 11, 2)  # BPF_EXIST on a present key replaces
    assert sorted(m.items()) == [(1, 11), (2, 20), (3, 30)]
    assert m.pop(2) == 20 and 2 not in m
    assert m.pop(2, "gone") == "gone"
    with pytest.raises(KeyError):
        m.pop(2)
    assert sorted(m.items()) == [(1, 11), (3, 30)]
