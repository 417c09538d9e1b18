"""Type checkers accept what the README promises they understand (issue 7, item 12).

mypy and pyright (basedpyright, which bundles the checker in its wheel: no download at test
time) run over every example ``.bpf.py``, the example apps and every ``tests/programs`` file,
with 0 errors and 0 warnings; mypy also runs over the whole package. A new program file is
checked as soon as it exists: there is no list to join.

Two files carry narrow ignores, each on the one line that needs it and naming the one rule it
waives: runtime_bad.bpf.py adds 1 to an untested lookup (the defect the verifier must reject)
and seed_style.bpf.py is pythonbpf's dialect (an uninstalled, untyped import, ``str(16)``
fields, map methods called on a ``@map`` function). Liberties the compiler allows and Python's
types cannot express (a local read after a branch that may skip it, a one-byte string stored
into a char) are tested from sources inside the tests, not from tests/programs.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

import bpfimport
from bpfimport.compiler import compile_source
from tests import background
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # runs outside tools (see pyproject's markers)


PACKAGE = Path(bpfimport.__file__).resolve().parent

# examples/seed/ holds pythonbpf's own programs (they import pythonbpf, not bpfimport.lang).
EXAMPLES = sorted((ROOT / "examples").glob("*.bpf.py"))

# Every tests/programs file, the ones kernel tests run.
PROGRAMS = sorted((ROOT / "tests" / "programs").glob("*.bpf.py"))


# The example apps, one folder at a time (each runs with its folder first on sys.path, where
# its tracepipe.py helper is). Their `import x_bpf` is made by the import hook at run time, a
# module no checker can see: that one error is expected, any other is not.
APP_FOLDERS = [ROOT / "examples", ROOT / "examples" / "seed"]


def checked_files() -> list[Path]:
    return EXAMPLES + PROGRAMS


def apps(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.py") if not p.name.endswith(".bpf.py"))


def _made_by_the_hook(message: str) -> bool:
    """An unresolved import of a ``*_bpf`` module: the import hook makes it at run time."""
    name = message.split('"')[1] if message.count('"') >= 2 else ""
    return name.endswith("_bpf") and ("Cannot find implementation" in message
                                      or "could not be resolved" in message)


def _import_root_env() -> dict[str, str]:
    """The environment that lets a checker find ``bpfimport`` as users have it: installed.

    An editable install resolves through an import hook neither checker runs, so the folder
    holding the package goes on the path (for a wheel it is site-packages, already there).
    """
    env = dict(os.environ)
    parent = str(PACKAGE.parent)
    env["PYTHONPATH"] = parent
    if "site-packages" not in PACKAGE.parts:
        env["MYPYPATH"] = parent
    return env


BAD = '''\
from bpfimport.lang import Annotated, HashMap, struct, tgid, u32, u64

@struct
class Key:
    pid: u32
    comm: Annotated[bytes, 16]

counts = HashMap(key=Key, value=u64, max_entries=8)

def f(ctx) -> int:
    counts[Key(pid=tgid(), name=b"x")] += 1
    counts["not a key"] = 1
    return 0
'''
BAD_LINES = {11, 12}  # the wrong field name, the wrong key


# ------------------------------------------------------------------ the runs (tests/background.py)
# Four checker runs cover every test below: mypy over the examples folder (its programs and
# apps, the tests/programs files and BAD, which must fail), mypy over examples/seed/ (a folder
# with its own tracepipe.py, a second module of that name for mypy), mypy over a copy of the
# package, and one pyright run over all the files of the first two (both folders on its path)
# and the typed-stubs app of tests/cli/test_stubs_checkers.py.

@functools.cache
def _bad_file() -> Path:
    bad = background.scratch_folder("bpfimport-bad-") / "bad.bpf.py"
    bad.write_text(BAD)
    return bad


def _files_of(folder: Path) -> list[Path]:
    if folder == APP_FOLDERS[0]:
        return checked_files() + apps(folder) + [_bad_file()]
    return apps(folder)


@functools.cache
def _mypy_cache() -> Path:
    """One incremental cache for the session's mypy runs (they run one at a time): the first
    run reads typeshed and the package, the others reuse them (~0.2 s instead of ~2.8 s for a
    small run). mypy checks each cached module against its source, so no result is stale."""
    return background.scratch_folder("bpfimport-mypy-cache-")


def _mypy(paths: list[Path], *extra: str, path: Path | None = None) -> background.Command:
    env = _import_root_env()
    if path is not None:
        env["MYPYPATH"] = os.pathsep.join(filter(None, [str(path), env.get("MYPYPATH")]))
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
           "--no-error-summary", "--cache-dir", str(_mypy_cache()), "--show-absolute-path",
           *extra, *map(str, paths)]
    return background.Command(cmd, env)


def _pyright(paths: list[Path], paths_to_import: list[Path]) -> background.Command:
    """basedpyright in pyright's own default mode ("standard").

    The project folder is a scratch one, so ``bpfimport`` resolves as a library (a
    third-party import, as for a user), the case in which pyright warns on ``import *``.
    """
    project = background.scratch_folder("bpfimport-pyright-")
    config = {"typeCheckingMode": "standard", "pythonVersion": "3.10", "extraPaths": list(map(str, paths_to_import))}
    (project / "pyrightconfig.json").write_text(json.dumps(config))
    cmd = [sys.executable, "-m", "basedpyright", "--outputjson", "-p", str(project),
           "--pythonpath", sys.executable, *map(str, paths)]
    return background.Command(cmd, _import_root_env())


def _mypy_on_package() -> background.Command:
    if "site-packages" not in PACKAGE.parts:  # a source tree: checked in place, so the runs
        return _mypy([PACKAGE], path=PACKAGE.parent)  # after it reuse its cache of the package
    # A copy: mypy given files inside site-packages (a wheel install) takes that folder
    # for a source root and trips over every other module there.
    parent = background.scratch_folder("bpfimport-mypy-")
    shutil.copytree(PACKAGE, parent / "bpfimport", ignore=shutil.ignore_patterns("__pycache__"))
    return _mypy([parent / "bpfimport"], path=parent)


def mypy_run(folder: Path) -> background.Command:
    # silent: the package's own errors are the package run's business
    return background.run(f"mypy {folder}", lambda: _mypy(
        _files_of(folder), "--follow-imports=silent", path=folder))


def pyright_run() -> background.Command:
    # The typed-stubs app of tests/cli/test_stubs_checkers.py rides along: pyright's start is
    # most of a run's time (its test reads only that app's folder out of the report).
    from tests.cli.test_stubs_checkers import app_folder
    from tests.cli.test_stubs_checkers import checked_files as stub_app_files

    files = [path for folder in APP_FOLDERS for path in _files_of(folder)] + stub_app_files()
    return background.run("pyright", lambda: _pyright(files, [*APP_FOLDERS, app_folder()]))


def package_run() -> background.Command:
    return background.run("mypy bpfimport", _mypy_on_package)


def start_early() -> None:
    package_run()  # first: it fills the shared mypy cache (stdlib, the package) the others read
    for folder in APP_FOLDERS:
        mypy_run(folder)
    pyright_run()


# ------------------------------------------------------------------ reading their reports

def mypy_errors(folder: Path) -> dict[Path, list[str]]:
    """Each checked file's mypy errors, by file; a crash of mypy fails the test here."""
    done = mypy_run(folder).result()
    assert done.returncode in (0, 1) and not done.stderr, done.stdout + done.stderr
    found: dict[Path, list[str]] = {}
    for line in done.stdout.splitlines():
        if ": error:" in line:
            found.setdefault(Path(line.split(":", 1)[0]), []).append(line)
    unknown = set(found) - set(_files_of_run(mypy_run(folder)))
    assert not unknown, f"errors in files no test reads: {unknown}"
    return found


