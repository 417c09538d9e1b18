"""Every unsupported construct is a CompileError at the user's line, with a hint.

No other exception type may escape the compiler, and none of these may be an
"internal compiler error" (that would mean the check came from a crash).
"""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

import pytest

from bpfimport import CompileError
from bpfimport.compiler import compile_source
from tests.conftest import ROOT

HEAD = """\
from bpfimport.lang import *
m = HashMap(key=u32, value=u64, max_entries=8)
arr = ArrayMap(key=u32, value=u64, max_entries=8)
LIMIT: Final[u32] = 5
hits: u64 = 0
@struct
class S:
    a: u32
    b: u64
def helper(x: u64) -> u64:
    return x + 1
@syscall
def p(ctx) -> int:
"""
BODY_LINE = HEAD.count("\n") + 1  # the first line of a body snippet

BODY_ERRORS = [
    ("x = 1.5", "floating point", "integers"),
    ("x = [1, 2]", "a list is not supported", "no heap"),
    ("x = 3 / 2", "true division", "'//'"),
    ("try:\n    pass\nexcept Exception:\n    pass", "try/except", "exceptions"),
    ("raise ValueError()", "raise is not supported", "error code"),
    ("with open('x') as f:\n    pass", "with is not supported", None),
    ("x = m", "map 'm' cannot be used as a value", "m[key]"),
    ("x = undefined_name", "name 'undefined_name' is not defined", None),
    ("for i in [1, 2]:\n    pass", "range(...) only", "range(n)"),
    ("x: u8 = 300", "300 does not fit in u8", "u8(300)"),
    ("s = S()\ns.c = 1", "struct S has no field 'c'", "a, b"),
    ("s = S()\nif s:\n    pass", "no truth value", None),
    ("x = 'abc'\nx = 'd'", "must be assigned only once", "constants"),
    ("x = 'abc'\nx = 5", "must be assigned only once", "constants"),
    ("m.frob(1)", "has no method 'frob'", "lookup"),
    ("x = m.lookup(1)\nx = 5", "holds a map value reference", None),
    ("print(f'{1.5}')", "floating point", None),
    ("x = 1 // 0", "division or modulo by zero", None),
    ("assert ktime() > 0", "known at compile time", "return 0"),
    ("assert 1 == 2", "assertion failed at compile time", None),
    ("import os", "import inside a function", None),
    ("x = lambda: 1", "a lambda", "module-level function"),
    ("x = (1, 2)", "a tuple value", "unpacked"),
    ("x = {}", "a dict", "HashMap"),
    ("x = [i for i in range(3)]", "list comprehension", "for loop"),
    ("x = tgid(1)", "tgid() takes no arguments", None),
    ("del m", "del only removes map entries", None),
    ("x = u32(1, 2)", "u32() takes exactly one argument", None),
    ("LIMIT = 3\nglobal LIMIT", None, None),  # Python itself rejects this: SyntaxError
    ("global LIMIT\nLIMIT = 3", "is Final", "before loading"),
    ("hits += 1", "declare 'global hits'", None),
    ("global nothere", "not a module-level global", None),
    ("x = p(ctx)", "is a BPF program and cannot be called", "undecorated function"),
    ("x = helper(1, 2)", "takes 1 argument(s), got 2", None),
    ("x = helper(y=1)", "keyword arguments", None),
    ("break", None, None),  # SyntaxError from Python's own parser
    ("x = 1\nx = S()", "a struct S is not a number", None),
    ("x = 1 if ktime() else S()", "not a number", None),
    ("m[1] = S()", "a struct S is not a number", None),
    ("del arr[0]", "cannot be deleted", "store 0"),
    ("print(x=1)", "does not take 'x='", "f-string"),
    ("print(f'{ktime():>10}')", "format spec '>10'", "{x:x}"),
    ("x = 1 ** ktime()", "constant, non-negative exponent", None),
    ("x = 1 << -1", "negative shift count", None),
    ("x = ktime() @ 2", "operator '@'", None),
    ("x = not_a_fn()", "cannot call 'not_a_fn'", None),
    ("x = 5\nx.y = 1", "has no fields", None),
    ("x = 5\nx[0] = 1", "has no fields or elements", None),
    ("x: nosuchtype = 1", "unknown type for 'x'", "u8"),
    ("x = S(c=1)", "struct S has no field 'c'", None),
    ("x = S(1, 2, 3)", "at most 2 positional", None),
    ("a, b = 1", "only a tuple of values can be unpacked", "a, b = x, y"),
    ("a, b = 1, 2, 3", "cannot unpack 3 values into 2", None),
    ("x = m.lookup(1)\nif x is 3:\n    pass", "'is' only compares a map lookup result with None", None),
    ("x = 1 in 2", "'in' tests a map", None),
    ("x = 5\ndel x", "del only removes map entries", None),
    ("for i in range(0, 10, 0):\n    pass", "non-zero constant", None),
    ("for i in range(ktime(), 10, ktime()):\n    pass", "non-zero constant", None),
    ("x = range(3)", "range() only drives a for loop", None),
    ("print(f'{ktime():X}')", "format spec 'X'", "lowercase"),
    ("x = len(5)", "fixed-size arrays", None),
    ("x = deref(5)", "deref() reads through a map value reference", None),
    ("comm(5)", "writes into a buffer", None),
    ("x = get_stackid(ctx, m, 0)", "stores the stack in a StackTraceMap", "StackTraceMap("),
    ("x = print", "cannot be used as a value here", None),
    ("x = 'a' < 'b'", "strings compare only with == and !=", "compare single bytes"),
    ("x = comm() < b'bash'", "strings compare only with == and !=", "compare single bytes"),
    ("x = comm() == 5", "not with an int literal", "comm() == b'bash'"),
    ("x = comm() != ktime()", "not with a u64", "comm() == b'bash'"),
    ("x = comm()[0] == b'ab'", "not with a char", "one byte with one byte"),
    ("x = comm() == b'0123456789abcdefg'", "never equals a string of 17 bytes", "at most 16 bytes"),
    ("x = comm().startswith(b'0123456789abcdefg')", "never starts with a string of 17", "at most 16"),
    ("x = comm() == b'ba\\0sh'", "holds a NUL", "b'ba'"),
    ("x = comm().startswith(5)", "takes a string or a char array, not an int literal", "startswith(b'ba')"),
    ("x = comm().startswith()", "takes one argument", "startswith(b'ba')"),
    ("x = ktime().startswith(b'a')", "method of char arrays, not of a u64", "c_char * N"),
    ("s = S()\nt = S()\nx = s == t", "cannot compare struct S with struct S", "fields"),
    ("x = m.lookup(1) == None", "using 'is'", None),
    ("match 1:\n    case 1:\n        pass", "match is not supported", "if/elif"),
    ("def inner():\n    pass", "a nested function", None),
    ("nonlocal q", None, None),  # SyntaxError from Python
    ("print('a\\0b')", "NUL character", None),
    ("print(f'{ktime()} \\0')", "NUL character", None),
    ("print('\\udc80')", "lone surrogate", None),
    ("print(f'\\ud800 {ktime()}')", "lone surrogate", None),
]

