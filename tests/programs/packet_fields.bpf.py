"""Every field of IpHdr and TcpHdr read and written (tests/packets/test_fields_kernel.py)."""

from bpfimport.lang import (
    XDP_ABORTED,
    XDP_PASS,
    ArrayMap,
    IpHdr,
    PacketContext,
    TcpHdr,
    u32,
    u64,
    xdp,
)

# field i (in the order of FIELDS in the test) -> its value; a mask of the fields to write

values = ArrayMap(key=u32, value=u64, max_entries=29)
write_mask = ArrayMap(key=u32, value=u64, max_entries=1)


@xdp
def read_all(ctx: PacketContext) -> int:
    ip = ctx.header(IpHdr, 14)
    tcp = ctx.header(TcpHdr, 34)
    if ip is None or tcp is None:
        return XDP_ABORTED
    values[0] = ip.version
    values[1] = ip.ihl
    values[2] = ip.tos
    values[3] = ip.tot_len
    values[4] = ip.id
    values[5] = ip.frag_off
    values[6] = ip.ttl
    values[7] = ip.protocol
    values[8] = ip.check
    values[9] = ip.saddr
    values[10] = ip.daddr
    values[11] = tcp.source
    values[12] = tcp.dest
    values[13] = tcp.seq
    values[14] = tcp.ack_seq
    values[15] = tcp.doff
    values[16] = tcp.res1
    values[17] = tcp.ae
    values[18] = tcp.cwr
    values[19] = tcp.ece
    values[20] = tcp.urg
    values[21] = tcp.ack
    values[22] = tcp.psh
    values[23] = tcp.rst
    values[24] = tcp.syn
    values[25] = tcp.fin
    values[26] = tcp.window
    values[27] = tcp.check
    values[28] = tcp.urg_ptr
    return XDP_PASS


@xdp
def write_some(ctx: PacketContext) -> int:
    ip = ctx.header(IpHdr, 14)
    tcp = ctx.header(TcpHdr, 34)
    if ip is None or tcp is None:
        return XDP_ABORTED
    mask = write_mask[0]
    if mask & 1:
        ip.version = values[0]
    if mask & 2:
        ip.ihl = values[1]
    if mask & 4:
        ip.tos = values[2]
    if mask & 8:
        ip.tot_len = values[3]
    if mask & 16:
        ip.id = values[4]
    if mask & 32:
        ip.frag_off = values[5]
    if mask & 64:
        ip.ttl = values[6]
    if mask & 128:
        ip.protocol = values[7]
    if mask & 256:
        ip.check = values[8]
    if mask & 512:
        ip.saddr = values[9]
    if mask & 1024:
        ip.daddr = values[10]
    if mask & 2048:
        tcp.source = values[11]
    if mask & 4096:
        tcp.dest = values[12]
    if mask & 8192:
        tcp.seq = values[13]
    if mask & 16384:
        tcp.ack_seq = values[14]
    if mask & 32768:
        tcp.doff = values[15]
    if mask & 65536:
        tcp.res1 = values[16]
    if mask & 131072:
        tcp.ae = values[17]
    if mask & 262144:
        tcp.cwr = values[18]
    if mask & 524288:
        tcp.ece = values[19]
    if mask & 1048576:
        tcp.urg = values[20]
    if mask & 2097152:
        tcp.ack = values[21]
    if mask & 4194304:
        tcp.psh = values[22]
    if mask & 8388608:
        tcp.rst = values[23]
    if mask & 16777216:
        tcp.syn = values[24]
    if mask & 33554432:
        tcp.fin = values[25]
    if mask & 67108864:
        tcp.window = values[26]
    if mask & 134217728:
        tcp.check = values[27]
    if mask & 268435456:
        tcp.urg_ptr = values[28]
    return XDP_PASS



@xdp
def write_some_at_once(ctx: PacketContext) -> int:
    # as write_some, each header tested right after it is taken (one pointer comparison each)
    ip = ctx.header(IpHdr, 14)
    if ip is None:
        return XDP_ABORTED
    tcp = ctx.header(TcpHdr, 34)
    if tcp is None:
        return XDP_ABORTED
    mask = write_mask[0]
    if mask & 1:
        ip.version = values[0]
    if mask & 2:
        ip.ihl = values[1]
    if mask & 4:
        ip.tos = values[2]
    if mask & 8:
        ip.tot_len = values[3]
    if mask & 16:
        ip.id = values[4]
    if mask & 32:
        ip.frag_off = values[5]
    if mask & 64:
        ip.ttl = values[6]
    if mask & 128:
        ip.protocol = values[7]
    if mask & 256:
        ip.check = values[8]
    if mask & 512:
        ip.saddr = values[9]
    if mask & 1024:
        ip.daddr = values[10]
    if mask & 2048:
        tcp.source = values[11]
    if mask & 4096:
        tcp.dest = values[12]
    if mask & 8192:
        tcp.seq = values[13]
    if mask & 16384:
        tcp.ack_seq = values[14]
    if mask & 32768:
        tcp.doff = values[15]
    if mask & 65536:
        tcp.res1 = values[16]
    if mask & 131072:
        tcp.ae = values[17]
    if mask & 262144:
        tcp.cwr = values[18]
    if mask & 524288:
        tcp.ece = values[19]
    if mask & 1048576:
        tcp.urg = values[20]
    if mask & 2097152:
        tcp.ack = values[21]
    if mask & 4194304:
        tcp.psh = values[22]
    if mask & 8388608:
        tcp.rst = values[23]
    if mask & 16777216:
        tcp.syn = values[24]
    if mask & 33554432:
        tcp.fin = values[25]
    if mask & 67108864:
        tcp.window = values[26]
    if mask & 134217728:
        tcp.check = values[27]
    if mask & 268435456:
        tcp.urg_ptr = values[28]
    return XDP_PASS


LICENSE = "GPL"
