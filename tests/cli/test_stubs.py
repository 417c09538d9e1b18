"""Typed stubs (issue 11, item 3): ``python -m bpfimport stubs DIR`` writes ``NAME_bpf.pyi``.

The command, the hook and the stub's text, in-process; real type checkers over apps using a
stub are tests/cli/test_stubs_checkers.py.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import bpfimport
from bpfimport import importer
from bpfimport.__main__ import main
from bpfimport._stubs import stub_is_fresh
from bpfimport.compiler import stubs

PROGRAM = '''\
from typing import Final

from bpfimport.lang import (
    Annotated, ArrayMap, BloomFilterMap, HashMap, PerCpuArrayMap, QueueMap, RingBuffer, comm, struct,
    tgid, tracepoint, u32, u64,
)

@struct
class Key:
    pid: u32 = 0
    comm: Annotated[bytes, 16] = b""

@struct
class Event:
    pid: u32 = 0
    comm: Annotated[bytes, 16] = b""
    slots: Annotated[list[u32], 4] = []

counts = HashMap(key=Key, value=u64, max_entries=1024)
hits = ArrayMap(key=u32, value=u64, max_entries=4)
percpu = PerCpuArrayMap(key=u32, value=u64, max_entries=1)
pending = QueueMap(value=u32, max_entries=8)
bloom = BloomFilterMap(value=u32, max_entries=8)
events = RingBuffer(max_entries=4096)
TARGET: Final[u32] = 0
seen: u64 = 0

@tracepoint("syscalls/sys_enter_getpid")
def on_getpid(ctx) -> int:
    global seen
    counts[Key(pid=tgid(), comm=comm())] += 1
    seen += 1
    events.output(Event(pid=tgid(), comm=comm()))
    return 0

LICENSE = "GPL"
'''

# What the stub declares for PROGRAM, line by line (the module's attributes).
DECLARED = [
    "class Key(_ctypes.Structure):",
    "    pid: int",
    "    comm: bytes",
    "    def __init__(self, pid: int = ..., comm: bytes = ...) -> None: ...",
    "    slots: _ctypes.Array[_Any]",
    "on_getpid: _Program",
    "counts: _Map[Key, int]",
    "hits: _Map[int, int]",
    "percpu: _Map[int, list[int]]",
    "pending: _Map[None, int]",
    "bloom: _BloomFilterMap[int]",
    "events: _RingBufferMap[Event]",
    "TARGET: _Global[int]",
    "seen: _Global[int]",
    "load = _module.load",
    "close = _module.close",
]

# ------------------------------------------------------------------ in-process

def test_the_stub_declares_each_attribute_with_its_types(tmp_path: Path) -> None:
    (tmp_path / "counter.bpf.py").write_text(PROGRAM)
    assert main(["stubs", "-q", str(tmp_path)]) == 0
    text = (tmp_path / "counter_bpf.pyi").read_text()
    lines = text.splitlines()
    missing = [line for line in DECLARED if line not in lines]
    assert not missing, text
    assert lines[0] == f"# bpfimport-stub: {bpfimport.__version__} " + lines[0].rsplit(" ", 1)[1]


def test_the_command_writes_a_stub_beside_each_source_and_skips_pycache(tmp_path: Path,
                                                                        capsys) -> None:
    (tmp_path / "sub" / "__pycache__").mkdir(parents=True)
    (tmp_path / "top.bpf.py").write_text(PROGRAM)
    (tmp_path / "sub" / "a-b.bpf.py").write_text(PROGRAM)
    (tmp_path / "sub" / "__pycache__" / "old.bpf.py").write_text(PROGRAM)
    assert main(["stubs", str(tmp_path)]) == 0
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.pyi"))
    assert written == ["sub/a_b_bpf.pyi", "top_bpf.pyi"]
    assert f"{tmp_path / 'top.bpf.py'}: -> {tmp_path / 'top_bpf.pyi'}" in capsys.readouterr().out


def test_a_source_with_a_mistake_is_one_line_and_exit_status_1(tmp_path: Path, capsys) -> None:
    (tmp_path / "good.bpf.py").write_text(PROGRAM)
    (tmp_path / "bad.bpf.py").write_text(PROGRAM.replace("value=u64, max_entries=4)",
                                                         "value=u64, max_entries=-4)"))
    assert main(["stubs", "-q", str(tmp_path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"{tmp_path / 'bad.bpf.py'}:"), err
    assert ": error: " in err[0]
    assert (tmp_path / "good_bpf.pyi").is_file() and not (tmp_path / "bad_bpf.pyi").exists()


def test_the_hook_keeps_stubs_fresh_when_asked(bpf_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """install(stubs=True): an import writes a missing or stale stub, and reads one line of a
    fresh one (the frontend does not run); without it, imports write no stub."""
    source = bpf_dir / "fresh.bpf.py"
    source.write_text(PROGRAM)
    stub = bpf_dir / "fresh_bpf.pyi"
    monkeypatch.setattr(importer, "_keep_stubs", False)
    monkeypatch.delenv(importer.STUBS_ENV, raising=False)
    mod = importlib.import_module("fresh_bpf")
    assert not stub.exists()

    bpfimport.install(stubs=True)
    mod = importlib.reload(mod)
    assert stub_is_fresh(str(stub), source.read_bytes())
    assert "counts: _Map[Key, int]" in stub.read_text()

    def no_frontend(*args: object) -> str:
        raise AssertionError("a fresh stub was written again")

    with monkeypatch.context() as m:
        m.setattr(stubs, "render", no_frontend)
        mod = importlib.reload(mod)

    source.write_text(PROGRAM.replace("counts", "tally"))
    mod = importlib.reload(mod)
    assert "tally: _Map[Key, int]" in stub.read_text() and "counts:" not in stub.read_text()
    bpfimport.install(stubs=False)
    assert importer._keep_stubs is False


def test_the_environment_variable_asks_for_stubs_too(bpf_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    (bpf_dir / "byenv.bpf.py").write_text(PROGRAM)
    monkeypatch.setattr(importer, "_keep_stubs", False)
    monkeypatch.setenv(importer.STUBS_ENV, "1")
    importlib.import_module("byenv_bpf")
    assert (bpf_dir / "byenv_bpf.pyi").is_file()


def test_handle_classes_subscript_at_run_time_without_typing() -> None:
    """``Map[Key, int]`` works at run time (an annotation evaluated by the user's code)."""
    from bpfimport.runtime.globals import Global
    from bpfimport.runtime.maps import Map, RingBufferMap

    assert Map[int, int].__origin__ is Map and Global[int].__args__ == (int,)
    assert RingBufferMap[bytes].__origin__ is RingBufferMap
    assert Global.__slots__ == ("_obj", "spec", "_codec")  # still slotted: no __dict__ per handle
    assert not hasattr(Global.__new__(Global), "__dict__")


def test_value_types_follow_the_runtime_conversions() -> None:
    from bpfimport.compiler.types import ArrayType, BoolType, CharType, IntType

    u32 = IntType(32, False)
    assert stubs.value_type(u32) == "int"
    assert stubs.value_type(BoolType()) == "bool"
    assert stubs.value_type(ArrayType(CharType(), 16)) == "bytes"
    assert stubs.value_type(ArrayType(u32, 4)) == "list[int]"
    assert stubs.field_type(ArrayType(u32, 4))[0] == "_ctypes.Array[_Any]"


def test_every_map_kind_has_a_stub_type() -> None:
    """A stub names the handle class of every map kind, imported from where the runtime has it
    (a kind added without its stub entry broke `stubs` with a KeyError)."""
    from bpfimport.kinds import MAP_KINDS
    from bpfimport.runtime import maps

    for kind in MAP_KINDS.values():
        assert stubs.RUNTIME_CLASSES[kind.handle] == maps.__name__, kind.name
        assert isinstance(getattr(maps, kind.handle), type), kind.name


@pytest.mark.parametrize("program", ["maps_of_maps", "packet_helpers", "map_kinds"])
def test_programs_with_every_map_kind_render(program: str) -> None:
    path = Path(__file__).parent.parent / "programs" / f"{program}.bpf.py"
    text = stubs.render(path.read_bytes(), str(path), f"{program}_bpf")
    compile(text, f"{program}_bpf.pyi", "exec")  # valid Python
    assert f"# Typed stub of {program}_bpf" in text


COLLIDING = '''\
from bpfimport.lang import HashMap, struct, u32, u64, xdp

@struct
class _Map:
    a: u32 = 0

_module = HashMap(key=u32, value=u64, max_entries=4)
values = HashMap(key=u32, value=_Map, max_entries=4)
_Any: u64 = 0

@xdp
def _Program(ctx) -> int:
    return 2

LICENSE = "GPL"
'''


def test_names_of_the_stubs_own_never_meet_the_modules() -> None:
    """A module may call a map ``_module`` or a struct ``_Map``: the stub's private names (its
    imports, the module handle) step aside, so each name is bound once, to the user's thing."""
    import ast

    text = stubs.render(COLLIDING.encode(), "x.bpf.py", "x_bpf")
    bound: list[str] = []
    for node in ast.parse(text).body:
        if isinstance(node, ast.ImportFrom | ast.Import):
            bound += [a.asname or a.name for a in node.names]
        elif isinstance(node, ast.ClassDef):
            bound.append(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            bound.append(node.target.id)
        elif isinstance(node, ast.Assign):
            bound += [t.id for t in node.targets if isinstance(t, ast.Name)]
    assert sorted(set(bound)) == sorted(bound), text  # nothing bound twice
    lines = text.splitlines()
    assert "class _Map(" in text and "values: " in text
    assert next(x for x in lines if x.startswith("values: ")).endswith("[int, _Map]")
    assert next(x for x in lines if x.startswith("_module: ")).endswith("[int, int]")
    assert next(x for x in lines if x.startswith("_Any: ")).endswith("[int]")
    assert next(x for x in lines if x.startswith("_Program: ")).endswith("Program")