MODULE_ERRORS = [
    ("import os\n", "'import os' is not allowed", "bpfimport.lang"),
    ("print('hi')\n", "would run user-space code", "imports it"),
    ("b = BPF()\n", "would run user-space code", "imports it"),
    ("b = m.x\n", "must be a constant, a map or an annotated global", None),
    ("if __name__ == '__main__':\n    pass\n", "an if statement is not allowed at module level", "user-space"),
    ("class C:\n    x: u32\n", "is not a @struct", "@struct"),
    ("@struct\nclass C:\n    x: float\n", "unknown type for field 'x'", "u8/u16"),
    ("@struct\nclass C:\n    x: u32 = 1\n", "can only default to its zero", "x: u32 = 0"),
    ("@struct\nclass C:\n    pass\n", "has no fields", None),
    ("m2 = HashMap(key=u32, value=u64)\n", "needs max_entries=", None),
    ("m2 = HashMap(key=u32, max_entries=4)\n", "needs value=", None),
    ("m2 = HashMap(key=float, value=u64, max_entries=4)\n", "unknown key type", None),
    ("m2 = HashMap(key=u32, value=u64, max_entries=-1)\n", "from 1 to 2**32 - 1", None),
    ("m2 = HashMap(key=u32, value=u64, max_entries=2**32 + 5)\n", "from 1 to 2**32 - 1", None),
    ("m2 = HashMap(key=u32, value=u64, max_entries=4, flags=2**40)\n", "from 0 to 2**32 - 1", None),
    ("m2 = HashMap(key=u32, value=u8 * 2**40, max_entries=4)\n", "unknown value type", None),
    ("m2 = HashMap(key=u32, value=u64, max_entries=4, colour=1)\n", "has no argument 'colour'", None),
    ("g: u8 = 300\n", "300 does not fit in u8", None),
    ("g: Final[u32] = ktime()\n", "constant initial value", None),
    ("g: wat = 1\n", "unknown type for global 'g'", None),
    ("LICENSE = 5\n", "LICENSE must be a string", None),
    ("m = 1\n", "declared twice", None),
    ("load = 1\n", "reserved", None),
    ("from bpfimport.lang import nope\n", "cannot be imported", None),
    ("from . import x\n", "relative imports", None),
    ("@tracepoint\ndef t(ctx):\n    return 0\n", "takes 1 string argument", None),
    ("@xdp('eth0')\ndef t(ctx):\n    return 0\n", "takes no arguments", "@xdp"),
    ("@unknown_deco\ndef t(ctx):\n    return 0\n", "unknown decorator", None),
    ("@xdp\n@tc\ndef t(ctx):\n    return 0\n", "two program decorators", None),
    ("@xdp\ndef t(ctx, other):\n    return 0\n", "a @xdp program takes one parameter, its context", "@kprobe and @uprobe"),
    ("@xdp\ndef t():\n    return 0\n", "must take its context as its first parameter", "def t(ctx)"),
    ("def f(x):\n    return x\n", "needs a type", "x: u64"),
    ("def f(*a: u64):\n    return 0\n", "*args", None),
    ("def f(a: u64, b: u64, c: u64, d: u64, e: u64, f: u64) -> u64:\n    return 0\n", "at most 5", None),
    ("def f(x: S) -> u64:\n    return 0\n", "unsupported type for parameter", None),
    ("def f(x: u64) -> S:\n    return 0\n", "unsupported return type", None),
    ("def f(x: u64) -> u64:\n    return f(x)\n@syscall\ndef q(ctx) -> int:\n    return f(1)\n",
     "called recursively", "bounded loop"),
    # strings that become the ELF section name (issue 5, item 7)
    ("@section('xdp\\0x')\ndef t(ctx):\n    return 0\n", "NUL character", "\\0"),
    ("@section('\\udc80')\ndef t(ctx):\n    return 0\n", "lone surrogate", "\\udXXX"),
    ("@section('.maps')\ndef t(ctx):\n    return 0\n", "not a program", "does not start with '.'"),
    ("@section('license')\ndef t(ctx):\n    return 0\n", "reads the license", None),
    ("@section('maps')\ndef t(ctx):\n    return 0\n", "legacy map definitions", None),
    ("@tracepoint('sys_enter')\ndef t(ctx):\n    return 0\n", "not 'category/name'", "syscalls/"),
    ("@tracepoint('a/b/c')\ndef t(ctx):\n    return 0\n", "not 'category/name'", None),
    ("@uprobe('/opt/a:b', 'main')\ndef t(ctx):\n    return 0\n", "holds ':'", None),
    ("@uprobe('/bin/bash', 'read line')\ndef t(ctx):\n    return 0\n", "not a symbol libbpf", "+offset"),
    ("@uprobe('/bin/bash', 'main+08')\ndef t(ctx):\n    return 0\n", "not a symbol libbpf", None),
    ("@uretprobe('/bin/bash', 'main+8')\ndef t(ctx):\n    return 0\n", "attaches at function entry", None),
    ("@kprobe('do_sys_open@x')\ndef t(ctx):\n    return 0\n", "not a symbol libbpf", None),
    ("@kretprobe('do_sys_open+4')\ndef t(ctx):\n    return 0\n", "attaches at function entry", None),
    ("LICENSE = 'GPL\\0junk'\n", "NUL character", None),
    ("LICENSE = ''\n", "LICENSE is empty", None),
    ("LICENSE = '" + "G" * 64 + "'\n", "only the first 63", None),
    ("LICENSE = '\\ud800'\n", "lone surrogate", None),
    ("g: c_char * 4 = '\\udc80'\n", "lone surrogate", None),
    ("S = '\\udfff'\n", "lone surrogate", None),
]


