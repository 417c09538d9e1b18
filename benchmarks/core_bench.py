#!/usr/bin/env python3
"""Kernel-data benchmarks (issue 8): compiling a CO-RE program, its memory, its code size.

    python benchmarks/core_bench.py                   # all rows, a Markdown table
    python benchmarks/core_bench.py --runs 9 --json out.json

Rows (see benchmarks/README.md, "Kernel data"):
  K1. cold compile of examples/execsnoop.bpf.py (CO-RE) in a fresh process:
      (a) the kernel BTF index cached            vs (c) the same program without kernel types  <= 1.5x
      (b) the first time (an empty index cache)  <= 1 s
      (a) next to clang -O2 with a vmlinux.h, and pythonbpf with a generated vmlinux.py
  K2. peak RSS of those compiles (fresh process) vs clang's
  K3. BPF instructions of examples/execsnoop and examples/opensnoop vs clang -O2 on
      benchmarks/c/NAME.bpf.c (libbpf-tools style, BPF_CORE_READ)         <= 1.1x
  K4. the same three for benchmarks/core/task_fields.bpf.py (six task_struct fields into a
      ring buffer record) against plain_fields.bpf.py (the same shape from helpers) and
      clang -O2 on task_fields.bpf.c

Every cell that cannot be measured says why ("n/a (reason)").  The helpers and the table
format are bench.py's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench  # noqa: E402  (this folder's bench.py: peers, processes, ELF counting, the table)
from bench import NA, Example, Peers, Row, base_env, describe  # noqa: E402

HERE = bench.HERE
ROOT = bench.ROOT
CORE_PROGRAM = ROOT / "examples" / "execsnoop.bpf.py"
PLAIN_PROGRAM = HERE / "programs" / "execsnoop_plain.bpf.py"
PBF_PROGRAM = HERE / "programs" / "pythonbpf_execsnoop.py"  # pythonbpf syntax
INSN_EXAMPLES = ("execsnoop", "opensnoop")
PENDING = "pending: {path} needs the kernel-data features of issue 8 (ctx.FIELD, current_task())"

# Where bpfimport keeps the kernel BTF index: $XDG_CACHE_HOME/bpfimport/btf/, so this
# variable moves it (a fresh empty folder per run is "the first time")
INDEX_CACHE_ENV = ("XDG_CACHE_HOME",)


# ---------------------------------------------------------------- one measured process


@dataclass
class Sample:
    wall: float  # seconds
    rss_mb: float  # peak resident set of the process and the children it waited for


def measured(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Sample:
    """Run ``cmd`` to completion: its wall time and peak RSS, from the kernel's accounting.

    ``os.wait4`` gives the child's own rusage, whose ``ru_maxrss`` is the largest of the
    process and its waited-for descendants (clang's cc1, pythonbpf's opt/llc) — per run,
    not a maximum over everything this script ever started.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise NA(bench.first_line(err.decode(errors="replace")) or f"exit status {proc.returncode}")
    return Sample(wall, usage.ru_maxrss / 1024)


Runner = Callable[[], Sample]


# ---------------------------------------------------------------- the compilers


COMPILE = "import sys, bpfimport; bpfimport.compile_file(sys.argv[1], sys.argv[2])"


def check_object(path: Path) -> None:
    if not path.exists() or path.stat().st_size == 0:
        raise NA("no object written")


def need(path: Path) -> None:
    if not path.exists():
        raise NA(PENDING.format(path=path.relative_to(ROOT)))


def cache_env(folder: Path) -> dict[str, str]:
    return base_env(**{name: str(folder) for name in INDEX_CACHE_ENV})


