"""runqlat: summarize run-queue (scheduler) latency as a histogram, like bcc's runqlat.

    python -m bpfimport.tools.runqlat            # until Ctrl-C
    python -m bpfimport.tools.runqlat 1 10       # every second, ten times
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from bpfimport.tools._common import (
    add_interval_count,
    add_pid,
    add_summary_timestamp,
    load_tool,
    print_log2_and_clear,
    run_main,
    run_summaries,
    tool_parser,
)

EXAMPLES = """
    ./runqlat            # summarize run queue latency as a histogram
    ./runqlat 1 10       # print 1 second summaries, 10 times
    ./runqlat -mT 1      # 1s summaries, milliseconds, and timestamps
    ./runqlat -P         # show each PID separately
    ./runqlat -p 185     # trace PID 185 only
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = tool_parser("runqlat", "Summarize run queue (scheduler) latency as a histogram.",
                         EXAMPLES)
    add_summary_timestamp(parser)
    parser.add_argument("-m", "--milliseconds", action="store_true",
                        help="millisecond histogram (default: microseconds)")
    parser.add_argument("-P", "--pids", action="store_true", help="print a histogram per process ID")
    parser.add_argument("-L", "--tids", action="store_true", help="print a histogram per thread ID")
    add_pid(parser)
    add_interval_count(parser)
    args = parser.parse_args(argv)
    if args.pids and args.tids:
        parser.error("-P and -L are exclusive")

    skel = load_tool("runqlat", TARGET_TGID=args.pid or 0, MILLISECONDS=args.milliseconds,
                     PER_PROCESS=args.pids, PER_THREAD=args.tids)
    unit = "msecs" if args.milliseconds else "usecs"
    keyed = args.pids or args.tids
    header = "pid" if args.pids else "tid"

    def summarize() -> None:
        if keyed:
            print_log2_and_clear(skel.dist_by, unit, section_header=header)
        else:
            print_log2_and_clear(skel.dist, unit)

    try:
        run_summaries("Tracing run queue latency... Hit Ctrl-C to end.", summarize,
                      interval=args.interval, count=args.count, timestamp=args.timestamp)
    finally:
        skel.close()
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "runqlat"))
