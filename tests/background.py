"""Outside tools (type checkers, a wheel build) queued early and run beside the suite.

These tools are single-threaded programs that take seconds; pytest is single-threaded too.
``conftest.pytest_collection_finish`` calls each selected test module's ``start_early()``,
which queues its commands here. One runner thread starts them one after another, so they
use the machine's other core while the rest of the suite runs on the first (all at once,
they took the suite's core too: 7 processes on 2 cores). A test then waits for its
command's result; one it needs before the runner reached it starts at once. A module run
on its own starts its commands on first use: the results are the same either way.
"""

from __future__ import annotations

import queue
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

# The queued tools run at a lower priority: none of them is on the suite's critical path
# (they finish seconds before the tests do), so when the machine's cores are shared with
# other work the scheduler lets the tests' own thread run first.  ``nice`` execs the tool,
# so the process started is the tool itself (killed, waited for as before).
_NICE = ["nice", "-n", "10"] if shutil.which("nice") else []


class Command:
    """One command, run once; its output goes to files, so no pipe fills while nobody reads."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str] | None = None,
                 timeout: float = 600, cwd: Path | None = None) -> None:
        self.argv = list(argv)
        self.timeout = timeout
        self.cwd = cwd
        self._env = dict(env) if env is not None else None
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._closed = False
        self._done: subprocess.CompletedProcess[str] | None = None
        _queue(self)

    def start(self) -> bool:
        """Start the process unless it already was (or was closed); whether this call did."""
        with self._lock:
            if self._proc is not None or self._closed:
                return False
            self._folder = Path(tempfile.mkdtemp(prefix="bpfimport-bg-"))
            self._out = open(self._folder / "stdout", "w+")
            self._err = open(self._folder / "stderr", "w+")
            self._proc = subprocess.Popen([*_NICE, *self.argv], stdout=self._out, stderr=self._err,
                                          stdin=subprocess.DEVNULL, text=True, env=self._env,
                                          cwd=self.cwd)
            return True

    def wait(self) -> int:
        """The exit status (the process is killed after ``timeout`` seconds)."""
        assert self._proc is not None
        try:
            return self._proc.wait(self.timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            return self._proc.wait()

    def wait_started(self) -> None:
        """Wait for the process if it was started and not closed since (the runner's wait)."""
        with self._lock:
            proc = None if self._closed else self._proc
        if proc is not None:
            try:
                proc.wait(self.timeout)
            except subprocess.TimeoutExpired:
                pass  # the test waiting for it kills it

    def result(self) -> subprocess.CompletedProcess[str]:
        """Wait for the command (started now if the runner has not reached it yet)."""
        if self._done is None:
            self.start()
            code = self.wait()
            self._out.seek(0)
            self._err.seek(0)
            self._done = subprocess.CompletedProcess(self.argv, code, self._out.read(),
                                                     self._err.read())
            self.close()
        return self._done

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._proc is None:
                return
            if self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait()
            self._out.close()
            self._err.close()
            shutil.rmtree(self._folder, ignore_errors=True)


_WAITING: queue.SimpleQueue[Command | None] = queue.SimpleQueue()
_RUNNER: list[threading.Thread] = []


def _queue(command: Command) -> None:
    _WAITING.put(command)
    if not _RUNNER:
        runner = threading.Thread(target=_run_queued, name="bpfimport-tests-background",
                                  daemon=True)
        _RUNNER.append(runner)
        runner.start()


def _run_queued() -> None:
    """Run the queued commands one at a time, in the order they were queued.

    A command a test already started itself is not started again, but waited for all the
    same: the next one starts only after it, so commands queued in sequence (one writing
    a cache, the next reading it) also run in sequence.
    """
    while (command := _WAITING.get()) is not None:
        command.start()
        command.wait_started()


_STARTED: dict[str, Command] = {}


def run(name: str, make: Callable[[], Command]) -> Command:
    """The command called ``name``, made (and queued) by ``make()`` the first time it is asked for."""
    if name not in _STARTED:
        _STARTED[name] = make()
    return _STARTED[name]


def close_all() -> None:
    """Stop whatever is still running (a test run cut short) and remove the output files."""
    for command in _STARTED.values():
        command.close()
    _STARTED.clear()
    if _RUNNER:
        _WAITING.put(None)  # the runner ends after what it runs now (closed: killed)
        _RUNNER.clear()


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

