"""Packet headers and network addresses, as data both sides of bpfimport read.

The compiler lowers ``eth.h_proto`` in BPF code from these layouts, and
``bpfimport.lang``'s header classes (``EthHdr``, ``IpHdr``...) decode and encode the
same bytes in user space with them, so a field reads the same number on both sides:
multi-byte fields are big-endian on the wire and read as ordinary integers
(``udp.dest == 53``), a bitfield reads as its own small integer (``ip.ihl``), and a
byte array (``eth.h_dest``) as bytes.

``ip4()``, ``ip6()`` and ``mac()`` turn address literals into what those fields read
as: the compiler folds them to constants, user space calls them as plain functions.

Plain data, no imports: ``bpfimport.lang`` loads this on every import of a ``.bpf.py``
file's names, and the compiler on every compile.

Layouts are those of Linux's uapi headers (``linux/if_ether.h``, ``linux/ip.h``,
``linux/ipv6.h``, ``linux/tcp.h``, ``linux/udp.h``, ``linux/icmp.h``,
``linux/icmpv6.h``; ``vlan_hdr`` is ``linux/if_vlan.h``'s), with the field names used
there.  C unions are flattened where the uapi has no single spelling: ``IcmpHdr``'s
``un.echo.id`` is ``id``, and ``Icmp6Hdr`` uses the uapi's own ``icmp6_identifier``
style macros.
"""

from __future__ import annotations


class HeaderField:
    """One field of a header.

    * ``offset``/``size``: where the bytes holding it are (a bitfield: its containing
      unit, read big-endian);
    * ``bits``/``shift``: a bitfield's width, and how far right of the unit's lowest bit
      its lowest bit is (counted in the big-endian value); ``bits == 0``: the whole unit;
    * ``array``: a byte array (addresses) of ``size`` bytes, read and written as bytes.
    """

    __slots__ = ("name", "offset", "size", "bits", "shift", "array")

    def __init__(self, name: str, offset: int, size: int, bits: int = 0, shift: int = 0,
                 array: bool = False) -> None:
        self.name = name
        self.offset = offset
        self.size = size
        self.bits = bits
        self.shift = shift
        self.array = array

    @property
    def width(self) -> int:
        """How many bits the field's value has."""
        return self.bits or 8 * self.size

    def __repr__(self) -> str:
        return f"HeaderField({self.name!r}, offset={self.offset}, size={self.size}, " \
               f"bits={self.bits}, shift={self.shift}, array={self.array})"


class Header:
    """A header's name in ``bpfimport.lang``, its C name, size and fields."""

    __slots__ = ("name", "c_name", "size", "fields", "aliased")

    def __init__(self, name: str, c_name: str, size: int, fields: tuple[HeaderField, ...]) -> None:
        self.name = name
        self.c_name = c_name
        self.size = size
        self.fields = fields
        # members of a C union (IcmpHdr's id/sequence, gateway, mtu): fields whose bits
        # overlap another's, so writing one changes the others
        self.aliased = frozenset(f.name for f in fields for g in fields
                                 if f is not g and _bits(f) & _bits(g))

    def field(self, name: str) -> HeaderField | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    # ------------------------------------------------------------ user side
    def decode(self, data: bytes, offset: int = 0) -> dict[str, int | bytes]:
        """The field values of the header at ``offset`` in ``data``."""
        raw = bytes(data[offset:offset + self.size])
        if len(raw) < self.size:
            raise ValueError(f"{self.name} needs {self.size} bytes at offset {offset}, "
                             f"the data has {len(raw)}")
        return {f.name: self.get(raw, f) for f in self.fields}

    def get(self, raw: bytes | bytearray, f: HeaderField) -> int | bytes:
        """Field ``f`` of the header's bytes ``raw``."""
        unit = bytes(raw[f.offset:f.offset + f.size])
        if f.array:
            return unit
        n = int.from_bytes(unit, "big")
        return (n >> f.shift) & ((1 << f.bits) - 1) if f.bits else n

    def put(self, out: bytearray, f: HeaderField, v: object) -> None:
        """Write field ``f`` into the header's bytes ``out`` (ValueError when it does not fit)."""
        if f.array:
            if not isinstance(v, (bytes, bytearray)) or len(v) > f.size:
                raise ValueError(f"{self.name}.{f.name} takes up to {f.size} bytes, not {v!r}")
            out[f.offset:f.offset + f.size] = bytes(v).ljust(f.size, b"\0")
            return
        if not isinstance(v, int) or not 0 <= v < (1 << f.width):
            raise ValueError(f"{self.name}.{f.name} holds a {f.width}-bit unsigned number, "
                             f"not {v!r}")
        unit = int.from_bytes(out[f.offset:f.offset + f.size], "big")
        mask = ((1 << f.bits) - 1) << f.shift if f.bits else (1 << 8 * f.size) - 1
        unit = (unit & ~mask) | (v << f.shift)
        out[f.offset:f.offset + f.size] = unit.to_bytes(f.size, "big")

    def encode(self, values: dict[str, int | bytes]) -> bytes:
        """The header's bytes with these field values (missing fields are 0)."""
        out = bytearray(self.size)
        for f in self.fields:
            self.put(out, f, values.get(f.name, b"" if f.array else 0))
        return bytes(out)


