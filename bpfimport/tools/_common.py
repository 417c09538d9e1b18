"""What every tool in :mod:`bpfimport.tools` shares: options, loading, the event loop, columns.

(Stack printing is in ``_stacks.py``, the TCP tools' ports and addresses in ``_net.py``.)

A tool is ``NAME.bpf.py`` (the kernel side) next to ``NAME.py`` (the CLI), and
its ``main`` is usually::

    def main(argv: Sequence[str] | None = None) -> int:
        parser = tool_parser("execsnoop", "Trace exec() syscalls.", EXAMPLES)
        add_timestamps(parser); add_failed(parser); add_duration(parser)
        args = parser.parse_args(argv)
        skel = load_tool("execsnoop", FAILED_ONLY=args.failed)   # Final globals, then load
        ...
        stream_events(skel, COLUMNS.header(), on_event, args.duration)   # header, events, close
        return 0

    if __name__ == "__main__":
        sys.exit(run_main(main))

:func:`run_main` is what makes a tool behave like bcc's at the edges: Ctrl-C
or SIGTERM exits 0 with no traceback, a closed stdout (``| head``) exits
quietly, and a kernel or permission failure is one line on stderr (exit 1).
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence

import bpfimport  # noqa: F401  (installs the import hook: bpfimport.tools.NAME_bpf)
from bpfimport.errors import BpfError
from bpfimport.tools._options import OptionParser

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from bpfimport.runtime.module import BpfModule

PACKAGE = __name__.rpartition(".")[0]

if TYPE_CHECKING:
    import signal as _signals
else:
    try:  # the C module under ``signal``: the same functions, without the enums
        import _signal as _signals  # ``import signal`` imports enum: ~4 ms of every tool's start
    except ImportError:  # an interpreter without it
        import signal as _signals


# ---------------------------------------------------------------- loading


def tool_module(name: str) -> BpfModule:
    """``bpfimport.tools.NAME_bpf``: the tool's ``NAME.bpf.py``, imported through the hook.

    Compiled on first use and cached in ``bpfimport/tools/__pycache__`` as any
    module is; an unwritable folder (a read-only install) makes the importer
    compile in memory instead, on every run (``python -m bpfimport compileall``
    on the folder prefills it).  Importing touches no kernel.
    """
    module: BpfModule = importlib.import_module(f"{PACKAGE}.{name}_bpf")  # type: ignore[assignment]
    return module


def set_globals(module: BpfModule, **values: int | bytes | Sequence[int]) -> None:
    """Set ``Final`` globals before the load, so the verifier sees them as constants.

    ``set_globals(skel, TARGET_PID=42, FAILED_ONLY=True, PORTS=[80, 443, 0, 0])`` (an array
    global takes a list of its length); a name the
    ``.bpf.py`` does not declare is a ``KeyError`` naming it (a typo in a tool
    is a bug, not an option to ignore).
    """
    for name, value in values.items():
        handle = getattr(module, name, None)
        if handle is None or not hasattr(handle, "value"):
            raise KeyError(f"{module.__name__} has no global {name!r}")
        handle.value = int(value) if isinstance(value, bool) else value


def load_tool(name: str, programs: Sequence[str] | None = None,
              **globals_: int | bytes | Sequence[int]) -> BpfModule:
    """Import the tool's module, set its ``Final`` globals, load it and attach its programs.

    ``programs`` names the ones to attach (default: every program), so an
    option's program left out costs nothing per event.
    """
    module = tool_module(name)
    set_globals(module, **globals_)
    module.load()
    names = [p.name for p in module.__bpf_spec__.programs] if programs is None else programs
    for prog in names:
        getattr(module, prog).attach()
    return module


# ---------------------------------------------------------------- options


def tool_parser(prog: str, description: str, examples: str = "") -> OptionParser:
    """A parser named after the tool, with bcc's layout: examples after the options.

    An :class:`~bpfimport.tools._options.OptionParser`: argparse's calls and
    behaviour, with argparse imported only for ``-h`` and errors (~8 ms of start-up).
    """
    epilog = "examples:\n" + examples.strip("\n") if examples else None
    return OptionParser(prog=f"python -m {PACKAGE}.{prog}", description=description, epilog=epilog)


def type_error(message: str) -> Exception:
    """``argparse.ArgumentTypeError(message)``, for a ``type=`` function to raise: argparse
    prints the message as the error (imported here, on the error path only)."""
    import argparse

    return argparse.ArgumentTypeError(message)


def _positive_int(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise type_error(f"{text!r} is not an integer") from None
    if value <= 0:
        raise type_error(f"{text!r} must be positive")
    return value


def _pid(text: str) -> int:
    value = _positive_int(text)
    if value >= 2**31:
        raise type_error(f"{text!r} is not a pid")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise type_error(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise type_error(f"{text!r} must be a positive number of seconds")
    return value


def add_pid(parser: OptionParser, what: str = "trace this process only") -> None:
    """``-p PID`` / ``--pid PID`` (``args.pid``, None when not given)."""
    parser.add_argument("-p", "--pid", type=_pid, metavar="PID", help=what)


def add_tid(parser: OptionParser) -> None:
    """``-t TID`` / ``--tid TID`` (``args.tid``), for tools where ``-t`` is not a timestamp."""
    parser.add_argument("-t", "--tid", type=_pid, metavar="TID", help="trace this thread only")


def add_timestamps(parser: OptionParser, *, relative: bool = True) -> None:
    """``-T`` (wall-clock ``TIME`` column) and ``-t`` (``TIME(s)`` since the tool started).

    ``relative=False`` leaves out ``-t`` for tools that use it for a thread id.
    """
    parser.add_argument("-T", "--time", action="store_true", help="include a time column (HH:MM:SS)")
    if relative:
        parser.add_argument("-t", "--timestamp", action="store_true",
                            help="include a timestamp column (seconds since the tool started)")


def add_failed(parser: OptionParser, what: str = "only show failed calls") -> None:
    """``-x`` / ``--failed`` (``args.failed``)."""
    parser.add_argument("-x", "--failed", action="store_true", help=what)


def add_duration(parser: OptionParser) -> None:
    """``-d SECONDS`` / ``--duration SECONDS``: stop after this long (default: until Ctrl-C)."""
    parser.add_argument("-d", "--duration", type=_seconds, metavar="SECONDS",
                        help="stop after this many seconds (default: run until Ctrl-C)")


def add_interval_count(parser: OptionParser, default_interval: float | None = None) -> None:
    """bcc's ``[interval [count]]`` positionals: print every INTERVAL seconds, COUNT times.

    ``args.interval`` is None when not given (and no default: print once at
    the end); ``args.count`` None means until Ctrl-C.
    """
    what = "output interval, in seconds"
    if default_interval is None:
        what += " (default: print once, at Ctrl-C or the end of -d)"
    else:
        what += f" (default {default_interval:g})"
    parser.add_argument("interval", nargs="?", type=_seconds, default=default_interval, help=what)
    parser.add_argument("count", nargs="?", type=_positive_int, default=None,
                        help="number of outputs (default: until Ctrl-C)")


# ---------------------------------------------------------------- time columns


class Stamp:
    """The ``TIME``/``TIME(s)`` columns that ``-T`` and ``-t`` ask for.

    ``-t`` counts from the tool's start in user space, when the event is
    handled: a few milliseconds after it happened, fine for reading a trace
    (bcc's tools do the same where the kernel does not stamp events).
    """

    def __init__(self, wall: bool, relative: bool) -> None:
        self.wall = wall
        self.relative = relative
        self.start = time.monotonic()

    def header(self) -> str:
        return ("TIME     " if self.wall else "") + ("TIME(s)  " if self.relative else "")

    def prefix(self) -> str:
        text = ""
        if self.wall:
            text += time.strftime("%H:%M:%S ")
        if self.relative:
            text += f"{time.monotonic() - self.start:<8.3f} "
        return text


# ---------------------------------------------------------------- columns


class Columns:
    """bcc-like fixed-width columns: ``Columns(("PID", 7), ("COMM", -16), ("ARGS", 0))``.

    A positive width right-aligns the column, a negative one left-aligns it, 0
    is the last, unpadded column.  Columns are separated by one space.
    """

    def __init__(self, *columns: tuple[str, int]) -> None:
        self.columns = columns

    def format(self, values: Sequence[object]) -> str:
        cells = []
        for (_, width), value in zip(self.columns, values, strict=True):
            text = str(value)
            if width > 0:
                cells.append(text.rjust(width))
            elif width < 0:
                cells.append(text.ljust(-width))
            else:
                cells.append(text)
        return " ".join(cells).rstrip()

    def header(self) -> str:
        return self.format([name for name, _ in self.columns])


def text(raw: bytes) -> str:
    """A C string from the kernel, as text (undecodable bytes escaped, not an error)."""
    return raw.split(b"\0", 1)[0].decode("utf-8", errors="backslashreplace")


def emit(line: str) -> None:
    """Print one output line and flush it, so a pipe sees each event as it happens."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------- the event loop


class Stopped(KeyboardInterrupt):
    """Raised by the SIGTERM handler: stop the tool as Ctrl-C does (``except KeyboardInterrupt`` sees both)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Stopped


def run_events(
    streams: Iterable[tuple[Any, Callable[[Any], object]]],
    *,
    duration: float | None = None,
    tick: Callable[[], object] | None = None,
    interval: float | None = None,
) -> None:
    """Poll ring (or perf) buffers until Ctrl-C, SIGTERM or ``duration`` seconds.

    ``streams`` pairs each buffer map with the callback its events go to.
    ``tick``, when given, runs every ``interval`` seconds (a periodic summary).
    Returns normally when the duration is over; Ctrl-C and SIGTERM raise
    ``KeyboardInterrupt``, which :func:`run_main` turns into exit status 0.
    """
    pairs = list(streams)
    deadline = None if duration is None else time.monotonic() + duration
    next_tick = None if tick is None or interval is None else time.monotonic() + interval
    while True:
        now = time.monotonic()
        wake = min(t for t in (deadline, next_tick, now + 0.1) if t is not None)
        budget = max(0, int((wake - now) * 1000))
        if pairs:
            share = max(1, budget // len(pairs)) if budget else 0
            for ring, callback in pairs:
                ring.poll(callback, timeout_ms=share)
        elif budget:
            time.sleep(budget / 1000)
        now = time.monotonic()
        if next_tick is not None and now >= next_tick:
            assert tick is not None and interval is not None
            tick()
            next_tick += interval
        if deadline is not None and now >= deadline:
            return


def stream_events(module: BpfModule, header: str, on_event: Callable[[Any], object],
                  duration: float | None) -> None:
    """The whole life of a one-line-per-event tool once loaded: header, events, close.

    Prints ``header``, sends every event of the module's ``events`` buffer to
    ``on_event`` until Ctrl-C, SIGTERM or ``duration`` seconds, and closes the
    module however that ends (Ctrl-C still propagates, for :func:`run_main`).
    """
    emit(header)
    try:
        run_events([(module.events, on_event)], duration=duration)
    finally:
        module.close()


def print_log2_and_clear(table: Any, unit: str, **sections: Any) -> None:
    """Print a log2 histogram map as bcc does (``sections``: per-key ones), then empty it,
    so the next interval's summary counts only its own events."""
    table.print_log2_hist(unit, **sections)
    table.clear()


def add_summary_timestamp(parser: OptionParser) -> None:
    """``-T`` / ``--timestamp`` of bcc's histogram tools: the time above each summary."""
    parser.add_argument("-T", "--timestamp", action="store_true",
                        help="include a timestamp on each output")


def run_summaries(banner: str, summarize: Callable[[], object], *, interval: float | None,
                  count: int | None, timestamp: bool) -> None:
    """bcc's ``[interval [count]]`` loop of a histogram tool, after ``banner``.

    Every ``interval`` seconds (or once, at Ctrl-C, when None) prints a blank
    line, the time with ``timestamp``, then calls ``summarize`` (which prints
    and clears what was counted).  Returns after ``count`` summaries, or at
    Ctrl-C or SIGTERM, having printed what was counted since the last summary
    first, as bcc's tools do.
    """
    printed = 0

    def show() -> None:
        nonlocal printed
        print()
        if timestamp:
            print(time.strftime("%H:%M:%S"))
        summarize()
        sys.stdout.flush()
        printed += 1
        if count is not None and printed >= count:
            raise KeyboardInterrupt

    print(banner, flush=True)
    try:
        run_events([], tick=show, interval=interval)
    except KeyboardInterrupt:
        # reaching COUNT raises it too, after the last summary was printed: none more then
        if count is None or printed < count:
            show()


def run_main(main: Callable[[], int | None], name: str = "tool") -> int:
    """Run a tool's ``main`` the way bcc's tools end: cleanly, whatever stops them.

    Ctrl-C and SIGTERM exit 0 (the tool's ``finally`` blocks and the module's
    close run; no traceback), a closed stdout exits 0 quietly, a
    :class:`~bpfimport.BpfError` (no root, a verifier complaint) is one line on
    stderr and status 1.
    """
    previous = _signals.signal(_signals.SIGTERM, _on_sigterm)
    try:
        return int(main() or 0)
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        # stdout's reader went away (| head): nothing more to say; point
        # stdout at /dev/null so the interpreter's final flush does not complain
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except BpfError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 1
    finally:
        _signals.signal(_signals.SIGTERM, previous)


__all__ = [
    "Columns",
    "Stamp",
    "Stopped",
    "add_duration",
    "add_failed",
    "add_interval_count",
    "add_pid",
    "add_summary_timestamp",
    "add_tid",
    "add_timestamps",
    "emit",
    "load_tool",
    "print_log2_and_clear",
    "run_events",
    "run_main",
    "run_summaries",
    "set_globals",
    "stream_events",
    "text",
    "tool_module",
    "tool_parser",
]
