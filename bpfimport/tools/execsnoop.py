"""execsnoop: trace new processes through exec() syscalls, as bcc's execsnoop does.

    sudo python -m bpfimport.tools.execsnoop          # every exec, until Ctrl-C
    sudo python -m bpfimport.tools.execsnoop -x -T    # failed execs, with the time

One line per execve(): the new program's name (PCOMM), its pid, its parent's pid, the
return value (0, or -errno) and the arguments (the file name, then argv[1:]).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence

from bpfimport.tools._common import (
    Columns,
    Stamp,
    add_duration,
    add_failed,
    add_timestamps,
    emit,
    load_tool,
    run_main,
    stream_events,
    text,
    tool_parser,
)
from bpfimport.tools._options import Namespace

TYPE_CHECKING = False  # importing typing costs ~2.5 ms of a tool's start
if TYPE_CHECKING:
    from typing import Any

EXAMPLES = """
    ./execsnoop                # trace all exec() syscalls
    ./execsnoop -x             # include failed exec()s only
    ./execsnoop -T             # include a time column (HH:MM:SS)
    ./execsnoop -t             # include a timestamp column (seconds)
    ./execsnoop -P 181         # only trace new processes whose parent PID is 181
    ./execsnoop -n main        # only print command lines containing "main"
    ./execsnoop -l tpkg        # only print command lines where an argument contains "tpkg"
    ./execsnoop -q             # add "quotemarks" around arguments
    ./execsnoop -d 10          # trace for 10 seconds
(./execsnoop is python -m bpfimport.tools.execsnoop)
"""

EVENT_ARG = 0  # the kinds of execsnoop.bpf.py's events
EVENT_RET = 1
MAXARGS = 20  # what the kernel side records at most

COLUMNS = Columns(("PCOMM", -16), ("PID", -7), ("PPID", -7), ("RET", 3), ("ARGS", 0))


def parse_args(argv: Sequence[str] | None) -> Namespace:
    parser = tool_parser("execsnoop", "Trace exec() syscalls", EXAMPLES)
    add_timestamps(parser)
    add_failed(parser, "only show failed exec()s")
    parser.add_argument("-P", "--ppid", type=int, metavar="PPID",
                        help="only trace new processes whose parent has this PID")
    parser.add_argument("-n", "--name", metavar="NAME",
                        help="only print commands whose name matches this regular expression")
    parser.add_argument("-l", "--line", metavar="LINE",
                        help="only print command lines where an argument matches this regular expression")
    parser.add_argument("-q", "--quote", action="store_true",
                        help='add "quotemarks" around arguments (escaping the ones inside)')
    parser.add_argument("--max-args", type=int, default=MAXARGS, metavar="N",
                        help=f"print at most N arguments (default and most: {MAXARGS})")
    add_duration(parser)
    args = parser.parse_args(argv)
    if not 1 <= args.max_args <= MAXARGS:
        parser.error(f"--max-args must be 1..{MAXARGS}")
    if args.ppid is not None and not 0 < args.ppid < 2**31:
        parser.error("-P/--ppid must be a pid")
    for option in ("name", "line"):
        pattern = getattr(args, option)
        if pattern is not None:
            try:
                setattr(args, option, re.compile(pattern))
            except re.error as exc:
                parser.error(f"--{option}: bad regular expression: {exc}")
    return args


class Printer:
    """Joins each exec's ARG events with its RET event and prints the line."""

    def __init__(self, args: Namespace) -> None:
        self.args = args
        self.stamp = Stamp(args.time, args.timestamp)
        self.pending: dict[int, list[str]] = {}

    def header(self) -> str:
        return self.stamp.header() + COLUMNS.header()

    def __call__(self, event: Any) -> None:
        if event.kind == EVENT_ARG:
            self.pending.setdefault(event.pid, []).append(text(event.text))
            return
        argv = self.pending.pop(event.pid, [])
        args = self.args
        if args.failed and event.retval == 0:
            return
        name = text(event.comm)
        if args.name is not None and not args.name.search(name):
            return
        if args.line is not None and not any(args.line.search(a) for a in argv):
            return
        shown = argv[: args.max_args]
        if args.quote:
            shown = ['"' + a.replace('"', '\\"') + '"' for a in shown]
        line = " ".join(shown) + (" ..." if len(argv) > len(shown) else "")
        emit(self.stamp.prefix() + COLUMNS.format([name, event.pid, event.ppid, event.retval, line]))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    skel = load_tool("execsnoop", TARGET_PPID=args.ppid or 0)
    printer = Printer(args)
    stream_events(skel, printer.header(), printer, args.duration)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "execsnoop"))
