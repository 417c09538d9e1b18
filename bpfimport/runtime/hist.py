"""Histograms of map counts: bcc's text layout, and the same buckets as plain data.

A program counts into a map keyed by a bucket index (``hist[log2(x)] += 1``
or ``hist[x // 10] += 1``); user space prints it with
``m.print_log2_hist()`` / ``m.print_linear_hist()`` or takes the numbers with
``m.buckets()``.  The functions here are pure (no map, no kernel), so the
layout is tested line by line on small inputs.

**The layout is bcc's** (``print_log2_hist``/``print_linear_hist`` of its
``table.py``), rewritten from its description:

* log2: a header ``"     " + val_type left-justified to 19 + " : count     distribution"``,
  then one row per bucket from the first to the last non-zero one,
  ``"%10d -> %-10d : %-8d |" + stars + "|"`` with 40 star columns; when a
  bucket past index 31 (values of 2**32 and more) is in use, the header
  indents 15 and justifies to 29, the bounds take 20 columns and the
  stars 20.
* linear: ``"     " + val_type left-justified to 13 + " : count     distribution"``,
  then ``"        %-10d : %-8d |" + stars + "|"`` for buckets 0 to the last non-zero one.
* stars: ``floor(width * count / max count)`` asterisks, padded with spaces to
  the width.  (bcc computes the quotient in floating point; it differs from
  this exact one only for counts above ~10**14.)
* keyed histograms print each section after a blank line and
  ``"<section_header> = <section>"`` (``repr()`` of the section unless a
  ``section_print_fn`` formats it).

**Bucket indexes** are this language's ``log2(x)`` (floor log2, 0 for 0, as
libbpf-tools' ``log2l()``): bucket ``k`` holds ``2**k .. 2**(k+1) - 1``, bucket
0 holds 0 and 1.  bcc's ``bpf_log2l`` is one more, so bcc's own printer skips
its unused slot 0; printed, the two give the same rows (``0 -> 1``,
``2 -> 3``, ``4 -> 7`` ...).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any

STARS_MAX = 40
LOG2_BUCKETS = 64  # log2() of a u64 is 0..63
WIDE_FROM = 32  # a log2 bucket from here on (values >= 2**32) needs the wide layout


def stars(count: int, top: int, width: int) -> str:
    """The distribution column: ``count``'s share of ``top`` in asterisks, padded to ``width``."""
    n = min(width, count * width // top) if top > 0 and count > 0 else 0
    return ("*" * n).ljust(width)


def log2_range(index: int) -> tuple[int, int]:
    """The values log2 bucket ``index`` holds: ``(0, 1)``, ``(2, 3)``, ``(4, 7)`` ..."""
    if index == 0:
        return 0, 1
    return 1 << index, (1 << (index + 1)) - 1


def _last_used(counts: Sequence[int]) -> int:
    """The index of the last non-zero count, or -1."""
    for i in range(len(counts) - 1, -1, -1):
        if counts[i]:
            return i
    return -1


def log2_buckets(counts: Sequence[int]) -> list[tuple[int, int, int]]:
    """``(low, high, count)`` for buckets 0 .. the last non-zero one (empty when all are 0)."""
    return [(*log2_range(i), counts[i]) for i in range(_last_used(counts) + 1)]


def linear_buckets(counts: Sequence[int]) -> list[tuple[int, int, int]]:
    """``(k, k, count)`` for buckets 0 .. the last non-zero one (empty when all are 0)."""
    return [(i, i, counts[i]) for i in range(_last_used(counts) + 1)]


def log2_lines(counts: Sequence[int], val_type: str = "value",
               strip_leading_zero: bool = False) -> list[str]:
    """The lines of a log2 histogram in bcc's layout (none when every count is 0)."""
    last = _last_used(counts)
    if last < 0:
        return []
    top = max(counts)
    if last < WIDE_FROM:
        header = f"{'':5}{val_type:<19} : count     distribution"
        bound, width = 10, STARS_MAX
    else:
        header = f"{'':15}{val_type:<29} : count     distribution"
        bound, width = 20, STARS_MAX // 2
    lines = [header]
    for low, high, count in log2_buckets(counts):
        if strip_leading_zero and not count and len(lines) == 1:
            continue
        lines.append(f"{low:{bound}d} -> {high:<{bound}d} : {count:<8d} |{stars(count, top, width)}|")
    return lines


def linear_lines(counts: Sequence[int], val_type: str = "value",
                 strip_leading_zero: bool = False) -> list[str]:
    """The lines of a linear histogram in bcc's layout (none when every count is 0)."""
    last = _last_used(counts)
    if last < 0:
        return []
    top = max(counts)
    lines = [f"{'':5}{val_type:<13} : count     distribution"]
    for k, _, count in linear_buckets(counts):
        if strip_leading_zero and not count and len(lines) == 1:
            continue
        lines.append(f"{'':8}{k:<10d} : {count:<8d} |{stars(count, top, STARS_MAX)}|")
    return lines


def section_line(header: str, section: Any, print_fn: Callable[[Any], Any] | None) -> str:
    """The line above a keyed histogram's section (printed after an empty line)."""
    shown = print_fn(section) if print_fn is not None else repr(section)
    return f"{header} = {shown}"


# ---------------------------------------------------------------- from map items


def count_of(value: Any) -> int:
    """A map value as a count: an int, or the sum of a per-CPU map's list."""
    if isinstance(value, bool) or not isinstance(value, (int, list)):
        raise TypeError(f"histogram values are counts (integers), got {type(value).__name__}")
    if isinstance(value, list):
        return sum(count_of(v) for v in value)
    return value


def dense(pairs: Iterable[tuple[int, int]], limit: int | None, what: str) -> list[int]:
    """Counts by bucket index, as a list from 0 to the largest index given."""
    by_index: dict[int, int] = {}
    for index, count in pairs:
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError(f"{what} bucket {index!r} is not a bucket index (an int >= 0)")
        if limit is not None and index >= limit:
            raise ValueError(f"{what} bucket {index} is out of range: log2() of a u64 gives "
                             f"0..{limit - 1}")
        by_index[index] = by_index.get(index, 0) + count
    counts = [0] * (max(by_index) + 1 if by_index else 0)
    for index, count in by_index.items():
        counts[index] = count
    return counts


def slot_field(fields: Sequence[str]) -> str:
    """Which field of a struct key is the bucket: the one named ``slot``, else the last one."""
    from ..spec import slot_field as rule

    if len(fields) < 2:
        raise TypeError("a keyed histogram's struct key needs a section field and a bucket "
                        "field (e.g. disk and slot)")
    return rule(list(fields))


def sections(items: Iterable[tuple[Any, Any]], fields: Sequence[str],
             bucket_fn: Callable[[Any], Any] | None = None) -> dict[Any, list[tuple[int, int]]]:
    """Group a keyed histogram's entries by section: section -> [(bucket index, count)].

    The section is the value of the key's one other field, or a tuple of the
    other fields' values when there are several (bcc uses only the first
    field); ``bucket_fn`` maps it further, as in bcc.
    """
    slot = slot_field(fields)
    rest = [f for f in fields if f != slot]
    grouped: dict[Any, list[tuple[int, int]]] = {}
    for key, value in items:
        values = tuple(getattr(key, f) for f in rest)
        section: Any = values[0] if len(values) == 1 else values
        if bucket_fn is not None:
            section = bucket_fn(section)
        grouped.setdefault(section, []).append((getattr(key, slot), count_of(value)))
    return grouped


def ordered(keys: Iterable[Any], sort_fn: Callable[[list[Any]], Iterable[Any]] | None) -> list[Any]:
    """Sections in ``sort_fn``'s order, else sorted (else in the map's order, if unorderable)."""
    keys = list(keys)
    if sort_fn is not None:
        return list(sort_fn(keys))
    try:
        return sorted(keys)
    except TypeError:
        return keys


__all__ = ["LOG2_BUCKETS", "STARS_MAX", "count_of", "dense", "linear_buckets", "linear_lines",
           "log2_buckets", "log2_lines", "log2_range", "ordered", "section_line", "sections",
           "slot_field", "stars"]
