"""Typed stubs under real type checkers (issue 11, item 3).

mypy and pyright over an app that uses a module as documented (0 errors, also in the stub
itself) and over one that makes the mistakes a stub exists to catch, each reported at its
line with the expected message. The runs go through tests/background.py like
tests/test_type_checkers.py's.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest

from bpfimport.__main__ import main
from tests import background
from tests.cli.test_stubs import PROGRAM

pytestmark = pytest.mark.slow  # runs outside tools (see pyproject's markers)

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


def checked_files() -> list[Path]:
    folder = app_folder()
    return [folder / "counter_bpf.pyi", folder / "good.py", folder / "bad.py"]


def mypy_run() -> background.Command:
    from tests.test_type_checkers import _mypy

    return background.run("mypy stubs", lambda: _mypy(checked_files(), path=app_folder()))


def pyright_run() -> background.Command:
    """The one pyright run of tests/test_type_checkers.py, which checks this app's files too."""
    from tests.test_type_checkers import pyright_run as shared_run

    return shared_run()


def start_early() -> None:
    from tests.test_type_checkers import package_run

    package_run()  # queued first: the mypy run below reads the cache it fills
    mypy_run()
    pyright_run()


def _by_line(lines: list[tuple[str, int, str]]) -> dict[str, dict[int, list[str]]]:
    found: dict[str, dict[int, list[str]]] = {}
    for name, line, message in lines:
        found.setdefault(name, {}).setdefault(line, []).append(message)
    return found


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


def test_pyright_accepts_the_good_app_and_reports_each_mistake() -> None:
    done = pyright_run().result()
    report = json.loads(done.stdout)
    # A stub with no .py beside it is "not resolved from source" to pyright (a warning): the
    # module is made by the import hook at run time, which is why the stub exists.
    problems = [(Path(d["file"]).name, d["range"]["start"]["line"] + 1, d["message"])
                for d in report["generalDiagnostics"] if d["severity"] in ("error", "warning")
                and Path(d["file"]).parent == app_folder()
                and d.get("rule") != "reportMissingModuleSource"]
    found = _by_line(problems)
    assert set(found) == {"bad.py"}, problems
    assert set(found["bad.py"]) == set(BAD), problems
    for line, (_, _, pyright_says) in BAD.items():
        assert any(pyright_says in m for m in found["bad.py"][line]), (line, found["bad.py"][line])


