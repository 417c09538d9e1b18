"""opensnoop: trace openat() syscalls, as bcc's opensnoop does.

    sudo python -m bpfimport.tools.opensnoop          # every open, until Ctrl-C
    sudo python -m bpfimport.tools.opensnoop -x -p 181

One line per openat(): the process (or thread, with -t), its name, the file
descriptor returned (-1 on failure), the errno (0 on success) and the path as given.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from bpfimport.tools._common import (
    Columns,
    Stamp,
    add_duration,
    add_failed,
    add_pid,
    add_tid,
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
    ./opensnoop                 # trace all openat() syscalls
    ./opensnoop -T              # include a timestamp column (seconds)
    ./opensnoop -U              # include a UID column
    ./opensnoop -x              # only show failed opens
    ./opensnoop -p 181          # only trace PID 181
    ./opensnoop -t 123          # only trace TID 123
    ./opensnoop -u 1000         # only trace UID 1000
    ./opensnoop -d 10           # trace for 10 seconds only
    ./opensnoop -n main         # only print process names containing "main"
    ./opensnoop -e              # show extended fields (the open flags)
(./opensnoop is python -m bpfimport.tools.opensnoop)
"""


def parse_args(argv: Sequence[str] | None) -> Namespace:
    parser = tool_parser("opensnoop", "Trace open() syscalls", EXAMPLES)
    parser.add_argument("-T", "--timestamp", action="store_true",
                        help="include a timestamp column (seconds since the tool started)")
    parser.add_argument("-U", "--print-uid", action="store_true", help="include a UID column")
    add_failed(parser, "only show failed opens")
    add_pid(parser)
    add_tid(parser)
    parser.add_argument("-u", "--uid", type=int, metavar="UID", help="trace this UID only")
    add_duration(parser)
    parser.add_argument("-n", "--name", metavar="NAME",
                        help="only print process names containing this text")
    parser.add_argument("-e", "--extended-fields", action="store_true",
                        help="show extended fields (FLAGS, in octal)")
    args = parser.parse_args(argv)
    if args.uid is not None and not 0 <= args.uid < 2**32:
        parser.error("-u/--uid must be 0..4294967295")
    return args


class Printer:
    """Formats each event as one bcc-like line."""

    def __init__(self, args: Namespace) -> None:
        self.args = args
        self.stamp = Stamp(False, args.timestamp)
        columns: list[tuple[str, int]] = []
        if args.print_uid:
            columns.append(("UID", -6))
        columns += [("TID" if args.tid else "PID", -6), ("COMM", -16), ("FD", 4), ("ERR", 3)]
        if args.extended_fields:
            columns.append(("FLAGS", -8))
        columns.append(("PATH", 0))
        self.columns = Columns(*columns)

    def header(self) -> str:
        return self.stamp.header() + self.columns.header()

    def __call__(self, event: Any) -> None:
        name = text(event.comm)
        if self.args.name is not None and self.args.name not in name:
            return
        fd, err = (event.ret, 0) if event.ret >= 0 else (-1, -event.ret)
        row: list[object] = []
        if self.args.print_uid:
            row.append(event.uid)
        row += [event.tid if self.args.tid else event.pid, name, fd, err]
        if self.args.extended_fields:
            row.append(f"{event.flags & 0xFFFFFFFF:08o}")
        row.append(os.fsdecode(event.path))
        emit(self.stamp.prefix() + self.columns.format(row))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    skel = load_tool("opensnoop", TARGET_PID=args.pid or 0, TARGET_TID=args.tid or 0,
                     TARGET_UID=-1 if args.uid is None else args.uid, FAILED_ONLY=args.failed)
    printer = Printer(args)
    stream_events(skel, printer.header(), printer, args.duration)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "opensnoop"))
