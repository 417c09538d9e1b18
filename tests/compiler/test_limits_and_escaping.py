"""The compiler at its limits: native memory over many compiles, user strings that reach the
object (section, tracepoint and uprobe names), and name lengths the kernel's BTF check allows."""

from __future__ import annotations

import ctypes
import json
import sys

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bpfimport import CompileError
from bpfimport.compiler import CompiledModule, compile_source
from bpfimport.compiler.elf import Elf
from bpfimport.kinds import PROGRAM_KINDS
from tests import background
from tests.conftest import ROOT, need
from tests.runtime_objects import module_of

# ---------------------------------------------------------------- native memory per compile

# Compiles the same IR many times after a warm-up and reports, per compile, the growth of the
# bytes malloc has handed out (glibc's mallinfo2: exact, where the resident set moves by pages
# and first refills the free space the warm-up left; the resident set where there is no
# mallinfo2) and of the resident set (/proc/self/statm).
_GROWTH = """
import ctypes, gc, json, os, sys
from bpfimport.compiler import backend as B
from bpfimport.importer import compile_path
impl = B.backend(sys.argv[1])
ir = compile_path(sys.argv[2]).ir
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
mallinfo2 = getattr(ctypes.CDLL(None), "mallinfo2", None)  # glibc >= 2.33
if mallinfo2 is not None:
    mallinfo2.restype = MallInfo2
page = os.sysconf("SC_PAGE_SIZE")
def used():
    with open("/proc/self/statm") as f:
        resident = int(f.read().split()[1]) * page
    m = mallinfo2() if mallinfo2 is not None else None
    return (m.uordblks + m.hblkhd if m is not None else resident), resident
for _ in range(50):
    B.emit_object(ir, "v3", 2, impl)
gc.collect()
before = used()
n = int(sys.argv[3])
for _ in range(n):
    B.emit_object(ir, "v3", 2, impl)
gc.collect()
print(json.dumps([(a - b) / n for a, b in zip(used(), before)]))
"""


GROWTH_COMPILES = 150
BACKENDS = ["llvmffi", "llvmlite.binding"]


def growth_run(kind: str) -> background.Command:
    """The measuring child for ``kind``: a subprocess, so it runs beside the suite."""
    return background.run(f"growth {kind}", lambda: background.Command(
        [sys.executable, "-c", _GROWTH, kind, str(ROOT / "examples" / "syscount.bpf.py"),
         str(GROWTH_COMPILES)], timeout=120))


def start_early() -> None:
    for kind in BACKENDS:
        growth_run(kind)


@pytest.mark.slow
@pytest.mark.parametrize("kind", BACKENDS)
def test_compiling_again_and_again_does_not_grow_native_memory(kind: str) -> None:
    """Before: +1,488 bytes per -O2 compile with llvmffi (the PassInstrumentationCallbacks
    llvmlite allocates for each pass builder and never frees), +64 KB with llvmlite.binding
    (its ModulePassManager.close() disposes nothing).  Now each compile gives back what it took."""
    r = growth_run(kind).result()
    assert r.returncode == 0, r.stderr
    malloced, resident = json.loads(r.stdout)
    print(f"{kind}: per compile, malloc'ed +{malloced:.0f} B, resident +{resident:.0f} B")
    # malloc'ed bytes are exact (the leak was 1,488 / ~65,000) but allocators still settle
    # after 50 warm-up compiles (measured: 125-230 B over 150 compiles), so the bar is well
    # under the smaller leak; the resident set moves by pages and pymalloc arenas, so it only
    # has to stay far from the old ~65,000
    assert malloced < 600, f"{kind}: {malloced:.0f} bytes per compile stay allocated"
    assert resident < 4000, f"{kind}: resident memory grew {resident:.0f} bytes per compile"



def test_only_a_finished_compiles_instrumentation_is_ever_freed() -> None:
    """The leak fix frees memory it finds through a pointer inside LLVM's pass builder: anything
    that does not look exactly like what a compile leaves is left alone, and no read crashes."""
    from bpfimport.compiler import llvmffi

    version = llvmffi.LEAKS_INSTRUMENTATION[0]
    assert llvmffi.instrumentation_of(8, version, 22) is None  # unmapped: read fails, no crash
    assert llvmffi.release(8) is False
    target = ctypes.create_string_buffer(2048)  # all zeros: not the expected layout
    builder = ctypes.create_string_buffer(256)
    ctypes.memmove(ctypes.addressof(builder) + 96, ctypes.byref(ctypes.c_void_p(ctypes.addressof(target))), 8)
    assert llvmffi.instrumentation_of(ctypes.addressof(builder), version, 22) == ctypes.addressof(target)
    assert llvmffi.release(ctypes.addressof(target)) is False  # not a PIC's layout: not freed
    assert llvmffi.instrumentation_of(ctypes.addressof(builder), version, 21) is None  # other LLVM
    assert llvmffi.instrumentation_of(ctypes.addressof(builder), "0.50.1", 22) is None  # unchecked


