"""Histograms end to end: a tracepoint counts write(2) sizes into log2, linear and keyed
histograms, and user space prints them in bcc's layout and hands them out as plain data.

The expected text is written out by hand from the sizes the test writes (the layout rules
are in tests/runtime/test_hist.py), so a wrong bucket, count or row shows as a diff.
"""

from __future__ import annotations

import io
import os

import pytest

import bpfimport  # noqa: F401 - installs the import hook
from tests.conftest import need, program_module

SIZES_A = [0, 1, 2, 3, 5, 100, 1000]  # log2 buckets 0 0 1 1 2 6 9
SIZES_B = [4096, 4096, 7]  # 12 12 2


@pytest.fixture
def writes(tracing, bpf_dir):
    need(os.path.isdir("/sys/kernel/tracing/events/syscalls/sys_enter_write"),
         "syscall tracepoints (CONFIG_FTRACE_SYSCALLS) are not available")
    fd_a = os.open("/dev/null", os.O_WRONLY)
    fd_b = os.open("/dev/null", os.O_WRONLY)
    try:
        with program_module(bpf_dir, "hist_writes.bpf.py") as mod:
            mod.FD_A.value, mod.FD_B.value = fd_a, fd_b
            with mod.on_write.attach():
                for n in SIZES_A:
                    os.write(fd_a, b"x" * n)
                for n in SIZES_B:
                    os.write(fd_b, b"x" * n)
            yield mod, fd_a, fd_b
    finally:
        os.close(fd_a)
        os.close(fd_b)


def printed(fn, **kw) -> list[str]:
    out = io.StringIO()
    fn(file=out, **kw)
    return out.getvalue().split("\n")[:-1]


def test_log2_histogram_prints_as_bcc_does(writes) -> None:
    mod, _, _ = writes
    assert dict(mod.sizes.items()) == {0: 2, 1: 2, 2: 2, 6: 1, 9: 1, 12: 2}
    assert printed(mod.sizes.print_log2_hist, val_type="bytes") == [
        "     bytes               : count     distribution",
        "         0 -> 1          : 2        |****************************************|",
        "         2 -> 3          : 2        |****************************************|",
        "         4 -> 7          : 2        |****************************************|",
        "         8 -> 15         : 0        |                                        |",
        "        16 -> 31         : 0        |                                        |",
        "        32 -> 63         : 0        |                                        |",
        "        64 -> 127        : 1        |********************                    |",
        "       128 -> 255        : 0        |                                        |",
        "       256 -> 511        : 0        |                                        |",
        "       512 -> 1023       : 1        |********************                    |",
        "      1024 -> 2047       : 0        |                                        |",
        "      2048 -> 4095       : 0        |                                        |",
        "      4096 -> 8191       : 2        |****************************************|",
    ]


def test_log2_buckets_are_plain_data_for_plotting(writes) -> None:
    mod, _, _ = writes
    buckets = mod.sizes.buckets()
    assert buckets[:3] == [(0, 1, 2), (2, 3, 2), (4, 7, 2)]
    assert buckets[6] == (64, 127, 1) and buckets[-1] == (4096, 8191, 2)
    assert len(buckets) == 13 and sum(c for _, _, c in buckets) == len(SIZES_A) + len(SIZES_B)
    lows, highs, counts = zip(*buckets)  # what a bar chart takes
    assert lows[1:] == tuple(2**k for k in range(1, 13)) and lows[0] == 0
    assert all(h == 2 * lo - 1 for lo, h in zip(lows[1:], highs[1:])) and highs[0] == 1
    assert counts == (2, 2, 2, 0, 0, 0, 1, 0, 0, 1, 0, 0, 2)


def test_linear_histogram_with_min_for_the_last_bucket(writes) -> None:
    mod, _, _ = writes
    # 0 1 2 3 5 7 -> bucket 0; 100 -> 1; 1000 4096 4096 -> min(.., 9) = 9
    assert printed(mod.hundreds.print_linear_hist, val_type="hundreds") == [
        "     hundreds      : count     distribution",
        "        0          : 6        |****************************************|",
        "        1          : 1        |******                                  |",
        "        2          : 0        |                                        |",
        "        3          : 0        |                                        |",
        "        4          : 0        |                                        |",
        "        5          : 0        |                                        |",
        "        6          : 0        |                                        |",
        "        7          : 0        |                                        |",
        "        8          : 0        |                                        |",
        "        9          : 3        |********************                    |",
    ]
    assert mod.hundreds.buckets("linear")[-1] == (9, 9, 3)


def test_keyed_histogram_prints_one_section_per_fd(writes) -> None:
    mod, fd_a, fd_b = writes
    lines = printed(mod.by_fd.print_log2_hist, val_type="bytes", section_header="fd")
    header = "     bytes               : count     distribution"
    a_rows = [
        "         0 -> 1          : 2        |****************************************|",
        "         2 -> 3          : 2        |****************************************|",
        "         4 -> 7          : 1        |********************                    |",
        "         8 -> 15         : 0        |                                        |",
        "        16 -> 31         : 0        |                                        |",
        "        32 -> 63         : 0        |                                        |",
        "        64 -> 127        : 1        |********************                    |",
        "       128 -> 255        : 0        |                                        |",
        "       256 -> 511        : 0        |                                        |",
        "       512 -> 1023       : 1        |********************                    |",
    ]
    zero = "|                                        |"
    b_rows = [
        f"         0 -> 1          : 0        {zero}",
        f"         2 -> 3          : 0        {zero}",
        "         4 -> 7          : 1        |********************                    |",
        f"         8 -> 15         : 0        {zero}",
        f"        16 -> 31         : 0        {zero}",
        f"        32 -> 63         : 0        {zero}",
        f"        64 -> 127        : 0        {zero}",
        f"       128 -> 255        : 0        {zero}",
        f"       256 -> 511        : 0        {zero}",
        f"       512 -> 1023       : 0        {zero}",
        f"      1024 -> 2047       : 0        {zero}",
        f"      2048 -> 4095       : 0        {zero}",
        "      4096 -> 8191       : 2        |****************************************|",
    ]
    assert fd_a < fd_b  # sections come sorted
    assert lines == ["", f"fd = {fd_a}", header, *a_rows, "", f"fd = {fd_b}", header, *b_rows]
    named = printed(mod.by_fd.print_log2_hist, section_header="fd",
                    section_print_fn=lambda fd: "A" if fd == fd_a else "B",
                    bucket_sort_fn=lambda fds: sorted(fds, reverse=True))
    assert [x for x in named if x.startswith("fd = ")] == ["fd = B", "fd = A"]
    buckets = mod.by_fd.buckets()
    assert set(buckets) == {fd_a, fd_b}
    assert buckets[fd_b][2] == (4, 7, 1) and buckets[fd_b][-1] == (4096, 8191, 2)
    # bucket_fn merges sections: both fds in one histogram, counts added
    merged = mod.by_fd.buckets(bucket_fn=lambda fd: "all")
    assert list(merged) == ["all"] and merged["all"] == mod.sizes.buckets()


def test_histograms_of_maps_that_are_not_say_why(writes) -> None:
    mod, _, _ = writes
    with pytest.raises(ValueError, match="kind must be 'log2' or 'linear'"):
        mod.sizes.buckets("cubic")
