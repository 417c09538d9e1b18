#!/usr/bin/env python3
"""Time bpfimport.btf on the kernel's BTF: the index pass, the name index, a first lookup.

    python benchmarks/btf_index.py [--runs 7] [--path /sys/kernel/btf/vmlinux]

Each run starts from the file's bytes (read once, outside the timing) and builds a
fresh Spec: ``index`` is the one pass that records where every type starts,
``names`` the name -> ids map (built on the first lookup by name), ``lookup``
decoding ``struct task_struct`` after that; then the same from an index stored
with ``Index.to_bytes()`` (what a cache would hand back).  A last line times the whole thing
as a program sees it: a fresh interpreter importing bpfimport.btf, reading the
file and looking one struct up (interpreter start-up subtracted).
Target (issue 7): index well under 0.5 s for the ~5.5 MB vmlinux, ideally 0.1-0.2 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bpfimport.btf import Index, Kind, Spec  # noqa: E402

FRESH = """
import time
t = time.perf_counter()
from bpfimport.btf import Kind, kernel_spec
spec = kernel_spec({path!r})
spec.type_by_name("task_struct", Kind.STRUCT)
print(time.perf_counter() - t)
"""


def one_run(data: bytes) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    spec = Spec(data)
    t1 = time.perf_counter()
    spec.names()
    t2 = time.perf_counter()
    spec.type_by_name("task_struct", Kind.STRUCT)
    return t1 - t0, t2 - t1, time.perf_counter() - t2


def from_stored(data: bytes, stored: bytes) -> float:
    """Open with an index a cache stored (Index.to_bytes), then look task_struct up."""
    t0 = time.perf_counter()
    spec = Spec(data, index=Index.from_bytes(stored))
    spec.type_by_name("task_struct", Kind.STRUCT)
    return time.perf_counter() - t0


def fresh_process(path: str) -> float:
    out = subprocess.run([sys.executable, "-c", FRESH.format(path=path)], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return float(out.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--path", default="/sys/kernel/btf/vmlinux")
    args = ap.parse_args()
    try:
        data = Path(args.path).read_bytes()
    except OSError as e:
        print(f"n/a ({args.path}: {e.strerror})")
        return 0
    runs = [one_run(data) for _ in range(args.runs)]
    spec = Spec(data)
    print(f"{args.path}: {len(data) / 1e6:.1f} MB, {spec.count} types, {len(spec.names())} names; "
          f"median of {args.runs} runs")
    for i, what in enumerate(("index pass", "name index", "first lookup")):
        print(f"  {what:<13} {statistics.median(r[i] for r in runs) * 1000:7.1f} ms")
    total = statistics.median(sum(r) for r in runs)
    print(f"  {'total':<13} {total * 1000:7.1f} ms")
    stored = spec.index.to_bytes()
    warm = statistics.median(from_stored(data, stored) for _ in range(args.runs))
    print(f"  from a stored index ({len(stored) / 1e6:.1f} MB): {warm * 1000:.1f} ms")
    fresh = statistics.median(fresh_process(args.path) for _ in range(min(args.runs, 5)))
    print(f"  fresh process: import + read + index + names + lookup {fresh * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
