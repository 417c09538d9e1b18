"""Issue 7 item 4: the frontend's model is final.  The types an event map carries are
inferred before codegen (bpfimport/compiler/frontend/events.py); codegen reads the model
and never writes it, and checks that what it sends is what was inferred."""

from __future__ import annotations

import ast
import textwrap

import pytest

from bpfimport.compiler import compile_source
from bpfimport.compiler.codegen.module import ModuleCodegen
from bpfimport.compiler.frontend import analyze_module
from bpfimport.compiler.frontend.model import Source
from bpfimport.options import DEFAULT_OPTIONS

HEAD = """\
from bpfimport.lang import *
rb = RingBuffer(max_entries=4096)
pe = PerfEventArray()
counts = HashMap(key=u32, value=u64, max_entries=8)
@struct
class Event:
    pid: u32
    n: u64
"""


def model_of(body: str):
    src = HEAD + "@raw_tracepoint('sys_enter')\ndef p(ctx) -> int:\n" + textwrap.indent(body, "    ") \
        + "\n    return 0\n"
    source = Source("/virtual/ev.bpf.py", src)
    return src, analyze_module(source, ast.parse(src), "ev_bpf")


def spec_values(body: str) -> dict[str, str | None]:
    src, _ = model_of(body)
    spec = compile_source(src, "/virtual/ev.bpf.py", "ev_bpf").spec
    return {m.name: m.value for m in spec.maps if m.kind in ("RingBuffer", "PerfEventArray")}


@pytest.mark.parametrize("body,rb,pe", [
    ("e = Event(pid=tgid(), n=1)\nrb.output(e)", "struct Event", None),
    ("e = rb.reserve(Event)\nif e:\n    e.n = 1\n    rb.submit(e)", "struct Event", None),
    ("pe.output(Event(pid=1))", None, "struct Event"),
    ("e: Event = Event()\npe.output(e)", None, "struct Event"),
    ("v = counts.lookup(1)\nif v:\n    rb.output(v)", "u64", None),
    ("x: u32 = 5\nrb.output(x)", "u32", None),
    ("x: u32 = 5\nrb.output(x + 1)", "u32", None),
    ("rb.output(tgid())", "u32", None),
    ("rb.output(ktime())", "u64", None),
    ("rb.output(7)", "i64", None),
    ("rb.output(counts[1])", "u64", None),
    ("for i in range(3):\n    e = Event(pid=i)\n    rb.output(e)", "struct Event", None),
    ("rb.output(tgid())\nrb.output(Event())", None, None),  # two types: user space gets bytes
])
def test_the_frontend_infers_what_each_event_map_carries(body: str, rb: str | None,
                                                        pe: str | None) -> None:
    _, model = model_of(body)
    inferred = {name: model.maps[name].event_types for name in ("rb", "pe")}
    assert all(types is not None for types in inferred.values()), inferred  # known before codegen
    assert spec_values(body) == {"rb": rb, "pe": pe}


def test_codegen_leaves_the_model_as_the_frontend_made_it() -> None:
    src, model = model_of("e = Event(pid=tgid())\nrb.output(e)\npe.output(e)")
    before = {name: (m, m.event_types) for name, m in model.maps.items()}
    ModuleCodegen(model, DEFAULT_OPTIONS.debug, DEFAULT_OPTIONS.cpu).generate()
    assert {name: (m, m.event_types) for name, m in model.maps.items()} == before
    rb = model.maps["rb"]
    assert [t.spec for t in rb.event_types] == ["struct Event"]
    with pytest.raises(AttributeError, match="immutable"):
        rb.event_types = ()  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        model.functions["p"].section = "xdp"  # type: ignore[misc]


def test_codegen_refuses_to_send_a_type_the_frontend_did_not_infer() -> None:
    _, model = model_of("x: u32 = 5\nrb.output(x)")
    rb = model.maps["rb"]
    model.maps["rb"] = rb.with_event_types(tuple(model.structs.values()))  # a wrong inference
    with pytest.raises(SyntaxError, match="internal compiler error: 'rb' sends a u32"):
        ModuleCodegen(model, DEFAULT_OPTIONS.debug, DEFAULT_OPTIONS.cpu).generate()
