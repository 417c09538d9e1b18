"""Packet helpers in the compiler: which BPF helper each program type calls, what arguments
become, and every misuse a CompileError at the user's line (kernel behaviour:
tests/runtime/test_packet_helpers_kernel.py)."""

from __future__ import annotations

import re

import pytest

from bpfimport import CompileError
from bpfimport.compiler import compile_source
from bpfimport.compiler.helpers import PACKET_HELPERS, Helper
from bpfimport.compiler.lang_structs import FIB_LOOKUP_FIELDS, lang_struct
from bpfimport.compiler.tables import LANG_CONSTANTS, PACKET_HELPER_CONSTANTS

HEADER = ("from bpfimport.lang import *\n"
          "out = ArrayMap(key=u32, value=u64, max_entries=4)\n"
          "ports = DevMap(max_entries=4)\n"
          "counts = HashMap(key=u32, value=u64, max_entries=4)\n")


def program(decorator: str, *body: str) -> str:
    lines = "".join(f"    {line}\n" for line in body)
    return f"{HEADER}{decorator}\ndef prog(ctx) -> int:\n{lines}    return 0\nLICENSE = 'GPL'\n"


def ir_of(source: str) -> str:
    return compile_source(source, "/virtual/p.bpf.py", "p_bpf").ir


def error_of(source: str) -> CompileError:
    with pytest.raises(CompileError) as e:
        compile_source(source, "/virtual/p.bpf.py", "p_bpf")
    return e.value


def call_of(helper: int) -> str:
    return f"inttoptr (i64 {helper} to ptr)"


@pytest.mark.parametrize(("decorator", "helper"), [
    ("@xdp", Helper.XDP_ADJUST_TAIL), ("@tc", Helper.SKB_CHANGE_TAIL),
    ('@section("classifier")', Helper.SKB_CHANGE_TAIL)])
def test_adjust_tail_is_the_helper_of_the_program_type(decorator: str, helper: int) -> None:
    assert call_of(helper) in ir_of(program(decorator, "out[0] = adjust_tail(ctx, -4)"))


@pytest.mark.parametrize(("decorator", "helper"), [
    ("@xdp", Helper.XDP_LOAD_BYTES), ("@tc", Helper.SKB_LOAD_BYTES),
    ("@socket_filter", Helper.SKB_LOAD_BYTES), ('@cgroup_skb("ingress")', Helper.SKB_LOAD_BYTES)])
def test_load_bytes_takes_its_size_from_the_buffer(decorator: str, helper: int) -> None:
    ir = ir_of(program(decorator, "b: Annotated[bytes, 6] = b''", "out[0] = load_bytes(ctx, 2, b)"))
    assert call_of(helper) in ir and "i64 6)" in ir


def test_store_bytes_spills_a_typed_integer_with_its_width() -> None:
    ir = ir_of(program("@tc", "store_bytes(ctx, 12, u16(0x0800), BPF_F_RECOMPUTE_CSUM)"))
    assert f"{call_of(Helper.SKB_STORE_BYTES)}(ptr" in ir and ", i64 2, i64 1)" in ir


@pytest.mark.parametrize(("line", "message", "hint"), [
    ("adjust_head(ctx, 4)", r"adjust_head\(\) cannot be called in a @tc program", "@xdp"),
    ("adjust_meta(ctx, 4)", r"adjust_meta\(\) cannot be called in a @tc program", "@xdp"),
    ("redirect_map(ports, 0, 0)", r"redirect_map\(\) cannot be called in a @tc program", "@xdp"),
])
def test_an_xdp_helper_in_tc_is_an_error_at_the_call(line: str, message: str, hint: str) -> None:
    e = error_of(program("@tc", "x = 1", line))
    assert e.lineno == 8 and re.search(message, str(e)) and hint in str(e)


@pytest.mark.parametrize(("decorator", "line", "name"), [
    ("@xdp", "skb_store_bytes(ctx, 0, u32(1))", "skb_store_bytes"),
    ("@xdp", "l3_csum_replace(ctx, 24, 0, 1, 2)", "l3_csum_replace"),
    ("@socket_filter", "store_bytes(ctx, 0, u32(1))", "store_bytes"),
    ("@socket_filter", "redirect(1, 0)", "redirect"),
    ('@cgroup_skb("egress")', "l4_csum_replace(ctx, 40, 0, 1, 4)", "l4_csum_replace"),
    ('@tracepoint("syscalls/sys_enter_openat")', "redirect(1, 0)", "redirect"),
])
def test_a_helper_in_a_program_type_that_cannot_call_it_is_an_error(decorator: str, line: str,
                                                                    name: str) -> None:
    e = error_of(program(decorator, line))
    assert e.lineno == 7 and f"{name}() cannot be called in a" in str(e) and "it works in" in str(e)


