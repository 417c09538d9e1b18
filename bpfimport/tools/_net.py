"""What tcpconnect and tcplife share on the Python side: port options, families, addresses.

Their kernel sides filter on ports kept in fixed-length ``Final`` arrays (with a count
beside them) and on an address family, and send addresses as 16 bytes in network order
(an IPv4 one in the first 4).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence

from bpfimport.tools._common import type_error
from bpfimport.tools._options import Namespace, OptionParser

AF_INET = socket.AF_INET.value
AF_INET6 = socket.AF_INET6.value


def port_list(most: int) -> Callable[[str], list[int]]:
    """An argparse ``type`` for ``-P 80,443``: ports 1..65535, at most ``most`` of them.

    ``most`` is the length of the ``.bpf.py``'s port array, so a longer list is a
    usage error rather than ports silently dropped.
    """

    def parse(value: str) -> list[int]:
        try:
            ports = [int(p) for p in value.split(",")]
        except ValueError:
            raise type_error(f"{value!r} is not a comma-separated list of ports") from None
        if not ports or any(not 0 < p < 65536 for p in ports):
            raise type_error(f"{value!r}: ports are 1..65535")
        if len(ports) > most:
            raise type_error(f"at most {most} ports")
        return ports

    return parse


def padded(ports: Sequence[int] | None, length: int) -> list[int]:
    """``ports`` (None: none) zero-filled to ``length``, the value of a ``Final`` port array."""
    given = list(ports or [])
    return given + [0] * (length - len(given))


def add_family(parser: OptionParser) -> None:
    """``-4`` / ``-6`` (exclusive): trace one address family only; see :func:`chosen_family`."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-4", "--ipv4", action="store_true", help="trace IPv4 family only")
    group.add_argument("-6", "--ipv6", action="store_true", help="trace IPv6 family only")


def chosen_family(args: Namespace) -> int:
    """The family ``-4``/``-6`` asked for, as the kernel side's filter: 0 for both."""
    return AF_INET if args.ipv4 else AF_INET6 if args.ipv6 else 0


def address(family: int, raw: Sequence[int]) -> str:
    """An event's address bytes (network order) as text: the first 4 for IPv4, else all 16."""
    return socket.inet_ntop(family, bytes(raw[:4] if family == AF_INET else raw[:16]))
