#!/usr/bin/env python3
"""Write bpfimport/btf/syscalls.json: every syscall's argument names and C types, from tracefs.

    sudo python3 scripts/gen_syscall_table.py [--tracefs /sys/kernel/tracing] [--out PATH]

The kernel's BTF has no per-syscall record type (every ``syscalls/sys_enter_*`` event
is a ``struct syscall_trace_enter`` with ``unsigned long args[]``); the argument names
and types exist only in the tracefs format files, which only root can read.  This
script reads them once (as root, on a kernel with syscall tracepoints) and writes the
table the package ships, so a compile needs neither root nor tracefs.

It checks what the package assumes of every event and stops if a kernel breaks it:
``sys_enter_NAME`` has ``int __syscall_nr`` and then 8-byte argument slots, one after
the other; ``sys_exit_NAME`` has ``int __syscall_nr`` and ``long ret``.  Offsets are
not stored: the compiler takes them from the running kernel's BTF (``args`` is at 16
here, elsewhere at 24), which is why the reads are CO-RE relocated.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bpfimport" / "btf" / "syscalls.json"
FIELD = re.compile(r"^\s*field:(?P<decl>[^;]*);\s*offset:(?P<offset>\d+);\s*size:(?P<size>\d+);"
                   r"\s*signed:(?P<signed>\d+);")
DECL = re.compile(r"^(?P<type>.*?)\s*(?P<name>[A-Za-z_]\w*)$")
SLOT = 8  # every argument is an unsigned long in the record


def fields(path: Path) -> list[tuple[str, str, int, int, int]]:
    """(name, C type, offset, size, signed) of every non-common field of a format file."""
    out = []
    for line in path.read_text().splitlines():
        m = FIELD.match(line)
        if not m:
            continue
        d = DECL.match(m["decl"].strip())
        if d is None:
            raise SystemExit(f"{path}: cannot read the field declaration {m['decl']!r}")
        if d["name"].startswith("common_"):
            continue
        out.append((d["name"], d["type"].strip(), int(m["offset"]), int(m["size"]), int(m["signed"])))
    return out


def arguments(enter: Path) -> list[list[str]]:
    got = fields(enter)
    if not got or got[0][:2] != ("__syscall_nr", "int"):
        raise SystemExit(f"{enter}: expected 'int __syscall_nr' first, found {got[:1]}")
    args = got[1:]
    for i, (name, ctype, offset, size, signed) in enumerate(args):
        if size != SLOT or signed or (i and offset != args[0][2] + SLOT * i):
            raise SystemExit(f"{enter}: argument {name} ({ctype}) is not the {i}th 8-byte slot")
    return [[name, ctype] for name, ctype, *_ in args]


def check_exit(exit_: Path) -> None:
    got = [f[:2] for f in fields(exit_)]
    if got != [("__syscall_nr", "int"), ("ret", "long")]:
        raise SystemExit(f"{exit_}: expected 'int __syscall_nr; long ret', found {got}")


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--tracefs", type=Path, default=Path("/sys/kernel/tracing"))
    ap.add_argument("--out", type=Path, default=OUT)
    opts = ap.parse_args()
    folder = opts.tracefs / "events" / "syscalls"
    if not os.access(folder, os.R_OK | os.X_OK):
        print(f"cannot read {folder}: run as root with tracefs mounted "
              f"(mount -t tracefs nodev {opts.tracefs})", file=sys.stderr)
        return 1
    table: dict[str, list[list[str]]] = {}
    for entry in sorted(folder.iterdir()):
        if not entry.name.startswith("sys_enter_"):
            continue
        name = entry.name[len("sys_enter_"):]
        exit_ = folder / f"sys_exit_{name}" / "format"
        if not exit_.exists():
            raise SystemExit(f"{entry.name} has no sys_exit_{name}")
        check_exit(exit_)
        table[name] = arguments(entry / "format")
    exits = {e.name[len("sys_exit_"):] for e in folder.iterdir() if e.name.startswith("sys_exit_")}
    if exits != set(table):
        raise SystemExit(f"sys_exit_ events without sys_enter_: {sorted(exits - set(table))}")
    uname = platform.uname()
    data = {
        "generator": "scripts/gen_syscall_table.py",
        "kernel": f"Linux {uname.release} {uname.machine}",
        "about": "argument names and C types of each syscalls/sys_enter_NAME event, in order "
                 "(each in an 8-byte slot of syscall_trace_enter.args); sys_exit_NAME has long ret",
        "syscalls": table,
    }
    # One syscall per line: a kernel update shows in a diff as the lines it changes.
    head = json.dumps({k: v for k, v in data.items() if k != "syscalls"}, indent=1)[:-2]
    rows = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in table.items())
    opts.out.write_text(f'{head},\n "syscalls": {{\n{rows}\n }}\n}}\n')
    print(f"{opts.out}: {len(table)} syscalls from {uname.release} {uname.machine}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