def _bits(f: HeaderField) -> int:
    """The bits of the header a field covers, as a mask over the header's bytes."""
    width = 8 * f.size
    mask = ((1 << f.bits) - 1) << f.shift if f.bits else (1 << width) - 1
    return mask << (8 * (64 - f.offset - f.size))  # headers here are < 64 bytes


_F = HeaderField

HEADERS: dict[str, Header] = {h.name: h for h in (
    Header("EthHdr", "ethhdr", 14, (
        _F("h_dest", 0, 6, array=True), _F("h_source", 6, 6, array=True), _F("h_proto", 12, 2))),
    Header("VlanHdr", "vlan_hdr", 4, (
        _F("h_vlan_TCI", 0, 2), _F("h_vlan_encapsulated_proto", 2, 2))),
    Header("IpHdr", "iphdr", 20, (
        _F("version", 0, 1, bits=4, shift=4), _F("ihl", 0, 1, bits=4), _F("tos", 1, 1),
        _F("tot_len", 2, 2), _F("id", 4, 2), _F("frag_off", 6, 2), _F("ttl", 8, 1),
        _F("protocol", 9, 1), _F("check", 10, 2), _F("saddr", 12, 4), _F("daddr", 16, 4))),
    Header("Ipv6Hdr", "ipv6hdr", 40, (
        _F("version", 0, 1, bits=4, shift=4), _F("priority", 0, 1, bits=4),
        _F("flow_lbl", 1, 3, array=True), _F("payload_len", 4, 2), _F("nexthdr", 6, 1),
        _F("hop_limit", 7, 1), _F("saddr", 8, 16, array=True), _F("daddr", 24, 16, array=True))),
    Header("TcpHdr", "tcphdr", 20, (
        _F("source", 0, 2), _F("dest", 2, 2), _F("seq", 4, 4), _F("ack_seq", 8, 4),
        _F("doff", 12, 1, bits=4, shift=4), _F("res1", 12, 1, bits=3, shift=1),
        _F("ae", 12, 1, bits=1),
        _F("cwr", 13, 1, bits=1, shift=7), _F("ece", 13, 1, bits=1, shift=6),
        _F("urg", 13, 1, bits=1, shift=5), _F("ack", 13, 1, bits=1, shift=4),
        _F("psh", 13, 1, bits=1, shift=3), _F("rst", 13, 1, bits=1, shift=2),
        _F("syn", 13, 1, bits=1, shift=1), _F("fin", 13, 1, bits=1),
        _F("window", 14, 2), _F("check", 16, 2), _F("urg_ptr", 18, 2))),
    Header("UdpHdr", "udphdr", 8, (
        _F("source", 0, 2), _F("dest", 2, 2), _F("len", 4, 2), _F("check", 6, 2))),
    Header("IcmpHdr", "icmphdr", 8, (
        _F("type", 0, 1), _F("code", 1, 1), _F("checksum", 2, 2),
        _F("id", 4, 2), _F("sequence", 6, 2), _F("gateway", 4, 4), _F("mtu", 6, 2))),
    Header("Icmp6Hdr", "icmp6hdr", 8, (
        _F("icmp6_type", 0, 1), _F("icmp6_code", 1, 1), _F("icmp6_cksum", 2, 2),
        _F("icmp6_identifier", 4, 2), _F("icmp6_sequence", 6, 2), _F("icmp6_mtu", 4, 4),
        _F("icmp6_pointer", 4, 4))),
)}

