"""Queues, stacks, bloom filters, LPM tries and program arrays used from BPF code, in the
kernel (BPF_PROG_TEST_RUN); user space fills and reads the same maps."""

from __future__ import annotations

import errno
import random

import pytest

import bpfimport  # noqa: F401 - installs the import hook
from tests.conftest import program_module

XDP_DROP, XDP_PASS, XDP_TX = 1, 2, 3
PACKET = bytes(64)


@pytest.fixture
def kinds(kernel, bpf_dir):
    with program_module(bpf_dir, "map_kinds.bpf.py") as mod:
        yield mod


def test_min_and_max_are_pythons_across_signedness(kinds) -> None:
    rng = random.Random(9)
    cases = [(-5, 7, 200, -3), (2**31 - 1, 2**32 - 1, 0, -128), (-2**31, 0, 255, 127)]
    cases += [(rng.randrange(-2**31, 2**31), rng.randrange(2**32), rng.randrange(256),
               rng.randrange(-128, 128)) for _ in range(20)]
    for a, b, c, d in cases:
        for i, v in enumerate((a, b, c, d)):
            kinds.vals[i] = v % 2**64
        kinds.min_max.test_run()
        got = [kinds.out[i] for i in range(6)]
        assert got == [min(a, b), max(a, b), max(c, d), min(c, d), min(b, 7, c),
                       max(a, -100, d)], (a, b, c, d)


def test_queue_is_fifo_and_stack_lifo_from_both_sides(kinds) -> None:
    for v in (10, 20, 30):
        kinds.q.push(v)
        kinds.stk.push(v)
    kinds.queue_ops.test_run()
    out = kinds.out
    assert [out[8], out[9], out[10]] == [10, 10, 20]  # queue: peek, pop, pop
    assert [out[16], out[17], out[18]] == [30, 30, 20]  # stack: the newest first
    assert [out[24], out[25], out[26], out[27]] == [0, 0, 0, 0]
    assert [kinds.q.pop_value() for _ in range(4)] == [30, 40, 50, None]
    assert [kinds.stk.pop_value() for _ in range(4)] == [50, 40, 10, None]


def test_pop_of_an_empty_queue_is_none(kinds) -> None:
    kinds.queue_ops.test_run()  # both empty: every reference is None
    assert [kinds.out[i] for i in (8, 9, 10, 16, 17, 18)] == [-1] * 6
    kinds.q.pop_value(), kinds.q.pop_value()  # what queue_ops pushed
    kinds.q.push(7)
    kinds.drain.test_run()
    assert kinds.out[31] == 1 and kinds.out[32] == 7 and kinds.out[38] == 0
    assert kinds.q.peek() == 1


def test_a_full_queue_refuses_unless_bpf_exist_pushes_out_the_oldest(kinds) -> None:
    kinds.overfill.test_run()
    assert kinds.out[39] == -errno.E2BIG
    assert kinds.out[40] == 0
    assert [kinds.q.pop_value() for _ in range(5)] == [101, 102, 103, 105, None]


def test_bloom_filter_from_bpf(kinds) -> None:
    kinds.bloom.add(5)
    kinds.bloom_ops.test_run()
    assert kinds.out[41] == 1 and kinds.out[42] == 0
    assert kinds.out[43] == 0 and kinds.out[44] == 0
    assert 7 in kinds.bloom  # pushed by the program


def test_lpm_trie_finds_the_longest_matching_prefix(kinds) -> None:
    Prefix = kinds.Prefix
    kinds.lpm[Prefix(8, (10, 0, 0, 0))] = 1
    kinds.lpm[Prefix(16, (10, 1, 0, 0))] = 2
    kinds.lpm[Prefix(24, (10, 1, 2, 0))] = 3
    for i, addr in enumerate([(10, 1, 2, 3), (10, 1, 9, 9), (10, 9, 9, 9), (11, 0, 0, 1)]):
        kinds.queries[i] = Prefix(32, addr)
    kinds.queries[4] = Prefix(32, (192, 168, 0, 1))
    kinds.lpm_ops.test_run()
    assert [kinds.out[48 + i] for i in range(4)] == [3, 2, 1, 0]
    assert kinds.lpm[Prefix(32, (192, 168, 0, 1))] == 77  # inserted by the program
    assert kinds.lpm[Prefix(32, (10, 1, 2, 200))] == 3  # user-space lookups match prefixes too
    assert len(kinds.lpm) == 4
    assert kinds.__bpf_spec__.maps[[m.name for m in kinds.__bpf_spec__.maps].index("lpm")].flags == 1


def test_tail_calls_go_to_the_program_in_the_slot(kinds) -> None:
    progs = kinds.progs
    assert len(progs) == 0 and not progs
    progs[0] = kinds.to_pass
    progs[1] = kinds.to_tx.fd  # a program or its fd
    for slot, want in ((0, XDP_PASS), (1, XDP_TX), (2, XDP_DROP)):
        kinds.vals[7] = slot
        assert kinds.entry.test_run(data=PACKET).retval == want, slot
    assert sorted(progs.keys()) == [0, 1] and len(progs) == 2
    assert isinstance(progs[0], int) and progs[0] != progs[1]  # the kernel's program ids
    del progs[0]
    kinds.vals[7] = 0
    assert kinds.entry.test_run(data=PACKET).retval == XDP_DROP
    assert progs.keys() == [1]
    with pytest.raises(TypeError, match="slots take a program"):
        progs[2] = "to_pass"
