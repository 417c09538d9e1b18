"""The context structs of packet and socket programs, as Linux's uapi ``linux/bpf.h`` lays them out.

``struct xdp_md``, ``struct __sk_buff``, ``struct bpf_sock_addr`` and ``struct bpf_sock``
are a stable ABI: a program reads them with
plain loads at these fixed offsets, and the verifier rewrites each load into an access
of the kernel's real ``xdp_buff`` / ``sk_buff`` (so no CO-RE relocation and no
``probe_read``, and the object does not depend on the running kernel's layout).
``tests/compiler/test_packets.py`` checks every offset against the kernel's BTF.

Which fields a program may read and write depends on its type (the kernel's
``xdp_is_valid_access``, ``tc_cls_act_is_valid_access``, ``sk_filter_is_valid_access``,
``cg_skb_is_valid_access``; for the cgroup socket programs also on the hook,
``sock_addr_is_valid_access``, ``sock_filter_is_valid_access``): :data:`ACCESS` says it per
decorator and :data:`HOOK_ACCESS` per cgroup hook, so a refused access is a CompileError at
the user's line rather than a verifier log.

Plain data, no imports.
"""

from __future__ import annotations


class CtxField:
    """One context field: where it is, how big, and how its value reads.

    ``how``: ``"u32"``/``"u64"`` (a number), ``"be16"``/``"be32"`` (stored in network byte
    order: it reads as an ordinary integer, like a header field), ``"data"``/``"data_end"``/
    ``"data_meta"`` (a u32 the verifier turns into a packet pointer), ``"array"`` (``count``
    u32s: ``cb``, the IPv6 addresses), ``"pointer"`` (a kernel object the verifier types,
    not readable here).
    """

    __slots__ = ("name", "offset", "size", "how", "count")

    def __init__(self, name: str, offset: int, size: int = 4, how: str = "u32",
                 count: int = 0) -> None:
        self.name = name
        self.offset = offset
        self.size = size
        self.how = how
        self.count = count


_C = CtxField

CONTEXT_STRUCTS: dict[str, dict[str, CtxField]] = {
    "xdp_md": {f.name: f for f in (
        _C("data", 0, how="data"), _C("data_end", 4, how="data_end"),
        _C("data_meta", 8, how="data_meta"), _C("ingress_ifindex", 12),
        _C("rx_queue_index", 16), _C("egress_ifindex", 20),
    )},
    "__sk_buff": {f.name: f for f in (
        _C("len", 0), _C("pkt_type", 4), _C("mark", 8), _C("queue_mapping", 12),
        _C("protocol", 16, how="be16"), _C("vlan_present", 20), _C("vlan_tci", 24),
        _C("vlan_proto", 28, how="be16"), _C("priority", 32), _C("ingress_ifindex", 36),
        _C("ifindex", 40), _C("tc_index", 44), _C("cb", 48, 20, how="array", count=5),
        _C("hash", 68), _C("tc_classid", 72), _C("data", 76, how="data"),
        _C("data_end", 80, how="data_end"), _C("napi_id", 84), _C("family", 88),
        _C("remote_ip4", 92, how="be32"), _C("local_ip4", 96, how="be32"),
        _C("remote_ip6", 100, 16, how="array", count=4),
        _C("local_ip6", 116, 16, how="array", count=4),
        _C("remote_port", 132, how="be16"), _C("local_port", 136),
        _C("data_meta", 140, how="data_meta"), _C("flow_keys", 144, 8, how="pointer"),
        _C("tstamp", 152, 8, how="u64"), _C("wire_len", 160), _C("gso_segs", 164),
        _C("sk", 168, 8, how="pointer"), _C("gso_size", 176), _C("hwtstamp", 184, 8, how="u64"),
    )},
    # user_port: a u32 holding a __be16 (read and written whole, 4 bytes); the addresses be32
    "bpf_sock_addr": {f.name: f for f in (
        _C("user_family", 0), _C("user_ip4", 4, how="be32"),
        _C("user_ip6", 8, 16, how="array", count=4), _C("user_port", 24, how="be16"),
        _C("family", 28), _C("type", 32), _C("protocol", 36), _C("msg_src_ip4", 40, how="be32"),
        _C("msg_src_ip6", 44, 16, how="array", count=4), _C("sk", 64, 8, how="pointer"),
    )},
    # src_port is in host byte order; dst_port a __be16 the kernel also reads as 4 bytes
    "bpf_sock": {f.name: f for f in (
        _C("bound_dev_if", 0), _C("family", 4), _C("type", 8), _C("protocol", 12), _C("mark", 16),
        _C("priority", 20), _C("src_ip4", 24, how="be32"),
        _C("src_ip6", 28, 16, how="array", count=4), _C("src_port", 44),
        _C("dst_port", 48, how="be16"), _C("dst_ip4", 52, how="be32"),
        _C("dst_ip6", 56, 16, how="array", count=4), _C("state", 72),
    )},
}


