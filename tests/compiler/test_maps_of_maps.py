"""Maps of maps in the compiler: the declaration's BTF is libbpf's ``__array(values, struct
inner)``, an inner map found in BPF code is used as its template, and misuse is a
CompileError at the user's line."""

from __future__ import annotations

import textwrap

import pytest

from bpfimport import CompileError
from bpfimport.btf.objects import read_object
from bpfimport.compiler import compile_source

HEAD = """\
from bpfimport.lang import *
inner = HashMap(key=u32, value=u64, max_entries=16)
arr = ArrayMap(key=u32, value=u64, max_entries=4)
rb = RingBuffer(max_entries=4096)
slots = ArrayOfMaps(key=u32, value=inner, max_entries=4)
named = HashOfMaps(key=u64, value=arr, max_entries=8)
@raw_tracepoint("sys_enter")
def p(ctx) -> int:
"""
LINE = HEAD.count("\n") + 1
TAIL = "@syscall\ndef p(ctx) -> int:\n    return 0\n"


def compile_body(body: str):
    src = HEAD + textwrap.indent(body, "    ") + "\n    return 0\n"
    return compile_source(src, "/virtual/mm.bpf.py", "mm_bpf")


def test_the_outer_maps_btf_names_the_template_as_libbpf_reads_it() -> None:
    module = compile_body("x = slots[1]")
    spec = {m.name: m for m in module.spec.maps}
    assert (spec["slots"].kind, spec["slots"].key, spec["slots"].value) == ("ArrayOfMaps", "u32", "u32")
    assert spec["named"].value == "u32"  # user space reads map ids
    defs = read_object(module.object).maps()
    slots, named = defs["slots"], defs["named"]
    assert (slots.type, slots.max_entries, slots.key.name, slots.value) == (12, 4, "unsigned int", None)
    assert (named.type, named.max_entries) == (13, 8)
    assert slots.inner is not None and named.inner is not None
    assert (slots.inner.type, slots.inner.max_entries) == (1, 16)  # inner: a HashMap of 16
    assert (named.inner.type, named.inner.max_entries) == (2, 4)  # arr: an ArrayMap of 4
    assert slots.inner.value is not None and slots.inner.value.name == "unsigned long long"
    assert defs["inner"].inner is None


@pytest.mark.parametrize("body,fragment,hint", [
    ("slots[1] = 5", "ArrayOfMaps 'slots' cannot be written by key", "lookup()"),
    ("del named[1]", "HashOfMaps 'named' cannot be deleted from", None),
    ("slots[1] += 1", "ArrayOfMaps 'slots' cannot be written by key", None),
    ("x = slots.get(1)", "ArrayOfMaps 'slots' has no method 'get'", "m[k]"),
    ("x = slots[1]\nx.push(3)", "HashMap 'x' has no method 'push'", "lookup()"),
    ("slots[1].push(3)", "HashMap 'slots[1]' has no method 'push'", None),
    ("x = slots[1] + 1", "map found in a map of maps (like 'inner') is not a number", None),
    ("x = slots[1]\nx = 5", "cannot be rebound", None),
    ("x = slots[1]\nx = named[2]", "cannot be rebound", None),
    ("x = slots[1]\nnamed[1] = x", "HashOfMaps 'named' cannot be written by key", None),
])
def test_misuse_is_a_compile_error_at_the_users_line(body: str, fragment: str,
                                                      hint: str | None) -> None:
    with pytest.raises(CompileError) as info:
        compile_body(body)
    err = info.value
    assert fragment in err.msg, err.msg
    assert hint is None or hint in (err.hint or ""), err.hint
    assert err.lineno == LINE + body.count("\n")


