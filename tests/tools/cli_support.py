"""The tools' command lines without the kernel, shared by the tools' CLI test files.

Help and usage errors stop before anything touches the kernel, so most cases run the
tool's ``__main__`` in this interpreter (:func:`in_process`); :func:`check_real_help`
runs the real ``python -m bpfimport.tools.NAME`` once and checks both print the same.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from bpfimport.tools import _common
from tests.conftest import ROOT
from tests.support import run_module_in_process

# the installed package's tools (the wheel pass has no bpfimport/ in its tree)
TOOLS_DIR = Path(_common.__file__).parent


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT))


def in_process(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m bpfimport.tools.NAME ARGS`` run in this interpreter."""
    return run_module_in_process(f"bpfimport.tools.{name}", *args)


def check_real_help(name: str) -> None:
    """The tool as users run it, in a fresh interpreter: ``-h`` works and matches in_process."""
    done = subprocess.run([sys.executable, "-m", f"bpfimport.tools.{name}", "-h"],
                          capture_output=True, text=True, timeout=60, env=_env())
    assert done.returncode == 0 and not done.stderr
    assert done.stdout == in_process(name, "-h").stdout


def check_compileall(names: Iterable[str], into: Path) -> None:
    """compileall over copies of the tools' ``.bpf.py``: what packagers run to prefill the cache."""
    names = list(names)
    for name in names:
        shutil.copy(TOOLS_DIR / f"{name}.bpf.py", into)
    done = subprocess.run([sys.executable, "-m", "bpfimport", "compileall", str(into)],
                          capture_output=True, text=True, env=_env())
    assert done.returncode == 0, done.stderr
    assert len(list((into / "__pycache__").iterdir())) == len(names)
