"""offcputime: summarize off-CPU time by stack trace, like bcc's offcputime.

    python -m bpfimport.tools.offcputime            # until Ctrl-C
    python -m bpfimport.tools.offcputime -f 5       # folded, for flame graphs
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from bpfimport.tools._common import (
    add_pid,
    run_main,
    set_globals,
    tool_module,
    tool_parser,
)
from bpfimport.tools._stacks import add_stack_choice, add_stack_output, announce, collect_stacks

EXAMPLES = """
    ./offcputime             # trace off-CPU stack time until Ctrl-C
    ./offcputime 5           # trace for 5 seconds only
    ./offcputime -f 5        # 5 seconds, and output in folded format
    ./offcputime -m 1000     # trace only events that last more than 1000 usec
    ./offcputime -M 10000    # trace only events that last less than 10000 usec
    ./offcputime -p 185      # only trace threads for PID 185
    ./offcputime -U          # only show user space stacks (no kernel)
    ./offcputime -K          # only show kernel space stacks (no user)
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = tool_parser("offcputime", "Summarize off-CPU time by stack trace.", EXAMPLES)
    add_pid(parser, "trace this PID only")
    add_stack_choice(parser)
    add_stack_output(parser, "output folded format (for flame graphs)")
    parser.add_argument("-m", "--min-block-time", type=int, default=1, metavar="MIN",
                        help="the amount of time in microseconds over which we store traces "
                             "(default 1)")
    parser.add_argument("-M", "--max-block-time", type=int, default=2**64 - 1, metavar="MAX",
                        help="the amount of time in microseconds under which we store traces "
                             "(default U64_MAX)")
    args = parser.parse_args(argv)

    skel = tool_module("offcputime")
    set_globals(skel, TARGET_TGID=args.pid or 0, USER_STACKS=not args.kernel_stacks_only,
                KERNEL_STACKS=not args.user_stacks_only, MIN_US=args.min_block_time,
                MAX_US=args.max_block_time)
    skel.load()
    skel.on_switch.attach()
    announce(args, "Tracing off-CPU time (us)")
    collect_stacks(skel, args)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "offcputime"))
