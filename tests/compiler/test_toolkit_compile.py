"""What the compiler says about the toolkit's maps and helpers: each misuse is a CompileError
at the user's line naming what the map kind does take, and the declarations imply what the
kernel needs (stack trace key/value, the LPM trie's flag)."""

from __future__ import annotations

import textwrap

import pytest

from bpfimport import CompileError
from bpfimport.compiler import compile_source

HEAD = """\
from bpfimport.lang import *
stacks = StackTraceMap(max_entries=64)
q = QueueMap(value=u32, max_entries=4)
bloom = BloomFilterMap(value=u32, max_entries=16)
progs = ProgArray(max_entries=4)
m = HashMap(key=u32, value=u64, max_entries=8)
@struct
class Prefix:
    prefixlen: u32
    addr: u32
lpm = LpmTrieMap(key=Prefix, value=u64, max_entries=8)
@tracepoint("sched/sched_switch")
def p(ctx) -> int:
"""
LINE = HEAD.count("\n") + 1


def compile_body(body: str):
    src = HEAD + textwrap.indent(body, "    ") + "\n    return 0\n"
    return compile_source(src, "/virtual/tk.bpf.py", "tk_bpf")


@pytest.mark.parametrize("body,fragment,hint", [
    ("x = q[1]", "QueueMap 'q' cannot be read by key", "push(), pop(), peek()"),
    ("q[1] = 2", "QueueMap 'q' cannot be written by key", "pop()"),
    ("x = 1 in q", "QueueMap 'q' cannot be read by key", None),
    ("x = stacks[1]", "StackTraceMap 'stacks' cannot be read by key", "get_stackid()"),
    ("stacks[1] += 1", "StackTraceMap 'stacks' cannot be written by key", None),
    ("x = stacks.lookup(1)", "StackTraceMap 'stacks' has no method 'lookup'", "mod.stacks[stack_id]"),
    ("x = progs.lookup(1)", "ProgArray 'progs' has no method 'lookup'", "tail_call()"),
    ("del progs[1]", "ProgArray 'progs' cannot be deleted from", "tail_call()"),
    ("x = bloom.pop()", "BloomFilterMap 'bloom' has no method 'pop'", "v in m"),
    ("x = bloom.peek()", "bloom.peek(v) takes the value to test", "if v in bloom"),
    ("x = q.peek(1)", "q.peek() takes no arguments", None),
    ("x = q.pop(1)", "wrong number of arguments to q.pop()", "takes 0"),
    ("q.push(1, ktime())", "flags must be a constant", None),
    ("x = m.push(1)", "HashMap 'm' has no method 'push'", "lookup()"),
    ("progs.tail_call(5, 1)", "tail_call() takes the program's context first", None),
    ("x = stacks.get_stackid(5, 0)", "takes the program's context", None),
    ("x = stacks.get_stackid()", "get_stackid() takes (ctx[, flags])", None),
    ("x = get_stackid(ctx, m)", "stores the stack in a StackTraceMap", None),
    ("x = get_stack(ctx, 5)", "get_stack() writes into a buffer", None),
    ("x = min(1)", "min() takes two or more numbers", "min(x // 10, 99)"),
    ("x = max(ktime(), key=1)", "max() takes two or more numbers", None),
])
def test_misuse_is_a_compile_error_naming_what_works(body: str, fragment: str, hint: str | None) -> None:
    with pytest.raises(CompileError) as info:
        compile_body(body)
    err = info.value
    assert fragment in err.msg, err.msg
    assert hint is None or hint in (err.hint or ""), err.hint
    assert err.lineno == LINE + body.count("\n")


def test_the_spellings_that_work_compile() -> None:
    compile_body("\n".join([
        "sid = stacks.get_stackid(ctx, BPF_F_USER_STACK | BPF_F_FAST_STACK_CMP)",
        "sid2 = get_stackid(ctx, stacks, BPF_F_REUSE_STACKID | 3)",
        "buf: u64 * 8 = 0",
        "n = get_stack(ctx, buf, BPF_F_USER_STACK)",
        "m[min(sid, sid2, n)] += 1",
        "q.push(1)",
        "q.push(2, BPF_EXIST)",
        "v = q.pop()",
        "if v:",
        "    m[v] = v + 1",
        "w = q.peek()",
        "if w is not None:",
        "    m[0] = w",
        "bloom.push(3)",
        "if 3 in bloom and bloom.peek(4) == 0:",
        "    m[1] += 1",
        "hit = lpm.lookup(Prefix(prefixlen=32, addr=5))",
        "if hit:",
        "    m[2] = hit",
        "progs.tail_call(ctx, max(ktime() % 4, 1))",
    ]))


def test_lpm_trie_declarations_need_a_prefix_key_and_get_the_no_prealloc_flag() -> None:
    tail = "@syscall\ndef p(ctx) -> int:\n    return 0\n"
    head = "from bpfimport.lang import *\n@struct\nclass K:\n    a: u8\n    b: u32\n"
    for key in ("u64", "K"):
        with pytest.raises(CompileError) as info:
            compile_source(f"{head}t = LpmTrieMap(key={key}, value=u64, max_entries=8)\n{tail}",
                           "/virtual/l.bpf.py", "l_bpf")
        assert "first field is the prefix length (u32)" in info.value.msg
        assert info.value.lineno == 6
    ok = compile_source(f"{head}@struct\nclass P:\n    prefixlen: u32\n    data: c_uint8 * 16\n"
                        f"t = LpmTrieMap(key=P, value=u64, max_entries=8, flags=8)\n{tail}",
                        "/virtual/l.bpf.py", "l_bpf")
    (t,) = ok.spec.maps
    assert t.flags == 8 | 1  # BPF_F_NO_PREALLOC added, the declared flags kept


def test_min_max_of_constants_fold_and_constant_stack_flags_are_the_kernels() -> None:
    from bpfimport.compiler.tables import LANG_CONSTANTS

    assert LANG_CONSTANTS["BPF_F_USER_STACK"] == 256
    assert LANG_CONSTANTS["BPF_F_FAST_STACK_CMP"] == 512
    assert LANG_CONSTANTS["BPF_F_REUSE_STACKID"] == 1024
    assert LANG_CONSTANTS["BPF_F_SKIP_FIELD_MASK"] == 255
    module = compile_body("m[min(3, 9, 5)] = max(1, 2)")
    assert "store i64 2" in module.ir and "store i32 3" in module.ir
