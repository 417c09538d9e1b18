"""Outside tools (type checkers, a wheel build) started once, early, and run beside the suite.

These tools are single-threaded programs that take seconds; pytest is single-threaded too.
``conftest.pytest_collection_finish`` calls each selected test module's ``start_early()``,
which starts its commands here, so they run on the machine's other core while the rest of
the suite runs; a test then waits for its command's result. A module run on its own starts
its commands on first use instead: the results are the same either way.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


class Command:
    """One started command; its output goes to files, so no pipe fills while nobody reads."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str] | None = None,
                 timeout: float = 600) -> None:
        self.argv = list(argv)
        self.timeout = timeout
        self._folder = Path(tempfile.mkdtemp(prefix="bpfimport-bg-"))
        self._out = open(self._folder / "stdout", "w+")
        self._err = open(self._folder / "stderr", "w+")
        self._proc = subprocess.Popen(self.argv, stdout=self._out, stderr=self._err,
                                      stdin=subprocess.DEVNULL, text=True,
                                      env=dict(env) if env is not None else None)
        self._done: subprocess.CompletedProcess[str] | None = None

    def result(self) -> subprocess.CompletedProcess[str]:
        """Wait for the command (killed after its timeout) and return what it printed."""
        if self._done is None:
            try:
                code = self._proc.wait(self.timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                code = self._proc.wait()
            self._out.seek(0)
            self._err.seek(0)
            self._done = subprocess.CompletedProcess(self.argv, code, self._out.read(),
                                                     self._err.read())
            self.close()
        return self._done

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._out.close()
        self._err.close()
        shutil.rmtree(self._folder, ignore_errors=True)


_STARTED: dict[str, Command] = {}


def run(name: str, make: Callable[[], Command]) -> Command:
    """The command called ``name``, started by ``make()`` the first time it is asked for."""
    if name not in _STARTED:
        _STARTED[name] = make()
    return _STARTED[name]


def close_all() -> None:
    """Stop whatever is still running (a test run cut short) and remove the output files."""
    for command in _STARTED.values():
        command.close()
    _STARTED.clear()


def scratch_folder(prefix: str) -> Path:
    """A folder for a command's inputs, removed when the interpreter exits."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    _SCRATCH.append(folder)
    return folder


_SCRATCH: list[Path] = []


def remove_scratch() -> None:
    for folder in _SCRATCH:
        shutil.rmtree(folder, ignore_errors=True)
    _SCRATCH.clear()

