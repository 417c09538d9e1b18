"""bashreadline: print the commands typed into every running bash, as bcc's bashreadline does.

    sudo python -m bpfimport.tools.bashreadline                  # every interactive bash
    sudo python -m bpfimport.tools.bashreadline -s /usr/lib/x86_64-linux-gnu/libreadline.so.8

One line per line bash reads with readline() (its time, the shell's pid, the text), taken by a
uretprobe on ``readline`` in ``/bin/bash`` or, with ``-s``, in a shared libreadline for a bash
linked against one.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

from bpfimport.runtime.probes import prepare_uprobe
from bpfimport.tools._common import (
    add_duration,
    emit,
    run_events,
    run_main,
    text,
    tool_module,
    tool_parser,
)
from bpfimport.tools._options import Namespace

TYPE_CHECKING = False  # importing typing costs ~2.5 ms of a tool's start
if TYPE_CHECKING:
    from typing import Any

EXAMPLES = """
    ./bashreadline         # trace all readline() calls in /bin/bash
    ./bashreadline -s      # in /lib/libreadline.so, for a bash that links it
    ./bashreadline -s /usr/lib/x86_64-linux-gnu/libreadline.so.8
(./bashreadline is python -m bpfimport.tools.bashreadline)
"""

BASH = "/bin/bash"
DEFAULT_LIBREADLINE = "/lib/libreadline.so"


def parse_args(argv: Sequence[str] | None) -> Namespace:
    parser = tool_parser("bashreadline", "Print entered bash commands from all running shells",
                         EXAMPLES)
    parser.add_argument("-s", "--shared", nargs="?", const=DEFAULT_LIBREADLINE, metavar="LIB",
                        help=f"trace readline() in this libreadline.so instead of {BASH} "
                             f"(default {DEFAULT_LIBREADLINE})")
    add_duration(parser)
    return parser.parse_args(argv)


def print_line(event: Any) -> None:
    emit(f"{time.strftime('%H:%M:%S'):<9} {event.pid:<7d} {text(event.text)}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    binary = args.shared or BASH
    if not os.path.exists(binary):
        what = "bash" if args.shared is None else "readline library"
        print(f"bashreadline: {binary} does not exist, so there is no {what} to trace here.",
              file=sys.stderr)
        return 1
    # opened while the module compiles and loads (see bpfimport.runtime.probes)
    probe = prepare_uprobe(binary, "readline", retprobe=True)
    skel = tool_module("bashreadline")
    try:
        try:
            skel.on_readline.attach(probe=probe)
        finally:
            probe.close()  # the event, if no link took it
        emit(f"{'TIME':<9} {'PID':<7} COMMAND")
        run_events([(skel.events, print_line)], duration=args.duration)
    finally:
        skel.close()
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "bashreadline"))