def pyright_problems() -> dict[Path, list[dict[str, Any]]]:
    """Each checked file's pyright errors and warnings, by file."""
    done = pyright_run().result()
    assert done.stdout.lstrip().startswith("{"), done.stdout + done.stderr
    report = json.loads(done.stdout)
    found: dict[Path, list[dict[str, Any]]] = {}
    for d in report["generalDiagnostics"]:
        if d["severity"] in ("error", "warning"):
            found.setdefault(Path(d["file"]), []).append(d)
    unknown = set(found) - set(_files_of_run(pyright_run()))
    assert not unknown, f"problems in files no test reads: {unknown}"
    return found


def _files_of_run(run: background.Command) -> list[Path]:
    """The files a run was given (read back from its command line)."""
    return [Path(arg) for arg in run.argv if arg.endswith(".py")]


def _lines(problems: list[dict[str, Any]]) -> list[str]:
    return [f"{d['file']}:{d['range']['start']['line'] + 1}: {d['message']} ({d.get('rule')})"
            for d in problems]


# ------------------------------------------------------------------ the tests

def test_the_checked_files_exist() -> None:
    """A renamed example must not silently leave the checks."""
    assert ROOT / "examples" / "syscount.bpf.py" in EXAMPLES
    assert ROOT / "tests" / "programs" / "runtime_main.bpf.py" in PROGRAMS


