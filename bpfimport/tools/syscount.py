"""syscount: count system calls by syscall or by process, as bcc's syscount does.

    sudo python -m bpfimport.tools.syscount           # top 10 syscalls at Ctrl-C
    sudo python -m bpfimport.tools.syscount -P -i 1   # top processes, every second
    sudo python -m bpfimport.tools.syscount -L -x     # failed calls with their total time

Syscall names come from bpfimport/tools/syscall_numbers.json (generated from the uapi
header by scripts/gen_syscall_numbers.py); a number it lacks prints as "[unknown: N]".
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
from collections.abc import Sequence

from bpfimport.tools._common import (
    Columns,
    _seconds,
    add_failed,
    add_pid,
    add_tid,
    emit,
    load_tool,
    run_main,
    text,
    tool_parser,
    type_error,
)
from bpfimport.tools._options import Namespace

TYPE_CHECKING = False  # importing typing costs ~2.5 ms of a tool's start
if TYPE_CHECKING:
    from typing import Any

EXAMPLES = """
    ./syscount                 # count syscalls until Ctrl-C
    ./syscount -p 181          # only trace PID 181
    ./syscount -t 123          # only trace TID 123
    ./syscount -i 1            # print every second
    ./syscount -d 10           # count for 10 seconds, then print
    ./syscount -T 5            # show the top 5 only
    ./syscount -x              # only count failed syscalls
    ./syscount -e ENOENT       # only count syscalls that failed with ENOENT
    ./syscount -L              # include the total time spent in each syscall
    ./syscount -L -m           # ... in milliseconds
    ./syscount -P              # count by process, not by syscall
    ./syscount --syscall write # count write() only
    ./syscount -l              # list the syscalls this tool knows and exit
(./syscount is python -m bpfimport.tools.syscount)
"""

NUMBERS_FILE = os.path.join(os.path.dirname(__file__), "syscall_numbers.json")


def syscall_names(machine: str | None = None) -> dict[int, str]:
    """Syscall number -> name for this machine (empty when the table does not cover it)."""
    with open(NUMBERS_FILE, encoding="utf-8") as f:
        machines = json.load(f)["machines"]
    table = machines.get(machine or os.uname().machine, {})
    return {int(nr): name for nr, name in table.items()}


def _errno(value: str) -> int:
    """``-e``: a number or a name (ENOENT)."""
    if value.isdigit() and int(value) > 0:
        return int(value)
    number = getattr(errno, value.upper(), None)
    if not isinstance(number, int):
        raise type_error(f"{value!r} is not an errno number or name")
    return number


def parse_args(argv: Sequence[str] | None, names: dict[int, str]) -> Namespace:
    parser = tool_parser("syscount", "Summarize syscall counts and latencies", EXAMPLES)
    add_pid(parser, "trace only this pid")
    add_tid(parser)
    parser.add_argument("-i", "--interval", type=_seconds, metavar="SECONDS",
                        help="print the summary at this interval (seconds), then clear it")
    parser.add_argument("-d", "--duration", type=_seconds, metavar="SECONDS",
                        help="total duration of the trace, in seconds")
    parser.add_argument("-T", "--top", type=int, default=10, metavar="N",
                        help="print only the top N syscalls by count or latency (default 10)")
    add_failed(parser, "trace only failed syscalls (return < 0)")
    parser.add_argument("-e", "--errno", type=_errno, metavar="ERRNO",
                        help="trace only syscalls that return this error (a number or a name like ENOENT)")
    parser.add_argument("-L", "--latency", action="store_true",
                        help="collect the total time spent in each syscall")
    parser.add_argument("-m", "--milliseconds", action="store_true",
                        help="display the time in milliseconds (default: microseconds)")
    parser.add_argument("-P", "--process", action="store_true", help="count by process, not by syscall")
    parser.add_argument("-l", "--list", action="store_true", help="print the list of recognized syscalls and exit")
    parser.add_argument("--syscall", metavar="NAME", help="trace this syscall only (a name, or a number)")
    args = parser.parse_args(argv)
    if args.top <= 0:
        parser.error("-T/--top must be positive")
    args.syscall_nr = None
    if args.syscall is not None:
        by_name = {name: nr for nr, name in names.items()}
        if args.syscall.isdigit():
            args.syscall_nr = int(args.syscall)
        elif args.syscall in by_name:
            args.syscall_nr = by_name[args.syscall]
        else:
            parser.error(f"--syscall: unknown syscall {args.syscall!r} (-l lists them)")
    return args


class Report:
    """The summary table: top rows of the kernel's map, bcc's columns."""

    def __init__(self, args: Namespace, names: dict[int, str]) -> None:
        self.args = args
        self.names = names
        unit = "ms" if args.milliseconds else "us"
        first = (("PID", -6), ("COMM", -15)) if args.process else (("SYSCALL", -22),)
        rest = (("COUNT", 8),) + ((f"TIME ({unit})", 16),) if args.latency else (("COUNT", 8),)
        self.columns = Columns(*first, *rest)

    def label(self, key: int, value: Any) -> list[object]:
        if self.args.process:
            return [key, text(value.comm)]
        return [self.names.get(key, f"[unknown: {key}]")]

    def print(self, data: Any) -> None:
        args = self.args
        if args.interval:
            emit(f"[{time.strftime('%H:%M:%S')}]")
        rows = data.items()
        order = (lambda kv: kv[1].total_ns) if args.latency else (lambda kv: kv[1].count)
        rows.sort(key=order, reverse=True)
        emit(self.columns.header())
        for key, value in rows[: args.top]:
            row = self.label(key, value) + [value.count]
            if args.latency:
                row.append(f"{value.total_ns / 1e6:.6f}" if args.milliseconds else f"{value.total_ns / 1e3:.3f}")
            emit(self.columns.format(row))
        emit("")


def main(argv: Sequence[str] | None = None) -> int:
    names = syscall_names()
    args = parse_args(argv, names)
    if args.list:
        for nr in sorted(names):
            emit(names[nr])
        return 0
    at_exit = bool(args.failed or args.errno or args.latency)
    skel = load_tool(
        "syscount",
        programs=("sys_enter", "sys_exit") if at_exit else ("sys_enter",),
        TARGET_PID=args.pid or 0, TARGET_TID=args.tid or 0,
        TARGET_SYSCALL=-1 if args.syscall_nr is None else args.syscall_nr,
        BY_PROCESS=args.process, AT_EXIT=at_exit, FAILED_ONLY=args.failed,
        ERRNO=args.errno or 0, LATENCY=args.latency,
    )
    report = Report(args, names)
    what = "syscalls" if args.syscall is None else f"syscall {args.syscall!r}"
    emit(f"Tracing {'failed ' if args.failed else ''}{what}, printing top {args.top}... Ctrl+C to quit.")
    deadline = None if args.duration is None else time.monotonic() + args.duration
    try:
        try:
            while True:
                now = time.monotonic()
                wait = min(t for t in (args.interval, None if deadline is None else deadline - now, 3600.0)
                           if t is not None)
                time.sleep(max(0.0, wait))
                if deadline is not None and time.monotonic() >= deadline - 0.001:
                    break
                if args.interval:
                    report.print(skel.data)
                    skel.data.clear()
        except KeyboardInterrupt:
            pass
        report.print(skel.data)
        emit("Detaching...")
    finally:
        skel.close()
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "syscount"))