# EtherTypes and IP protocol numbers (linux/if_ether.h, linux/in.h, linux/in6.h), and the
# flags of IpHdr.frag_off (include/net/ip.h): plain integers, as the header fields read.
PACKET_CONSTANTS: dict[str, int] = {
    "ETH_P_IP": 0x0800, "ETH_P_ARP": 0x0806, "ETH_P_8021Q": 0x8100, "ETH_P_8021AD": 0x88A8,
    "ETH_P_IPV6": 0x86DD, "ETH_HLEN": 14, "ETH_ALEN": 6,
    "IPPROTO_IP": 0, "IPPROTO_ICMP": 1, "IPPROTO_TCP": 6, "IPPROTO_UDP": 17,
    "IPPROTO_IPV6": 41, "IPPROTO_ROUTING": 43, "IPPROTO_FRAGMENT": 44, "IPPROTO_GRE": 47,
    "IPPROTO_ICMPV6": 58, "IPPROTO_NONE": 59, "IPPROTO_DSTOPTS": 60, "IPPROTO_SCTP": 132,
    "IP_CE": 0x8000, "IP_DF": 0x4000, "IP_MF": 0x2000, "IP_OFFSET": 0x1FFF,
}


# ---------------------------------------------------------------- address literals

def ip4(text: str) -> int:
    """An IPv4 address as the integer ``IpHdr.saddr``/``daddr`` read as (``10.0.0.1`` is
    0x0A000001: the first byte on the wire is the most significant)."""
    parts = text.split(".") if isinstance(text, str) else []
    if len(parts) != 4 or not all(p.isdigit() and p.isascii() and int(p) < 256 for p in parts):
        raise ValueError(f"not an IPv4 address: {text!r} (expected four numbers 0-255, "
                         "e.g. '10.0.0.1')")
    n = 0
    for p in parts:
        n = n << 8 | int(p)
    return n


def ip6(text: str) -> bytes:
    """An IPv6 address as the 16 bytes ``Ipv6Hdr.saddr``/``daddr`` read as (``ip6("::1")``)."""
    import ipaddress  # user side only (the compiler folds the same call): no cost at import

    try:
        return ipaddress.IPv6Address(text).packed
    except (ValueError, TypeError):
        raise ValueError(f"not an IPv6 address: {text!r} (e.g. 'fe80::1' or '::1')") from None


def mac(text: str) -> bytes:
    """A MAC address as the 6 bytes ``EthHdr.h_dest``/``h_source`` read as
    (``mac("aa:bb:cc:dd:ee:ff")``; ``-`` separators work too)."""
    parts = text.replace("-", ":").split(":") if isinstance(text, str) else []
    if len(parts) != 6 or not all(len(p) in (1, 2) and all(c in "0123456789abcdefABCDEF" for c in p)
                                  for p in parts):
        raise ValueError(f"not a MAC address: {text!r} (expected six hex bytes, "
                         "e.g. 'aa:bb:cc:dd:ee:ff')")
    return bytes(int(p, 16) for p in parts)


# The address functions, by the name bpfimport.lang exports them under.
ADDRESS_FUNCTIONS = {"ip4": ip4, "ip6": ip6, "mac": mac}

__all__ = ["ADDRESS_FUNCTIONS", "HEADERS", "PACKET_CONSTANTS", "Header", "HeaderField", "ip4",
           "ip6", "mac"]
