"""Packets per IP protocol arriving on an interface, dropping UDP/TCP packets to some ports (XDP).

    sudo python examples/xdp_protocols.py --ifname eth0 --drop 9999 --seconds 10
"""

from __future__ import annotations

import argparse
import time

import bpfimport  # noqa: F401  (installs the import hook for *_bpf modules)

# isort: split
import xdp_protocols_bpf as bpf

PROTOCOLS = {0: "HOPOPT", 1: "ICMP", 2: "IGMP", 4: "IPIP", 6: "TCP", 17: "UDP", 41: "IPv6",
             47: "GRE", 50: "ESP", 51: "AH", 58: "ICMPv6", 89: "OSPF", 103: "PIM", 112: "VRRP",
             132: "SCTP"}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--ifname", required=True, help="the interface whose arriving packets to count")
    parser.add_argument("--drop", type=int, action="append", default=[], metavar="PORT",
                        help="drop UDP and TCP packets to this destination port (repeatable)")
    parser.add_argument("--mode", choices=("skb", "drv", "hw"), help="XDP mode (default: the kernel's choice)")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to count (default 5)")
    args = parser.parse_args()

    for port in args.drop:
        bpf.drop_ports[port] = 0  # a port to drop, and its count of drops
    with bpf.xdp_filter.attach(ifname=args.ifname, mode=args.mode):
        print(f"Counting packets arriving on {args.ifname} for {args.seconds:g} s"
              + (f", dropping ports {', '.join(map(str, args.drop))}" if args.drop else "")
              + "...", flush=True)
        time.sleep(args.seconds)

    print(f"{'PROTOCOL':<10} {'PACKETS':>10}")
    for proto, n in sorted(bpf.packets.items(), key=lambda kv: -kv[1]):
        if n:
            print(f"{PROTOCOLS.get(proto, f'proto {proto}'):<10} {n:>10}")
    for port, n in sorted(bpf.drop_ports.items()):
        print(f"dropped {n} packets to port {port}")


if __name__ == "__main__":
    main()