# ---------------------------------------------------------------- strings that reach the object

def compile_text(src: str) -> CompiledModule:
    return compile_source(src, "/virtual/limits.bpf.py", "limits_bpf")


def program_source(decorator: str, extra: str = "") -> str:
    return f"from bpfimport.lang import *\n{extra}{decorator}\ndef p(ctx) -> int:\n    return 0\n"


def section_in_object(obj: bytes, function: str = "p") -> str:
    """The name of the ELF section holding ``function``'s code, as the object spells it."""
    elf = Elf(obj)
    (symbol,) = [s for s in elf.symbols if s.name == function and s.kind == 2]  # STT_FUNC
    return elf.sections[symbol.section].name


def libbpf_view(obj: bytes) -> tuple[str, str]:
    """(section, program type) of the object's one program, as libbpf reads them on open."""
    from bpfimport.runtime import libbpf as L

    lib = ctypes.CDLL(L.lib()._name)  # own function objects: restypes set here stay here
    lib.bpf_object__open_mem.restype = ctypes.c_void_p
    lib.bpf_object__open_mem.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    lib.bpf_object__next_program.restype = ctypes.c_void_p
    lib.bpf_object__next_program.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.bpf_program__section_name.restype = ctypes.c_char_p
    lib.bpf_program__section_name.argtypes = [ctypes.c_void_p]
    lib.bpf_program__type.argtypes = [ctypes.c_void_p]
    lib.bpf_object__close.argtypes = [ctypes.c_void_p]
    buf = ctypes.create_string_buffer(obj, len(obj))
    handle = lib.bpf_object__open_mem(buf, len(obj), None)
    assert handle, "libbpf could not open the object"
    try:
        prog = lib.bpf_object__next_program(handle, None)
        return lib.bpf_program__section_name(prog).decode(), L.prog_type_str(lib.bpf_program__type(prog))
    finally:
        lib.bpf_object__close(handle)


def libbpf_present() -> bool:
    from bpfimport.errors import BpfError
    from bpfimport.runtime import libbpf as L

    try:
        L.lib()
    except BpfError:
        return False
    return True


TRICKY_SECTIONS = [
    "xd\\70",        # LLVM would read \70 as 'p': an xdp program the spec calls unspec
    'a"b',           # a quote used to end the IR string: "internal compiler error"
    "back\\slash",
    "x\\22y",
    "tab\there",
    "spa ce/ünïcödé",
    "syscall\\",
]


@pytest.mark.parametrize("section", TRICKY_SECTIONS, ids=repr)
def test_the_object_holds_the_section_the_spec_names(section: str) -> None:
    """The bytes in the object, libbpf's reading of them and the handle's type all agree."""
    need(libbpf_present(), "libbpf.so.1 is not installed")
    compiled = compile_text(program_source(f"@section({section!r})"))
    (prog,) = compiled.spec.programs
    assert prog.section == section
    assert section_in_object(compiled.object) == section
    libbpf_section, libbpf_type = libbpf_view(compiled.object)
    assert libbpf_section == section
    mod = module_of(compiled.object, compiled.spec)
    try:
        assert mod.p.type == libbpf_type, (section, libbpf_type)
    finally:
        mod.close()


@pytest.mark.parametrize("decorator, section", [
    ('@tracepoint("my cat/ev\\\\ent")', "tracepoint/my cat/ev\\ent"),
    ('@uprobe("/opt/my \\"app\\"/bin", "main+0x10")', 'uprobe//opt/my "app"/bin:main+0x10'),
    ('@raw_tracepoint("sched\\\\70")', "raw_tracepoint/sched\\70"),
    ('@kprobe("do_sys_open.isra.0")', "kprobe/do_sys_open.isra.0"),
])
def test_attach_points_reach_the_object_verbatim(decorator: str, section: str) -> None:
    compiled = compile_text(program_source(decorator))
    assert compiled.spec.programs[0].section == section
    assert section_in_object(compiled.object) == section


def test_the_license_reaches_the_object_verbatim() -> None:
    text = 'Dual "BSD"\\GPL ü'
    compiled = compile_text(program_source("@xdp", f"LICENSE = {text!r}\n"))
    elf = Elf(compiled.object)
    section = elf.section("license")
    assert section is not None and elf.body(section) == text.encode() + b"\0"
    assert compiled.spec.license == text