def bpfimport_runner(peers: Peers, src: Path, tmp: Path, label: str, index: str) -> Runner:
    """A fresh-process compile of ``src``; ``index`` is "cached", "empty" or "none".

    "cached": every run shares one index folder, filled by the first (untimed) run.
    "empty": every run gets a new empty folder, so the index is built each time.
    "none": a program without kernel types; its own empty folder, to show it writes nothing.
    """
    need(src)
    out = tmp / f"{label}.o"
    cmd = [peers.python, "-c", COMPILE, str(src), str(out)]
    shared = tmp / f"{label}.cache"
    shared.mkdir(exist_ok=True)
    bench.run(cmd, cache_env(shared))  # untimed, checked: a compile error is the cell's reason
    check_object(out)
    wrote = any(shared.rglob("*"))
    if index != "none" and not wrote:
        raise NA(f"the compile wrote no kernel BTF index under ${INDEX_CACHE_ENV[0]} "
                 f"(looked in {', '.join('$' + v for v in INDEX_CACHE_ENV)})")
    if index == "cached":
        return lambda: measured(cmd, cache_env(shared))
    counter = iter(range(10**6))

    def fresh() -> Sample:
        folder = tmp / f"{label}.cache.{next(counter)}"
        folder.mkdir()
        try:
            return measured(cmd, cache_env(folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    return fresh


def clang_runner(peers: Peers, tmp: Path) -> Runner:
    c_file = bench.C_DIR / "execsnoop.bpf.c"
    out = tmp / "execsnoop.clang.o"
    cmd = bench.clang_command(peers, c_file, out, tmp)  # vmlinux.h made here, untimed
    bench.run(cmd)
    check_object(out)
    return lambda: measured(cmd)


DEFAULT_VMLINUX_PY = Path.home() / ".cache" / "bpfimport-peers" / "vmlinux.py"


def pythonbpf_runner(peers: Peers, tmp: Path) -> Runner:
    """pythonbpf on its port of execsnoop, importing a vmlinux.py made for this kernel.

    The vmlinux.py (~7.5 MB of ctypes classes) comes from pythonbpf's own generator
    (tools/vmlinux-gen.py in its repository: bpftool, clang, ctypeslib2's clang2py); it is
    found at $PYTHONBPF_VMLINUX or ~/.cache/bpfimport-peers/vmlinux.py.  Its ``.pyc`` is
    written first, as a user's Python would have it after the first run.
    """
    if peers.pythonbpf is None:
        raise NA(peers.pythonbpf_note)
    vmlinux = Path(os.environ.get("PYTHONBPF_VMLINUX", "") or DEFAULT_VMLINUX_PY)
    if not vmlinux.exists():
        raise NA(f"no generated vmlinux.py at {vmlinux} (pythonbpf's tools/vmlinux-gen.py writes one; "
                 "see benchmarks/README.md)")
    work = tmp / "pythonbpf-core"
    work.mkdir(exist_ok=True)
    src = work / PBF_PROGRAM.name
    shutil.copyfile(PBF_PROGRAM, src)
    shutil.copyfile(vmlinux, work / "vmlinux.py")
    env = peers.pythonbpf_env()
    env["PYTHONPATH"] = str(work)
    writing = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    bench.run([peers.pythonbpf, "-m", "compileall", "-q", str(work / "vmlinux.py")], writing)
    cmd = [peers.pythonbpf, str(src)]
    bench.run(cmd, env, work)
    check_object(src.with_suffix(".o"))
    return lambda: measured(cmd, env, work)


# ---------------------------------------------------------------- rows K1, K2


def interleaved(runners: dict[str, Runner], runs: int) -> dict[str, list[Sample]]:
    """Alternate the runners run by run, so every compiler sees the same machine load."""
    samples: dict[str, list[Sample]] = {k: [] for k in runners}
    for _ in range(runs):
        for k, once in runners.items():
            samples[k].append(once())
    return samples


def rows_compile(peers: Peers, runs: int, tmp: Path) -> list[Row]:
    bench.byte_compile_package(peers)
    makers: dict[str, Callable[[], Runner]] = {
        "cached": lambda: bpfimport_runner(peers, CORE_PROGRAM, tmp, "core-cached", "cached"),
        "first": lambda: bpfimport_runner(peers, CORE_PROGRAM, tmp, "core-first", "empty"),
        "plain": lambda: bpfimport_runner(peers, PLAIN_PROGRAM, tmp, "plain", "none"),
        "clang": lambda: clang_runner(peers, tmp),
        "pythonbpf": lambda: pythonbpf_runner(peers, tmp),
    }
    runners: dict[str, Runner] = {}
    notes: dict[str, str] = {}
    for key, make in makers.items():
        try:
            runners[key] = make()
        except Exception as e:  # one missing compiler is one n/a cell
            notes[key] = describe(e)
    try:
        samples = interleaved(runners, runs)
    except Exception as e:
        samples, notes = {}, {k: describe(e) for k in makers}

    def median(key: str, what: str) -> float | None:
        got = samples.get(key)
        return statistics.median(getattr(s, what) for s in got) if got else None

    def row(metric: str, label: str, ours: str, peer: str, peer_name: str, what: str, unit: str,
            target: str = "-", bar: Callable[[float, float], bool] | None = None) -> Row:
        r = Row(metric, label, unit=unit, target=target, peer_name=peer_name)
        r.ours, r.ours_note = median(ours, what), notes.get(ours, "")
        r.peer, r.peer_note = median(peer, what), notes.get(peer, "")
        if r.ours is not None and r.peer:
            r.ratio = r.ours / r.peer
            if bar is not None:
                r.ok = bar(r.ours, r.ratio)
        return r

    plain = "same program, no kernel types"
    clang = f"clang -O2 + vmlinux.h ({peers.clang_version.split(' version ')[-1].split()[0]})" if peers.clang \
        else "clang -O2 + vmlinux.h"
    pbf = f"pythonbpf {peers.pythonbpf_version} + vmlinux.py".replace("  ", " ")
    k1 = "K1. cold compile (fresh process)"
    k2 = "K2. peak RSS of that compile"
    rows = [
        row(k1, "execsnoop CO-RE, BTF index cached", "cached", "plain", plain, "wall", "s",
            "<= 1.5x", lambda v, r: r <= 1.5),
        row(k1, "execsnoop CO-RE, first time (no index)", "first", "plain", plain, "wall", "s",
            "<= 1 s", lambda v, r: v <= 1.0),
        row(k1, "execsnoop without kernel types", "plain", "clang", clang, "wall", "s"),
        row(k1, "execsnoop CO-RE, BTF index cached", "cached", "clang", clang, "wall", "s"),
        row(k1, "execsnoop CO-RE, BTF index cached", "cached", "pythonbpf", pbf, "wall", "s"),
        row(k2, "execsnoop CO-RE, BTF index cached", "cached", "clang", clang, "rss_mb", "MB"),
        row(k2, "execsnoop CO-RE, first time (no index)", "first", "clang", clang, "rss_mb", "MB"),
        row(k2, "execsnoop without kernel types", "plain", "clang", clang, "rss_mb", "MB"),
        row(k2, "execsnoop CO-RE, BTF index cached", "cached", "pythonbpf", pbf, "rss_mb", "MB"),
    ]
    for r in rows:
        r.extra["runs"] = runs
    return rows


# ---------------------------------------------------------------- row K3


def rows_instructions(peers: Peers, tmp: Path) -> list[Row]:
    """bench.py's row 4 on the CO-RE examples (their C baselines include vmlinux.h)."""
    rows = []
    for name in INSN_EXAMPLES:
        path = ROOT / "examples" / f"{name}.bpf.py"
        if not path.exists():
            r = Row("K3. BPF instructions", name, unit="insn", target="<= 1.1x",
                    peer_name=f"clang -O2 -mcpu={peers.cpu}", ours_note=f"n/a ({PENDING.format(path=path.relative_to(ROOT))})")
            r.peer, r.peer_note = bench.guarded(
                lambda name=name, path=path: float(sum(bench.bpf_instructions(
                    bench.clang_object(peers, Example(name, path, False), tmp)).values())))
            rows.append(r)
            continue
        (r,) = bench.row_instructions(peers, [Example(name, path, False)], tmp)
        r.metric = "K3. BPF instructions"
        rows.append(r)
    return rows


# ---------------------------------------------------------------- row K4

TASK_FIELDS = HERE / "core" / "task_fields.bpf.py"
PLAIN_FIELDS = HERE / "core" / "plain_fields.bpf.py"
TASK_FIELDS_C = HERE / "core" / "task_fields.bpf.c"


def rows_task_fields(peers: Peers, runs: int, tmp: Path) -> list[Row]:
    """A smaller CO-RE program: six task_struct fields into a ring buffer record."""
    bench.byte_compile_package(peers)
    runners: dict[str, Runner] = {}
    notes: dict[str, str] = {}
    makers: dict[str, Callable[[], Runner]] = {
        "cached": lambda: bpfimport_runner(peers, TASK_FIELDS, tmp, "task-cached", "cached"),
        "first": lambda: bpfimport_runner(peers, TASK_FIELDS, tmp, "task-first", "empty"),
        "plain": lambda: bpfimport_runner(peers, PLAIN_FIELDS, tmp, "task-plain", "none"),
    }
    for key, make in makers.items():
        try:
            runners[key] = make()
        except Exception as e:
            notes[key] = describe(e)
    samples = interleaved(runners, runs)

    def wall(key: str) -> float | None:
        got = samples.get(key)
        return statistics.median(s.wall for s in got) if got else None

    k4 = "K4. task_fields: cold compile (fresh process)"
    plain = "plain_fields (no kernel types)"
    cached = Row(k4, "6 task_struct fields, index cached", unit="s", target="<= 1.5x", peer_name=plain)
    first = Row(k4, "6 task_struct fields, first time (no index)", unit="s", target="<= 1 s", peer_name=plain)
    for r, key in ((cached, "cached"), (first, "first")):
        r.ours, r.ours_note = wall(key), notes.get(key, "")
        r.peer, r.peer_note = wall("plain"), notes.get("plain", "")
        if r.ours is not None and r.peer:
            r.ratio = r.ours / r.peer
    if cached.ratio is not None:
        cached.ok = cached.ratio <= 1.5
    if first.ours is not None:
        first.ok = first.ours <= 1.0

    insn = Row("K4. task_fields: BPF instructions", "6 task_struct fields", unit="insn", target="<= 1.1x",
               peer_name=f"clang -O2 -mcpu={peers.cpu}")

    def ours() -> float:
        return float(sum(bench.bpf_instructions((tmp / "task-cached.o").read_bytes()).values()))

    def clang() -> float:
        out = tmp / "task_fields.clang.o"
        bench.run(bench.clang_command(peers, TASK_FIELDS_C, out, tmp))
        return float(sum(bench.bpf_instructions(out.read_bytes()).values()))

    insn.ours, insn.ours_note = bench.guarded(ours)
    insn.peer, insn.peer_note = bench.guarded(clang)
    if insn.ours is not None and insn.peer:
        insn.ratio = insn.ours / insn.peer
        insn.ok = insn.ratio <= 1.1
    return [cached, first, insn]


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=textwrap.dedent(__doc__ or "").splitlines()[0])
    ap.add_argument("--rows", default="1,2,3,4", help="K rows to run: 1,2 (compile time and RSS: one run), 3, 4")
    ap.add_argument("--runs", type=int, default=7, help="fresh processes per compiler (median; default 7)")
    ap.add_argument("--python", default=None, help="interpreter with bpfimport (default as bench.py)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON ('-' for stdout)")
    args = ap.parse_args(argv)
    wanted = {int(x) for x in args.rows.split(",") if x.strip()}
    peers = bench.find_peers(args.python or bench.default_python())
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bpfimport-core-bench-") as t:
        tmp = Path(t)
        if wanted & {1, 2}:
            print("rows K1, K2...", file=sys.stderr, flush=True)
            got = rows_compile(peers, args.runs, tmp)
            rows += [r for r in got if int(r.metric[1]) in wanted]
        if 3 in wanted:
            print("row K3...", file=sys.stderr, flush=True)
            rows += rows_instructions(peers, tmp)
        if 4 in wanted:
            print("row K4...", file=sys.stderr, flush=True)
            rows += rows_task_fields(peers, args.runs, tmp)
        info = bench.machine_info(peers)
    print(bench.markdown(rows, info))
    if args.json:
        payload = json.dumps({"machine": info, "rows": [asdict(r) for r in rows]}, indent=2)
        if args.json == "-":
            print(payload)
        else:
            Path(args.json).write_text(payload + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
