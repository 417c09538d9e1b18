"""biosnoop: trace block device I/O with the issuing process and latency, like bcc's biosnoop.

    python -m bpfimport.tools.biosnoop              # until Ctrl-C
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from bpfimport.tools._common import (
    _seconds,
    emit,
    load_tool,
    run_main,
    stream_events,
    text,
    tool_parser,
)

TYPE_CHECKING = False  # importing typing costs ~2.5 ms of a tool's start
if TYPE_CHECKING:
    from typing import Any

EXAMPLES = """
    ./biosnoop              # trace all block I/O
    ./biosnoop -Q           # include OS queued time
    ./biosnoop -d vda       # trace vda only
    ./biosnoop --duration 5 # trace for 5 seconds
"""

OPS = {0: "R", 1: "W", 2: "F", 3: "D"}  # REQ_OP_READ, WRITE, FLUSH, DISCARD (others: "?")
NO_SECTOR = 2**64 - 1  # a flush has no sector (the kernel's -1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = tool_parser("biosnoop", "Trace block I/O.", EXAMPLES)
    parser.add_argument("-Q", "--queue", action="store_true", help="include OS queued time")
    parser.add_argument("-d", "--disk", metavar="DISK", help="trace this disk only")
    parser.add_argument("--duration", type=_seconds, metavar="SECONDS",
                        help="stop after this many seconds (default: run until Ctrl-C)")
    args = parser.parse_args(argv)

    skel = load_tool("biosnoop")
    first_ts: list[int] = []

    def on_event(e: Any) -> None:
        disk = text(e.disk)
        if args.disk is not None and disk != args.disk:
            return
        if not first_ts:
            first_ts.append(e.ts)
        sector = "-" if e.sector == NO_SECTOR else str(e.sector)
        line = (f"{(e.ts - first_ts[0]) / 1e9:<11.6f} {text(e.comm)[:14]:<14} {e.pid:<7} "
                f"{disk:<9} {OPS.get(e.op, '?'):<1} {sector:<10} {e.size:<7} ")
        if args.queue:
            line += f"{e.queued / 1e6:7.2f} "
        emit(line + f"{e.delta / 1e6:7.2f}")

    header = f"{'TIME(s)':<11} {'COMM':<14} {'PID':<7} {'DISK':<9} {'T':<1} {'SECTOR':<10} {'BYTES':<7} "
    if args.queue:
        header += f"{'QUE(ms)':>7} "
    stream_events(skel, header + f"{'LAT(ms)':>7}", on_event, args.duration)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "biosnoop"))
