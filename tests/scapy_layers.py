"""Packets for test_run tests, built with scapy (the ``[test]`` extra).

scapy's import takes 0.5-1.5 s, so it is imported by the first test that builds a
packet, never at collection: the non-kernel suite does not pay for it.
"""

from __future__ import annotations

from types import SimpleNamespace

_layers: SimpleNamespace | None = None


def scapy() -> SimpleNamespace:
    """scapy's layers: ``Ether``, ``Dot1Q``, ``IP``, ``IPOption``, ``IPv6``, ``UDP``, ``TCP``, ``ICMP``."""
    global _layers
    if _layers is None:
        from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption
        from scapy.layers.inet6 import IPv6
        from scapy.layers.l2 import Dot1Q, Ether

        _layers = SimpleNamespace(Ether=Ether, Dot1Q=Dot1Q, IP=IP, IPOption=IPOption, IPv6=IPv6,
                                  UDP=UDP, TCP=TCP, ICMP=ICMP)
    return _layers
