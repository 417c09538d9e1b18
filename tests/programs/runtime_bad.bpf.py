"""A program the verifier rejects (a map value read without a None check), next to one it accepts."""

from bpfimport.lang import *

counts = HashMap(key=u32, value=u64, max_entries=16)


@syscall
def good(ctx) -> int:
    return 0


@syscall
def bad(ctx) -> int:
    v = counts.lookup(1)
    v += 1
    return 0