def compile_text(src: str) -> None:
    compile_source(src, "/virtual/mod.bpf.py", "mod_bpf")


def body_source(snippet: str) -> str:
    return HEAD + textwrap.indent(snippet, "    ") + "\n    return 0\n"


@pytest.mark.parametrize("snippet,fragment,hint", BODY_ERRORS, ids=[c[0].splitlines()[-1][:40] for c in BODY_ERRORS])
def test_body_errors(snippet: str, fragment: str | None, hint: str | None) -> None:
    src = body_source(snippet)
    with pytest.raises(SyntaxError) as info:
        compile_text(src)
    err = info.value
    assert isinstance(err, CompileError) or fragment is None, f"not a CompileError: {err!r}"
    assert isinstance(err, SyntaxError)
    assert err.filename == "/virtual/mod.bpf.py"
    assert "internal compiler error" not in str(err)
    assert BODY_LINE <= (err.lineno or 0) <= BODY_LINE + snippet.count("\n"), (err.lineno, str(err))
    if fragment is not None:
        assert fragment in err.msg, err.msg
        assert err.text is not None and err.text.strip() in src
        assert err.offset and err.offset >= 1
    if hint is not None:
        assert hint in (err.hint or ""), err.hint


@pytest.mark.parametrize("snippet,fragment,hint", MODULE_ERRORS, ids=[c[0].splitlines()[0][:40] for c in MODULE_ERRORS])
def test_module_errors(snippet: str, fragment: str, hint: str | None) -> None:
    base = "from bpfimport.lang import *\nm = HashMap(key=u32, value=u64, max_entries=8)\n"
    tail = "@syscall\ndef prog_ok(ctx) -> int:\n    return 0\n"
    src = base + snippet + tail
    with pytest.raises(CompileError) as info:
        compile_text(src)
    err = info.value
    assert fragment in err.msg, err.msg
    assert "internal compiler error" not in err.msg
    first = base.count("\n") + 1
    assert first <= err.lineno <= first + snippet.count("\n"), (err.lineno, err.msg)
    if hint is not None:
        assert hint in (err.hint or ""), err.hint


