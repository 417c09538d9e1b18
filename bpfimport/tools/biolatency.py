"""biolatency: summarize block device I/O latency as a histogram, like bcc's biolatency.

    python -m bpfimport.tools.biolatency            # until Ctrl-C
    python -m bpfimport.tools.biolatency -D 1 10    # per disk, every second, ten times
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from bpfimport.tools._common import (
    add_interval_count,
    add_summary_timestamp,
    load_tool,
    print_log2_and_clear,
    run_main,
    run_summaries,
    text,
    tool_parser,
)

EXAMPLES = """
    ./biolatency            # summarize block I/O latency as a histogram
    ./biolatency 1 10       # print 1 second summaries, 10 times
    ./biolatency -mT 1      # 1s summaries, milliseconds, and timestamps
    ./biolatency -Q         # include OS queued time in I/O time
    ./biolatency -D         # show each disk device separately
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = tool_parser("biolatency", "Summarize block device I/O latency as a histogram.",
                         EXAMPLES)
    add_summary_timestamp(parser)
    parser.add_argument("-Q", "--queued", action="store_true",
                        help="include OS queued time in I/O time")
    parser.add_argument("-m", "--milliseconds", action="store_true",
                        help="millisecond histogram (default: microseconds)")
    parser.add_argument("-D", "--disks", action="store_true", help="print a histogram per disk device")
    add_interval_count(parser)
    args = parser.parse_args(argv)

    programs = ["on_issue", "on_complete"] + (["on_insert"] if args.queued else [])
    skel = load_tool("biolatency", programs, MILLISECONDS=args.milliseconds, PER_DISK=args.disks,
                     QUEUED=args.queued)
    unit = "msecs" if args.milliseconds else "usecs"

    def summarize() -> None:
        if args.disks:
            print_log2_and_clear(skel.dist_by_disk, unit, section_header="disk",
                                 section_print_fn=text)
        else:
            print_log2_and_clear(skel.dist, unit)

    try:
        run_summaries("Tracing block device I/O... Hit Ctrl-C to end.", summarize,
                      interval=args.interval, count=args.count, timestamp=args.timestamp)
    finally:
        skel.close()
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "biolatency"))