def _expect_clean(src: str) -> CompiledModule | None:
    """The compiled module, or None for a CompileError that is not an internal error."""
    try:
        return compile_text(src)
    except CompileError as e:
        assert "internal compiler error" not in e.msg, f"{e.msg}\n--- source ---\n{src}"
        assert e.lineno and e.lineno >= 2, (e.lineno, e.msg)
        return None


FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.slow
@FUZZ
@given(st.text())
@example("xd\\70")
@example('"')
@example("\0")
@example("\udc80")
@example(".maps")
def test_any_section_text_round_trips_or_is_refused(text: str) -> None:
    compiled = _expect_clean(program_source(f"@section({text!r})"))
    if compiled is not None:
        assert compiled.spec.programs[0].section == text
        assert section_in_object(compiled.object) == text


@pytest.mark.slow
@FUZZ
@given(st.sampled_from(["tracepoint", "raw_tracepoint", "kprobe", "kretprobe", "fentry", "lsm",
                        "cgroup_skb", "uprobe", "uretprobe"]),
       st.text(min_size=1), st.text(min_size=1))
@example("uprobe", "/bin/a:b", "main")
@example("tracepoint", 'a"/b', "")
@example("uprobe", "/bin/bash", "readline+010")
def test_any_attach_point_text_round_trips_or_is_refused(kind: str, first: str, second: str) -> None:
    args = [first, second] if kind in ("uprobe", "uretprobe") else [first]
    compiled = _expect_clean(program_source(f"@{kind}({', '.join(map(repr, args))})"))
    if compiled is not None:
        section = PROGRAM_KINDS[kind].section.format(*args)
        assert compiled.spec.programs[0].section == section
        assert section_in_object(compiled.object) == section


@pytest.mark.slow
@FUZZ
@given(st.text())
def test_any_license_or_print_text_round_trips_or_is_refused(text: str) -> None:
    compiled = _expect_clean(program_source("@xdp", f"LICENSE = {text!r}\n"))
    if compiled is not None:
        elf = Elf(compiled.object)
        assert elf.body(elf.section("license")) == text.encode() + b"\0"
    body = f"from bpfimport.lang import *\n@xdp\ndef p(ctx) -> int:\n    print({text!r})\n    return 2\n"
    _expect_clean(body)


# ---------------------------------------------------------------- name lengths (BTF)

# kernel/bpf/btf.c, btf_name_valid_identifier: at most KSYM_NAME_LEN (512) characters, then NUL
BTF_NAME_MAX = 512

# role -> (line of its definition in LONG_NAMES, first letter of its name)
ROLES = {
    "struct": (3, "S"), "field": (4, "f"), "map": (5, "m"), "global": (6, "g"),
    "subprogram": (7, "s"), "parameter": (7, "a"), "program": (10, "p"), "context": (10, "c"),
}
LONG_NAMES = """\
from bpfimport.lang import *
@struct
class {struct}:
    {field}: u32
{map} = HashMap(key=u32, value={struct}, max_entries=4)
{global}: u64 = 0
def {subprogram}({parameter}: u64) -> u64:
    return {parameter} + 1
@syscall
def {program}({context}) -> int:
    global {global}
    v = {struct}()
    v.{field} = 7
    {map}[1] = v
    {global} = {subprogram}(41)
    return 0
LICENSE = "GPL"
"""


def names(length: int, longer: str | None = None) -> dict[str, str]:
    """A name of ``length`` characters for every role; ``longer``'s one character more."""
    return {role: letter + "x" * (length - 1 + (role == longer)) for role, (_, letter) in ROLES.items()}


def test_names_at_the_btf_limit_load_and_run(kernel: None) -> None:
    n = names(BTF_NAME_MAX)
    compiled = compile_text(LONG_NAMES.format(**n))
    mod = module_of(compiled.object, compiled.spec)
    try:
        mod.load()
        assert getattr(mod, n["program"]).test_run().retval == 0
        assert getattr(mod, n["global"]).value == 42
        assert getattr(getattr(mod, n["map"])[1], n["field"]) == 7
    finally:
        mod.close()


@pytest.mark.parametrize("role", list(ROLES))
def test_a_name_one_past_the_btf_limit_is_refused_at_its_definition(role: str) -> None:
    with pytest.raises(CompileError) as info:
        compile_text(LONG_NAMES.format(**names(BTF_NAME_MAX, longer=role)))
    err = info.value
    assert f"{BTF_NAME_MAX + 1} characters long" in err.msg and f"at most {BTF_NAME_MAX}" in err.msg
    assert err.lineno == ROLES[role][0], (role, err.lineno)
    assert len(err.msg) < 200  # the name is shortened in the message
