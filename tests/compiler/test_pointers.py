"""Pointers know which memory they point into (issue 8, item 5): the probe_read family is
checked against it, the context is never read as a string, and one expression reads a value.

Each misuse is a CompileError at the user's line with a hint; each accepted spelling compiles
(the kernel tests in test_pointers_kernel.py run them)."""

from __future__ import annotations

import textwrap

import pytest

from bpfimport import CompileError
from bpfimport.compiler import compile_source

HEAD = """\
from bpfimport.lang import *
out = ArrayMap(key=u32, value=u64, max_entries=8)
vals = HashMap(key=u32, value=u64, max_entries=8)
@struct
class S:
    a: u32
    b: u64
@struct
class Narrow:
    addr: u32
"""
SNIPPET_LINE = HEAD.count("\n") + 4  # after the decorator, the def and the buf line
DECORATORS = {
    "tracepoint": '@tracepoint("syscalls/sys_enter_execve")\ndef prog(ctx) -> int:\n',
    "uprobe": '@uprobe("libc.so.6", "getenv")\ndef prog(ctx, name: c_char_p) -> int:\n',
    "kprobe": '@kprobe("do_sys_openat2")\ndef prog(ctx, dfd: i32, filename: c_char_p) -> int:\n',
}


def source(kind: str, snippet: str) -> str:
    body = "buf: c_char * 32 = 0\n" + snippet
    return HEAD + DECORATORS[kind] + textwrap.indent(body, "    ") + "\n    return 0\n"


def compile_body(kind: str, snippet: str) -> str:
    return compile_source(source(kind, snippet), "/virtual/mod.bpf.py", "mod_bpf").ir


def error_of(kind: str, snippet: str) -> CompileError:
    with pytest.raises(CompileError) as info:
        compile_body(kind, snippet)
    return info.value


def last_line(kind: str, snippet: str) -> int:
    return SNIPPET_LINE + snippet.count("\n")


# (program kind, the snippet whose last line is wrong, message fragments, hint fragment)
MISUSES = [
    # the two silent misreads of the issue: the context read as the user string
    ("tracepoint", "probe_read_user_str(buf, ctx)",
     ["probe_read_user_str() reads user memory, but 'ctx' is the program's context, which is "
      "kernel memory", "not the user string a field of it points at"], "read_kernel(UserPtr[c_char]"),
    ("tracepoint", "probe_read_user_str(buf, u64(ctx) + 24)",
     ["'u64(ctx) + 24' is an address inside the program's context"], "probe_read_user_str(buf, p)"),
    ("tracepoint", "probe_read_user_str(buf, ctx + 24)",
     ["'ctx + 24' is an address inside the program's context"], None),
    ("tracepoint", "a = u64(ctx) + 24\nprobe_read_user_str(buf, a)",
     ["'a' is an address inside the program's context"], None),
    ("tracepoint", "probe_read_user(buf, 8, ctx)", ["'ctx' is the program's context"], None),
    ("tracepoint", "x = read_user(u64, ctx + 16)", ["read_user() reads user memory"], None),
    # a string is never at the context's address, whatever the family
    ("tracepoint", "probe_read_kernel_str(buf, ctx)",
     ["probe_read_kernel_str() reads a string, but 'ctx' is the program's context, which holds "
      "the string's address"], None),
    ("tracepoint", "probe_read_str(buf, ctx + 16)", ["reads a string", "inside the program's context"],
     None),
    ("uprobe", "probe_read_user_str(buf, ctx)", ["'ctx' is the program's context"],
     "def prog(ctx, name: c_char_p)"),
    # the wrong family for a pointer that knows its memory
    ("uprobe", "probe_read_kernel_str(buf, name)",
     ["probe_read_kernel_str() reads kernel memory, but 'name' points into user memory"],
     "use probe_read_user_str(...), which reads user memory"),
    ("uprobe", "x = read_kernel(u8, name)", ["read_kernel() reads kernel memory, but 'name'"],
     "use read_user(...)"),
    ("uprobe", "probe_read_kernel(buf, 8, name + 8)",
     ["'name + 8' points into user memory"], "probe_read_user"),
    ("kprobe", "probe_read_user_str(buf, filename)",
     ["probe_read_user_str() reads user memory, but 'filename' points into kernel memory"],
     "probe_read_kernel_str"),
    ("tracepoint", "v = vals.lookup(1)\nif v:\n    probe_read_user(buf, 8, v)",
     ["points into a map value, kernel memory"], "probe_read_kernel"),
    ("tracepoint", "p = read_kernel(UserPtr[u64], ctx + 24)\nx = read_kernel(u64, p)",
     ["'p' points into user memory"], None),
    # pointers and integers
    ("uprobe", "s = Narrow()\ns.addr = name",
     ["a user pointer to char is a 64-bit address; u32 would cut it"], "store it in a u64"),
    ("uprobe", "p = name\np = read_kernel(KernelPtr[c_char], 4096)",
     ["cannot use a kernel pointer to char as a user pointer to char"], "UserPtr[T](p)"),
    ("uprobe", "p = name\np = 4096", ["'p' is a user pointer to char and cannot be rebound"], None),
    ("uprobe", "name += 8", ["'name' is a user pointer to char; it cannot be updated in place"],
     "name + n"),
    ("uprobe", "name[0] = 1", ["BPF programs read user memory but do not write it"], None),
    ("uprobe", "p = UserPtr[S](4096)\np.a = 1", ["do not write it"], None),
    ("tracepoint", "x = c_char_p(4096)[0]",
     ["is a pointer into an unknown place, so the compiler does not know which helper reads it"],
     "UserPtr[T](addr)"),
    ("tracepoint", "x = UserPtr(4096)[0]", ["is an address whose target has no type"],
     "read_user(u64,"),
    ("tracepoint", "x = UserPtr[S](4096).c", ["struct S has no field 'c'"], "a, b"),
    ("tracepoint", "x = UserPtr[u64](4096).c", ["has no field 'c'"], None),
    ("tracepoint", "x = read_user(4, 4096)", ["the first argument of read_user() is the type to read"],
     "UserPtr[T]"),
    ("tracepoint", "x = read_kernel(u64)", ["read_kernel() takes (type, address)"],
     "read_kernel(u64, addr)"),
    ("tracepoint", "x = read_user(u64, S())", ["a struct S is not"], None),
    ("tracepoint", "x = deref(UserPtr(4096))", ["is an address whose target has no type"], None),
    ("tracepoint", "probe_read_kernel_str(buf, ctx.argv[1])",
     ["probe_read_kernel_str() reads kernel memory, but 'ctx.argv[1]' points into user memory"],
     "probe_read_user_str"),
    ("tracepoint", "probe_read_kernel(buf, 8, ctx.envp)", ["'ctx.envp' points into user memory"],
     None),
    ("tracepoint", "x = deref(4096)", ["deref() reads through a map value reference or a typed pointer"],
     "read_user(T, addr)"),
]


