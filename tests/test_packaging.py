"""The wheel holds every file of the package (an editable install hides what it leaves out).

A regular install once lacked ``bpfimport/compiler/codegen/`` (no ``__init__.py``,
so ``packages = find:`` skipped it) and every compile failed.  These tests build
a wheel from a copy of the checkout and check it against the source tree; under
``.ci/run``'s wheel pass (``BPFIMPORT_WHEEL_VENV`` set) they check the installed
distribution instead, against the checkout named by ``BPFIMPORT_SOURCE_TREE``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from tests import background
from tests.conftest import ROOT
from tests.support import TRIVIAL

pytestmark = pytest.mark.slow  # runs outside tools (see pyproject's markers)


WHEEL_VENV = os.environ.get("BPFIMPORT_WHEEL_VENV")
# What the build reads; everything else in the checkout (tests, docs, .venv) stays out.
BUILD_INPUTS = ("bpfimport", "setup.cfg", "pyproject.toml", "README.md", "MANIFEST.in")
NOT_SHIPPED = ("__pycache__",)
NOT_SHIPPED_SUFFIXES = (".pyc", ".pyo", ".tmp", ".o")


def _source_tree() -> Path:
    """The checkout whose files must ship (the wheel pass runs from a copy without bpfimport/)."""
    return Path(os.environ.get("BPFIMPORT_SOURCE_TREE", ROOT))


def package_files(tree: Path) -> set[str]:
    """Every file under ``tree/bpfimport`` a wheel must carry, as ``bpfimport/...`` paths."""
    found = set()
    for folder, dirs, files in os.walk(tree / "bpfimport"):
        dirs[:] = [d for d in dirs if d not in NOT_SHIPPED]
        for name in files:
            if not name.endswith(NOT_SHIPPED_SUFFIXES):
                found.add((Path(folder) / name).relative_to(tree).as_posix())
    return found


class Shipped:
    """What a wheel delivers: its file names, and where a child finds the package."""

    def __init__(self, names: set[str], home: Path, pythonpath: str) -> None:
        self.names = names
        self.home = home  # bpfimport.__file__ must lie under it
        self.pythonpath = pythonpath


def _start_wheel_build() -> background.Command:
    """A wheel built (as ``pip install .`` would) from a copy of the checkout's build inputs."""
    base = background.scratch_folder("bpfimport-wheel-")
    src = base / "src"
    src.mkdir()
    for name in BUILD_INPUTS:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns(*NOT_SHIPPED))
        elif path.exists():
            shutil.copy(path, src / name)
    return background.Command(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(base / "dist"), str(src)])


def wheel_build() -> background.Command:
    return background.run("pip wheel", _start_wheel_build)


def start_early() -> None:
    """The build takes 2 s (pip sets up an isolated build environment): start it early."""
    if not WHEEL_VENV:
        wheel_build()


def _built_wheel() -> Path:
    build = wheel_build()
    done = build.result()
    assert done.returncode == 0, done.stderr
    dist = Path(build.argv[build.argv.index("-w") + 1])
    (built,) = dist.glob("bpfimport-*.whl")
    return built


@pytest.fixture(scope="module")
def shipped() -> Shipped:
    """A fresh wheel's contents; in the wheel pass, the installed distribution's."""
    if WHEEL_VENV:
        names = {f.as_posix() for f in metadata.files("bpfimport") or ()}
        return Shipped(names, Path(WHEEL_VENV).resolve(), "")
    built = _built_wheel()
    return Shipped(set(zipfile.ZipFile(built).namelist()), built, str(built))


def test_every_package_file_ships(shipped: Shipped) -> None:
    expected = package_files(_source_tree())
    assert "bpfimport/compiler/codegen/module.py" in expected and "bpfimport/py.typed" in expected
    missing = sorted(expected - shipped.names)
    assert not missing, f"the wheel leaves out {missing}"


def test_shipped_package_alone_compiles(shipped: Shipped, tmp_path: Path) -> None:
    """Only the wheel on sys.path, no checkout: the compiler finds every one of its modules."""
    code = (
        "import bpfimport\n"
        "from bpfimport.compiler import compile_source\n"
        f"out = compile_source({TRIVIAL!r}, 'trivial.bpf.py', 'trivial_bpf')\n"
        "print(bpfimport.__file__)\n"
        "print(out.object[:4] == b'\\x7fELF')\n"
    )
    env = dict(os.environ, PYTHONPATH=shipped.pythonpath)
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    where, elf = r.stdout.split()
    assert Path(where).resolve().is_relative_to(shipped.home), where
    assert elf == "True"


def test_shipped_package_reads_its_syscall_table(shipped: Shipped, tmp_path: Path) -> None:
    """bpfimport/btf/syscalls.json is package data: read from the wheel itself (a zip on sys.path)."""
    code = (
        "import bpfimport.btf.tracepoints as tp\n"
        "print(tp.__file__)\n"
        "print(len(tp.syscall_table()), dict(tp.syscall_table()['openat'])['filename'])\n"
    )
    env = dict(os.environ, PYTHONPATH=shipped.pythonpath)
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    where, count, filename = r.stdout.split(maxsplit=2)
    assert Path(where).resolve().is_relative_to(shipped.home), where
    assert int(count) > 300 and filename.strip() == "const char *"
