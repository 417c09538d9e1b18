"""Seed app: run xdp_pass.bpf.py on test packets with BPF_PROG_TEST_RUN (no NIC needed).

    sudo python examples/seed/xdp_pass.py --packets 5
"""

from __future__ import annotations

import argparse

import bpfimport  # noqa: F401  (installs the import hook for *_bpf modules)

# isort: split
import xdp_pass_bpf

XDP_ACTIONS = {0: "XDP_ABORTED", 1: "XDP_DROP", 2: "XDP_PASS", 3: "XDP_TX", 4: "XDP_REDIRECT"}


def ethernet_frame() -> bytes:
    """A broadcast Ethernet frame with an empty IPv4 payload: enough for XDP."""
    return b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + bytes(46)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--packets", type=int, default=5)
    args = parser.parse_args()
    frame = ethernet_frame()
    for i in range(args.packets):
        r = xdp_pass_bpf.xdp_count.test_run(data=frame)
        print(f"packet {i + 1}: {XDP_ACTIONS.get(r.retval, r.retval)}")
    print(f"packets counted by the program: {xdp_pass_bpf.count[0]}")


if __name__ == "__main__":
    main()
