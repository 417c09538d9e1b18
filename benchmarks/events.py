#!/usr/bin/env python3
"""Event streams and batch map writes: bpfimport vs bcc (issue 9, item 5).

    sudo python benchmarks/events.py                      # every row, a Markdown table
    sudo python benchmarks/events.py --rows ring,perf --runs 5 --seconds 3
    sudo python benchmarks/events.py --peer-python /usr/bin/python3 --json out.json

Rows (benchmarks/README.md, "Event streams"):
  ring     events/s decoded into a Python callback from a ring buffer (1 MiB), under a flood
  perf     the same from a perf buffer (64 pages per CPU), each side's default wake-ups
           (bcc: at each sample; bpfimport: every 4 KiB of samples, wakeup_bytes)
  perf-w1  the same, woken at each sample on both sides (wakeup_events=1)
  perf-w64 the same, woken every 64 samples (wakeup_events=64 on both sides)
  ring-drain, perf-drain  events/s emptying a full buffer with the producer stopped
  keepup   rounds of a paced producer: rounds in which a consumer dropped events
  update   m.update(dict) of 100k u32 -> u64 entries into a hash map

The event is one 32-byte struct sent by a tracepoint on sys_enter_getppid, for the
getppid() calls of one producer process (a Python `os.getppid()` loop; its pid is
written into a map first, so other processes' calls are not counted). Each side runs
in a fresh interpreter of its own: bpfimport under this interpreter, bcc under
`--peer-python` (Debian's python3-bpfcc runs under the system Python 3.11). The
two sides alternate run by run; the table gives the median and each run.

bcc needs kernel headers: it looks in /lib/modules/$(uname -r)/build, or in
$BCC_KERNEL_SOURCE, which this script sets to ~/.cache/bpfimport-peers/linux-headers
when that exists (benchmarks/setup_peers.sh --bcc merges Debian's split
linux-headers packages there).

Every cell that cannot be measured says "n/a (reason)" instead of failing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HEADERS = Path.home() / ".cache" / "bpfimport-peers" / "linux-headers"
RING_BYTES = 1 << 20
PERF_PAGES = 64
N_UPDATE = 100_000

# The producer: getppid() as fast as Python calls it ("flood"), or paced ("paced N RATE"):
# bursts of 1000 calls, each burst started on a schedule of RATE calls per second.
PRODUCER = r"""
import os, sys, time
sys.stdin.readline()  # wait until the consumer has written our pid into its map
g = os.getppid
if sys.argv[1] == "flood":
    while True:
        g()
