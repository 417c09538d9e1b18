"""Show the DNS packets (UDP port 53) on an interface: a packet socket whose BPF filter keeps DNS only.

    sudo python examples/dns_only.py --ifname eth0 --seconds 10
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import struct
import time

import bpfimport  # noqa: F401  (installs the import hook for *_bpf modules)

# isort: split
import dns_only_bpf as bpf

ETH_P_ALL = 0x0003


def question(dns: bytes) -> str:
    """The first question's name of a DNS message ('?' when it has none or is cut short)."""
    labels, i = [], 12
    try:
        if struct.unpack_from("!H", dns, 4)[0] == 0:
            return "?"
        while dns[i]:
            labels.append(dns[i + 1:i + 1 + dns[i]].decode("ascii", "replace"))
            i += 1 + dns[i]
    except (IndexError, struct.error):
        return "?"
    return ".".join(labels) + "."


def describe(frame: bytes) -> str:
    ihl = (frame[14] & 0x0F) * 4
    src, dst = ipaddress.IPv4Address(frame[26:30]), ipaddress.IPv4Address(frame[30:34])
    sport, dport = struct.unpack_from("!HH", frame, 14 + ihl)
    kind = "response" if frame[14 + ihl + 8 + 2] & 0x80 else "query"
    return f"{src}:{sport} -> {dst}:{dport} {kind} {question(frame[14 + ihl + 8:])}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--ifname", required=True, help="the interface to watch (lo, eth0...)")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to watch (default 5)")
    args = parser.parse_args()

    # protocol 0: the socket receives nothing until bind(), so no packet gets in unfiltered
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0) as sock:
        bpf.dns_only.attach(sock)
        sock.bind((args.ifname, ETH_P_ALL))
        print(f"Watching DNS on {args.ifname} for {args.seconds:g} s...", flush=True)
        deadline = time.monotonic() + args.seconds
        seen = 0
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                frame, address = sock.recvfrom(65535)
            except TimeoutError:
                break
            if address[2] == socket.PACKET_OUTGOING:
                continue  # on lo each packet shows twice: as sent and as received
            seen += 1
            print(describe(frame), flush=True)
    print(f"{seen} DNS packets")


if __name__ == "__main__":
    main()
