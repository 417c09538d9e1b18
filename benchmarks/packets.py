#!/usr/bin/env python3
"""Packet programs: bpfimport against clang -O2 on C equivalents (benchmarks/c/NAME.bpf.c).

    sudo python benchmarks/packets.py                # Markdown table on stdout
    sudo python benchmarks/packets.py --repeat 1000000 --runs 7 --json out.json

Rows, per packet example (examples/xdp_protocols, xdp_ratelimit, tc_bytes, dns_only):
  A. instructions in the object (section size / 8, as bench.py row 4)   target <= 1.1x
  B. instructions the kernel runs (xlated, after the verifier's rewrites) target <= 1.1x
  C. ns per packet: BPF_PROG_TEST_RUN with repeat=N on one packet, the
     kernel's own average, median of --runs alternating runs            target <= 1.1x
     (the target is the issue's for the XDP filter, xdp_protocols); whole ns,
     as the kernel reports it

Both objects are loaded the same way (libbpf's bpf_object__open_mem + load, through
bpfimport's ctypes bindings), their maps filled the same way, and run on the same bytes,
so the only difference is the code each compiler emitted. Loading needs root; clang
comes from bench.py's search (LLVM >= 21 first, the same LLVM bpfimport uses).
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import os
import platform
import statistics
import struct
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402  (benchmarks/bench.py: peers, clang command, ELF instruction count)

EXAMPLES = ["xdp_protocols", "xdp_ratelimit", "tc_bytes", "dns_only"]
DROP_PORT = 9999  # in xdp_protocols' drop list, for both objects


def udp_frame(dport: int, payload: bytes = b"x" * 32, src: str = "10.1.0.1",
              dst: str = "10.1.0.2") -> bytes:
    """An Ethernet + IPv4 + UDP frame, built by hand (no scapy needed for a benchmark)."""
    import socket

    udp = struct.pack("!HHHH", 40000, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return eth + ip + udp


# what each example's test packet is, and what the program must answer (both objects)
PACKETS: dict[str, tuple[bytes, int]] = {
    "xdp_protocols": (udp_frame(53), 2),  # a UDP port not in the drop list: XDP_PASS
    "xdp_ratelimit": (udp_frame(53), -1),  # passes, then drops past LIMIT: either verdict
    "tc_bytes": (udp_frame(53), 0),  # TC_ACT_OK
    # a socket filter's test_run starts the packet 14 bytes in (after eth_type_trans); the
    # example reads from the Ethernet header on (a packet socket), so 14 bytes go in front
    "dns_only": (b"\0" * 12 + b"\x08\x00" + udp_frame(53), -2),  # kept: the length (> 0)
}


class BpfProgInfo(ctypes.Structure):
    """``struct bpf_prog_info`` up to ``xlated_prog_len`` (what the count needs)."""

    _fields_ = [("type", ctypes.c_uint32), ("id", ctypes.c_uint32), ("tag", ctypes.c_uint8 * 8),
                ("jited_prog_len", ctypes.c_uint32), ("xlated_prog_len", ctypes.c_uint32)]


@dataclass
class Loaded:
    """One object loaded by libbpf: its programs' fds and its maps' fds, by name."""

    obj: int
    progs: dict[str, int] = field(default_factory=dict)
    maps: dict[str, int] = field(default_factory=dict)

    def close(self) -> None:
        from bpfimport.runtime import libbpf as L

        L.lib().bpf_object__close(self.obj)


def load(data: bytes, name: str) -> Loaded:
    from bpfimport.runtime import libbpf as L

    lib = L.lib()
    opts = L.ObjectOpenOpts(sz=ctypes.sizeof(L.ObjectOpenOpts), object_name=name.encode())
    buf = ctypes.create_string_buffer(data, len(data))
    obj = lib.bpf_object__open_mem(buf, len(data), ctypes.byref(opts))
    if not obj:
        raise bench.NA(f"libbpf could not open {name}")
    rc = lib.bpf_object__load(obj)
    if rc < 0:
        lib.bpf_object__close(obj)
        raise bench.NA(f"libbpf could not load {name}: {os.strerror(-rc)}")
    loaded = Loaded(obj)
    prog = lib.bpf_object__next_program(obj, None)
    while prog:
        loaded.progs[lib.bpf_program__name(prog).decode()] = lib.bpf_program__fd(prog)
        prog = lib.bpf_object__next_program(obj, prog)
    m = lib.bpf_object__next_map(obj, None)
    while m:
        loaded.maps[lib.bpf_map__name(m).decode()] = lib.bpf_map__fd(m)
        m = lib.bpf_object__next_map(obj, m)
    return loaded


def xlated_insns(prog_fd: int) -> int:
    from bpfimport.runtime import libbpf as L

    fn = L.lib().bpf_obj_get_info_by_fd
    fn.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32)]
    info = BpfProgInfo()
    size = ctypes.c_uint32(ctypes.sizeof(info))
    rc = fn(prog_fd, ctypes.byref(info), ctypes.byref(size))
    if rc < 0:
        raise bench.NA(f"bpf_obj_get_info_by_fd: {os.strerror(-rc)}")
    return info.xlated_prog_len // 8


def prepare(example: str, loaded: Loaded) -> None:
    """The same map contents for both objects."""
    from bpfimport.runtime import libbpf as L

    if example == "xdp_protocols":
        key, one = ctypes.c_uint16(DROP_PORT), ctypes.c_uint64(0)
        rc = L.lib().bpf_map_update_elem(loaded.maps["drop_ports"], ctypes.byref(key),
                                         ctypes.byref(one), 0)
        if rc < 0:
            raise bench.NA(f"filling drop_ports: {os.strerror(-rc)}")


def test_run(prog_fd: int, packet: bytes, repeat: int) -> tuple[int, int]:
    """(retval, the kernel's average ns per run) of BPF_PROG_TEST_RUN.

    The kernel's average is whole nanoseconds (it divides and truncates). The syscall's
    wall-clock time over ``repeat`` is not used: on a shared machine it swings with the
    other tasks the loop makes way for, and it adds the loop's own cost per run."""
    from bpfimport.runtime import libbpf as L

    din = ctypes.create_string_buffer(packet, len(packet))
    dout = ctypes.create_string_buffer(len(packet) + 256)
    opts = L.TestRunOpts(sz=ctypes.sizeof(L.TestRunOpts), repeat=repeat, data_size_in=len(packet),
                         data_size_out=len(dout))
    opts.data_in = ctypes.cast(din, ctypes.c_void_p)
    opts.data_out = ctypes.cast(dout, ctypes.c_void_p)
    rc = L.lib().bpf_prog_test_run_opts(prog_fd, ctypes.byref(opts))
    if rc < 0:
        raise bench.NA(f"test_run: {os.strerror(-rc)}")
    retval = opts.retval - (1 << 32) if opts.retval >= 1 << 31 else opts.retval
    return retval, opts.duration


def check_verdict(example: str, who: str, retval: int) -> None:
    want = PACKETS[example][1]
    ok = retval > 0 if want == -2 else (retval in (1, 2) if want == -1 else retval == want)
    if not ok:
        raise bench.NA(f"{who}'s {example} answered {retval}, expected {want}")


@dataclass
class Result:
    example: str
    insns: tuple[float | None, float | None] = (None, None)
    xlated: tuple[float | None, float | None] = (None, None)
    ns: tuple[float | None, float | None] = (None, None)
    notes: list[str] = field(default_factory=list)


def measure(example: str, peers: bench.Peers, tmp: Path, repeat: int, runs: int) -> Result:
    res = Result(example)
    ex = bench.Example(example, bench.EXAMPLES / f"{example}.bpf.py", False)
    objects: dict[str, bytes] = {}
    for who, make in (("ours", lambda: bench.our_object(peers, ex, tmp)),
                      ("clang", lambda: bench.clang_object(peers, ex, tmp))):
        try:
            objects[who] = make()
        except Exception as e:  # noqa: BLE001 - a cell, never a crash
            res.notes.append(f"{who}: {bench.describe(e)}")
    if len(objects) < 2:
        return res
    res.insns = tuple(float(sum(bench.bpf_instructions(objects[w]).values()))  # type: ignore[assignment]
                      for w in ("ours", "clang"))
    if os.geteuid() != 0:
        res.notes.append("rows B and C need root (they load the programs)")
        return res
    loaded: dict[str, Loaded] = {}
    try:
        for who in ("ours", "clang"):
            loaded[who] = load(objects[who], f"{example[:10]}_{who[0]}")
            prepare(example, loaded[who])
        prog = {who: next(iter(loaded[who].progs.values())) for who in loaded}
        res.xlated = (float(xlated_insns(prog["ours"])), float(xlated_insns(prog["clang"])))
        packet = PACKETS[example][0]
        for who in ("ours", "clang"):
            check_verdict(example, who, test_run(prog[who], packet, 1)[0])
        times: dict[str, list[int]] = {"ours": [], "clang": []}
        test_run(prog["ours"], packet, repeat // 10)  # warm-up
        test_run(prog["clang"], packet, repeat // 10)
        for i in range(runs):  # alternate, so both see the same machine load
            order = ("ours", "clang") if i % 2 == 0 else ("clang", "ours")
            for who in order:
                times[who].append(test_run(prog[who], packet, repeat)[1])
        res.ns = (statistics.median(times["ours"]), statistics.median(times["clang"]))
    except bench.NA as e:
        res.notes.append(str(e))
    finally:
        for lo in loaded.values():
            lo.close()
    return res


def ratio(pair: tuple[float | None, float | None]) -> str:
    ours, peer = pair
    if ours is None or not peer:
        return "n/a"
    r = ours / peer
    return f"{r:.2f}x {'ok' if r <= 1.1 else 'OVER'}"


def cell(v: float | None, unit: str = "") -> str:
    return "n/a" if v is None else (f"{v:.0f}{unit}" if v >= 10 else f"{v:.1f}{unit}")


def table(results: list[Result], peers: bench.Peers, repeat: int, runs: int) -> str:
    lines = [
        f"Machine: {platform.node()}, {os.cpu_count()} CPUs, Linux {platform.release()}, "
        f"{datetime.date.today().isoformat()}; clang: {peers.clang_version or peers.clang_note}, "
        f"-O2 -mcpu={peers.cpu}; test_run repeat={repeat:,}, median of {runs}",
        "",
        "| example | insns ours | insns clang | ratio | xlated ours | xlated clang | ratio "
        "| ns/pkt ours | ns/pkt clang | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.example} | {cell(r.insns[0])} | {cell(r.insns[1])} | {ratio(r.insns)} "
            f"| {cell(r.xlated[0])} | {cell(r.xlated[1])} | {ratio(r.xlated)} "
            f"| {cell(r.ns[0])} | {cell(r.ns[1])} | {ratio(r.ns)} |")
    notes = [f"- {r.example}: {n}" for r in results for n in r.notes]
    return "\n".join(lines + ([""] + notes if notes else []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--repeat", type=int, default=1_000_000, help="test_run repeat (default 1,000,000)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per object (default 7)")
    parser.add_argument("--examples", default=",".join(EXAMPLES), help="comma-separated names")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    peers = bench.find_peers(sys.executable)
    measure_one: Callable[[str, Path], Result] = lambda name, tmp: measure(  # noqa: E731
        name, peers, tmp, args.repeat, args.runs)
    with tempfile.TemporaryDirectory(prefix="bpfimport-packets-") as d:
        results = [measure_one(name, Path(d)) for name in args.examples.split(",") if name]
    print(table(results, peers, args.repeat, args.runs))
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
