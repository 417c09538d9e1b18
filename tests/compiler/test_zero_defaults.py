"""Zero spellings type checkers accept: ``@struct`` field defaults, ``[]``/``b""``/``S()`` for
globals and locals, and ``buf.decode()`` in print (docs/language.md, "Structs").

A type checker sees a ``@struct`` as a dataclass, so ``S()`` and ``S(a=1)`` type-check only
when the fields left out have defaults. BPF structs start zeroed, so the compiler takes a
default that says exactly that (the field's zero) and changes nothing for it; any other
default is a CompileError at the default, with the zero to write instead.
"""

from __future__ import annotations

import re

import pytest

from bpfimport import CompileError
from bpfimport.compiler import CompileOptions, compile_source
from bpfimport.compiler.compiled import CompiledModule

NO_LINE_INFO = CompileOptions(debug=False)  # no line info: no line of the source in the code

HEAD = '''\
from bpfimport.lang import *

ZERO = 0
out = ArrayMap(key=u32, value=u64, max_entries=8)


@struct
class Inner:
    x: u16{x}
    ok: bool{ok}


@struct
class S:
    a: u32{a}
    t: Annotated[bytes, 4]{t}
    v: Annotated[list[u16], 3]{v}
    inner: Inner{inner}
    c: c_char * 2{c}
'''

PROGRAM = '''
@syscall
def p(ctx) -> int:
    s = S()
    out[0] = s.a + s.v[2] + s.inner.x + s.t[3]
    r = S(a=7)
    out[1] = r.a + r.inner.ok
    return 0
'''

BARE = dict(x="", ok="", a="", t="", v="", inner="", c="")
DEFAULTS = dict(x=" = 0", ok=" = False", a=" = 0", t=' = b""', v=" = []", inner=" = Inner()",
                c=' = b""')


def build(source: str) -> CompiledModule:
    return compile_source(source, "/virtual/z.bpf.py", "z_bpf", NO_LINE_INFO)


def code(source: str) -> str:
    """The module's IR without the source text its debug info carries: what the object does."""
    return re.sub(r'source: "[^"]*"', "", build(source).ir)


def compile_error(source: str) -> CompileError:
    with pytest.raises(CompileError) as info:
        build(source)
    assert "internal compiler error" not in str(info.value)
    return info.value


def test_zero_defaults_change_nothing() -> None:
    """The same code, instruction for instruction, as the struct without defaults."""
    assert code(HEAD.format(**DEFAULTS) + PROGRAM) == code(HEAD.format(**BARE) + PROGRAM)
    plain = build(HEAD.format(**BARE) + PROGRAM).spec.struct("S")
    assert build(HEAD.format(**DEFAULTS) + PROGRAM).spec.struct("S").fields == plain.fields


@pytest.mark.parametrize("field, default", [
    ("a", " = ZERO"), ("a", " = u32(0)"), ("a", " = -0"), ("ok", " = 0"), ("t", ' = b"\\0\\0"'),
    ("t", ' = ""'), ("c", " = 0"), ("v", " = 0"), ("inner", " = 0"), ("inner", " = Inner(0)"),
])
def test_every_spelling_of_zero_is_a_default(field: str, default: str) -> None:
    assert code(HEAD.format(**{**BARE, field: default}) + PROGRAM) == code(HEAD.format(**BARE) + PROGRAM)


@pytest.mark.parametrize("field, default, zero", [
    ("a", " = 1", "a: u32 = 0"),
    ("a", " = ktime()", "a: u32 = 0"),
    ("a", " = Inner()", "a: u32 = 0"),  # a struct's zero is no integer's
    ("ok", " = True", "ok: bool = False"),
    ("t", ' = b"ab"', 't: Annotated[bytes, 4] = b""'),
    ("c", ' = "x"', 'c: c_char * 2 = b""'),
    ("v", " = [0]", "v: Annotated[list[u16], 3] = []"),
    ("v", " = [1, 2]", "v: Annotated[list[u16], 3] = []"),
    ("inner", " = Inner(x=1)", "inner: Inner = Inner()"),
    ("inner", " = S()", "inner: Inner = Inner()"),  # another struct's zero
])
def test_a_non_zero_default_is_an_error_at_the_default(field: str, default: str, zero: str) -> None:
    source = HEAD.format(**{**BARE, field: default}) + PROGRAM
    err = compile_error(source)
    assert f"field '{field}' of @struct" in err.msg and "can only default to its zero" in err.msg
    assert zero in (err.hint or ""), err.hint
    line = source.splitlines()[err.lineno - 1]
    assert line.strip().startswith(f"{field}:")
    assert line[err.offset - 1:].startswith(default.removeprefix(" = ")), (line, err.offset)


