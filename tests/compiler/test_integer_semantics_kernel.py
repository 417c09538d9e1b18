"""Integer semantics, checked in the kernel against Python.

Each example compiles a `syscall` program computing many random expressions
over typed inputs (Final globals, set from user space before load so nothing
is folded at compile time), runs it with BPF_PROG_TEST_RUN and compares every
result with the reference model in tests/intmodel.py.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpfimport  # noqa: F401 - installs the import hook
from tests.intmodel import ARITH, CMP, expected_u64, gen, gen_constant, make_vars, program, wrap
from tests.runtime_objects import module_of

pytestmark = pytest.mark.kernel


def run_batch(bpf_dir, name: str, seed: int, count: int = 40, depth: int = 3):
    rng = random.Random(seed)
    vars_ = make_vars(rng)
    cases = [gen(rng, vars_, depth) for _ in range(count)]
    src = program(vars_, [s for s, _ in cases])
    (bpf_dir / f"{name}.bpf.py").write_text(src)
    mod = __import__(f"{name}_bpf")
    for v in vars_:
        getattr(mod, v.name).value = wrap(v.value, *v.ty)
    mod.run.test_run()
    got = [mod.out[i] for i in range(count)]
    mod.close()
    bad = [(s, expected_u64(tv), g) for (s, tv), g in zip(cases, got) if expected_u64(tv) != g]
    values = {v.name: (v.ty, v.value) for v in vars_}
    assert not bad, f"seed {seed}: {len(bad)} mismatches, e.g. {bad[:3]} with {values}"


@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)
def test_random_expressions_match_python(kernel, bpf_dir, seed):
    run_batch(bpf_dir, f"expr{seed}", seed)


@pytest.mark.parametrize("seed", range(4))
def test_fixed_seeds(kernel, bpf_dir, seed):
    """The same check on fixed seeds, so a regression reproduces exactly."""
    run_batch(bpf_dir, f"fixed{seed}", seed, count=60, depth=4)


def test_constant_folding_matches_the_model(kernel, bpf_dir):
    """Literal-only expressions are folded at compile time: Python's arithmetic, then the cast."""
    rng = random.Random(77)
    cases = [gen_constant(rng, 3) for _ in range(300)]
    (bpf_dir / "folding.bpf.py").write_text(program([], [s for s, _ in cases]))
    import folding_bpf as mod

    mod.run.test_run()
    got = [mod.out[i] for i in range(len(cases))]
    mod.close()
    bad = [(s, expected_u64(tv), g) for (s, tv), g in zip(cases, got) if expected_u64(tv) != g]
    assert not bad, f"{len(bad)} of {len(cases)} folded wrong, e.g. {bad[:3]}"


CPU_SEEDS = 3
CPU_BATCH = 150


@pytest.mark.parametrize("seed", range(CPU_SEEDS))
@pytest.mark.parametrize("cpu", ["v1", "v2", "v3", "v4"])
def test_every_cpu_version(kernel, tmp_path, cpu, seed):
    """Every operator on every CPU version: signed // and % have no instruction before v4,
    atomics none before v3, and each version selects its own instructions."""
    from bpfimport.compiler import CompileOptions, compile_source

    rng = random.Random(1000 + seed)
    vars_ = make_vars(rng)
    cases = [gen(rng, vars_, 3) for _ in range(CPU_BATCH)]
    ops = {op for s, _ in cases for op in ARITH + CMP if f" {op} " in s}
    assert ops == set(ARITH + CMP), f"seed {seed} misses operators {set(ARITH + CMP) - ops}"
    src = program(vars_, [s for s, _ in cases])
    path = tmp_path / f"cpu_{cpu}.bpf.py"
    path.write_text(src)
    compiled = compile_source(src, str(path), f"cpu_{cpu}_bpf", CompileOptions(cpu=cpu))
    mod = module_of(compiled.object, compiled.spec)
    for v in vars_:
        getattr(mod, v.name).value = wrap(v.value, *v.ty)
    with mod:
        mod.run.test_run()
        got = [mod.out[i] for i in range(len(cases))]
    bad = [(s, expected_u64(tv), g) for (s, tv), g in zip(cases, got) if expected_u64(tv) != g]
    assert not bad, f"cpu {cpu} seed {seed}: {len(bad)} mismatches, e.g. {bad[:3]}"

