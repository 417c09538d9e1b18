"""tcpconnect: trace active TCP connections (connect()), as bcc's tcpconnect does.

    sudo python -m bpfimport.tools.tcpconnect            # every connect, until Ctrl-C
    sudo python -m bpfimport.tools.tcpconnect -P 80,443  # only to these ports

One line per connect() that starts a TCP handshake: the process, the IP version, the local and
remote addresses and the remote port. The kernel side is the ``sock/inet_sock_set_state``
tracepoint (the socket entering SYN_SENT), which needs neither kprobes nor fentry.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence

from bpfimport.tools._common import (
    Columns,
    Stamp,
    add_duration,
    add_pid,
    emit,
    load_tool,
    run_events,
    run_main,
    text,
    tool_parser,
)
from bpfimport.tools._net import AF_INET, add_family, address, chosen_family, padded, port_list
from bpfimport.tools._options import Namespace

TYPE_CHECKING = False  # importing typing costs ~2.5 ms of a tool's start
if TYPE_CHECKING:
    from typing import Any

EXAMPLES = """
    ./tcpconnect           # trace all TCP connect()s
    ./tcpconnect -t        # include timestamps
    ./tcpconnect -p 181    # only trace PID 181
    ./tcpconnect -P 80     # only trace port 80
    ./tcpconnect -P 80,81  # only trace port 80 and 81
    ./tcpconnect -4        # only trace IPv4 family
    ./tcpconnect -6        # only trace IPv6 family
    ./tcpconnect -U        # include UID
    ./tcpconnect -u 1000   # only trace UID 1000
    ./tcpconnect -c        # count connects per src ip and dest ip/port
    ./tcpconnect -d 10     # trace for 10 seconds
(./tcpconnect is python -m bpfimport.tools.tcpconnect)
"""

MAX_PORTS = 8     # the length of the .bpf.py's PORTS array

COLUMNS = Columns(("PID", -6), ("COMM", -12), ("IP", -2), ("SADDR", -16), ("DADDR", -16),
                  ("DPORT", 0))
COUNT_COLUMNS = Columns(("LADDR", -25), ("RADDR", -25), ("RPORT", -20), ("CONNECTS", 0))


def parse_args(argv: Sequence[str] | None) -> Namespace:
    parser = tool_parser("tcpconnect", "Trace TCP connects", EXAMPLES)
    parser.add_argument("-t", "--timestamp", action="store_true", help="include timestamp on output")
    add_pid(parser, "trace this PID only")
    parser.add_argument("-P", "--port", type=port_list(MAX_PORTS),
                        help=f"comma-separated list of destination ports to trace (at most {MAX_PORTS})")
    add_family(parser)
    parser.add_argument("-U", "--print-uid", action="store_true", help="include UID on output")
    parser.add_argument("-u", "--uid", type=int, help="trace this UID only")
    parser.add_argument("-c", "--count", action="store_true",
                        help="count connects per src ip and dest ip/port")
    add_duration(parser)
    return parser.parse_args(argv)


class Printer:
    """One bcc-like line per connect, or (``-c``) a count per address pair printed at the end."""

    def __init__(self, args: Namespace) -> None:
        self.args = args
        self.stamp = Stamp(wall=False, relative=args.timestamp)
        self.counts: Counter[tuple[str, str, int]] = Counter()

    def header(self) -> str:
        return self.stamp.header() + ("UID    " if self.args.print_uid else "") + COLUMNS.header()

    def __call__(self, event: Any) -> None:
        saddr = address(event.family, event.saddr)
        daddr = address(event.family, event.daddr)
        if self.args.count:
            self.counts[(saddr, daddr, event.dport)] += 1
            return
        version = 4 if event.family == AF_INET else 6
        uid = f"{event.uid:<6} " if self.args.print_uid else ""
        emit(self.stamp.prefix() + uid + COLUMNS.format(
            [event.pid, text(event.comm)[:12], version, saddr, daddr, event.dport]))

    def summary(self) -> None:
        emit(COUNT_COLUMNS.header())
        for (saddr, daddr, dport), n in self.counts.most_common():
            emit(COUNT_COLUMNS.format([saddr, daddr, dport, n]))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    ports = args.port or []
    skel = load_tool("tcpconnect", TARGET_PID=args.pid or 0,
                     TARGET_UID=0xFFFFFFFF if args.uid is None else args.uid,
                     TARGET_FAMILY=chosen_family(args), NPORTS=len(ports),
                     PORTS=padded(ports, MAX_PORTS))
    printer = Printer(args)
    try:
        if args.count:
            emit("Tracing connect ... Hit Ctrl-C to end")
        else:
            emit(printer.header())
        try:
            run_events([(skel.events, printer)], duration=args.duration)
        except KeyboardInterrupt:
            if not args.count:
                raise
        if args.count:
            emit("")
            printer.summary()
    finally:
        skel.close()
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "tcpconnect"))