class Access:
    """What one program type may do with its context and packet.

    * ``struct``: its context struct (a key of :data:`CONTEXT_STRUCTS`);
    * ``hidden``: fields the kernel refuses to this program type (reads and writes);
    * ``writable``: fields it may assign;
    * ``packet``: ``"direct"`` (data/data_end, the packet readable and writable),
      ``"read"`` (data/data_end, read only), ``"copy"`` (no direct access:
      ``ctx.header()`` copies the bytes with ``bpf_skb_load_bytes``) or ``"none"`` (a
      socket program: no packet at all);
    * ``start``: what offset 0 of the packet is, for error hints and docs;
    * ``returns``: the values the verifier lets the program return, where the compiler checks a
      constant ``return`` (None: not checked), and ``meaning``: what they do, for the hint.
    """

    __slots__ = ("struct", "hidden", "writable", "packet", "start", "returns", "meaning")

    def __init__(self, struct: str, hidden: frozenset[str], writable: frozenset[str],
                 packet: str, start: str, returns: tuple[int, int] | None = None,
                 meaning: str = "") -> None:
        self.struct = struct
        self.hidden = hidden
        self.writable = writable
        self.packet = packet
        self.start = start
        self.returns = returns
        self.meaning = meaning


_SOCK_FIELDS = frozenset({"family", "remote_ip4", "local_ip4", "remote_ip6", "local_ip6",
                          "remote_port", "local_port"})  # sk_skb/sk_msg-style fields

# program kind (ProgramKind.decorator) -> its context rules
ACCESS: dict[str, Access] = {
    "xdp": Access("xdp_md", frozenset({"egress_ifindex"}), frozenset(), "direct",
                  "the Ethernet header"),
    "tc": Access("__sk_buff", _SOCK_FIELDS | {"flow_keys", "sk"},
                 frozenset({"mark", "tc_index", "priority", "tc_classid", "cb", "tstamp",
                            "queue_mapping"}), "direct", "the Ethernet header"),
    "cgroup_skb": Access("__sk_buff", frozenset({"tc_classid", "data_meta", "wire_len",
                                                  "flow_keys"}),
                         frozenset({"mark", "priority", "cb", "tstamp"}), "read",
                         "the IP header (no Ethernet header)"),
    "socket_filter": Access("__sk_buff", _SOCK_FIELDS | {"tc_classid", "data", "data_end",
                                                          "data_meta", "tstamp", "wire_len",
                                                          "hwtstamp", "flow_keys", "sk"},
                            frozenset({"cb"}), "copy",
                            "where the socket's data starts (test_run: the IP header)"),
}