GLOBALS = '''\
from bpfimport.lang import *

out = ArrayMap(key=u32, value=u64, max_entries=1)


@struct
class K:
    a: u32 = 0


{decl}


@syscall
def p(ctx) -> int:
    out[0] = 1
    return 0
'''


@pytest.mark.parametrize("typed, untyped", [
    ('g: Annotated[bytes, 8] = b"abc"', 'g: c_char * 8 = "abc"'),
    ('g: Final[Annotated[bytes, 8]] = b""', "g: Final[c_char * 8] = 0"),
    ("g: Annotated[list[u32], 2] = []", "g: u32 * 2 = 0"),
    ("g: K = K()", "g: K = 0"),
])
def test_globals_take_the_spellings_type_checkers_accept(typed: str, untyped: str) -> None:
    """``b"..."``, ``[]`` and ``S()`` give the global ``"..."`` and ``0`` give (same section too)."""
    (new,) = build(GLOBALS.format(decl=typed)).spec.globals
    (old,) = build(GLOBALS.format(decl=untyped)).spec.globals
    assert new == old


def test_a_global_array_starts_as_zero_only() -> None:
    err = compile_error(GLOBALS.format(decl="g: Annotated[list[u32], 2] = [1, 2]"))
    assert "can only start as zero" in err.msg and "initialise it to []" in (err.hint or "")


LOCALS = '''\
from bpfimport.lang import *

out = ArrayMap(key=u32, value=u64, max_entries=1)


@syscall
def p(ctx) -> int:
    {body}
    out[0] = arr[1]
    return 0
'''


def test_an_empty_list_declares_a_zeroed_local_array() -> None:
    declared = code(LOCALS.format(body="arr: Annotated[list[u32], 4] = []"))
    assert declared == code(LOCALS.format(body="arr: Annotated[list[u32], 4] = 0"))
    assert declared == code(LOCALS.format(body="arr: Annotated[list[u32], 4]"))


def test_a_list_with_elements_is_still_an_error() -> None:
    err = compile_error(LOCALS.format(body="arr: Annotated[list[u32], 4] = [1]"))
    assert "a list is not supported" in err.msg and "= []" in (err.hint or "")


PRINTS = '''\
from bpfimport.lang import *


@struct
class S:
    t: Annotated[bytes, 4] = b""


m = HashMap(key=u32, value=S, max_entries=1)


@syscall
def p(ctx) -> int:
    s = S(t=b"hi")
    v = m.lookup(0)
    if v:
        {line}
    return 0
'''


@pytest.mark.parametrize("decoded, plain", [
    ('print(f"{s.t.decode()} {v.t.decode()}")', 'print(f"{s.t} {v.t}")'),
    ('print(s.t.decode(), comm().decode(), b"ab".decode())', 'print(s.t, comm(), b"ab")'),
])
def test_decoding_text_in_print_prints_the_same(decoded: str, plain: str) -> None:
    """mypy refuses ``f"{bytes}"`` (Python would print ``b'...'``): ``.decode()`` is the spelling it takes."""
    assert code(PRINTS.format(line=decoded)) == code(PRINTS.format(line=plain))


@pytest.mark.parametrize("line, message", [
    ('print(f"{ktime().decode()}")', "only text can be decoded, not a u64"),
    ('print(f"{s.t.decode(\'utf-8\')}")', "decode() takes no arguments"),
])
def test_decoding_anything_else_is_an_error(line: str, message: str) -> None:
    source = PRINTS.format(line=line)
    err = compile_error(source)
    assert message in err.msg
    assert source.splitlines()[err.lineno - 1].strip() == line
