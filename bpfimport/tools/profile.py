"""profile: sample stack traces on every CPU at a timed interval, like bcc's profile.

    python -m bpfimport.tools.profile               # 49 Hz until Ctrl-C
    python -m bpfimport.tools.profile -f 5 > out.folded   # for flamegraph.pl
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from bpfimport.tools._common import (
    _seconds,
    add_pid,
    run_events,
    run_main,
    set_globals,
    tool_module,
    tool_parser,
)
from bpfimport.tools._stacks import print_stacks

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
    stack = parser.add_mutually_exclusive_group()
    stack.add_argument("-U", "--user-stacks-only", action="store_true",
                       help="show stacks from user space only (no kernel space stacks)")
    stack.add_argument("-K", "--kernel-stacks-only", action="store_true",
                       help="show stacks from kernel space only (no user space stacks)")
    parser.add_argument("-F", "--frequency", type=_frequency, default=49,
                        help="sample frequency, Hertz (default 49)")
    parser.add_argument("-d", "--delimited", action="store_true",
                        help="insert delimiter between kernel/user stacks")
    parser.add_argument("-f", "--folded", action="store_true",
                        help="output folded format, one line per stack (for flame graphs)")
    parser.add_argument("duration", nargs="?", type=_seconds, default=None,
                        help="duration of trace, in seconds (default: until Ctrl-C)")
    args = parser.parse_args(argv)

    skel = tool_module("profile")
    set_globals(skel, TARGET_TGID=args.pid or 0, USER_STACKS=not args.kernel_stacks_only,
                KERNEL_STACKS=not args.user_stacks_only)
    skel.load()
    skel.on_sample.attach(sample_freq=args.frequency)
    if not args.folded:
        which = ("user" if args.user_stacks_only else "kernel" if args.kernel_stacks_only
                 else "user + kernel")
        target = f"PID {args.pid}" if args.pid else "all threads"
        until = f" for {args.duration:g} secs." if args.duration else "... Hit Ctrl-C to end."
        print(f"Sampling at {args.frequency} Hertz of {target} by {which} stack{until}",
              flush=True)
    try:
        run_events([], duration=args.duration)
    except KeyboardInterrupt:
        pass
    try:
        for link in list(skel.__bpf_object__.links):
            link.detach()  # stop sampling before reading, so the counts hold still
        print_stacks(skel.stacks, skel.counts, folded=args.folded, delimited=args.delimited)
    finally:
        skel.close()
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "profile"))
