"""cgroup socket programs for the live tests (tests/runtime/test_sockaddr_kernel.py).

``connect4`` sees every IPv4 connect() of a process in the cgroup: it counts them per
destination port, refuses the ports in ``denied`` and sends the ports in ``rewrites`` to
another port of the same address. ``udp_create`` refuses new UDP sockets once ``deny_udp``
is set.
"""

from bpfimport.lang import (
    IPPROTO_UDP,
    ArrayMap,
    HashMap,
    SockAddrContext,
    SockContext,
    cgroup_sock,
    cgroup_sock_addr,
    ip4,
    u8,
    u16,
    u32,
    u64,
)

connects = HashMap(key=u16, value=u64, max_entries=64)  # destination port -> connects
denied = HashMap(key=u16, value=u8, max_entries=8)  # ports connect() refuses (EPERM)
rewrites = HashMap(key=u16, value=u16, max_entries=8)  # port -> the port connect() goes to
deny_udp = ArrayMap(key=u32, value=u32, max_entries=1)


@cgroup_sock_addr("connect4")
def connect4(ctx: SockAddrContext) -> int:
    port = ctx.user_port
    connects[port] += 1
    if port in denied:
        return 0
    to = rewrites.lookup(port)
    if to is not None and ctx.user_ip4 == ip4("127.0.0.1"):
        ctx.user_port = to
    return 1


@cgroup_sock("sock_create")
def udp_create(ctx: SockContext) -> int:
    if ctx.protocol == IPPROTO_UDP and deny_udp[0] != 0:
        return 0
    return 1


LICENSE = "GPL"
