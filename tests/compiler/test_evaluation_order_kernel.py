"""Regressions for miscompilations a code review found (tests/programs/review_cases.bpf.py)."""

from __future__ import annotations

import pytest

import bpfimport  # noqa: F401 - installs the import hook
from bpfimport.compiler import CompileOptions, compile_source
from tests.conftest import program_module
from tests.runtime_objects import module_of


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    with program_module(tmp_path_factory.mktemp("review"), "review_cases.bpf.py") as mod:
        yield mod


def run(mod, program: str) -> None:
    getattr(mod, program).test_run()


def test_constructing_in_place_reads_the_old_value_first(kernel, cases):
    run(cases, "in_place_reads_first")
    assert cases.out[0] == 21 and cases.out[1] == 43


def test_final_structs_and_arrays_are_not_folded(kernel, cases):
    cases.close()
    cases.CFG.value = cases.Cfg(x=3, y=9)
    cases.ARR.value = [0, 2]
    cases.SC.value = 1
    run(cases, "final_aggregates")
    assert cases.out[2] == 321 and cases.out[3] == 9


def test_augmented_element_evaluates_its_index_once(kernel, cases):
    run(cases, "index_once")
    assert cases.out[4] == 501
    assert cases.out[5] == 7


def test_tuple_unpacking_reads_every_right_side_first(kernel, cases):
    run(cases, "unpack_reads_first")
    assert cases.out[6] == 7


# A read after a branch that may not assign is what type checkers refuse ("possibly unbound"),
# so this program stays out of review_cases.bpf.py, where every line type-checks.
ZERO_ON_EVERY_PATH = """\
from bpfimport.lang import *

out = ArrayMap(key=u32, value=u64, max_entries=1)
ZERO: Final[u32] = 0


@struct
class S:
    a: u32
    b: u32


@syscall
def zero_on_every_path(ctx) -> int:
    if ZERO == 1:
        s = S(a=5)
    out[0] = s.a + 1                 # s is zero when the branch did not run
    return 0
"""


def test_a_struct_local_is_zero_on_a_path_that_skips_it(kernel, tmp_path):
    with program_module(tmp_path, "paths.bpf.py", ZERO_ON_EVERY_PATH) as mod:
        run(mod, "zero_on_every_path")
        assert mod.out[0] == 1


def test_strings_fill_char_arrays_and_bytes_keep_their_values(kernel, cases):
    run(cases, "char_array_from_string")
    assert cases.out[8] == ord("b") and cases.out[9] == 0xFF


DEAD_CODE = """
from bpfimport.lang import *
m = HashMap(key=u32, value=u64, max_entries=4)
def twice(x: u64) -> u64:
    return x * 2
@syscall
def after_return(ctx) -> int:
    return 0
    for i in range(ktime()):
        m[1] += twice(i)
@syscall
def after_break(ctx) -> int:
    for i in range(3):
        break
        x = m[1]
    cmp: u32 = 1
    true = 2
    if 0 < cmp < ktime() < 3 < 4 < 5:
        return true
    return 0
"""


@pytest.mark.parametrize("options", [CompileOptions(), CompileOptions(debug=False), CompileOptions(cpu="v1")])
def test_dead_code_label_like_names_and_options_compile(options):
    compiled = compile_source(DEAD_CODE, "dead.bpf.py", "dead_bpf", options)
    assert {p.name for p in compiled.spec.programs} == {"after_return", "after_break"}


ATOMICS = """
from bpfimport.lang import *
m = HashMap(key=u32, value=u32, max_entries=4)
g: u32 = 100
@syscall
def prog(ctx) -> int:
    global g
    m[1] |= 4
    m[1] -= 1
    m[1] ^= 1
    g -= 7
    g &= 0xff
    return 0
"""


@pytest.mark.parametrize("cpu", ["v1", "v2", "v3", "v4"])
def test_32_bit_updates_of_shared_values_on_every_cpu(kernel, cpu):
    """BPF has atomic or/and/xor only from v3, and no atomic subtract at all."""

    compiled = compile_source(ATOMICS, "atom.bpf.py", "atom_bpf", CompileOptions(cpu=cpu))
    mod = module_of(compiled.object, compiled.spec)
    with mod:
        mod.prog.test_run()
        assert mod.m[1] == 2 and mod.g.value == 93
