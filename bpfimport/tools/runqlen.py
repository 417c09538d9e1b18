"""runqlen: summarize scheduler run queue length as a histogram, like bcc's runqlen.

    python -m bpfimport.tools.runqlen            # until Ctrl-C
    python -m bpfimport.tools.runqlen 1 10       # every second, ten times
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from bpfimport.tools._common import (
    add_interval_count,
    add_summary_timestamp,
    run_main,
    run_summaries,
    set_globals,
    tool_module,
    tool_parser,
)

EXAMPLES = """
    ./runqlen            # summarize run queue length as a histogram
    ./runqlen 1 10       # print 1 second summaries, 10 times
    ./runqlen -T 1       # 1s summaries and timestamps
    ./runqlen -O         # report run queue occupancy
    ./runqlen -C         # show each CPU separately
"""

FREQUENCY = 99  # samples a second on each CPU (bcc's: off the 100 Hz timer's beat)


def occupancy(counts: dict[int, int]) -> float:
    """The percentage of samples that found a task waiting (bcc's runqocc)."""
    total = sum(counts.values())
    return 100.0 * (total - counts.get(0, 0)) / total if total else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = tool_parser("runqlen", "Summarize scheduler run queue length as a histogram.", EXAMPLES)
    add_summary_timestamp(parser)
    parser.add_argument("-O", "--runqocc", action="store_true", help="report run queue occupancy")
    parser.add_argument("-C", "--cpus", action="store_true", help="print output for each CPU separately")
    add_interval_count(parser)
    args = parser.parse_args(argv)

    skel = tool_module("runqlen")
    set_globals(skel, PER_CPU=args.cpus)
    skel.load()
    skel.sample.attach(sample_freq=FREQUENCY)

    def summarize() -> None:
        if args.cpus:
            per_cpu: dict[int, dict[int, int]] = {}
            for key, count in skel.per_cpu.items():
                per_cpu.setdefault(key.cpu, {})[key.slot] = count
            if args.runqocc:
                for cpu in sorted(per_cpu):
                    print(f"runqocc, CPU {cpu:<3} {occupancy(per_cpu[cpu]):6.2f}%")
            else:
                skel.per_cpu.print_linear_hist("runqlen", section_header="cpu")
            skel.per_cpu.clear()
        else:
            counts = {int(k): int(v) for k, v in skel.dist.items() if v}
            if args.runqocc:
                print(f"runqocc: {occupancy(counts):0.2f}%")
            else:
                skel.dist.print_linear_hist("runqlen")
            for slot in counts:
                skel.dist[slot] = 0

    try:
        run_summaries("Sampling run queue length... Hit Ctrl-C to end.", summarize,
                      interval=args.interval, count=args.count, timestamp=args.timestamp)
    finally:
        skel.close()
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "runqlen"))
