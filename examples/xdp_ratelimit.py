"""Limit each IPv4 source to N packets a second on an interface (XDP, per-source LRU map).

    sudo python examples/xdp_ratelimit.py --ifname eth0 --limit 100 --seconds 10
"""

from __future__ import annotations

import argparse
import ipaddress
import time

import bpfimport  # noqa: F401  (installs the import hook for *_bpf modules)

# isort: split
import xdp_ratelimit_bpf as bpf


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--ifname", required=True, help="the interface whose arriving packets to limit")
    parser.add_argument("--limit", type=int, default=100, help="packets per source per second (default 100)")
    parser.add_argument("--mode", choices=("skb", "drv", "hw"), help="XDP mode (default: the kernel's choice)")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to run (default 5)")
    args = parser.parse_args()

    bpf.LIMIT.value = args.limit  # a Final global: set before the object loads
    with bpf.ratelimit.attach(ifname=args.ifname, mode=args.mode):
        print(f"Limiting each source on {args.ifname} to {args.limit} packets/s "
              f"for {args.seconds:g} s...", flush=True)
        time.sleep(args.seconds)

    print(f"{'SOURCE':<16} {'PASSED':>10} {'DROPPED':>10}")
    rows = sorted(bpf.windows.items(), key=lambda kv: -(kv[1].passed + kv[1].dropped))
    for addr, w in rows:
        print(f"{ipaddress.IPv4Address(addr)!s:<16} {w.passed:>10} {w.dropped:>10}")


if __name__ == "__main__":
    main()
