"""Crafted packets for the packet tests, built with struct.pack only (an oracle independent of
bpfimport.headers, which the compiler's header layouts come from).

Each function returns the bytes of one header (plus what follows it); checksums are not
computed (test_run does not check them)."""

from __future__ import annotations

import socket
import struct

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


def eth(proto: int, dst: bytes = MAC_B, src: bytes = MAC_A) -> bytes:
    return dst + src + struct.pack("!H", proto)


def vlan(tci: int, proto: int) -> bytes:
    return struct.pack("!HH", tci, proto)


def ipv4(proto: int, payload: bytes = b"", src: str = "192.168.1.2", dst: str = "192.168.1.3",
         options: bytes = b"", ttl: int = 64, frag_off: int = 0, ident: int = 0x1234,
         tot_len: int | None = None) -> bytes:
    assert len(options) % 4 == 0
    ihl = 5 + len(options) // 4
    length = 20 + len(options) + len(payload) if tot_len is None else tot_len
    head = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, length, ident, frag_off, ttl, proto, 0,
                       socket.inet_aton(src), socket.inet_aton(dst))
    return head + options + payload


def ipv6(nexthdr: int, payload: bytes = b"", src: str = "fd00::2", dst: str = "fd00::3",
         hop_limit: int = 64) -> bytes:
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nexthdr, hop_limit,
                       socket.inet_pton(socket.AF_INET6, src),
                       socket.inet_pton(socket.AF_INET6, dst)) + payload


def udp(sport: int, dport: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp(sport: int, dport: int, seq: int = 0, flags: int = 0, options: bytes = b"") -> bytes:
    """flags: FIN 1, SYN 2, RST 4, PSH 8, ACK 16 (the byte at offset 13)."""
    assert len(options) % 4 == 0
    doff = 5 + len(options) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 0, doff << 4, flags, 65535, 0, 0) + options


def icmp(type_: int, code: int = 0, ident: int = 0, seq: int = 0) -> bytes:
    return struct.pack("!BBHHH", type_, code, 0, ident, seq)
