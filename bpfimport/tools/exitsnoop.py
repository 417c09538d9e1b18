"""exitsnoop: trace process exits, with their age and exit code, as bcc's exitsnoop does.

    sudo python -m bpfimport.tools.exitsnoop          # every process exit, until Ctrl-C
    sudo python -m bpfimport.tools.exitsnoop -x -t    # failures only, with the time

One line per exiting process: its name, pid, parent's pid, the exiting thread's id, its
age in seconds and how it ended ("0", "code N", or "signal N (NAME)", "core dumped").
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Sequence

from bpfimport.tools._common import (
    Columns,
    add_duration,
    add_failed,
    add_pid,
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
    ./exitsnoop                # trace all process exits
    ./exitsnoop -x             # trace only fails, exclude exit(0)
    ./exitsnoop -t             # include a timestamp (local time)
    ./exitsnoop --utc          # include a timestamp in UTC
    ./exitsnoop -p 181         # only trace PID 181
    ./exitsnoop --label=exit   # label each output line with 'exit'
    ./exitsnoop --per-thread   # trace per thread termination
    ./exitsnoop -d 10          # trace for 10 seconds
(./exitsnoop is python -m bpfimport.tools.exitsnoop)
"""

COLUMNS = Columns(("PCOMM", -16), ("PID", -7), ("PPID", -7), ("TID", -7), ("AGE(s)", -7),
                  ("EXIT_CODE", 0))


def exit_text(status: int) -> str:
    """The kernel's wait status (``code << 8 | core << 7 | signal``) as bcc's EXIT_CODE column."""
    sig = status & 0x7F
    if sig == 0:
        code = (status >> 8) & 0xFF
        return "0" if code == 0 else f"code {code}"
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = f"SIG{sig}"
    return f"signal {sig} ({name.removeprefix('SIG')})" + (", core dumped" if status & 0x80 else "")


def parse_args(argv: Sequence[str] | None) -> Namespace:
    parser = tool_parser("exitsnoop", "Trace all process termination (exit, fatal signal)", EXAMPLES)
    parser.add_argument("-t", "--timestamp", action="store_true",
                        help="include a timestamp (local time by default)")
    parser.add_argument("--utc", action="store_true", help="include a timestamp in UTC (-t implied)")
    add_pid(parser)
    add_failed(parser, "trace only fails, exclude exit(0)")
    parser.add_argument("--label", metavar="LABEL", help="label each line")
    parser.add_argument("--per-thread", action="store_true", help="trace per thread termination")
    add_duration(parser)
    return parser.parse_args(argv)


class Printer:
    """Formats each exit as one bcc-like line."""

    def __init__(self, args: Namespace) -> None:
        self.args = args
        self.timed = args.timestamp or args.utc

    def header(self) -> str:
        prefix = ""
        if self.timed:
            prefix += f"{'TIME-' + ('UTC' if self.args.utc else 'TZ'):<13} "
        if self.args.label is not None:
            prefix += f"{'LABEL':<{max(5, len(self.args.label))}} "
        return prefix + COLUMNS.header()

    def __call__(self, event: Any) -> None:
        prefix = ""
        if self.timed:
            now = time.time()
            clock = time.gmtime(now) if self.args.utc else time.localtime(now)
            prefix += f"{time.strftime('%H:%M:%S', clock)}.{int(now * 1000) % 1000:03d} "
        if self.args.label is not None:
            prefix += f"{self.args.label:<5} "
        age = max(0, event.exit_time - event.start_time) / 1e9
        emit(prefix + COLUMNS.format([text(event.comm), event.pid, event.ppid, event.tid,
                                      f"{age:.2f}", exit_text(event.exit_code)]))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    skel = load_tool("exitsnoop", TARGET_PID=args.pid or 0, PER_THREAD=args.per_thread,
                     FAILED_ONLY=args.failed)
    printer = Printer(args)
    stream_events(skel, printer.header(), printer, args.duration)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "exitsnoop"))