@pytest.mark.parametrize(("line", "message"), [
    ("fib_lookup(ctx, out, 0)", "map 'out' cannot be used as a value"),
    ("b: Annotated[list[u32], 2] = []\n    fib_lookup(ctx, b, 0)", "fib_lookup() fills in a FibLookup"),
    ("b: Annotated[bytes, 6] = b''\n    csum_diff(b, b, 0)", "whole 32-bit words"),
    ("redirect_map(counts, 0, 0)", "'counts' is a HashMap"),
    ("redirect_map(5, 0, 0)", "'5' is not a map"),
    ("load_bytes(ctx, 0, 7)", "takes a buffer here"),
    ("store_bytes(ctx, 12, 8)", "takes a buffer here"),
    ("x: u32 = 0\n    load_bytes(ctx, 0, x)", "takes a buffer here"),
    ("store_bytes(ctx, 0, u32(1), 1)", "takes no flags in this program type"),
    ("adjust_head(7, -4)", "takes the program's context"),
    ("adjust_head(ctx)", "is missing delta"),
    ("adjust_head(ctx, 1, 2)", "at most 2 arguments"),
    ("adjust_head(ctx, size=1)", "has no parameter 'size'"),
    ("adjust_head(ctx, 1, delta=2)", "got 'delta' twice"),
])
def test_wrong_arguments_are_errors_at_the_line(line: str, message: str) -> None:
    e = error_of(program("@xdp", line))
    assert message in str(e)
    assert e.lineno == 6 + line.count("\n") + 1


def test_keyword_arguments_and_defaults() -> None:
    call = re.escape(call_of(Helper.REDIRECT_MAP))
    ir = ir_of(program("@xdp", "return redirect_map(ports, key=1, flags=XDP_PASS)"))
    assert re.search(call + r"\(ptr @ports, i64 %\w+, i64 2\)", ir)
    ir = ir_of(program("@xdp", "return redirect_map(ports, 1)"))
    assert re.search(call + r"\(ptr @ports, i64 %\w+, i64 0\)", ir)


def test_the_redirect_method_is_redirect_map() -> None:
    ir = ir_of(program("@xdp", "return ports.redirect(1, XDP_DROP)"))
    assert re.search(re.escape(call_of(Helper.REDIRECT_MAP)) + r"\(ptr @ports, i64 %\w+, i64 1\)", ir)
    e = error_of(program("@tc", "return ports.redirect(1)"))
    assert e.lineno == 7 and "redirect_map() cannot be called in a @tc program" in str(e)
    e = error_of(program("@xdp", "return ports.lookup(1)"))
    assert e.lineno == 7 and "DevMap 'ports' has no method 'lookup'" in str(e)


def test_a_packet_helper_in_a_subprogram_is_an_error() -> None:
    source = (HEADER + "def grow(c: u64) -> i64:\n    return adjust_head(c, -4)\n"
              "@xdp\ndef prog(ctx) -> int:\n    return 2\nLICENSE = 'GPL'\n")
    e = error_of(source)
    assert e.lineno == 6 and "not in the subprogram 'grow'" in str(e)


def test_fib_lookup_struct_has_the_uapi_layout() -> None:
    fib = lang_struct("FibLookup")
    assert fib is not None and fib.size == 64
    offsets = {f.name: f.offset for f in fib.fields}
    assert offsets["ifindex"] == 8 and offsets["ipv4_dst"] == offsets["ipv6_dst"] == 32
    assert offsets["smac"] == 52 and offsets["dmac"] == 58 and offsets["tbid"] == 48
    assert all(offset + ty.size <= 64 for _, ty, offset in FIB_LOOKUP_FIELDS)
    import bpfimport.lang as lang

    assert list(lang.FibLookup.__annotations__) == [name for name, _, _ in FIB_LOOKUP_FIELDS]


def test_fib_lookup_passes_the_struct_and_its_size() -> None:
    ir = ir_of(program("@xdp", "p = FibLookup(family=AF_INET, ifindex=3)", "p.ipv4_dst = 9",
                       "out[0] = fib_lookup(ctx, p, BPF_FIB_LOOKUP_DIRECT)"))
    call = re.escape(call_of(Helper.FIB_LOOKUP))
    assert re.search(call + r"\(ptr %\w+, ptr %[\w.]+, i64 64, i64 %\w+\)", ir)


def test_packet_constants_are_the_lang_values() -> None:
    import bpfimport.lang as lang

    assert {n: getattr(lang, n) for n in PACKET_HELPER_CONSTANTS} == PACKET_HELPER_CONSTANTS
    assert PACKET_HELPER_CONSTANTS.items() <= LANG_CONSTANTS.items()
    assert set(PACKET_HELPER_CONSTANTS) <= set(lang.__all__)


def test_every_packet_helper_names_its_program_types() -> None:
    for h in PACKET_HELPERS:
        if h.lower == "byteorder":  # htons...: compiled inline, in every program type
            assert h.helper_id is None and not h.program_types
            continue
        assert h.program_types and h.lower == "packet"
        assert h.helper_id in dict(h.program_types).values()


