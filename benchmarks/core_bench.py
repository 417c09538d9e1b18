#!/usr/bin/env python3
"""Kernel data (CO-RE): what reading kernel structs costs at compile time and in code size.

    python benchmarks/core_bench.py [--runs N]

* cold compile, fresh process: ``benchmarks/core/task_fields.bpf.py`` (six task_struct fields,
  CO-RE) against ``plain_fields.bpf.py`` (the same program shape, values from helpers): the
  wall time of ``python -c 'compile_source(...)'`` and the compile's own time inside it, with
  the kernel BTF's name index cached (``$XDG_CACHE_HOME/bpfimport/btf``) and the first time on
  this kernel (an empty cache folder); bpfimport's own modules are byte-compiled first, as an
  installed package is (``PYTHONDONTWRITEBYTECODE`` would otherwise leave them to compile in
  every child);
* BPF instructions of the CO-RE program against clang -O2 on ``task_fields.bpf.c``
  (``BPF_CORE_READ`` on a ``vmlinux.h`` that ``bpftool btf dump`` writes), when clang, bpftool
  and libbpf's headers are there; each a row of "n/a (reason)" otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORE = HERE / "core"

CHILD = """\
import sys, time
start = time.perf_counter()
from bpfimport.compiler import compile_source
path = sys.argv[1]
compile_source(open(path).read(), path, "bench_bpf")
print(time.perf_counter() - start)
"""


def cold_compile(path: Path, runs: int, cache_home: str | None = None) -> tuple[float, float]:
    """Median (wall seconds of a fresh process, seconds of import + compile inside it);
    ``cache_home``: a fresh ``XDG_CACHE_HOME`` for each run (no kernel BTF index yet)."""
    walls, inside = [], []
    for i in range(runs):
        env = dict(os.environ)
        if cache_home is not None:
            env["XDG_CACHE_HOME"] = os.path.join(cache_home, str(i))
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True,
                             check=True, env=env).stdout
        walls.append(time.perf_counter() - start)
        inside.append(float(out.strip()))
    return statistics.median(walls), statistics.median(inside)


def instructions(obj: Path, section_prefix: str) -> int:
    """BPF instruction slots in the object's program sections (an ld_imm64 counts two)."""
    from bpfimport.elf import Elf

    elf = Elf(obj.read_bytes())
    return sum(s.size // 8 for s in elf.sections if s.name.startswith(section_prefix))


def clang_object(workdir: Path) -> Path | str:
    clang = next((c for c in (os.environ.get("CLANG"), "clang-22", "clang") if c and shutil.which(c)), None)
    bpftool = shutil.which("bpftool")
    if clang is None or bpftool is None:
        return "n/a (clang or bpftool not installed: benchmarks/setup_peers.sh)"
    if not Path("/usr/include/bpf/bpf_core_read.h").exists():
        return "n/a (libbpf's headers are not installed: libbpf-dev)"
    vmlinux = workdir / "vmlinux.h"
    with open(vmlinux, "w") as f:
        subprocess.run([bpftool, "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"],
                       stdout=f, check=True)
    out = workdir / "task_fields.o"
    subprocess.run([clang, "-target", "bpf", "-O2", "-g", "-mcpu=v3", "-I", str(workdir),
                    "-c", str(CORE / "task_fields.bpf.c"), "-o", str(out)], check=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    import compileall

    import bpfimport

    compileall.compile_dir(os.path.dirname(bpfimport.__file__), quiet=1)
    cold_compile(CORE / "task_fields.bpf.py", 1)  # the index cache filled, as after a first use
    core_wall, core_in = cold_compile(CORE / "task_fields.bpf.py", args.runs)
    plain_wall, plain_in = cold_compile(CORE / "plain_fields.bpf.py", args.runs)
    with tempfile.TemporaryDirectory() as fresh:
        first_wall, first_in = cold_compile(CORE / "task_fields.bpf.py", min(args.runs, 3), fresh)
    print("| measurement | CO-RE (6 task_struct fields) | same shape, no kernel types | ratio |")
    print("|---|---|---|---|")
    print(f"| cold compile, fresh process (wall) | {core_wall:.3f} s | {plain_wall:.3f} s | "
          f"{core_wall / plain_wall:.2f}x |")
    print(f"| import + compile inside that process | {core_in:.3f} s | {plain_in:.3f} s | "
          f"{core_in / plain_in:.2f}x |")
    print(f"| the same, first on this kernel (no BTF index cached yet) | {first_wall:.3f} s wall, "
          f"{first_in:.3f} s inside | | |")
    with tempfile.TemporaryDirectory() as tmp:
        from bpfimport.compiler import compile_source

        ours = Path(tmp) / "ours.o"
        path = CORE / "task_fields.bpf.py"
        ours.write_bytes(compile_source(path.read_text(), str(path), "bench_bpf").object)
        n_ours = instructions(ours, "tracepoint/")
        theirs = clang_object(Path(tmp))
        if isinstance(theirs, str):
            print(f"| BPF instructions vs clang -O2 | {n_ours} | {theirs} | |")
        else:
            n_clang = instructions(theirs, "tracepoint/")
            print(f"| BPF instructions vs clang -O2 (BPF_CORE_READ) | {n_ours} | {n_clang} (clang) | "
                  f"{n_ours / n_clang:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
