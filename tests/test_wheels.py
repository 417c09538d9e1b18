"""Wheels that carry objects (issue 11, item 4), end to end with the real tools.

An app ships a ``.bpf.py`` file and builds its wheel with ``bpfimport.build.build_py`` (the
setuptools hook, in an isolated build environment that installs bpfimport from a wheel of
this checkout, as ``[build-system] requires`` would). Both wheels are installed with
``pip install --no-deps`` into a fresh venv that has no llvmlite (the runtime-only install of
docs/packaging.md), and a root child there imports the app's module, loads it and runs its
program: the object came from the wheel, and neither the compiler nor llvmlite was imported.
The builds and the install run in the background (tests/background.py); the test needs the
kernel only for the last step.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from tests import background
from tests.test_packaging import BUILD_INPUTS, NOT_SHIPPED, _source_tree

APP_SETUP = '''\
from setuptools import setup

from bpfimport.build import build_py

setup(name="probeapp", version="1.0", packages=["probeapp"],
      package_data={"probeapp": ["*.bpf.py"]}, cmdclass={"build_py": build_py})
'''
APP_PYPROJECT = '''\
[build-system]
requires = ["setuptools>=61", "bpfimport"]
build-backend = "setuptools.build_meta"
'''
APP_PROGRAM = '''\
from typing import Final

from bpfimport.lang import HashMap, syscall, u32, u64

counts = HashMap(key=u32, value=u64, max_entries=16)
STEP: Final[u64] = 1


@syscall
def bump(ctx) -> int:
    counts[7] += STEP
    return 42


LICENSE = "GPL"
'''

RUN = textwrap.dedent('''\
    import importlib.util, sys
    assert importlib.util.find_spec("llvmlite") is None, "llvmlite is installed in the venv"
    import bpfimport
    from probeapp import counter_bpf as m
    m.STEP.value = 5
    r = m.bump.test_run()
    print(r.retval, m.counts[7], "bpfimport.compiler" in sys.modules, "llvmlite" in sys.modules)
    print(bpfimport.__file__)
    print(m.__cached__)
''')


def _env() -> dict[str, str]:
    """This environment without what would let a child see the checkout instead of the wheels."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    return env


@functools.cache
def base() -> Path:
    return background.scratch_folder("bpfimport-wheels-")


def _start() -> background.Command:
    root = base()
    src = root / "bpfimport-src"
    src.mkdir()
    tree = _source_tree()
    for name in BUILD_INPUTS:
        path = tree / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns(*NOT_SHIPPED))
        elif path.exists():
            shutil.copy(path, src / name)
    app = root / "app"
    (app / "probeapp").mkdir(parents=True)
    (app / "setup.py").write_text(APP_SETUP)
    (app / "pyproject.toml").write_text(APP_PYPROJECT)
    (app / "probeapp" / "__init__.py").write_text("")
    (app / "probeapp" / "counter.bpf.py").write_text(APP_PROGRAM)
    pip = f"{sys.executable} -m pip"
    dist, venv = root / "dist", root / "venv"
    script = " && ".join([
        f"{pip} wheel -q --no-deps -w {dist} {src}",
        f"{pip} wheel -q --no-deps --find-links {dist} -w {dist} {app}",
        f"{sys.executable} -m venv --without-pip {venv}",
        f"{pip} --python {venv}/bin/python install -q --no-deps {dist}/bpfimport-*.whl "
        f"{dist}/probeapp-*.whl importlib-resources",
    ])
    return background.Command(["sh", "-c", script], _env())


def install_run() -> background.Command:
    return background.run("wheels with objects", _start)


def start_early() -> None:
    install_run()


def test_an_app_wheel_with_objects_loads_and_runs_without_llvmlite(kernel: None) -> None:
    done = install_run().result()
    assert done.returncode == 0, done.stdout + done.stderr
    root = base()
    import zipfile

    (wheel,) = (root / "dist").glob("probeapp-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    from bpfimport.cache import CACHE_TAG

    assert f"probeapp/__pycache__/counter.bpf.{CACHE_TAG}.o" in names, names

    venv_python = root / "venv" / "bin" / "python"
    r = subprocess.run([str(venv_python), "-c", RUN], cwd=root, env=_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    ran, package, cached = r.stdout.splitlines()
    assert ran == "42 5 False False"  # the program ran with the value set before load
    site = root / "venv" / "lib"
    assert Path(package).is_relative_to(site) and Path(cached).is_relative_to(site), r.stdout
    assert Path(cached).is_file()
