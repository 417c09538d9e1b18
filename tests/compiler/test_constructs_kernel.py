"""Compiler bugs found by probing, each pinned by the program that showed it.

Kernel tests run tests/programs/regressions.bpf.py with BPF_PROG_TEST_RUN and
compare what it wrote with what Python computes; compile tests check that a
construct gives a clean CompileError (or compiles) instead of crashing.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest

import bpfimport  # noqa: F401 - installs the import hook
from bpfimport import CompileError
from bpfimport.compiler import compile_source
from tests.conftest import program_module, traced_after_nonce
from tests.runtime_objects import module_of


@pytest.fixture(scope="module")
def reg(tmp_path_factory, kernel_session):
    """The regressions module, loaded once: each test runs its own program."""
    with program_module(tmp_path_factory.mktemp("reg"), "regressions.bpf.py") as mod:
        yield mod


def run(mod, prog: str, first: int, count: int) -> list[int]:
    getattr(mod, prog).test_run()
    return [mod.out[i] for i in range(first, first + count)]


def compile_body(body: str, head: str = "") -> None:
    src = "from bpfimport.lang import *\n" + textwrap.dedent(head) + "@syscall\ndef p(ctx) -> int:\n"
    src += textwrap.indent(textwrap.dedent(body), "    ") + "\n    return 0\n"
    compile_source(src, "/tmp/reg.bpf.py", "reg_bpf")


def test_range_loops_never_wrap(reg):
    assert run(reg, "range_loops", 0, 5) == [128, 254, 8, 55, 250]


def test_range_into_narrow_existing_variable_is_an_error():
    with pytest.raises(CompileError, match="loop variable 'i' is a u8"):
        compile_body("i: u8 = 0\nn: u32 = 300\nfor i in range(n):\n    pass")


def test_atomic_update_with_negative_literal(reg):
    assert run(reg, "atomic_negative_literal", 5, 2) == [12, 2**32 - 1]


def test_assignment_copies_a_constructed_struct(reg):
    assert run(reg, "struct_copies", 7, 4) == [513, 1, 7, 8]


# Storing a one-byte string into a char is a liberty Python's types cannot express (to a type
# checker a c_char is ctypes', and a char array immutable bytes), so this program stays out of
# regressions.bpf.py, where every line type-checks.
CHAR_LITERALS = """\
from bpfimport.lang import *

out = ArrayMap(key=u32, value=u64, max_entries=4)


@struct
class Tagged:
    tag: c_char
    name: c_char * 4


@syscall
def char_literals(ctx) -> int:
    t = Tagged(tag=b"x", name="ab")  # a one-byte string is a c_char, as ctypes allows
    t.name[2] = b"c"
    out[0] = t.name[2]
    out[1] = t.name[0] == b"a"[0]  # one byte with one byte (the hint of a mistyped compare)
    out[2] = t.tag == b"x"
    out[3] = b"y" != t.tag
    return 0
