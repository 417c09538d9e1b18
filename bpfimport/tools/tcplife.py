"""tcplife: trace TCP sessions and summarize their bytes and duration, as bcc's tcplife does.

    sudo python -m bpfimport.tools.tcplife           # every TCP session as it closes
    sudo python -m bpfimport.tools.tcplife -L 80     # only sessions on local port 80

One line per TCP session when it closes: the process that opened (or closed) it, both ends, the
kilobytes sent and received, and how long it lived in milliseconds. The kernel side is the
``sock/inet_sock_set_state`` tracepoint alone, with the byte counts read from the kernel's
``tcp_sock`` through CO-RE: no kprobes, no fentry.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from bpfimport.tools._common import (
    add_duration,
    add_pid,
    emit,
    load_tool,
    run_main,
    stream_events,
    text,
    tool_parser,
)
from bpfimport.tools._net import AF_INET, add_family, address, chosen_family, padded, port_list
from bpfimport.tools._options import Namespace

TYPE_CHECKING = False  # importing typing costs ~2.5 ms of a tool's start
if TYPE_CHECKING:
    from typing import Any

EXAMPLES = """
    ./tcplife           # trace all TCP connect()s
    ./tcplife -T        # include time column (HH:MM:SS)
    ./tcplife -w        # wider columns (fit IPv6)
    ./tcplife -stT      # csv output, with times & timestamps
    ./tcplife -p 181    # only trace PID 181
    ./tcplife -L 80     # only trace local port 80
    ./tcplife -L 80,81  # only trace local ports 80 and 81
    ./tcplife -D 80     # only trace remote port 80
    ./tcplife -4        # only trace IPv4 family
    ./tcplife -6        # only trace IPv6 family
    ./tcplife -d 10     # trace for 10 seconds
(./tcplife is python -m bpfimport.tools.tcplife)
"""

MAX_PORTS = 8     # the length of the .bpf.py's LPORTS and DPORTS arrays
COLUMNS = ("PID", "COMM", "LADDR", "LPORT", "RADDR", "RPORT", "TX_KB", "RX_KB", "MS")

# bcc's layouts (its %-5d ... as format specs): (header, row); the IP field is empty unless -w
NARROW = ("{:<5} {:<10.10} {}{:<15} {:<5} {:<15} {:<5} {:>5} {:>5} {}",
          "{:<5d} {:<10.10} {}{:<15} {:<5d} {:<15} {:<5d} {:>5d} {:>5d} {:.2f}")
WIDE = ("{:<5} {:<16.16} {:<2} {:<26} {:<5} {:<26} {:<5} {:>6} {:>6} {}",
        "{:<5d} {:<16.16} {:<2} {:<26} {:<5d} {:<26} {:<5d} {:>6d} {:>6d} {:.2f}")
CSV = "{:d},{},{},{:d},{},{:d},{:d},{:d},{:.2f}"


def parse_args(argv: Sequence[str] | None) -> Namespace:
    parser = tool_parser("tcplife", "Trace the lifespan of TCP sessions and summarize", EXAMPLES)
    parser.add_argument("-T", "--time", action="store_true",
                        help="include time column on output (HH:MM:SS)")
    parser.add_argument("-t", "--timestamp", action="store_true",
                        help="include timestamp on output (seconds)")
    parser.add_argument("-w", "--wide", action="store_true",
                        help="wide column output (fits IPv6 addresses)")
    parser.add_argument("-s", "--csv", action="store_true", help="comma separated values output")
    add_pid(parser, "trace this PID only")
    parser.add_argument("-L", "--localport", type=port_list(MAX_PORTS),
                        help="comma-separated list of local ports to trace.")
    parser.add_argument("-D", "--remoteport", type=port_list(MAX_PORTS),
                        help="comma-separated list of remote ports to trace.")
    add_family(parser)
    add_duration(parser)
    return parser.parse_args(argv)


class Printer:
    """One bcc-like line (or CSV row) per closed session."""

    def __init__(self, args: Namespace) -> None:
        self.args = args
        self.first_ts_us: int | None = None

    def header(self) -> str:
        a = self.args
        if a.csv:
            return ("TIME," if a.time else "") + ("TIME(s)," if a.timestamp else "") + ",".join(COLUMNS)
        prefix = ("TIME     " if a.time else "") + ("TIME(s)   " if a.timestamp else "")
        layout = WIDE if a.wide else NARROW
        return prefix + layout[0].format("PID", "COMM", "IP" if a.wide else "", "LADDR", "LPORT",
                                         "RADDR", "RPORT", "TX_KB", "RX_KB", "MS")

    def __call__(self, event: Any) -> None:
        a = self.args
        if self.first_ts_us is None:
            self.first_ts_us = event.ts_us
        seconds = (event.ts_us - self.first_ts_us) / 1e6
        values = (event.pid, text(event.comm), address(event.family, event.saddr), event.sport,
                  address(event.family, event.daddr), event.dport, event.tx_bytes // 1024,
                  event.rx_bytes // 1024, event.span_us / 1000)
        if a.csv:
            prefix = (time.strftime("%H:%M:%S,") if a.time else "") + \
                     (f"{seconds:.6f}," if a.timestamp else "")
            emit(prefix + CSV.format(*values))
            return
        prefix = (time.strftime("%H:%M:%S ") if a.time else "") + \
                 (f"{seconds:<9.6f} " if a.timestamp else "")
        version = "4" if event.family == AF_INET else "6"
        layout = WIDE if a.wide else NARROW
        emit(prefix + layout[1].format(*values[:2], version if a.wide else "", *values[2:]))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    lports = args.localport or []
    dports = args.remoteport or []
    skel = load_tool("tcplife", TARGET_PID=args.pid or 0, TARGET_FAMILY=chosen_family(args),
                     NLPORTS=len(lports), LPORTS=padded(lports, MAX_PORTS),
                     NDPORTS=len(dports), DPORTS=padded(dports, MAX_PORTS))
    printer = Printer(args)
    stream_events(skel, printer.header(), printer, args.duration)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "tcplife"))