def test_error_shape_is_a_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.bpf.py"
    path.write_text(body_source("x = 1.5"))
    with pytest.raises(CompileError) as info:
        compile_source(path.read_bytes(), str(path), "bad_bpf")
    err = info.value
    assert isinstance(err, SyntaxError)
    assert (err.filename, err.lineno, err.offset) == (str(path), BODY_LINE, 9)
    assert err.text.rstrip("\n") == "    x = 1.5"
    assert err.one_line().startswith(f"{path}:{BODY_LINE}:9: error: floating point")


def test_no_program_is_an_error() -> None:
    with pytest.raises(CompileError, match="declares no BPF program"):
        compile_text("from bpfimport.lang import *\nm = HashMap(key=u32, value=u64, max_entries=8)\n")


def test_python_syntax_error_becomes_compile_error() -> None:
    with pytest.raises(CompileError) as info:
        compile_text("from bpfimport.lang import *\n@syscall\ndef p(ctx):\n    return (\n")
    assert info.value.lineno >= 4


def test_non_utf8_source() -> None:
    with pytest.raises(CompileError, match="not UTF-8"):
        compile_source(b"\xff\xfe x = 1", "/virtual/bad.bpf.py", "bad_bpf")


EXAMPLES = sorted((ROOT / "examples").rglob("*.bpf.py"))


@pytest.mark.parametrize("seed", range(6))
def test_mutated_sources_never_crash(seed: int) -> None:
    """Random edits of real programs give a clean result or a CompileError, never a crash."""
    rng = random.Random(seed)
    sources = [p.read_text() for p in EXAMPLES] or [body_source("x = 1")]
    tokens = ["0", "-1", "ktime()", "m", "S()", "x", "1.5", "'s'", "None", "(", ")", "[", "]", ".a",
              "+", "//", "<<", " and ", " not ", "u8(", "c_char * 4", "if", "for", ":", "=", ",", "**"]
    for _ in range(60):
        lines = rng.choice(sources).splitlines()
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(lines))
            action = rng.random()
            if action < 0.3:
                del lines[i]
            elif action < 0.6:
                lines[i] = lines[i] + rng.choice(tokens)
            elif action < 0.8 and lines[i].strip():
                cut = rng.randrange(len(lines[i]))
                lines[i] = lines[i][:cut] + rng.choice(tokens) + lines[i][cut:]
            else:
                lines.insert(i, lines[rng.randrange(len(lines))])
        src = "\n".join(lines) + "\n"
        try:
            compile_text(src)
        except CompileError as e:
            assert "internal compiler error" not in e.msg, f"{e.msg}\n--- source ---\n{src}"