"""


def test_one_byte_strings_are_chars(kernel, tmp_path):
    with program_module(tmp_path, "chars.bpf.py", CHAR_LITERALS) as mod:
        assert run(mod, "char_literals", 0, 4) == [ord("c"), 1, 1, 1]


def test_constant_string_index_out_of_range_is_an_error():
    with pytest.raises(CompileError, match="constant index"):
        compile_body("x = b'ab'[2]")


@pytest.mark.parametrize("body, message", [
    ("x = nothing(1)", "returns nothing"),  # was an LLVM IR error (a void local)
    ("x = print('a')", "returns nothing"),
    ("print(f'{5:s}')", "format spec 's' does not apply to an integer"),  # was a ValueError
])
def test_clean_errors_instead_of_crashes(body, message):
    head = "def nothing(x: u64) -> None:\n    return\n"
    with pytest.raises(CompileError, match=message) as info:
        compile_body(body, head)
    assert "internal compiler error" not in str(info.value)


def run_body(folder: Path, name: str, body: str, head: str = "", **finals: int) -> int:
    """Compile, load and run ``body`` as a syscall program; return the u64 it leaves in ``result``.

    ``finals`` become ``Final[u64]`` globals set from user space before load, so the
    compiler cannot fold what the body computes from them.
    """
    decls = "".join(f"{k}: Final[u64] = 0\n" for k in finals)
    src = ("from bpfimport.lang import *\nresult_map = ArrayMap(key=u32, value=u64, max_entries=1)\n"
           + decls + textwrap.dedent(head) + "@syscall\ndef p(ctx) -> int:\n"
           + textwrap.indent(textwrap.dedent(body), "    ") + "\n    result_map[0] = u64(result)\n    return 0\n")
    (folder / f"{name}.bpf.py").write_text(src)
    sys.path.insert(0, str(folder))
    try:
        mod = importlib.import_module(f"{name}_bpf")
    finally:
        sys.path.remove(str(folder))
    try:
        for k, v in finals.items():
            getattr(mod, k).value = v
        assert mod.p.test_run().retval == 0
        return mod.result_map[0]
    finally:
        mod.close()
        sys.modules.pop(f"{name}_bpf", None)


def python_result(body: str, head: str = "", **finals: int) -> int:
    """What Python computes for the same body (it is plain Python), as a u64."""
    scope: dict = dict(finals)
    exec(textwrap.dedent(head) + textwrap.dedent(body), scope)  # noqa: S102 - test source
    return scope["result"] % 2**64


def test_unicode_locals_and_constants_compile_and_compute(kernel, tmp_path):
    """Only names that reach the object must be ASCII; locals and folded constants may be any Python name."""
    body, head = "ñ = ä + BASE\nrésultat = ñ * 3\nresult = résultat", "ä = 41\n"
    assert run_body(tmp_path, "uni", body, head, BASE=5) == python_result(body, head, BASE=5) == 138


@pytest.mark.parametrize("src", [
    "@syscall\ndef pé(ctx) -> int:\n    return 0\n",  # was an LLVM IR parse error
    "gé: u32 = 0\n",
    "@struct\nclass S:\n    é: u32\n",
    "def f(é: u32) -> u32:\n    return é\n",
])
def test_non_ascii_object_names_are_errors(src):
    with pytest.raises(CompileError, match="not an ASCII name") as info:
        compile_source("from bpfimport.lang import *\n" + src, "/tmp/reg.bpf.py", "reg_bpf")
    assert info.value.lineno is not None and info.value.lineno > 1


def test_expression_too_deep_for_pythons_parser():
    src = "from bpfimport.lang import *\n@syscall\ndef p(ctx) -> int:\n    x = ktime()\n"
    src += "    return " + "+".join(["x"] * 5000) + "\n"
    with pytest.raises(CompileError, match="nested too deeply"):  # was a RecursionError
        compile_source(src, "/tmp/reg.bpf.py", "reg_bpf")


def test_and_or_values(reg):
    assert run(reg, "boolop_values", 15, 5) == [10, 5, 0, 2**64 - 1, 2**64 - 1]


def test_local_names_never_clash_with_temporaries(kernel, tmp_path):
    """A local r1 was %r1<n>, the same IR name as temporary r<1n> (an LLVM parse error).

    Each local gets a distinct value (from a Final, so nothing folds) and is
    reassigned, so a clash that compiled into the wrong register shows in the sum.
    """
    names = [f"{p}{i}" for p in "rtcpv" for i in range(1, 10)]
    body = "".join(f"{n} = BASE * {k + 1}\n" for k, n in enumerate(names))
    body += "".join(f"{n} = {n} + {k}\n" for k, n in enumerate(names))
    body += "result = " + " + ".join(f"{n} * {k + 1}" for k, n in enumerate(names))
    want = python_result(body, BASE=1000)
    assert run_body(tmp_path, "clash", body, BASE=1000) == want


def test_update_flags_by_name(reg):
    assert run(reg, "update_flags", 20, 5) == [0, 2**64 - 17, 2**64 - 2, 0, 5]


def test_print_formats_like_python(tracing, reg):
    """Bools print as True/False and negative hex as -12c, as Python's f-strings do."""
    want = f"regtest-print {True} {False} {True:d} {-300:x} {2**64 - 1:x}"
    lines = traced_after_nonce(reg.print_values.test_run, "regtest-print", 1)
    assert lines, "no regtest-print line after this run's nonce in trace_pipe"
    assert lines[0].endswith(want), lines[0]


def test_dead_code_and_label_like_names_run(kernel, tmp_path):
    """The dead-code case of test_review_cases_kernel.py, loaded and run on each option set:
    code after ``return``/``break`` must not run, and ``true`` is just a local."""
    from bpfimport.compiler import CompileOptions
    from tests.compiler.test_evaluation_order_kernel import DEAD_CODE

    src = DEAD_CODE + "@syscall\ndef chained(ctx) -> int:\n    cmp: u32 = 1\n    true = 2\n" \
        "    if 0 < cmp < 1:\n        return 3\n    if 0 < cmp < 3 < 4 < 5:\n        return true\n    return 0\n"
    for options in (CompileOptions(), CompileOptions(debug=False), CompileOptions(cpu="v1")):
        compiled = compile_source(src, str(tmp_path / "dead.bpf.py"), "dead_bpf", options)
        mod = module_of(compiled.object, compiled.spec)
        with mod:
            assert mod.after_return.test_run().retval == 0
            assert mod.after_break.test_run().retval == 0  # ktime() < 3 is false
            assert mod.chained.test_run().retval == 2  # 0 < 1 < 1 is false; the long chain true
            assert len(mod.m) == 0, options  # neither dead m[1] += ... ran
