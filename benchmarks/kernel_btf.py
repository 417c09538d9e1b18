#!/usr/bin/env python3
"""Time the kernel BTF layer as a compile sees it: a fresh process's first lookups, cold and warm.

    python benchmarks/kernel_btf.py [--runs 7]

Each run is a fresh interpreter that imports ``bpfimport.btf.kernel``, opens the
kernel's BTF (``kernel_btf()``) and finds ``task_struct``; then resolves two
tracepoint records (``sched/sched_process_fork`` from BTF, ``syscalls/sys_enter_openat``
from the shipped table).  **cold**: an empty cache folder (the name index is built
and written); **warm**: the index and boot memo the cold run wrote (vmlinux is then
read a page at a time, as lookups need it).  Interpreter start-up is not
included (the child times itself from its first import).  The index is kept under
a temporary ``XDG_CACHE_HOME``, so the user's own cache is neither used nor touched.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, time
t0 = time.perf_counter()
import bpfimport.btf.kernel as kernel
t1 = time.perf_counter()
k = kernel.kernel_btf()
t2 = time.perf_counter()
k.find("task_struct")
t3 = time.perf_counter()
from bpfimport.btf.tracepoints import tracepoint_record
tracepoint_record("sched", "sched_process_fork", k)
tracepoint_record("syscalls", "sys_enter_openat", k)
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "open": t2 - t1, "find": t3 - t2, "records": t4 - t3,
                  "to first find": t3 - t0, "total": t4 - t0,
                  "state": k.cache_state + ("/paged" if k.spec._file is not None else "")}))
"""
PARTS = ("import", "open", "find", "to first find", "records", "total")


def run(cache: str) -> dict:
    env = dict(os.environ, XDG_CACHE_HOME=cache, PYTHONPATH=str(ROOT))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # else every child compiles bpfimport's sources first
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    opts = ap.parse_args()
    if not Path("/sys/kernel/btf/vmlinux").exists():
        print("n/a (no /sys/kernel/btf/vmlinux)")
        return 0
    cold, warm = [], []
    for _ in range(opts.runs):
        folder = tempfile.mkdtemp(prefix="bpfimport-bench-btf-")
        try:
            cold.append(run(folder))
            warm.append(run(folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    states = {c["state"] for c in cold}, {w["state"] for w in warm}
    assert states == ({"written"}, {"hit/paged"}), states
    print(f"kernel BTF layer, fresh process, median of {opts.runs} runs (ms)")
    print(f"  {'':<14}{'cold':>8}{'warm':>8}")
    for part in PARTS:
        c = statistics.median(r[part] for r in cold) * 1000
        w = statistics.median(r[part] for r in warm) * 1000
        print(f"  {part:<14}{c:8.1f}{w:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