n, rate = int(sys.argv[2]), float(sys.argv[3])
start = time.perf_counter()
for burst in range(n // 1000):
    for _ in range(1000):
        g()
    ahead = start + (burst + 1) * 1000 / rate - time.perf_counter()
    if ahead > 0:
        time.sleep(ahead)
"""

BPFIMPORT_SOURCE = f"""
from bpfimport.lang import *


@struct
class Event:
    pid: u32
    seq: u32
    ts: u64
    a: u64
    b: u64


ring = RingBuffer(max_entries={RING_BYTES})
perf = PerfEventArray()
target = ArrayMap(key=u32, value=u32, max_entries=1)
drops = ArrayMap(key=u32, value=u64, max_entries=1)
table = HashMap(key=u32, value=u64, max_entries={N_UPDATE})


@tracepoint("syscalls/sys_enter_getppid")
def to_ring(ctx) -> int:
    if tgid() != target[0]:
        return 0
    if ring.output(Event(pid=tgid(), seq=1, ts=ktime(), a=2, b=3)) != 0:
        drops[0] += 1
    return 0


@tracepoint("syscalls/sys_enter_getppid")
def to_perf(ctx) -> int:
    if tgid() != target[0]:
        return 0
    if perf.output(Event(pid=tgid(), seq=1, ts=ktime(), a=2, b=3)) != 0:
        drops[0] += 1
    return 0
"""

BCC_SOURCE = f"""
struct event {{ u32 pid; u32 seq; u64 ts; u64 a; u64 b; }};
BPF_RINGBUF_OUTPUT(ring, {RING_BYTES // 4096});
BPF_PERF_OUTPUT(perf);
BPF_ARRAY(target, u32, 1);
BPF_ARRAY(drops, u64, 1);
BPF_HASH(table, u32, u64, {N_UPDATE});

static inline int send(void *ctx, int to_ring) {{
    u32 zero = 0;
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    u32 *t = target.lookup(&zero);
    if (!t || *t != pid)
        return 0;
    struct event e = {{.pid = pid, .seq = 1, .ts = bpf_ktime_get_ns(), .a = 2, .b = 3}};
    int rc = to_ring ? ring.ringbuf_output(&e, sizeof(e), 0) : perf.perf_submit(ctx, &e, sizeof(e));
    if (rc) {{
        u64 *d = drops.lookup(&zero);
        if (d)
            __sync_fetch_and_add(d, 1);
    }}
    return 0;
}}

TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {{
    return send(args, TO_RING);
}}
"""


# ---------------------------------------------------------------- workers (one per process)


def _producer(mode: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", PRODUCER, mode, *args], stdin=subprocess.PIPE,
                            text=True)


def _go(child: subprocess.Popen) -> None:
    assert child.stdin is not None
    child.stdin.write("go\n")
    child.stdin.flush()


class Side:
    """What a worker needs of one implementation: load, stream, read the drop counter."""

    def setup(self, stream: str, pid: int, wakeup: int = 1) -> None: ...
    def poll(self, timeout_ms: int) -> None: ...
    def consume(self) -> None: ...
    def drops(self) -> int: ...
    def lost(self) -> int: ...
    def update(self, data: dict[int, int]) -> float: ...


class Ours(Side):
    def __init__(self, tmp: str) -> None:
        Path(tmp, "evbench.bpf.py").write_text(BPFIMPORT_SOURCE)
        sys.path.insert(0, tmp)
        import importlib

        import bpfimport  # noqa: F401 - the import hook

        self.mod: Any = importlib.import_module("evbench_bpf")
        self.count = 0
        self.check = 0

    def setup(self, stream: str, pid: int, wakeup: int = 1) -> None:
        mod = self.mod
        if wakeup:  # 0: bpfimport's default (by bytes); before load: the buffer is made at load
            mod.perf.wakeup_events = wakeup
        mod.target[0] = pid
        self.stream = mod.ring if stream == "ring" else mod.perf
        self.link = (mod.to_ring if stream == "ring" else mod.to_perf).attach()

        def callback(e: object) -> None:
            self.count += 1
            self.check += e.pid  # type: ignore[attr-defined]

        self.callback = callback

    def poll(self, timeout_ms: int) -> None:
        self.stream.poll(self.callback, timeout_ms=timeout_ms)

    def consume(self) -> None:
        self.stream.consume(self.callback)

    def drops(self) -> int:
        return self.mod.drops[0]

    def lost(self) -> int:
        return self.stream.lost

    def update(self, data: dict[int, int]) -> float:
        table = self.mod.table
        table.clear()
        start = time.perf_counter()
        table.update(data)
        took = time.perf_counter() - start
        assert len(table) == len(data) and table[N_UPDATE - 1] == data[N_UPDATE - 1]
        return took


class Bcc(Side):
    def __init__(self, stream: str) -> None:
        if HEADERS.is_dir() and "BCC_KERNEL_SOURCE" not in os.environ:
            os.environ["BCC_KERNEL_SOURCE"] = str(HEADERS)
        from bcc import BPF

        self.b = BPF(text=BCC_SOURCE.replace("TO_RING", "1" if stream == "ring" else "0"))
        self.count = 0
        self.check = 0
        self._lost = 0
        self.deadline = float("inf")

    def setup(self, stream: str, pid: int, wakeup: int = 1) -> None:
        import ctypes as ct

        b = self.b
        b["target"][ct.c_int(0)] = ct.c_uint32(pid)
        self.ring = stream == "ring"
        table = b["ring" if self.ring else "perf"]

        if self.ring:
            def callback(ctx: object, data: object, size: int) -> int:
                e = table.event(data)
                self.count += 1
                self.check += e.pid
                # bcc's ring_buffer_poll runs libbpf's until the ring is empty, which a
                # flood never lets happen: a negative return stops it (every 1024 events)
                if not self.count & 1023 and time.monotonic() > self.deadline:
                    return -1
                return 0

            table.open_ring_buffer(callback)
        else:
            def callback(cpu: int, data: object, size: int) -> None:  # type: ignore[misc]
                e = table.event(data)
                self.count += 1
                self.check += e.pid

            def lost(count: int) -> None:
                self._lost += count

            table.open_perf_buffer(callback, page_cnt=PERF_PAGES, lost_cb=lost,
                                   wakeup_events=wakeup or 1)  # 0: bcc's default

    def poll(self, timeout_ms: int) -> None:
        self.deadline = time.monotonic() + timeout_ms / 1000
        if self.ring:
            self.b.ring_buffer_poll(timeout_ms)
        else:
            self.b.perf_buffer_poll(timeout_ms)

    def consume(self) -> None:
        self.deadline = float("inf")
        if self.ring:
            self.b.ring_buffer_consume()
        else:
            self.b.perf_buffer_consume()

    def drops(self) -> int:
        import ctypes as ct

        return self.b["drops"][ct.c_int(0)].value

    def lost(self) -> int:
        return self._lost

    def update(self, data: dict[int, int]) -> float:
        table = self.b["table"]
        table.clear()
        start = time.perf_counter()
        n = len(data)
        table.items_update_batch((table.Key * n)(*data.keys()), (table.Leaf * n)(*data.values()))
        took = time.perf_counter() - start
        assert len(table) == n
        return took


def worker(args: argparse.Namespace) -> dict:
    """One measurement in this process; its result as a dict (printed as JSON)."""
    with tempfile.TemporaryDirectory() as tmp:
        side: Side = Ours(tmp) if args.side == "bpfimport" else Bcc(args.stream)
        if args.row == "update":
            data = {k: k * 3 for k in range(N_UPDATE)}
            return {"seconds": side.update(data)}
        if args.row == "keepup":
            return _keepup(side, args)
        if args.row == "drain":
            return _drain(side, args)
        return _flood(side, args)


def _flood(side: Side, args: argparse.Namespace) -> dict:
    child = _producer("flood")
    try:
        side.setup(args.stream, child.pid, args.wakeup)
        _go(child)
        deadline = time.monotonic() + 30
        while not side.count:  # the flood flows
            if time.monotonic() > deadline:
                raise SystemExit("no event within 30 s")
            side.poll(100)
        warm = time.monotonic() + 0.3
        while time.monotonic() < warm:
            side.poll(100)
        n0, d0, l0 = side.count, side.drops(), side.lost()
        start = time.monotonic()
        end = start + args.seconds
        while time.monotonic() < end:
            side.poll(100)
        took = time.monotonic() - start
        got = side.count - n0
        return {"rate": got / took, "events": got, "seconds": took,
                "dropped": side.drops() - d0, "lost": side.lost() - l0}
    finally:
        child.kill()
        child.wait()


def _drain(side: Side, args: argparse.Namespace) -> dict:
    """Fill the buffer (the producer runs), stop the producer, time the consumer emptying it."""
    child = _producer("flood")
    drained = 0
    took = 0.0
    try:
        side.setup(args.stream, child.pid)
        _go(child)
        for _ in range(args.cycles):
            os.kill(child.pid, signal.SIGCONT)
            time.sleep(0.1)
            os.kill(child.pid, signal.SIGSTOP)
            os.waitpid(child.pid, os.WUNTRACED)  # stopped: its last event is in the buffer
            before = side.count
            start = time.perf_counter()
            while True:
                n = side.count
                side.consume()
                if side.count == n:
                    break
            took += time.perf_counter() - start
            drained += side.count - before
    finally:
        child.kill()
        child.wait()
    return {"rate": drained / took, "events": drained, "seconds": took, "dropped": 0, "lost": 0}


def _keepup(side: Side, args: argparse.Namespace) -> dict:
    rounds = []
    for i in range(args.rounds):
        child = _producer("paced", str(args.events), str(args.rate))
        try:
            if i == 0:
                side.setup(args.stream, child.pid)
            else:
                _set_target(side, child.pid)
            n0, d0, l0 = side.count, side.drops(), side.lost()
            _go(child)
            while child.poll() is None:
                side.poll(100)
            quiet = 0
            while quiet < 3:  # drained: three empty polls in a row
                before = side.count
                side.poll(20)
                quiet = quiet + 1 if side.count == before else 0
        finally:
            child.kill()
            child.wait()
        got = side.count - n0
        rounds.append({"events": got, "missing": args.events - got,
                       "dropped": side.drops() - d0, "lost": side.lost() - l0})
    return {"rounds": rounds}


def _set_target(side: Side, pid: int) -> None:
    if isinstance(side, Ours):
        side.mod.target[0] = pid
    else:
        import ctypes as ct

        side.b["target"][ct.c_int(0)] = ct.c_uint32(pid)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- the driver


# a row's wake-up setting for both sides; 0: each side's default
WAKEUPS = {"perf": 0, "perf-w1": 1, "perf-w64": 64}


def run_worker(python: str, side: str, row: str, stream: str, args: argparse.Namespace,
               wakeup: int = 1) -> dict:
    cmd = [python, str(Path(__file__).resolve()), "--worker", "--side", side, "--row", row,
           "--stream", stream, "--wakeup", str(wakeup), "--seconds", str(args.seconds), "--rounds", str(args.rounds), "--cycles", str(args.cycles),
           "--events", str(args.events), "--rate", str(args.rate)]
    env = dict(os.environ)
    if side == "bpfimport":
        env["PYTHONPATH"] = str(args.tree) + os.pathsep + env.get("PYTHONPATH", "")
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"error": str(e)}
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]
        return {"error": tail[:200]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _machine(peer_python: str) -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    peer = subprocess.run([peer_python, "-c", "import sys, bcc; print(sys.version.split()[0], "
                           "getattr(bcc, '__version__', '?'))"], capture_output=True, text=True)
    bcc = f"bcc {peer.stdout.split()[1]} under Python {peer.stdout.split()[0]}" \
        if peer.returncode == 0 else "bcc: n/a"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"date {now}, kernel {platform.release()}, cpu {cpu} ({os.cpu_count()} cores), "
            f"python {platform.python_version()} ({sys.executable}), {bcc}")


def _fmt_rate(v: float) -> str:
    return f"{v / 1000:.0f} k/s"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="ring,ring-drain,perf,perf-w1,perf-w64,perf-drain,keepup,update")
    ap.add_argument("--runs", type=int, default=5, help="runs per side and row (alternating)")
    ap.add_argument("--seconds", type=float, default=2.0, help="measuring window of a flood run")
    ap.add_argument("--cycles", type=int, default=20, help="fill-and-drain cycles per drain run")
    ap.add_argument("--rounds", type=int, default=10, help="keep-up rounds per run")
    ap.add_argument("--events", type=int, default=100_000, help="events per keep-up round")
    ap.add_argument("--rate", type=float, default=250_000, help="keep-up producer rate (calls/s)")
    ap.add_argument("--peer-python", default="/usr/bin/python3", help="the Python that imports bcc")
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--tree", type=Path, default=ROOT,
                    help="the bpfimport source tree to measure (default: this one); an "
                         "export of an older commit gives the 'before' of a before/after table")
    ap.add_argument("--sides", default="bpfimport,bcc", help="which sides to run")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--side", help=argparse.SUPPRESS)
    ap.add_argument("--row", help=argparse.SUPPRESS)
    ap.add_argument("--stream", default="ring", help=argparse.SUPPRESS)
    ap.add_argument("--wakeup", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return 0

    rows = args.rows.split(",")
    pythons = {"bpfimport": sys.executable, "bcc": args.peer_python}
    plan = []
    for row in rows:
        if row in ("ring", "perf"):
            plan.append((row, "flood", row))
        elif row in ("ring-drain", "perf-drain"):
            plan.append((row, "drain", row.split("-")[0]))
        elif row in ("perf-w1", "perf-w64"):
            plan.append((row, "flood", "perf"))
        elif row == "keepup":
            plan += [("keepup", "keepup", "ring"), ("keepup", "keepup", "perf")]
        elif row == "update":
            plan.append(("update", "update", "ring"))
        else:
            ap.error(f"unknown row {row!r}")
    results: dict[str, dict[str, list[dict]]] = {}
    for label, kind, stream in plan:
        key = f"{label}:{stream}"
        results[key] = {side: [] for side in args.sides.split(",")}
        for _ in range(args.runs):
            for side in args.sides.split(","):
                r = run_worker(pythons[side], side, kind, stream, args,
                               WAKEUPS.get(label, 0))
                results[key][side].append(r)
                print(f"{key} {side}: {r}", file=sys.stderr)

    tree = "" if args.tree == ROOT else f", bpfimport from {args.tree}"
    print(f"Machine: {_machine(args.peer_python)}{tree}\n")
    print("| row | bpfimport | bcc | ratio | target |")
    print("|---|---:|---:|---:|---|")
    for key, sides in results.items():
        print(_table_row(key, sides, args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


def _cell(runs: list[dict], field: str) -> tuple[float | None, str]:
    errors = [r["error"] for r in runs if "error" in r]
    vals = [r[field] for r in runs if field in r]
    if not vals:
        return None, f"n/a ({errors[0] if errors else 'no runs'})"
    return statistics.median(vals), ""


def _table_row(key: str, sides: dict[str, list[dict]], args: argparse.Namespace) -> str:
    row, stream = key.split(":")
    ours, theirs = sides.get("bpfimport", []), sides.get("bcc", [])
    if row in ("ring", "perf", "ring-drain", "perf-drain", "perf-w1", "perf-w64"):
        a, ea = _cell(ours, "rate")
        b, eb = _cell(theirs, "rate")

        def show(runs: list[dict], med: float | None, err: str) -> str:
            if med is None:
                return err
            drops = statistics.median(r["dropped"] + r["lost"] for r in runs if "rate" in r)
            each = ", ".join(f"{r['rate'] / 1000:.0f}" for r in runs if "rate" in r)
            return f"{_fmt_rate(med)} ({each}; producer drops {drops:.0f}/run)"

        ratio = f"**{a / b:.2f}×**" if a and b else "-"
        if row.endswith("-drain"):
            name = (f"{stream} buffer: events/s into a Python callback, emptying a full buffer "
                    f"(producer stopped), {args.cycles} cycles")
        elif row in ("perf-w1", "perf-w64"):
            name = (f"perf buffer, `wakeup_events={WAKEUPS[row]}` on both sides: events/s into a "
                    f"Python callback, flood, {args.seconds:g} s")
        elif row == "perf":
            name = (f"perf buffer, each side's default wake-ups: events/s into a Python "
                    f"callback, flood, {args.seconds:g} s")
        else:
            name = f"{stream} buffer: events/s into a Python callback, flood, {args.seconds:g} s"
        return f"| {name} | {show(ours, a, ea)} | {show(theirs, b, eb)} | {ratio} | ≥ 1.5× |"
    if row == "keepup":
        def show_rounds(runs: list[dict]) -> str:
            good = [r for r in runs if "rounds" in r]
            if not good:
                return f"n/a ({runs[0].get('error', 'no runs') if runs else 'no runs'})"
            rounds = [x for r in good for x in r["rounds"]]
            bad = sum(1 for x in rounds if x["missing"] or x["dropped"] or x["lost"])
            missing = sum(x["missing"] for x in rounds)
            return f"drops in {bad} of {len(rounds)} rounds ({missing} events missing)"
        pages = f", {PERF_PAGES} pages" if stream == "perf" else ""
        name = (f"{stream} buffer keep-up: {args.events // 1000}k events at "
                f"{args.rate / 1000:.0f}k/s per round{pages}")
        return f"| {name} | {show_rounds(ours)} | {show_rounds(theirs)} | - | no drops |"
    a, ea = _cell(ours, "seconds")
    b, eb = _cell(theirs, "seconds")
    ratio = f"**{b / a:.2f}×** faster" if a and b else "-"
    return (f"| `m.update(dict)` of {N_UPDATE // 1000}k u32→u64 (bcc: `items_update_batch`) "
            f"| {f'{a:.3f} s' if a is not None else ea} | {f'{b:.3f} s' if b is not None else eb} "
            f"| {ratio} | ≥ 1× |")


if __name__ == "__main__":
    sys.exit(main())
