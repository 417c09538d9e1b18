"""Type checkers accept what the README promises they understand (issue 7, item 12).

mypy and pyright (basedpyright, which bundles the checker in its wheel: no download at test
time) run over every example ``.bpf.py``, the example apps and the ``tests/programs`` files
listed below, with 0 errors and 0 warnings; mypy also runs over the whole package. The list of
programs only grows: a file joins once it type-checks clean.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import bpfimport
from bpfimport.compiler import compile_source
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # runs outside tools (see pyproject's markers)


PACKAGE = Path(bpfimport.__file__).resolve().parent

# examples/seed/ holds pythonbpf's own programs (they import pythonbpf, not bpfimport.lang).
EXAMPLES = sorted((ROOT / "examples").glob("*.bpf.py"))

# tests/programs files that must type-check clean. Not yet here: files that use liberties the
# compiler allows and Python's type system does not: a zeroed or partly set struct (`S()`,
# `S(a=1)`: the checkers want every field), a struct or char array initialised from 0 or a str,
# a local read after a loop that may not run (zero in BPF), `c_char * N`/`u16 * 4` annotations;
# runtime_bad.bpf.py adds 1 to a lookup without testing it, which is the point of that file
# (the verifier rejects it; the checkers do too); seed_style.bpf.py imports pythonbpf.
PROGRAMS = [
    "exact_count.bpf.py",
    "runtime_big.bpf.py",
    "runtime_fentry.bpf.py",
]


# The example apps, one folder at a time (each runs with its folder first on sys.path, where
# its tracepipe.py helper is). Their `import x_bpf` is made by the import hook at run time, a
# module no checker can see: that one error is expected, any other is not.
APP_FOLDERS = [ROOT / "examples", ROOT / "examples" / "seed"]


def checked_files() -> list[Path]:
    return EXAMPLES + [ROOT / "tests" / "programs" / name for name in PROGRAMS]


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


def run_mypy(paths: list[Path], *extra: str, path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = _import_root_env()
    if path is not None:
        env["MYPYPATH"] = os.pathsep.join(filter(None, [str(path), env.get("MYPYPATH")]))
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
           "--no-error-summary", "--cache-dir", os.devnull, *extra, *map(str, paths)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def run_pyright(paths: list[Path], project: Path, path: Path | None = None) -> list[dict[str, object]]:
    """basedpyright in pyright's own default mode ("standard"); its errors and warnings.

    The project folder is a scratch one, so ``bpfimport`` resolves as a library (a
    third-party import, as for a user), the case in which pyright warns on ``import *``.
    """
    config: dict[str, object] = {"typeCheckingMode": "standard", "pythonVersion": "3.10"}
    if path is not None:
        config["extraPaths"] = [str(path)]
    (project / "pyrightconfig.json").write_text(json.dumps(config))
    cmd = [sys.executable, "-m", "basedpyright", "--outputjson", "-p", str(project),
           "--pythonpath", sys.executable, *map(str, paths)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=_import_root_env(), timeout=600)
    assert done.stdout.lstrip().startswith("{"), done.stdout + done.stderr
    report = json.loads(done.stdout)
    return [d for d in report["generalDiagnostics"] if d["severity"] in ("error", "warning")]


def test_the_checked_files_exist() -> None:
    """A renamed example must not silently leave the checks."""
    assert ROOT / "examples" / "syscount.bpf.py" in EXAMPLES
    missing = [p for p in checked_files() if not p.is_file()]
    assert not missing


def test_mypy_accepts_examples_and_programs() -> None:
    # silent: the package's own errors are the next test's business
    done = run_mypy(checked_files(), "--follow-imports=silent")
    assert done.returncode == 0, done.stdout + done.stderr


def test_pyright_accepts_examples_and_programs(tmp_path: Path) -> None:
    lines = _lines(run_pyright(checked_files(), tmp_path))
    assert not lines, "\n".join(lines)


def _lines(problems: list[dict[str, object]]) -> list[str]:
    return [f"{d['file']}:{d['range']['start']['line'] + 1}: {d['message']} ({d.get('rule')})"  # type: ignore[index]
            for d in problems]


@pytest.mark.parametrize("folder", APP_FOLDERS, ids=lambda p: p.name)
def test_mypy_accepts_the_apps(folder: Path) -> None:
    assert apps(folder)
    out = run_mypy(apps(folder), "--follow-imports=silent", path=folder).stdout.splitlines()
    errors = [line for line in out if ": error:" in line and not _made_by_the_hook(line)]
    assert not errors, "\n".join(out)


@pytest.mark.parametrize("folder", APP_FOLDERS, ids=lambda p: p.name)
def test_pyright_accepts_the_apps(folder: Path, tmp_path: Path) -> None:
    problems = [d for d in run_pyright(apps(folder), tmp_path, path=folder)
                if not _made_by_the_hook(str(d["message"]))]
    assert not problems, "\n".join(_lines(problems))


def test_mypy_accepts_the_whole_package(tmp_path: Path) -> None:
    # A copy: mypy given files inside site-packages (a wheel install) takes that folder
    # for a source root and trips over every other module there.
    copy = tmp_path / "bpfimport"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert (copy / "runtime" / "maps.py").is_file()  # every subpackage is in the copy
    done = run_mypy([copy], path=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


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


@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_checkers_still_catch_mistakes(tmp_path: Path, checker: str) -> None:
    """The types are not ``Any`` in disguise: a wrong field name and a wrong key are errors."""
    bad = tmp_path / "bad.bpf.py"
    bad.write_text(BAD)
    if checker == "mypy":
        out = run_mypy([bad], "--follow-imports=silent").stdout
        got = sorted(int(line.split(":")[1]) for line in out.splitlines() if ": error:" in line)
    else:
        got = sorted(d["range"]["start"]["line"] + 1 for d in run_pyright([bad], tmp_path))  # type: ignore[index]
    assert set(got) == {11, 12}, got


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
