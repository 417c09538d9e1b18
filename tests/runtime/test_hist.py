"""Histogram text in bcc's layout, checked line by line against text written out by hand.

The expected lines below were derived from bcc's format description (header
``"     %-19s : count     distribution"``, rows ``"%10d -> %-10d : %-8d |%-40s|"``,
``floor(40 * count / max)`` stars; the wide layout past bucket 31; the linear
layout ``"        %-10d : %-8d |%-40s|"``), not produced by the code under test.
"""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from bpfimport.runtime import hist


def test_log2_rows_name_the_value_ranges_and_scale_the_stars() -> None:
    # bucket 0 holds 0..1 (count 1), bucket 1 holds 2..3 (0), bucket 2 holds 4..7 (3)
    assert hist.log2_lines([1, 0, 3], "usecs") == [
        "     usecs               : count     distribution",
        "         0 -> 1          : 1        |*************                           |",
        "         2 -> 3          : 0        |                                        |",
        "         4 -> 7          : 3        |****************************************|",
    ]


def test_log2_leaves_out_the_empty_buckets_after_the_last_count_and_prints_nothing_when_empty() -> None:
    assert hist.log2_lines([0, 0, 2, 0, 0]) == [
        "     value               : count     distribution",
        "         0 -> 1          : 0        |                                        |",
        "         2 -> 3          : 0        |                                        |",
        "         4 -> 7          : 2        |****************************************|",
    ]
    assert hist.log2_lines([]) == [] and hist.log2_lines([0, 0]) == []


def test_log2_strip_leading_zero_starts_at_the_first_count() -> None:
    assert hist.log2_lines([0, 0, 2, 0, 1], strip_leading_zero=True) == [
        "     value               : count     distribution",
        "         4 -> 7          : 2        |****************************************|",
        "         8 -> 15         : 0        |                                        |",
        "        16 -> 31         : 1        |********************                    |",
    ]


def test_log2_wide_layout_once_a_bucket_past_31_is_used() -> None:
    counts = [0] * 33
    counts[32] = 4  # 2**32 .. 2**33 - 1
    counts[31] = 1
    lines = hist.log2_lines(counts, "ns")
    assert lines[0] == "               ns                            : count     distribution"
    assert len(lines) == 34  # header + buckets 0..32
    assert lines[1] == ("                   0 -> 1                    : 0        |"
                        "                    |")
    assert lines[-2] == ("          2147483648 -> 4294967295           : 1        |"
                         "*****               |")
    assert lines[-1] == ("          4294967296 -> 8589934591           : 4        |"
                         "********************|")
    # one bucket below: the narrow layout still
    assert hist.log2_lines(counts[:32])[0] == "     value               : count     distribution"


def test_log2_top_bucket_is_the_whole_u64_range() -> None:
    counts = [0] * 64
    counts[63] = 1
    assert hist.log2_lines(counts)[-1] == (
        " 9223372036854775808 -> 18446744073709551615 : 1        |********************|")


def test_linear_rows() -> None:
    assert hist.linear_lines([0, 5, 2], "ms") == [
        "     ms            : count     distribution",
        "        0          : 0        |                                        |",
        "        1          : 5        |****************************************|",
        "        2          : 2        |****************                        |",
    ]
    assert hist.linear_lines([0, 0]) == []


def test_counts_wider_than_their_column_push_the_row_right_as_printf_does() -> None:
    line = hist.linear_lines([123456789])[1]
    assert line == "        0          : 123456789 |****************************************|"


def test_stars_are_floored_and_capped() -> None:
    assert hist.stars(1, 3, 40) == "*" * 13 + " " * 27
    assert hist.stars(2, 3, 40) == "*" * 26 + " " * 14
    assert hist.stars(3, 3, 40) == "*" * 40
    assert hist.stars(0, 0, 10) == " " * 10


def test_buckets_are_plain_low_high_count_triples_for_plotting() -> None:
    assert hist.log2_buckets([1, 0, 3]) == [(0, 1, 1), (2, 3, 0), (4, 7, 3)]
    assert hist.linear_buckets([0, 5, 2, 0]) == [(0, 0, 0), (1, 1, 5), (2, 2, 2)]
    assert hist.log2_range(63) == (2**63, 2**64 - 1)


def test_keyed_sections_group_by_the_other_field_and_take_the_slot_field() -> None:
    items = [(SimpleNamespace(disk=b"sdb", slot=2), 4), (SimpleNamespace(disk=b"sda", slot=0), 1),
             (SimpleNamespace(disk=b"sda", slot=1), [2, 3])]
    grouped = hist.sections(((k, hist.count_of(v)) for k, v in items), ["disk", "slot"])
    assert grouped == {b"sdb": [(2, 4)], b"sda": [(0, 1), (1, 5)]}
    assert hist.ordered(grouped, None) == [b"sda", b"sdb"]
    assert hist.ordered(grouped, lambda keys: sorted(keys, reverse=True)) == [b"sdb", b"sda"]
    # the bucket is the field named slot wherever it is, else the last field
    assert hist.slot_field(["slot", "pid"]) == "slot"
    assert hist.slot_field(["pid", "bucket"]) == "bucket"
    # several section fields: a tuple; bucket_fn maps (and merges) sections
    three = [(SimpleNamespace(pid=1, cpu=0, slot=0), 1), (SimpleNamespace(pid=1, cpu=1, slot=0), 2)]
    assert hist.sections(three, ["pid", "cpu", "slot"]) == {(1, 0): [(0, 1)], (1, 1): [(0, 2)]}
    assert hist.sections(three, ["pid", "cpu", "slot"], lambda s: s[0]) == {1: [(0, 1), (0, 2)]}
    assert hist.dense([(0, 1), (0, 2)], 64, "log2") == [3]


def test_section_lines_are_bccs() -> None:
    assert hist.section_line("disk", b"sda", None) == "disk = b'sda'"
    assert hist.section_line("disk", b"sda", bytes.decode) == "disk = sda"


def test_bad_buckets_and_values_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="log2 bucket 64 is out of range"):
        hist.dense([(64, 1)], 64, "log2")
    with pytest.raises(ValueError, match="not a bucket index"):
        hist.dense([(-1, 1)], None, "linear")
    with pytest.raises(TypeError, match="counts"):
        hist.count_of(b"x")
    with pytest.raises(TypeError, match="section field and a bucket field"):
        hist.slot_field(["slot"])


def test_print_lines_write_one_block_to_the_file_given() -> None:
    from bpfimport.runtime.maps import _print_lines

    out = io.StringIO()
    _print_lines(["", "a = 1", "x"], out)
    assert out.getvalue() == "\na = 1\nx\n"
