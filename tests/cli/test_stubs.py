"""Typed stubs (issue 11, item 3): ``python -m bpfimport stubs DIR`` writes ``NAME_bpf.pyi``.

The proof is real type checkers: mypy (and pyright) over an app that uses a module as
documented (0 errors, also in the stub itself) and over one that makes the mistakes a stub
exists to catch, each reported at its line with the expected message. The checker runs go
through tests/background.py like tests/test_type_checkers.py's; the rest is in-process.
"""

from __future__ import annotations

import functools
import importlib
import re
from pathlib import Path

import pytest

import bpfimport
from bpfimport import importer
from bpfimport.__main__ import main
from bpfimport._stubs import stub_is_fresh
from bpfimport.compiler import stubs
from tests import background

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
    "class Key(ctypes.Structure):",
    "    pid: int",
    "    comm: bytes",
    "    def __init__(self, pid: int = ..., comm: bytes = ...) -> None: ...",
    "    slots: ctypes.Array[Any]",
    "on_getpid: Program",
    "counts: Map[Key, int]",
    "hits: Map[int, int]",
    "percpu: Map[int, list[int]]",
    "pending: Map[None, int]",
    "bloom: BloomFilterMap[int]",
    "events: RingBufferMap[Event]",
    "TARGET: Global[int]",
    "seen: Global[int]",
    "load = _module.load",
    "close = _module.close",
]

GOOD = '''\
import bpfimport
import counter_bpf as skel

key = skel.Key(pid=1, comm=b"sh")
n: int = skel.counts[key]
skel.counts[key] = n + 1
maybe: int | None = skel.counts.get(key)
for k, v in skel.counts.items():
    print(k.pid, k.comm.decode(), v + 1)
total: int = sum(skel.percpu[0])
skel.hits[0] = 5
skel.pending.push(3)
head: int | None = skel.pending.pop_value()
skel.TARGET.value = 42
target: int = skel.TARGET.value + skel.seen.value


def on_event(ev: skel.Event) -> None:
    print(ev.pid, ev.comm, list(ev.slots))


skel.events.poll(on_event, timeout_ms=10)
for ev in skel.events.events(timeout_ms=0):
    print(ev.pid + 1)
with skel.on_getpid.attach():
    pass
print(skel.on_getpid.section, skel.counts.max_entries)
skel.load()
skel.close()
print(bpfimport.__version__, skel.Event(slots=[1, 2, 3, 4]))
'''

# Each mistake at its line, with a piece of mypy's message and of pyright's.
BAD = {
    3: ('skel.counts["not a key"] = 1', 'Invalid index type "str" for "Map[Key, int]"',
        'cannot be assigned to parameter "key" of type "Key"'),
    4: ('skel.counts[skel.Key(pid=1)] = b"x"', 'expression has type "bytes", target has type "int"',
        'cannot be assigned to parameter "value" of type "int"'),
    5: ('skel.Key(pid=1, name=b"x")', 'Unexpected keyword argument "name" for "Key"',
        'No parameter named "name"'),
    6: ('print(skel.Event().nope)', '"Event" has no attribute "nope"',
        'Cannot access attribute "nope" for class "Event"'),
    7: ('skel.TARGET.value = "x"', 'expression has type "str", variable has type "int"',
        'Cannot assign to attribute "value" for class "Global[int]"'),
    8: ("skel.countz", 'Module has no attribute "countz"', '"countz" is not a known attribute'),
    9: ("skel.events.poll(lambda ev: ev.nope)", '"Event" has no attribute "nope"',
        'Cannot access attribute "nope" for class "Event"'),
    10: ('skel.hits["0"]', 'Invalid index type "str" for "Map[int, int]"',
         'cannot be assigned to parameter "key" of type "int"'),
}
BAD_SOURCE = "import counter_bpf as skel\n\n" + "".join(code + "\n" for code, _, _ in BAD.values())


@functools.cache
def app_folder() -> Path:
    """A scratch app: the program, its stub (written by the command), a good and a bad user."""
    folder = background.scratch_folder("bpfimport-stubs-")
    (folder / "counter.bpf.py").write_text(PROGRAM)
    assert main(["stubs", "-q", str(folder)]) == 0
    (folder / "good.py").write_text(GOOD)
    (folder / "bad.py").write_text(BAD_SOURCE)
    return folder


def _checked() -> list[Path]:
    folder = app_folder()
    return [folder / "counter_bpf.pyi", folder / "good.py", folder / "bad.py"]


def mypy_run() -> background.Command:
    from tests.test_type_checkers import _mypy

    return background.run("mypy stubs", lambda: _mypy(_checked(), path=app_folder()))


def pyright_run() -> background.Command:
    from tests.test_type_checkers import _pyright

    return background.run("pyright stubs", lambda: _pyright(_checked(), [app_folder()]))


def start_early() -> None:
    mypy_run()
    pyright_run()


def _by_line(lines: list[tuple[str, int, str]]) -> dict[str, dict[int, list[str]]]:
    found: dict[str, dict[int, list[str]]] = {}
    for name, line, message in lines:
        found.setdefault(name, {}).setdefault(line, []).append(message)
    return found


@pytest.mark.slow
def test_mypy_accepts_the_good_app_and_reports_each_mistake() -> None:
    done = mypy_run().result()
    assert not done.stderr, done.stderr
    errors = [(Path(path).name, int(line), message) for path, line, message in
              re.findall(r"^(.+?):(\d+): error: (.*)$", done.stdout, re.M)]
    found = _by_line(errors)
    assert set(found) == {"bad.py"}, done.stdout  # nothing in the stub nor in the good app
    assert set(found["bad.py"]) == set(BAD), done.stdout
    for line, (_, mypy_says, _) in BAD.items():
        assert any(mypy_says in m for m in found["bad.py"][line]), (line, found["bad.py"][line])


@pytest.mark.slow
def test_pyright_accepts_the_good_app_and_reports_each_mistake() -> None:
    import json

    done = pyright_run().result()
    report = json.loads(done.stdout)
    # A stub with no .py beside it is "not resolved from source" to pyright (a warning): the
    # module is made by the import hook at run time, which is why the stub exists.
    problems = [(Path(d["file"]).name, d["range"]["start"]["line"] + 1, d["message"])
                for d in report["generalDiagnostics"] if d["severity"] in ("error", "warning")
                and d.get("rule") != "reportMissingModuleSource"]
    found = _by_line(problems)
    assert set(found) == {"bad.py"}, problems
    assert set(found["bad.py"]) == set(BAD), problems
    for line, (_, _, pyright_says) in BAD.items():
        assert any(pyright_says in m for m in found["bad.py"][line]), (line, found["bad.py"][line])


# ------------------------------------------------------------------ in-process

def test_the_stub_declares_each_attribute_with_its_types() -> None:
    text = (app_folder() / "counter_bpf.pyi").read_text()
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
    assert "counts: Map[Key, int]" in stub.read_text()

    def no_frontend(*args: object) -> str:
        raise AssertionError("a fresh stub was written again")

    with monkeypatch.context() as m:
        m.setattr(stubs, "render", no_frontend)
        mod = importlib.reload(mod)

    source.write_text(PROGRAM.replace("counts", "tally"))
    mod = importlib.reload(mod)
    assert "tally: Map[Key, int]" in stub.read_text() and "counts:" not in stub.read_text()
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
    assert stubs.field_type(ArrayType(u32, 4))[0] == "ctypes.Array[Any]"
