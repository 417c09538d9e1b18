"""Count the packets and bytes an interface sends, per IPv4 destination (the app: tc_bytes.py)."""

from bpfimport.lang import (
    ETH_HLEN,
    ETH_P_IP,
    TC_ACT_OK,
    EthHdr,
    HashMap,
    IpHdr,
    struct,
    tc,
    u32,
    u64,
)


@struct
class Traffic:
    packets: u64 = 0
    bytes: u64 = 0


sent = HashMap(key=u32, value=Traffic, max_entries=4096)  # by destination address


@tc
def count_egress(ctx) -> int:
    eth = ctx.header(EthHdr, 0)
    if eth is None or eth.h_proto != ETH_P_IP:
        return TC_ACT_OK
    ip = ctx.header(IpHdr, ETH_HLEN)
    if ip is None:
        return TC_ACT_OK
    t = sent.lookup(ip.daddr)
    if t is None:
        sent[ip.daddr] = Traffic(packets=1, bytes=ctx.len)
    else:
        t.packets += 1
        t.bytes += ctx.len
    return TC_ACT_OK


LICENSE = "GPL"