@pytest.mark.parametrize(("call", "value"), [
    ("htons(0x0800)", 0x0008), ("ntohs(0x1234)", 0x3412), ("htons(0x12345)", 0x4523),
    ("htonl(0x0A000001)", 0x0100000A), ("ntohl(1)", 1 << 24), ("htonl(-1)", 0xFFFFFFFF)])
def test_byte_order_helpers_fold_constants_like_the_user_side(call: str, value: int) -> None:
    import bpfimport.lang as lang

    assert eval(call, vars(lang)) == value  # noqa: S307 - a fixed test expression
    ir = ir_of(program('@tracepoint("syscalls/sys_enter_openat")', f"out[0] = {call}"))
    assert f"store i64 {value}, ptr %l.value" in ir  # folded to the constant


def test_byte_order_helpers_swap_values_at_run_time() -> None:
    ir = ir_of(program("@xdp", "x: u32 = out[1]", "out[0] = htonl(x)", "out[2] = ntohs(x)"))
    assert "@llvm.bswap.i32(" in ir and "@llvm.bswap.i16(" in ir
    e = error_of(program("@xdp", "htons(1, 2)"))
    assert e.lineno == 7 and "htons() takes exactly one argument" in str(e)


@pytest.mark.parametrize(("declaration", "message"), [
    ("DevMap(key=u64, max_entries=4)", "DevMap keys are u32"),
    ("DevMap(value=u16, max_entries=4)", "DevMap values are 4 bytes or 8 bytes"),
    ("XskMap(value=u64, max_entries=4)", "XskMap values are 4 bytes"),
    ("CpuMap()", "CpuMap() needs max_entries="),
])
def test_redirect_map_declarations_are_checked(declaration: str, message: str) -> None:
    source = ("from bpfimport.lang import *\n"
              f"m = {declaration}\n"
              "@xdp\ndef prog(ctx) -> int:\n    return 2\nLICENSE = 'GPL'\n")
    e = error_of(source)
    assert e.lineno == 2 and message in str(e)


def test_a_devmap_value_may_carry_a_program_fd() -> None:
    source = ("from bpfimport.lang import *\n@struct\nclass DevVal:\n    ifindex: u32 = 0\n"
              "    prog_fd: i32 = 0\nm = DevMap(value=DevVal, max_entries=4)\n"
              "@xdp\ndef prog(ctx) -> int:\n    return m.redirect(0)\nLICENSE = 'GPL'\n")
    assert "@m = " in ir_of(source)


@pytest.mark.parametrize(("declaration", "where"), [
    ("m = ArrayMap(key=u32, value=FibLookup, max_entries=1)", "ArrayMap's value"),
    ("g: FibLookup = FibLookup()", "global 'g'"),
    ("@struct\nclass S:\n    f: FibLookup = FibLookup()", "field 'f'"),
])
def test_fib_lookup_is_for_locals_only(declaration: str, where: str) -> None:
    source = (f"from bpfimport.lang import *\n{declaration}\n"
              "@xdp\ndef prog(ctx) -> int:\n    return 2\nLICENSE = 'GPL'\n")
    e = error_of(source)
    assert f"FibLookup can only be the type of a local variable, not of {where}" in str(e)
    assert e.lineno == 2 + declaration.count("\n")


def test_the_section_table_agrees_with_the_runtimes() -> None:
    from bpfimport.compiler.uapi import SECTION_PROGRAM_TYPES
    from bpfimport.runtime.program import section_type

    for head, ptype in SECTION_PROGRAM_TYPES.items():
        assert section_type(f"{head}/x") in (ptype, None)  # None: libbpf decides (tcx)
        assert section_type(head) in (ptype, None)


def test_a_section_program_gets_its_types_helpers() -> None:
    ir = ir_of(program('@section("xdp.frags")', "out[0] = adjust_tail(ctx, -4)"))
    assert call_of(Helper.XDP_ADJUST_TAIL) in ir
    e = error_of(program('@section("kprobe/do_sys_open")', "out[0] = adjust_tail(ctx, -4)"))
    assert e.lineno == 7 and "section 'kprobe/do_sys_open' is not one of them" in str(e)
    assert 'adjust_tail() works in @xdp, @tc, @section("action") programs' in str(e)


def test_fib_lookup_refuses_a_struct_of_the_users_even_of_that_name() -> None:
    source = ("from bpfimport.lang import xdp, u64, struct, fib_lookup\n"
              "@struct\nclass FibLookup:\n    a: u64 = 0\n"
              "@xdp\ndef prog(ctx) -> int:\n    p = FibLookup()\n"
              "    return fib_lookup(ctx, p, 0)\nLICENSE = 'GPL'\n")
    e = error_of(source)
    assert e.lineno == 8 and "fib_lookup() fills in a FibLookup, not a struct FibLookup" in str(e)