def test_llvm_without_the_bpf_target_is_one_clear_sentence() -> None:
    from bpfimport import SetupError
    from bpfimport.compiler.backend import require_bpf_target

    class NoBpf:
        llvm_version_info = (22, 1, 0)

        class Target:
            @staticmethod
            def from_triple(triple: str) -> None:
                raise RuntimeError(f"No available targets are compatible with triple \"{triple}\"")

    with pytest.raises(SetupError) as info:
        require_bpf_target(NoBpf)
    message = str(info.value)
    assert "without the BPF target" in message and "pip install" in message
    assert "\n" not in message


def test_the_compiler_knows_every_name_lang_exports() -> None:
    import bpfimport.lang
    from bpfimport.compiler.tables import LANG_NAMES

    assert set(bpfimport.lang.__all__) == LANG_NAMES


# ---- item 11 of issue 7: the semantics a new user meets, said plainly --------------------


def body_error(snippet: str) -> CompileError:
    with pytest.raises(CompileError) as info:
        compile_text(body_source(snippet))
    return info.value


@pytest.mark.parametrize("call,fragment,hint", [
    ("get_stack(ctx, 0, 8)", "get_stack() writes into a buffer", "u64 * N"),
    ("get_stack(ctx)", "get_stack() takes (ctx, buf[, flags])", "size is implied"),
    ("get_stackid(ctx, m, 0)", "stores the stack in a StackTraceMap", "StackTraceMap("),
    ("get_stackid(5, m, 0)", "stores the stack in a StackTraceMap", None),
])
def test_stack_helpers_say_what_they_take(call: str, fragment: str, hint: str | None) -> None:
    err = body_error(f"x = {call}")
    assert err.lineno == BODY_LINE
    assert fragment in err.msg
    assert hint is None or hint in (err.hint or "")


@pytest.mark.parametrize("snippet", ["x = ctx.field", "x = ctx[0]", "ctx.field = 1"])
def test_reading_the_context_says_what_works_today(snippet: str) -> None:
    err = body_error(snippet)
    assert err.lineno == BODY_LINE
    assert "'ctx' points at memory whose type the compiler does not know" in err.msg
    assert "probe_read_kernel(s, 16, ctx)" in (err.hint or "")
    assert "typed contexts" in (err.hint or "")


def test_a_stack_trace_map_implies_its_key_and_value_and_its_hint_says_so() -> None:
    """``StackTraceMap(max_entries=N)`` is the whole declaration: u32 ids, 127 u64 addresses
    (the kernel's layout); the hint no longer suggests ``value=u64`` (a map of one address)."""
    from bpfimport.kinds import MAP_KINDS

    tail = "@syscall\ndef p(ctx) -> int:\n    return 0\n"
    module = compile_source(f"from bpfimport.lang import *\nst = StackTraceMap(max_entries=8)\n"
                            f"deep = StackTraceMap(max_entries=8, value=u64 * 32)\n{tail}",
                            "/virtual/st.bpf.py", "st_bpf")
    st, deep = module.spec.maps
    assert (st.kind, st.key, st.value) == ("StackTraceMap", "u32", "u64[127]")
    assert (deep.key, deep.value) == ("u32", "u64[32]")
    hint = MAP_KINDS["StackTraceMap"].declaration_example()
    assert hint.startswith("StackTraceMap(max_entries=1024)") and "value=u64," not in hint
    for bad, fragment in (("value=u32", "values are arrays of u64"),
                          ("value=u32 * 4", "values are arrays of u64"),
                          ("key=u64", "keys are u32 stack ids")):
        with pytest.raises(CompileError) as info:
            compile_text(f"from bpfimport.lang import *\nst = StackTraceMap({bad}, "
                         f"max_entries=8)\n{tail}")
        assert fragment in info.value.msg and info.value.lineno == 2


def test_log2_is_documented_as_floor_log2_with_zero_for_zero_and_unlike_bcc() -> None:
    from bpfimport.compiler.helpers import HELPERS

    doc = HELPERS["log2"].doc
    assert "floor(log2(x))" in doc and "0 for 0" in doc and "bpf_log2l" in doc
    language = (ROOT / "docs" / "language.md").read_text()
    section = language[language.index("### log2"):]
    section = section[:section.index("\n#")]
    assert "floor" in section and "log2(0) == 0" in section and "bpf_log2l" in section
