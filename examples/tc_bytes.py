"""Packets and bytes an interface sends, per IPv4 destination (a tc egress program).

    sudo python examples/tc_bytes.py --ifname eth0 --seconds 10
"""

from __future__ import annotations

import argparse
import ipaddress
import time

import bpfimport  # noqa: F401  (installs the import hook for *_bpf modules)

# isort: split
import tc_bytes_bpf as bpf


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--ifname", required=True, help="the interface whose sent packets to count")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to count (default 5)")
    args = parser.parse_args()

    with bpf.count_egress.attach(ifname=args.ifname, direction="egress"):
        print(f"Counting packets sent on {args.ifname} for {args.seconds:g} s...", flush=True)
        time.sleep(args.seconds)

    print(f"{'DESTINATION':<16} {'PACKETS':>10} {'BYTES':>12}")
    for addr, t in sorted(bpf.sent.items(), key=lambda kv: -kv[1].bytes):
        print(f"{ipaddress.IPv4Address(addr)!s:<16} {t.packets:>10} {t.bytes:>12}")


if __name__ == "__main__":
    main()
