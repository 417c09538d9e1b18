#!/usr/bin/env python3
"""Write bpfimport/tools/syscall_numbers.json: syscall number -> name, from the libc headers.

    python3 scripts/gen_syscall_numbers.py [--header /usr/include/x86_64-linux-gnu/asm/unistd_64.h]

raw_syscalls/sys_enter gives a syscall's number, and neither the kernel's BTF nor
tracefs says which number a syscall has (bpfimport/btf/syscalls.json has the names and
arguments, not the numbers).  The numbers are in the kernel's uapi header, installed
with linux-libc-dev; this script reads its ``#define __NR_name number`` lines once for
the machine it runs on and writes the table syscount ships, keyed by machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bpfimport" / "tools" / "syscall_numbers.json"
DEFINE = re.compile(r"^#define __NR_(?P<name>\w+)\s+(?P<nr>\d+)\s*$")
HEADERS = {
    "x86_64": "/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
    "aarch64": "/usr/include/aarch64-linux-gnu/asm/unistd.h",
}


def main() -> None:
    machine = platform.machine()
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--header", default=HEADERS.get(machine), help="the uapi unistd header")
    parser.add_argument("--machine", default=machine, help="the machine the header is for")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    numbers = {}
    for line in Path(args.header).read_text().splitlines():
        m = DEFINE.match(line)
        if m:
            numbers[int(m["nr"])] = m["name"]
    out = Path(args.out)
    data = json.loads(out.read_text()) if out.exists() else {"generator": "scripts/gen_syscall_numbers.py"}
    data.setdefault("machines", {})[args.machine] = {str(nr): numbers[nr] for nr in sorted(numbers)}
    out.write_text(json.dumps(data, indent=0, sort_keys=True) + "\n")
    print(f"{out}: {len(numbers)} syscalls for {args.machine}")


if __name__ == "__main__":
    main()
