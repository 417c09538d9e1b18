"""profile: sample stack traces on every CPU at a timed interval, like bcc's profile.

    python -m bpfimport.tools.profile               # 49 Hz until Ctrl-C
    python -m bpfimport.tools.profile -f 5 > out.folded   # for flamegraph.pl
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
    ./profile             # profile stack traces at 49 Hz until Ctrl-C
    ./profile -F 99       # profile stack traces at 99 Hz
    ./profile 5           # profile at 49 Hz for 5 seconds only
    ./profile -f 5        # output in folded format for flame graphs
    ./profile -p 185      # only profile process with PID 185
    ./profile -U          # only show user space stacks (no kernel)
    ./profile -K          # only show kernel space stacks (no user)
"""


def _frequency(text: str) -> int:
    value = int(text)
    if not 0 < value <= 100_000:
        raise ValueError(text)
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = tool_parser("profile", "Profile CPU stack traces at a timed interval.", EXAMPLES)
    add_pid(parser, "profile this process only")
    add_stack_choice(parser)
    parser.add_argument("-F", "--frequency", type=_frequency, default=49,
                        help="sample frequency, Hertz (default 49)")
    add_stack_output(parser, "output folded format, one line per stack (for flame graphs)")
    args = parser.parse_args(argv)

    skel = tool_module("profile")
    set_globals(skel, TARGET_TGID=args.pid or 0, USER_STACKS=not args.kernel_stacks_only,
                KERNEL_STACKS=not args.user_stacks_only)
    skel.load()
    skel.on_sample.attach(sample_freq=args.frequency)
    announce(args, f"Sampling at {args.frequency} Hertz")
    collect_stacks(skel, args)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "profile"))