_ALLOW = "1 lets the call go on, 0 refuses it (EPERM)"
# the verifier's return ranges (check_return_code) where they are not 0..1
_SOCK_ADDR_RETURNS = {
    "bind": ((0, 3), _ALLOW + "; 3 also lets it bind a port below 1024 without "
                     "CAP_NET_BIND_SERVICE"),
    **dict.fromkeys(("getpeername", "getsockname", "recvmsg"),
                    ((1, 1), "this hook can only change the address, not refuse the call: "
                             "return 1")),
}


def _sock_addr(hook: str) -> Access:
    """sock_addr_is_valid_access: the address of the hook's family (user_ip4 or user_ip6)
    and user_port are readable and writable; msg_src_* only in sendmsg of its family;
    the rest read only."""
    v = hook[-1]
    own, other = ("user_ip4", "user_ip6") if v == "4" else ("user_ip6", "user_ip4")
    src = "msg_src_ip" + v
    hidden = {other, "msg_src_ip4", "msg_src_ip6"}
    writable = {own, "user_port"}
    if hook.startswith("sendmsg"):
        hidden.discard(src)
        writable.add(src)
    returns, meaning = _SOCK_ADDR_RETURNS.get(hook[:-1], ((0, 1), _ALLOW))
    return Access("bpf_sock_addr", frozenset(hidden), frozenset(writable), "none", "", returns,
                  meaning)


def _sock(hook: str) -> Access:
    """sock_filter_is_valid_access: bound_dev_if, mark and priority read and written at
    creation and release only; the source address and port read only after a bind of
    their family; the rest read only."""
    own = {"bound_dev_if", "mark", "priority"}
    bound = {"src_ip4", "src_ip6", "src_port"}
    if hook.startswith("post_bind"):
        hidden = own | {"src_ip6" if hook.endswith("4") else "src_ip4"}
        return Access("bpf_sock", frozenset(hidden), frozenset(), "none", "", (0, 1), _ALLOW)
    return Access("bpf_sock", frozenset(bound), frozenset(own), "none", "", (0, 1), _ALLOW)


# the hooks of cgroup socket programs (bpfimport.kinds SOCK_ADDR_HOOKS, SOCK_HOOKS; the section
# cgroup/HOOK) -> their context rules, which the kernel sets per expected attach type
HOOK_ACCESS: dict[str, Access] = {
    **{f"{op}{v}": _sock_addr(f"{op}{v}") for op in ("bind", "connect", "getpeername",
                                                     "getsockname", "sendmsg", "recvmsg")
       for v in "46"},
    **{hook: _sock(hook) for hook in ("sock_create", "sock_release", "post_bind4", "post_bind6")},
}
# the decorators whose context rules are the hook's
HOOK_DECORATORS = ("cgroup_sock_addr", "cgroup_sock")

# A @section program's type, from the section's first component, for the networking sections
# (libbpf's names; runtime/program.py's table agrees, tests/compiler/test_packet_helpers.py).
SECTION_PROGRAM_TYPES: dict[str, str] = {
    "xdp": "xdp", "xdp.frags": "xdp", "tc": "sched_cls", "tcx": "sched_cls",
    "classifier": "sched_cls", "action": "sched_act", "socket": "socket_filter",
    "cgroup_skb": "cgroup_skb",
}
# The decorator whose context rules a program type has (sched_act programs have none here).
_TYPE_ACCESS = {"xdp": "xdp", "sched_cls": "tc", "socket_filter": "socket_filter",
                "cgroup_skb": "cgroup_skb"}
# @section("NAME/...") programs get the context rules of their type's decorator
SECTION_ACCESS: dict[str, str] = {head: _TYPE_ACCESS[ptype]
                                  for head, ptype in SECTION_PROGRAM_TYPES.items()
                                  if ptype in _TYPE_ACCESS}

__all__ = ["ACCESS", "CONTEXT_STRUCTS", "HOOK_ACCESS", "HOOK_DECORATORS", "SECTION_ACCESS",
           "SECTION_PROGRAM_TYPES", "Access", "CtxField"]
