"""A ``for i in range(N)`` counter indexes arrays of arrays and structs (execsnoop's argv slots).

Inside the body of ``for i in range(a, b)`` with constant bounds, where the body never
assigns ``i``, the compiler knows every value ``i`` takes: ``e.argv[i]`` then selects
one of several char arrays (a variable index elsewhere into an array of aggregates is
still a CompileError: out of range there is no element to hand on), and an index into
any array needs no run-time check.  The kernel tests compare what the programs compute
with Python running the same body.
"""

from __future__ import annotations

import textwrap

import pytest

from bpfimport import CompileError
from bpfimport.compiler import compile_source
from tests.compiler.test_constructs_kernel import python_result, run_body

HEAD = """
@struct
class Row:
    a: u32
    b: u64
"""


def compile_body(body: str, head: str = "") -> str:
    """Compile ``body`` as a syscall program; give the IR."""
    src = ("from bpfimport.lang import *\n" + textwrap.dedent(head) + "@syscall\ndef p(ctx) -> int:\n"
           + textwrap.indent(textwrap.dedent(body), "    ") + "\n    return 0\n")
    return compile_source(src, "/tmp/loopidx.bpf.py", "loopidx_bpf").ir


def test_loop_counter_selects_nested_arrays(kernel, tmp_path):
    """``g[i][j] = ...`` then the sum, over a u32[3][4] local."""
    head = "N = 3\nM = 4\n"
    body = """
    g: Annotated[list[Annotated[list[u32], 4]], 3] = 0
    for i in range(N):
        for j in range(M):
            g[i][j] = (i + 1) * 10 + j * BASE
    result = 0
    for i in range(N):
        for j in range(M):
            result = result * 7 + g[i][j]
    """
    py_body = body.replace("g: Annotated[list[Annotated[list[u32], 4]], 3] = 0", "g = [[0] * 4 for _ in range(3)]")
    want = python_result(py_body, head, BASE=5)
    assert run_body(tmp_path, "nested", body, head, BASE=5) == want


def test_loop_counter_selects_structs_and_their_fields(kernel, tmp_path):
    """``rows[i].a`` read and written through the counter, a range with a start and a step."""
    body = """
    rows: Annotated[list[Row], 6] = 0
    for i in range(1, 6, 2):
        rows[i].a = i * BASE
        rows[i].b = rows[i].a + 100
    result = 0
    for i in range(6):
        result = result * 1000 + rows[i].b
    """
    head = HEAD
    py_head = "class Row:\n    a = 0\n    b = 0\n"
    py_body = body.replace("rows: Annotated[list[Row], 6] = 0", "rows = [Row() for _ in range(6)]")
    want = python_result(py_body, py_head, BASE=3)
    assert want != 0
    assert run_body(tmp_path, "structs", body, head, BASE=3) == want


def test_char_array_slots_fill_from_helpers(kernel, tmp_path):
    """The execsnoop pattern: one helper call writes slot ``i`` of an array of char arrays."""
    body = """
    slots: Annotated[list[Annotated[bytes, 16]], 4] = 0
    for i in range(4):
        comm(slots[i])
    result = 0
    for i in range(4):
        result = result * 2 + (1 if slots[i][0] == slots[0][0] else 0)
    result = result * 1000 + slots[3][0]
    """
    got = run_body(tmp_path, "slots", body)
    assert got // 1000 == 0b1111
    assert got % 1000 != 0  # the task's name starts with a non-NUL byte


def test_counter_index_has_no_run_time_check():
    """A scalar array indexed by a counter that stays inside: no bounds branch in the IR."""
    checked = compile_body("a: Annotated[list[u32], 8] = 0\nn = ktime() % 8\na[n] = 1")
    assert "index.ok" in checked
    known = compile_body("a: Annotated[list[u32], 8] = 0\nfor i in range(8):\n    a[i] = 1")
    assert "index.ok" not in known


@pytest.mark.parametrize("body", [
    # a counter that may leave the array
    "g: Annotated[list[Annotated[list[u32], 2]], 3] = 0\nfor i in range(4):\n    g[i][0] = 1",
    "g: Annotated[list[Annotated[list[u32], 2]], 3] = 0\nfor i in range(-1, 2):\n    g[i][0] = 1",
    # assigned in the body: nothing is known
    "g: Annotated[list[Annotated[list[u32], 2]], 3] = 0\nfor i in range(3):\n    i = i + 1\n    g[i][0] = 1",
    "g: Annotated[list[Annotated[list[u32], 2]], 3] = 0\nfor i in range(3):\n    for i in range(2):\n"
    "        pass\n    g[i][0] = 1",
    # a bound that is not a constant
    "g: Annotated[list[Annotated[list[u32], 2]], 3] = 0\nn = ktime() % 3\nfor i in range(n):\n    g[i][0] = 1",
    # not a loop counter at all, or after its loop
    "g: Annotated[list[Annotated[list[u32], 2]], 3] = 0\nn = ktime() % 3\ng[n][0] = 1",
    "g: Annotated[list[Annotated[list[u32], 2]], 3] = 0\nfor i in range(3):\n    pass\ng[i][0] = 1",
])
def test_other_variable_indices_into_aggregates_are_errors(body):
    with pytest.raises(CompileError, match="supported only for a loop variable that stays in range") as info:
        compile_body(body)
    assert "for i in range(3)" in (info.value.hint or "")