def test_mypy_accepts_examples_and_programs() -> None:
    errors = mypy_errors(APP_FOLDERS[0])
    bad = [line for path in checked_files() for line in errors.get(path, [])]
    assert not bad, "\n".join(bad)


def test_pyright_accepts_examples_and_programs() -> None:
    problems = pyright_problems()
    lines = [line for path in checked_files() for line in _lines(problems.get(path, []))]
    assert not lines, "\n".join(lines)


@pytest.mark.parametrize("folder", APP_FOLDERS, ids=lambda p: p.name)
def test_mypy_accepts_the_apps(folder: Path) -> None:
    assert apps(folder)
    errors = mypy_errors(folder)
    bad = [line for path in apps(folder) for line in errors.get(path, [])
           if not _made_by_the_hook(line)]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("folder", APP_FOLDERS, ids=lambda p: p.name)
def test_pyright_accepts_the_apps(folder: Path) -> None:
    found = pyright_problems()
    problems = [d for path in apps(folder) for d in found.get(path, [])
                if not _made_by_the_hook(str(d["message"]))]
    assert not problems, "\n".join(_lines(problems))


def test_mypy_accepts_the_whole_package() -> None:
    done = package_run().result()
    copied = [Path(arg) for arg in done.args if arg.endswith("bpfimport")][-1]
    assert (copied / "runtime" / "maps.py").is_file()  # every subpackage is in the copy
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_checkers_still_catch_mistakes(checker: str) -> None:
    """The types are not ``Any`` in disguise: a wrong field name and a wrong key are errors."""
    folder = APP_FOLDERS[0]
    (bad,) = [p for p in _files_of_run(mypy_run(folder)) if p.name == "bad.bpf.py"]
    if checker == "mypy":
        got = {int(line.split(":")[1]) for line in mypy_errors(folder).get(bad, [])}
    else:
        got = {d["range"]["start"]["line"] + 1 for d in pyright_problems().get(bad, [])}
    assert got == BAD_LINES, got


def test_annotated_array_spellings_compile_like_the_ctypes_ones() -> None:
    """``Annotated[bytes, N]`` and ``Annotated[list[T], N]`` lay out as ``c_char * N``, ``T * N``."""
    def fields(annotations: str) -> list[tuple[str, str, int]]:
        src = ("from bpfimport.lang import *\n\n@struct\nclass S:\n"
               + "".join(f"    {line}\n" for line in annotations.splitlines())
               + "\nm = HashMap(key=u32, value=S, max_entries=1)\n\n"
               "@syscall\ndef p(ctx) -> int:\n    return 0\n")
        spec = compile_source(src, "s.bpf.py", "s_bpf").spec
        return [(f.name, f.type, f.offset) for f in spec.struct("S").fields]

    new = fields("a: Annotated[bytes, 16]\nb: Annotated[list[u16], 3]\nc: Annotated[u32, 'doc']")
    old = fields("a: c_char * 16\nb: u16 * 3\nc: u32")
    assert new == old == [("a", "char[16]", 0), ("b", "u16[3]", 16), ("c", "u32", 24)]
