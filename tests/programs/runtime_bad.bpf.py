"""A program the verifier rejects (a map value read without a None check), next to one it accepts.

Type checkers reject that read too (``v`` may be None). The defect is the point of the file,
so its line alone carries an ignore for each checker: mypy's and pyright's.
"""

from bpfimport.lang import HashMap, syscall, u32, u64

counts = HashMap(key=u32, value=u64, max_entries=16)


@syscall
def good(ctx) -> int:
    return 0


@syscall
def bad(ctx) -> int:
    v = counts.lookup(1)
    v += 1  # type: ignore[operator]  # pyright: ignore[reportOperatorIssue]
    return 0