@pytest.mark.parametrize("decl,fragment,hint", [
    ("ArrayOfMaps(key=u32, value=u64, max_entries=4)", "takes a map declared above it",
     "inner = HashMap("),
    ("ArrayOfMaps(key=u32, value=later, max_entries=4)", "takes a map declared above it", None),
    ("ArrayOfMaps(key=u32, max_entries=4)", "ArrayOfMaps() needs value=", "value=inner"),
    ("HashOfMaps(key=u32, value=rb, max_entries=4)", "a RingBuffer cannot be the inner map",
     "hash, array"),
    ("HashOfMaps(key=u32, value=outer0, max_entries=4)", "a ArrayOfMaps cannot be the inner map",
     None),
    ("ArrayOfMaps(key=u64, value=inner, max_entries=4)", "ArrayOfMaps keys are u32 slot numbers",
     "HashOfMaps"),
])
def test_declaration_errors_say_what_the_value_is(decl: str, fragment: str, hint: str | None) -> None:
    src = ("from bpfimport.lang import *\ninner = HashMap(key=u32, value=u64, max_entries=16)\n"
           "rb = RingBuffer(max_entries=4096)\nouter0 = ArrayOfMaps(key=u32, value=inner, "
           f"max_entries=2)\nbad = {decl}\nlater = HashMap(key=u32, value=u64, max_entries=4)\n"
           + TAIL)
    with pytest.raises(CompileError) as info:
        compile_source(src, "/virtual/d.bpf.py", "d_bpf")
    assert fragment in info.value.msg, info.value.msg
    assert hint is None or hint in (info.value.hint or ""), info.value.hint
    assert info.value.lineno == 5


def test_operations_on_an_inner_map_test_it_is_there_first() -> None:
    """The verifier refuses a helper call on a maybe-empty slot: each operation is guarded."""
    module = compile_body("slots[1][2] += 1\nx = named.lookup(3)\nx[0] = 4")
    assert module.ir.count("inner.present") >= 2


@pytest.mark.parametrize("initial,fragment,at_value", [
    ("[inner, 5]", "initial= holds maps declared above", True),
    ("[inner, later]", "initial= holds maps declared above", True),
    ("{0: inner, 9: other}", "slot 9 is outside ArrayOfMaps of max_entries=4", False),
    ("{ktime(): inner}", "keys must be constant slot numbers", False),
    ("inner", "takes a list or a dict of maps", True),
    ("[inner, small]", "'small' is not like the template 'inner'", True),
])
def test_initial_slots_are_checked(initial: str, fragment: str, at_value: bool) -> None:
    src = ("from bpfimport.lang import *\ninner = HashMap(key=u32, value=u64, max_entries=16)\n"
           "other = HashMap(key=u32, value=u64, max_entries=16)\n"
           "small = HashMap(key=u32, value=u64, max_entries=8)\n"
           f"bad = ArrayOfMaps(key=u32, value=inner, max_entries=4, initial={initial})\n"
           "later = HashMap(key=u32, value=u64, max_entries=16)\n" + TAIL)
    with pytest.raises(CompileError) as info:
        compile_source(src, "/virtual/i.bpf.py", "i_bpf")
    assert fragment in info.value.msg, info.value.msg
    assert info.value.lineno == 5


def test_initial_needs_u32_keys_and_is_only_for_maps_of_maps() -> None:
    head = "from bpfimport.lang import *\ninner = HashMap(key=u32, value=u64, max_entries=16)\n"
    with pytest.raises(CompileError, match="initial= needs a HashOfMaps with u32 keys"):
        compile_source(head + "h = HashOfMaps(key=u64, value=inner, max_entries=4, "
                       "initial=[inner])\n" + TAIL, "/virtual/i.bpf.py", "i_bpf")
    with pytest.raises(CompileError, match="HashMap\\(\\) has no argument 'initial'"):
        compile_source(head + "h = HashMap(key=u32, value=u64, max_entries=4, "
                       "initial=[inner])\n" + TAIL, "/virtual/i.bpf.py", "i_bpf")


def test_initial_slots_are_pointers_past_the_definition_as_clang_emits_them() -> None:
    src = ("from bpfimport.lang import *\ninner = HashMap(key=u32, value=u64, max_entries=16)\n"
           "other = HashMap(key=u32, value=u64, max_entries=16)\n"
           "outer = HashOfMaps(key=u32, value=inner, max_entries=8, initial={1: other, 3: inner})\n"
           + TAIL)
    module = compile_source(src, "/virtual/i.bpf.py", "i_bpf")
    assert ("{ ptr null, ptr null, ptr null, [4 x ptr] [ptr null, ptr @other, ptr null, "
            "ptr @inner] }") in module.ir
    outer = read_object(module.object).maps()["outer"]
    assert outer.inner is not None and outer.inner.max_entries == 16  # BTF: zero-length values