@pytest.mark.parametrize("kind,snippet,fragments,hint", MISUSES,
                         ids=[m[1].splitlines()[-1][:48] for m in MISUSES])
def test_misuse_is_a_compile_error_at_its_line(kind: str, snippet: str, fragments: list[str],
                                                hint: str | None) -> None:
    err = error_of(kind, snippet)
    assert err.lineno == last_line(kind, snippet), (err.lineno, err.msg)
    for fragment in fragments:
        assert fragment in err.msg, err.msg
    assert err.hint, err.msg
    if hint is not None:
        assert hint in err.hint, err.hint
    assert "internal compiler error" not in err.msg


ACCEPTED = [
    ("tracepoint", "probe_read_kernel(buf, 8, ctx)"),  # copying the context itself
    ("tracepoint", "x = read_kernel(u64, ctx + 24)"),  # one field of the context, by offset
    ("tracepoint", "probe_read_user_str(buf, 4096)"),  # an integer is an address
    ("tracepoint", "a: u64 = 4096\nprobe_read_user_str(buf, a + 8)"),
    ("tracepoint", "a = u64(ctx) + 24\nx = read_kernel(u64, a)"),
    ("tracepoint", "argv = read_kernel(UserPtr[c_char_p], ctx + 24)\nprobe_read_user_str(buf, argv[1])"),
    ("tracepoint", "x = read_user(S, 4096).b + UserPtr[S](8192).b + KernelPtr[u32](4096)[3]"),
    ("tracepoint", "p = UserPtr[S](4096)\nout[0] = p\nout[1] = p + 8\nout[2] = u64(p)"),
    ("uprobe", "probe_read_user_str(buf, name)\nprobe_read_user(buf, 8, name + 4)\nx = name[2]"),
    ("uprobe", "probe_read(buf, 8, name)\nprobe_read_str(buf, name)"),  # the legacy helpers guess
    ("uprobe", "p = name\np = UserPtr[c_char](4096)\nq = KernelPtr[c_char](name)"),
    ("kprobe", "probe_read_kernel_str(buf, filename)\nout[0] = filename\nout[1] = dfd"),
    ("tracepoint", "p = c_char_p(4096)\nprobe_read_user_str(buf, p)\nprobe_read_kernel_str(buf, p)"),
    ("tracepoint", "argv = read_kernel(UserPtr[c_char_p], ctx + 24)\nfor i in range(4):\n"
                   "    probe_read_user_str(buf, read_user(c_char_p, argv + i * 8))"),
    ("uprobe", "out[0] = deref(name) + deref(UserPtr[S](name)).b"),
    # a syscall tracepoint's typed pointer fields are user pointers to what their C type says
    ("tracepoint", "probe_read_user_str(buf, ctx.filename)\nfor i in range(4):\n"
                   "    probe_read_user_str(buf, ctx.argv[i])"),
]


@pytest.mark.parametrize("kind,snippet", ACCEPTED, ids=[a[1].splitlines()[-1][:48] for a in ACCEPTED])
def test_accepted_spellings_compile(kind: str, snippet: str) -> None:
    compile_body(kind, snippet)


def test_an_address_is_checked_only_while_it_is_known_where_it_points() -> None:
    """A local assigned twice may hold either value: it is then a plain number (no false alarm)."""
    compile_body("tracepoint", "a = u64(ctx) + 24\nif ktime():\n    a = 4096\nprobe_read_user_str(buf, a)")


def test_read_user_calls_probe_read_user_and_read_kernel_probe_read_kernel() -> None:
    user = compile_body("tracepoint", "out[0] = read_user(u32, 4096)")
    kernel = compile_body("tracepoint", "out[0] = read_kernel(u32, 4096)")
    assert "inttoptr (i64 112 to ptr)" in user and "inttoptr (i64 113 to ptr)" not in user
    assert "inttoptr (i64 113 to ptr)" in kernel and "inttoptr (i64 112 to ptr)" not in kernel


def test_pointer_elements_step_by_the_element_size() -> None:
    ir = compile_body("tracepoint", "i = ktime() & 3\nout[0] = KernelPtr[S](4096)[i].b")
    assert "mul i64" in ir and ", 16" in ir  # sizeof(S) == 16


def test_the_typed_example_program_compiles() -> None:
    """tests/programs/pointers.bpf.py: every spelling of the docs, type-checked elsewhere."""
    from tests.conftest import PROGRAMS

    path = PROGRAMS / "pointers.bpf.py"
    spec = compile_source(path.read_text(), str(path), "pointers_bpf").spec
    assert {p.name: p.section for p in spec.programs} == {
        "on_getenv": "uprobe/libc.so.6:getenv", "on_getenv_return": "uretprobe/libc.so.6:getenv",
        "on_open_return": "kretprobe/do_sys_openat2", "on_exec": "tracepoint/syscalls/sys_enter_execve"}
    record = next(s for s in spec.structs if s.name == "Record")
    assert (record.size, record.align) == (13, 1)


def tiny_btf() -> bytes:
    """BTF of: [1] int, [2] user-tagged int, [3] int __user *, [4] int *, [5] struct s {int a;},
    [6] struct s *, [7] void *."""
    import struct as st

    strings = b"\0int\0user\0s\0a\0"
    name = {n: strings.index(n.encode() + b"\0") for n in ("int", "user", "s", "a")}

    def rec(name_off: int, kind: int, vlen: int, size_or_type: int) -> bytes:
        return st.pack("<III", name_off, (kind << 24) | vlen, size_or_type)

    types = (rec(name["int"], 1, 0, 4) + st.pack("<I", (1 << 24) | 32)  # INT signed, 32 bits
             + rec(name["user"], 18, 0, 1)  # TYPE_TAG "user" -> int
             + rec(0, 2, 0, 2) + rec(0, 2, 0, 1)  # PTR -> tag, PTR -> int
             + rec(name["s"], 4, 1, 4) + st.pack("<III", name["a"], 1, 0)  # struct s { int a; }
             + rec(0, 2, 0, 5) + rec(0, 2, 0, 0))  # PTR -> struct s, PTR -> void
    header = st.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return header + types + strings


def test_kernel_pointer_fields_point_where_btf_says() -> None:
    """A ``__user`` type tag makes a user pointer; without tags a struct pointer is the
    kernel's own and any other pointer an address whose memory the program names."""
    from bpfimport import btf
    from bpfimport.compiler.core import _pointer_space, _strip

    spec = btf.Spec(tiny_btf())
    spaces = {}
    for ptr in (3, 4, 6, 7):
        target_id = spec.type_by_id(ptr).target_id  # type: ignore[attr-defined]
        spaces[ptr] = _pointer_space(spec, target_id, _strip(spec, target_id))
    assert spaces == {3: "user", 4: "unknown", 6: "kernel", 7: "unknown"}


@pytest.mark.skipif(not __import__("os").path.exists("/sys/kernel/btf/vmlinux"), reason="no vmlinux BTF")
def test_task_struct_pointer_fields_in_the_families() -> None:
    """``task->mm`` is kernel memory; ``task->clear_child_tid`` (``int __user *``, untagged in
    this kernel's BTF) may be read by either family."""
    with pytest.raises(CompileError, match="'current_task\\(\\).mm' points into kernel memory"):
        compile_body("tracepoint", "probe_read_user_str(buf, current_task().mm)")
    compile_body("tracepoint", "x = read_user(i32, current_task().clear_child_tid)\n"
                               "y = read_kernel(i32, current_task().clear_child_tid)")
