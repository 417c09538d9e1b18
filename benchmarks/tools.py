#!/usr/bin/env python3
"""The tools of bpfimport.tools against bcc's and bpftrace's (issue 9, "Benchmarks").

    sudo python benchmarks/tools.py                         # both rows, Markdown tables (~4 min)
    sudo python benchmarks/tools.py --rows startup --rounds 3 --tools syscount,profile
    sudo python benchmarks/tools.py --rows profile --seconds 5 --runs 3 --json out.json

Rows (benchmarks/README.md, "The tools"):
  startup  each tool: seconds from exec to its first line on stdout (printed once its
           programs are attached), and the peak RSS of the running tool (VmHWM of the
           process and its children, read just before SIGINT); ours with a warm cache,
           cold (its cached object deleted: it compiles) and first (also an empty
           $XDG_CACHE_HOME: the kernel BTF index is built), bcc's Python tool of the same
           name (Debian's bpfcc-tools), bpftrace's equivalent (its shipped .bt where it
           runs here, else a program written below with a BEGIN banner).
  profile  `python -m bpfimport.tools.profile -F 999` with a CPU burner on every CPU:
           samples expected (999 x CPUs x seconds) against the samples its program ran for
           and counted, stacks lost (stack ids that are errors), the BPF program's own run
           time (the kernel's BPF_ENABLE_STATS) and the tool's CPU time; bcc's profile the same.

Every cell that cannot be measured says "n/a (reason)" instead of failing: bcc's tools that
need kprobes or fentry cannot attach on a kernel without them.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import errno
import glob
import importlib.util
import json
import os
import platform
import re
import selectors
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
HEADERS = Path.home() / ".cache" / "bpfimport-peers" / "linux-headers"
SETTLE = 0.2  # seconds a tool runs after its first line before its RSS is read
NCPU = os.cpu_count() or 1

BANNER = 'BEGIN { printf("Tracing... Hit Ctrl-C to end.\\n"); } '
LIBC = "/lib/x86_64-linux-gnu/libc.so.6"

# bpftrace programs for the tools whose shipped .bt cannot run here (kprobes, or kernel
# headers it cannot parse): the same tracepoints our tools use, each with a BEGIN banner,
# which bpftrace runs once every probe is attached.
BT_PROGRAMS = {
    "exitsnoop": BANNER + "tracepoint:sched:sched_process_exit { printf(\"%-16s %-7d %-7d %d\\n\", "
                 "comm, pid, curtask->real_parent->tgid, (curtask->exit_code >> 8) & 0xff); }",
    "runqlat": BANNER + "tracepoint:sched:sched_wakeup, tracepoint:sched:sched_wakeup_new "
               "{ @qtime[args->pid] = nsecs; } tracepoint:sched:sched_switch "
               "{ if (args->prev_state == 0) { @qtime[args->prev_pid] = nsecs; } "
               "$ns = @qtime[args->next_pid]; if ($ns) { @usecs = hist((nsecs - $ns) / 1000); } "
               "delete(@qtime[args->next_pid]); } END { clear(@qtime); }",
    "runqlen": BANNER + "profile:hz:99 { $task = (struct task_struct *)curtask; "
               "$q = (struct cfs_rq *)$task->se.cfs_rq; $len = $q->nr_queued; "
               "$len = $len > 0 ? $len - 1 : 0; @runqlen = lhist($len, 0, 100, 1); }",
    "biolatency": BANNER + "tracepoint:block:block_rq_issue { @start[args->dev, args->sector] = nsecs; } "
                  "tracepoint:block:block_rq_complete /@start[args->dev, args->sector]/ "
                  "{ @usecs = hist((nsecs - @start[args->dev, args->sector]) / 1000); "
                  "delete(@start[args->dev, args->sector]); } END { clear(@start); }",
    "biosnoop": BANNER + "tracepoint:block:block_rq_issue { @start[args->dev, args->sector] = nsecs; "
                "@who[args->dev, args->sector] = comm; } "
                "tracepoint:block:block_rq_complete /@start[args->dev, args->sector]/ "
                "{ printf(\"%-16s %d %d %d\\n\", @who[args->dev, args->sector], args->dev, "
                "args->sector, (nsecs - @start[args->dev, args->sector]) / 1000); "
                "delete(@start[args->dev, args->sector]); delete(@who[args->dev, args->sector]); } "
                "END { clear(@start); clear(@who); }",
    "profile": BANNER + "profile:hz:49 /pid != 0/ { @[kstack, ustack, comm, pid] = count(); }",
    "offcputime": BANNER + "tracepoint:sched:sched_switch { @ts[args->prev_pid] = nsecs; "
                  "@stk[args->prev_pid] = kstack; $s = @ts[args->next_pid]; "
                  "if ($s) { @[@stk[args->next_pid], args->next_comm] = sum((nsecs - $s) / 1000); "
                  "delete(@ts[args->next_pid]); delete(@stk[args->next_pid]); } } "
                  "END { clear(@ts); clear(@stk); }",
    "tcpconnect": BANNER + "tracepoint:sock:inet_sock_set_state /args->newstate == 2/ "
                  "{ printf(\"%-7d %-16s %s %s %d\\n\", pid, comm, ntop(args->saddr), "
                  "ntop(args->daddr), args->dport); }",
    "tcplife": BANNER + "tracepoint:sock:inet_sock_set_state { $sk = args->skaddr; "
               "if (args->newstate < 4 && @birth[$sk] == 0) { @birth[$sk] = nsecs; } "
               "if (args->newstate == 2 || args->newstate == 9) { @skpid[$sk] = pid; @skcomm[$sk] = comm; } "
               "if (args->newstate == 7 && @birth[$sk]) { $tp = (struct tcp_sock *)$sk; "
               "printf(\"%-7d %-16s %s %d %s %d %d %d %d\\n\", @skpid[$sk], @skcomm[$sk], "
               "ntop(args->saddr), args->sport, ntop(args->daddr), args->dport, "
               "$tp->bytes_acked / 1024, $tp->bytes_received / 1024, (nsecs - @birth[$sk]) / 1000000); "
               "delete(@birth[$sk]); delete(@skpid[$sk]); delete(@skcomm[$sk]); } } "
               "END { clear(@birth); clear(@skpid); clear(@skcomm); }",
    "funclatency": BANNER + f"uprobe:{LIBC}:usleep {{ @start[tid] = nsecs; }} "
                   f"uretprobe:{LIBC}:usleep /@start[tid]/ "
                   "{ @usecs = hist((nsecs - @start[tid]) / 1000); delete(@start[tid]); } "
                   "END { clear(@start); }",
}


@dataclass
class Tool:
    """One tool: our CLI's arguments, bcc's, and bpftrace's program (a shipped .bt path or text)."""
    name: str
    args: tuple[str, ...] = ()
    bpftrace: str = ""
    bcc_args: tuple[str, ...] | None = None
    floor: tuple[str, str] | None = None  # (file, function) of the uprobes floor.py opens

    @property
    def bcc(self) -> tuple[str, ...]:
        return self.args if self.bcc_args is None else self.bcc_args

    def bpftrace_command(self) -> list[str]:
        program = self.bpftrace or BT_PROGRAMS[self.name]
        if program.endswith(".bt"):
            return ["bpftrace", "-B", "line", program]
        return ["bpftrace", "-B", "line", "-e", program]


# bcc's tools that print their first line before attaching: "attached" is then when a
# perf_event program and a perf event per CPU are open (perf_events_attached)
BANNER_BEFORE_ATTACH = {"profile"}

TOOLS = [
    Tool("execsnoop", bpftrace="/usr/sbin/execsnoop.bt"),
    Tool("opensnoop", bpftrace="/usr/sbin/opensnoop.bt"),
    Tool("exitsnoop"),
    Tool("syscount", bpftrace="/usr/sbin/syscount.bt"),
    Tool("runqlat"),
    Tool("runqlen"),
    Tool("biolatency"),
    Tool("biosnoop"),
    Tool("profile"),
    Tool("offcputime"),
    Tool("tcpconnect"),
    Tool("tcplife"),
    Tool("bashreadline", bpftrace="/usr/sbin/bashreadline.bt"),
    Tool("funclatency", args=("c:usleep",), floor=(LIBC, "usleep")),
]

# ---------------------------------------------------------------- running one command to "attached"


@dataclass
class Run:
    """One start of a tool: seconds to its first line, peak RSS (kB) while running and overall."""
    seconds: float | None = None
    hwm_kb: int | None = None
    maxrss_kb: int | None = None
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (/proc/PID/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for children in glob.glob(f"/proc/{p}/task/*/children"):
            try:
                todo.extend(int(c) for c in Path(children).read_text().split())
            except OSError:
                pass
    return out


def _status_kb(pid: int, field_name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_hwm_kb(pid: int) -> int:
    """VmHWM (peak resident set) summed over ``pid`` and its descendants, in kB."""
    return sum(_status_kb(p, "VmHWM") for p in _descendants(pid))


def _last_line(path: str) -> str:
    lines = [ln.strip() for ln in Path(path).read_text(errors="replace").splitlines() if ln.strip()]
    useful = [ln for ln in lines if "RLIMIT_MEMLOCK" not in ln and "modprobe" not in ln]
    return (useful or lines or ["exited before attaching"])[-1][:160]


IGNORED_FIRST = re.compile(r"^(Attaching \d+ probes?\.\.\.)?\s*$")  # bpftrace's, before attaching


def _drain(proc: subprocess.Popen, out: list[bytes], limit: float = 30.0) -> None:
    """Read what the stopping tool prints (histograms, stacks) until it closes stdout.

    A SIGINT that lands before a tool watches for it (bpftrace, now and then) is sent
    again every 2 s; after ``limit`` seconds the tool is killed.
    """
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    start = resend = time.perf_counter()
    try:
        while True:
            now = time.perf_counter()
            if now - start > limit:
                proc.kill()
                start = float("inf")  # read to EOF, now that it is gone
            elif now - resend > 2.0 and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                resend = now
            if sel.select(timeout=0.5):
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    return
                out.append(chunk)
    finally:
        sel.close()


def attached_by_then(check: Any, proc: subprocess.Popen, deadline: float) -> bool:
    """Poll ``check(pid)`` every millisecond until true (True), the process ends or the deadline."""
    if check is None:
        return True
    while time.perf_counter() < deadline and proc.poll() is None:
        if check(proc.pid):
            return True
        time.sleep(0.001)
    return False


def perf_events_attached(pid: int) -> bool:
    """A perf_event program loaded and a perf event open per CPU (bcc's profile once attached)."""
    fds = glob.glob(f"/proc/{pid}/fd/*")
    events = 0
    for fd in fds:
        try:
            events += os.readlink(fd) == "anon_inode:[perf_event]"
        except OSError:
            pass
    return events >= NCPU and any(i.get("prog_type") == "7" for i in _fdinfo(pid))


def run_to_attach(cmd: list[str], env: dict[str, str], *, settle: float = SETTLE,
                  timeout: float = 60.0, during: Any = None, attached_check: Any = None) -> Run:
    """Start ``cmd``, time exec → its first stdout line, read its peak RSS, then SIGINT it.

    ``attached_check(pid)``, when given, is polled after the first line until it is true, and the
    time is taken then (a tool that prints its banner before attaching: bcc's profile).
    ``during(pid)``, when given, runs after the first line (and the settle time) and before
    SIGINT; its result goes to ``Run.extra``.
    """
    run = Run()
    with tempfile.NamedTemporaryFile("w+", prefix="bpfi-tools-err-", delete=False) as err:
        errpath = err.name
    try:
        with open(errpath, "w") as errfile:
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errfile, env=env,
                                    stdin=subprocess.DEVNULL)
        assert proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        buf = b""
        attached = eof = False
        deadline = t0 + timeout
        while not attached and time.perf_counter() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.perf_counter())):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                eof = True
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if not IGNORED_FIRST.match(line.decode(errors="replace")):
                    attached = attached_by_then(attached_check, proc, deadline)
                    run.seconds = time.perf_counter() - t0 if attached else None
                    break
        sel.close()
        if attached:
            time.sleep(settle)
            run.hwm_kb = tree_hwm_kb(proc.pid)
            if during is not None:
                run.extra = during(proc.pid) or {}
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        else:
            run.error = "" if eof else f"no line within {timeout:g} s"
            if not eof:
                proc.kill()
        out = [buf]
        _drain(proc, out)
        run.extra.setdefault("output", b"".join(out).decode(errors="replace"))
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except ChildProcessError:
            status, usage = 0, None
        proc.returncode = os.waitstatus_to_exitcode(status)
        if usage is not None:
            run.maxrss_kb = usage.ru_maxrss
            run.extra["cpu_s"] = usage.ru_utime + usage.ru_stime
        proc.stdout.close()
        if not attached and not run.error:
            run.error = _last_line(errpath)
    finally:
        os.unlink(errpath)
    return run


# ---------------------------------------------------------------- the start-up row


def tools_cache_dir() -> Path:
    spec = importlib.util.find_spec("bpfimport.tools")
    assert spec is not None and spec.submodule_search_locations
    return Path(list(spec.submodule_search_locations)[0]) / "__pycache__"


def drop_cached_object(name: str) -> int:
    """Delete the tool's cached object (its next run compiles); returns how many files went."""
    files = glob.glob(str(tools_cache_dir() / f"{name}.bpf.bpfimport-*.o"))
    for f in files:
        os.unlink(f)
    return len(files)


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"  # bcc's tools print without flushing
    env.pop("PYTHONPYCACHEPREFIX", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a cold run writes the object, as an install would
    if HEADERS.is_dir() and not Path(f"/lib/modules/{os.uname().release}/build").exists():
        env.setdefault("BCC_KERNEL_SOURCE", str(HEADERS))
    return env


@dataclass
class Variant:
    """One way of starting a tool: ours warm/cold/first, bcc's, bpftrace's."""
    key: str
    command: list[str]
    prepare: Any = None  # called before each run, returns the env to use
    attached_check: Any = None  # see run_to_attach


def variants(tool: Tool, python: str, cache_home: str) -> list[Variant]:
    env = base_env()
    env["XDG_CACHE_HOME"] = cache_home
    ours = [python, "-m", f"bpfimport.tools.{tool.name}", *tool.args]

    def warm() -> dict[str, str]:
        return env

    def cold() -> dict[str, str]:
        drop_cached_object(tool.name)
        return env

    def first() -> dict[str, str]:
        drop_cached_object(tool.name)
        return {**env, "XDG_CACHE_HOME": tempfile.mkdtemp(prefix="bpfi-tools-xdg-")}

    bcc = f"/usr/sbin/{tool.name}-bpfcc"
    out = [Variant("warm", ours, warm), Variant("cold", ours, cold), Variant("first", ours, first),
           Variant("bcc", [bcc, *tool.bcc], warm,
                   perf_events_attached if tool.name in BANNER_BEFORE_ATTACH else None)]
    if shutil.which("bpftrace"):
        out.append(Variant("bpftrace", tool.bpftrace_command(), warm))
    inputs = floor_inputs(tool, python, cache_home) if tool.floor is not None else None
    if tool.floor is not None and inputs is not None:
        offset, ir_file = inputs
        # run as the tools are, with -m (runpy's imports cost a start-up ~2.5 ms)
        floor = [python, "-m", "floor", tool.floor[0], offset]
        floor_env = {**env, "PYTHONPATH": os.pathsep.join(
            p for p in (str(HERE), env.get("PYTHONPATH", "")) if p)}
        out += [Variant("floor", floor, lambda: floor_env),
                Variant("floor cold", [*floor, "--compile", ir_file], lambda: floor_env)]
    return out


# The uprobe's offset and the module's LLVM IR, as the tool computes them (floor.py's input)
_FLOOR_INPUTS = """
import os, sys
import bpfimport.tools
from bpfimport.elf import func_offset
from bpfimport.importer import compile_path
path, func, name, out = sys.argv[1:]
with open(out, "w") as f:
    f.write(compile_path(os.path.join(bpfimport.tools.__path__[0], name + ".bpf.py")).ir)
print(hex(func_offset(path, func)))
"""


def floor_inputs(tool: Tool, python: str, folder: str) -> tuple[str, str] | None:
    """(offset, IR file) for floor.py: the function's offset in its file, and the tool's IR;
    None (and no floor variants) when ``python`` cannot make them."""
    assert tool.floor is not None
    ir_file = os.path.join(folder, f"{tool.name}.ll")
    done = subprocess.run([python, "-c", _FLOOR_INPUTS, *tool.floor, tool.name, ir_file],
                          capture_output=True, text=True)
    if done.returncode != 0 or not done.stdout.strip().startswith("0x"):
        print(f"# {tool.name}: no floor variants: {done.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return done.stdout.strip(), ir_file


def startup_row(tools: list[Tool], args: argparse.Namespace) -> dict[str, dict[str, list[Run]]]:
    """Every variant of every tool, ``args.rounds`` times, the variants' order rotating each round."""
    cache_home = tempfile.mkdtemp(prefix="bpfi-tools-cache-")
    results: dict[str, dict[str, list[Run]]] = {}
    try:
        for tool in tools:
            vs = [v for v in variants(tool, args.python, cache_home) if v.key in args.sides]
            results[tool.name] = {v.key: [] for v in vs}
            # one run not counted: fills our cache and the BTF index (a cold run deletes the
            # object and writes it again, so the next warm run is warm again)
            run_to_attach(vs[0].command, vs[0].prepare(), timeout=args.timeout)
            failed: set[str] = set()  # a peer that cannot attach here is tried once
            for rnd in range(args.rounds):
                order = vs[rnd % len(vs):] + vs[:rnd % len(vs)]
                for v in order:
                    if v.key in failed:
                        continue
                    if args.back_memory:
                        back_memory(args.back_memory)
                    r = run_to_attach(v.command, v.prepare(), settle=args.settle, timeout=args.timeout,
                                      attached_check=v.attached_check)
                    r.extra.pop("output", None)
                    results[tool.name][v.key].append(r)
                    if r.seconds is None:
                        failed.add(v.key)
            _progress(tool.name, results[tool.name])
    finally:
        shutil.rmtree(cache_home, ignore_errors=True)
        for d in glob.glob(os.path.join(tempfile.gettempdir(), "bpfi-tools-xdg-*")):
            shutil.rmtree(d, ignore_errors=True)
    return results


def _progress(name: str, runs: dict[str, list[Run]]) -> None:
    parts = []
    for key, rs in runs.items():
        s = _median([r.seconds for r in rs])
        parts.append(f"{key} {s:.3f}s" if s is not None else f"{key} n/a")
    print(f"# {name}: " + ", ".join(parts), file=sys.stderr, flush=True)


def _median(values: list[float | int | None]) -> float | None:
    vs = [v for v in values if v is not None]
    return statistics.median(vs) if vs else None


def _ratio(a: list[Run], b: list[Run], attr: str = "seconds") -> float | None:
    """Median of the round-by-round ratios a/b (runs interleaved in the same round)."""
    pairs = [(getattr(x, attr), getattr(y, attr)) for x, y in zip(a, b, strict=False)]
    rs = [x / y for x, y in pairs if x is not None and y]
    return statistics.median(rs) if rs else None


def _why(runs: list[Run]) -> str:
    err = next((r.error for r in runs if r.error), "")
    if any(s in err for s in ("kprobe_events", "get_kprobe_functions", "attach_kprobe",
                              "kprobes/blacklist", "to kprobe")):
        return "n/a: kprobes (absent)"
    if "Operation not permitted" in err or "Need super-user privileges" in err:
        return "n/a: fentry refused (lockdown)"
    return f"n/a ({err})" if err else "n/a"


def _cell_s(runs: list[Run]) -> str:
    m = _median([r.seconds for r in runs])
    return f"{m:.3f} s" if m is not None else _why(runs)


def _cell_mb(runs: list[Run]) -> str:
    m = _median([r.hwm_kb for r in runs])
    return f"{m / 1024:.1f} MB" if m is not None else "n/a"


def _cell_x(r: float | None, target: float | None = None) -> str:
    if r is None:
        return "—"
    text = f"{r:.2f}×"
    if target is not None:
        text += " ✓" if r <= target else " ✗"
    return text


def startup_table(results: dict[str, dict[str, list[Run]]]) -> str:
    head = ("| tool | warm | cold | first | bcc | bpftrace | warm ÷ bcc (≤ 0.1×) | cold ÷ bcc (≤ 0.2×) "
            "| warm ÷ bpftrace (≤ 1×) | RSS warm (≤ 20 MB) | RSS cold | RSS bcc | RSS bpftrace |")
    lines = [head, "|" + "---|" * 13]
    for name, runs in results.items():
        def get(k: str, runs: dict[str, list[Run]] = runs) -> list[Run]:
            return runs.get(k, [])
        rss_ok = _median([r.hwm_kb for r in get("warm")])
        rss = _cell_mb(get("warm"))
        if rss_ok is not None:
            rss += " ✓" if rss_ok <= 20 * 1024 else " ✗"
        lines.append("| " + " | ".join([
            f"`{name}`", _cell_s(get("warm")), _cell_s(get("cold")), _cell_s(get("first")),
            _cell_s(get("bcc")), _cell_s(get("bpftrace")),
            _cell_x(_ratio(get("warm"), get("bcc")), 0.1), _cell_x(_ratio(get("cold"), get("bcc")), 0.2),
            _cell_x(_ratio(get("warm"), get("bpftrace")), 1.0),
            rss, _cell_mb(get("cold")), _cell_mb(get("bcc")), _cell_mb(get("bpftrace")),
        ]) + " |")
    return "\n".join(lines)


def floor_table(results: dict[str, dict[str, list[Run]]]) -> str:
    """The tools with a floor (floor.py): what the machine allows next to what the tool takes."""
    head = ("| tool | floor | warm | floor cold | cold | bcc | floor ÷ bcc | warm ÷ bcc (≤ 0.1×) "
            "| floor cold ÷ bcc | cold ÷ bcc (≤ 0.2×) |")
    lines = [head, "|" + "---|" * 10]
    for name, runs in results.items():
        if "floor" not in runs:
            continue
        def get(k: str, runs: dict[str, list[Run]] = runs) -> list[Run]:
            return runs.get(k, [])
        lines.append("| " + " | ".join([
            f"`{name}`", _cell_s(get("floor")), _cell_s(get("warm")), _cell_s(get("floor cold")),
            _cell_s(get("cold")), _cell_s(get("bcc")),
            _cell_x(_ratio(get("floor"), get("bcc"))), _cell_x(_ratio(get("warm"), get("bcc")), 0.1),
            _cell_x(_ratio(get("floor cold"), get("bcc"))), _cell_x(_ratio(get("cold"), get("bcc")), 0.2),
        ]) + " |")
    return "\n".join(lines) if len(lines) > 2 else ""


# ---------------------------------------------------------------- the profile row

BPF_ENABLE_STATS = 32
BPF_STATS_RUN_TIME = 0
SYS_BPF = {"x86_64": 321, "aarch64": 280}.get(platform.machine(), 321)


def enable_bpf_stats() -> int | None:
    """An fd that keeps the kernel's BPF run-time statistics on while it is open (None: refused)."""
    libc = ctypes.CDLL(None, use_errno=True)
    attr = (ctypes.c_uint32 * 30)()
    attr[0] = BPF_STATS_RUN_TIME
    fd = libc.syscall(SYS_BPF, BPF_ENABLE_STATS, ctypes.byref(attr), ctypes.sizeof(attr))
    return fd if fd >= 0 else None


def _fdinfo(pid: int) -> list[dict[str, str]]:
    out = []
    for path in glob.glob(f"/proc/{pid}/fdinfo/*"):
        try:
            info = dict(ln.split(":", 1) for ln in Path(path).read_text().splitlines() if ":" in ln)
        except OSError:
            continue
        out.append({k.strip(): v.strip() for k, v in info.items()})
    return out


def _prog_stats(pid: int) -> tuple[int, int]:
    """(run count, run time ns) summed over the perf_event programs (type 7) ``pid`` holds."""
    cnt = ns = 0
    seen = set()
    for info in _fdinfo(pid):
        if info.get("prog_type") == "7" and info.get("prog_id") not in seen:
            seen.add(info.get("prog_id"))
            cnt += int(info.get("run_cnt", 0))
            ns += int(info.get("run_time_ns", 0))
    return cnt, ns


def _map_ids(pid: int, key_size: int) -> list[int]:
    return sorted({int(i["map_id"]) for i in _fdinfo(pid)
                   if i.get("map_type") == "1" and i.get("key_size") == str(key_size) and "map_id" in i})


def _dump(map_id: int) -> list[tuple[bytes, int]]:
    out = subprocess.run(["bpftool", "-j", "map", "dump", "id", str(map_id)], capture_output=True,
                         text=True, timeout=30)
    rows = []
    for entry in json.loads(out.stdout or "[]"):
        key, value = entry.get("key"), entry.get("value")
        if isinstance(key, list) and isinstance(value, list):
            rows.append((bytes(int(b, 16) for b in key), int.from_bytes(bytes(int(b, 16) for b in value), "little")))
    return rows


# the counts map's key in each tool: (key size, offsets of the user and kernel stack ids)
PROFILE_KEYS = {"ours": (28, 4, 8), "bcc": (40, 16, 20)}
NOT_TAKEN = (-1,)  # ours: -1 when -U/-K leaves a stack out


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, clock ticks


def profile_once(side: str, args: argparse.Namespace) -> Run:
    key_size, user_at, kernel_at = PROFILE_KEYS[side]
    cmd = ([args.python, "-m", "bpfimport.tools.profile", "-F", str(args.hz)] if side == "ours"
           else ["/usr/sbin/profile-bpfcc", "-F", str(args.hz)])
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(NCPU)]
    tick = os.sysconf("SC_CLK_TCK")

    def during(pid: int) -> dict[str, Any]:
        cnt0, ns0 = _prog_stats(pid)
        cpu0, t0 = _cpu_ticks(pid), time.perf_counter()
        time.sleep(args.seconds)
        cnt1, ns1 = _prog_stats(pid)
        cpu1, t1 = _cpu_ticks(pid), time.perf_counter()
        counted = errors = 0
        for map_id in _map_ids(pid, key_size):
            for key, value in _dump(map_id):
                counted += value
                user, kernel = (struct.unpack_from("<i", key, at)[0] for at in (user_at, kernel_at))
                if any(s < 0 and s not in NOT_TAKEN and s != -errno.EFAULT for s in (user, kernel)):
                    errors += value
        return {"window_s": t1 - t0, "run_cnt": cnt1 - cnt0, "run_ns": ns1 - ns0,
                "counted_total": counted, "stack_errors": errors,
                "tool_cpu_s": (cpu1 - cpu0) / tick, "cpu_window_s": t1 - t0}

    try:
        time.sleep(0.2)
        return run_to_attach(cmd, base_env(), settle=0.0, timeout=args.timeout, during=during,
                             attached_check=None if side == "ours" else perf_events_attached)
    finally:
        for b in burners:
            b.kill()
            b.wait()


def profile_row(args: argparse.Namespace) -> dict[str, list[Run]]:
    fd = enable_bpf_stats()
    results: dict[str, list[Run]] = {s: [] for s in ("ours", "bcc") if s in args.profile_sides}
    try:
        for _ in range(args.runs):
            for side in results:
                r = profile_once(side, args)
                r.extra.pop("output", None)
                results[side].append(r)
                print(f"# profile {side}: {json.dumps(r.extra)} {r.error}", file=sys.stderr, flush=True)
    finally:
        if fd is not None:
            os.close(fd)
    results["stats"] = [Run(extra={"bpf_stats": fd is not None})]
    return results


def profile_table(results: dict[str, list[Run]], args: argparse.Namespace) -> str:
    stats_on = results.get("stats", [Run(extra={})])[0].extra.get("bpf_stats")
    lines = ["| | samples expected/s | program runs/s | runs ÷ expected | counted in the map | "
             "stack ids lost | BPF time per sample | BPF time, % of all CPUs | tool's CPU while sampling |",
             "|" + "---|" * 10]
    for side in ("ours", "bcc"):
        runs = [r for r in results.get(side, []) if r.seconds is not None]
        if side not in results:
            continue
        label = "bpfimport" if side == "ours" else "bcc"
        if not runs:
            lines.append(f"| {label} | " + _why(results[side]) + " |" * 9)
            continue

        def med(f: Any, runs: list[Run] = runs) -> float:
            return statistics.median(f(r.extra) for r in runs)

        expected = args.hz * NCPU
        rate = med(lambda e: e["run_cnt"] / e["window_s"])
        counted = med(lambda e: e["counted_total"])
        lost = med(lambda e: e["stack_errors"])
        per = med(lambda e: e["run_ns"] / max(1, e["run_cnt"])) if stats_on else None
        share = med(lambda e: e["run_ns"] / 1e9 / (e["window_s"] * NCPU)) if stats_on else None
        tool = med(lambda e: e["tool_cpu_s"] / e["cpu_window_s"])
        lines.append("| " + " | ".join([
            label, f"{expected:,}", f"{rate:,.0f}", f"{rate / expected:.3f}",
            f"{counted:,.0f} (whole run)", f"{lost:,.0f}",
            f"{per / 1000:.1f} µs" if per is not None else "n/a",
            f"{share * 100:.3f} %" if share is not None else "n/a",
            f"{tool * 100:.2f} % of a CPU"]) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def machine(python: str) -> str:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    bt = subprocess.run(["bpftrace", "--version"], capture_output=True, text=True).stdout.strip() \
        if shutil.which("bpftrace") else "no bpftrace"
    py = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                        capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()
    wait = first_uprobe_wait(python)
    return (f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {cpu}, {NCPU} CPUs, "
            f"kernel {platform.release()}, Python {py} ({python}), {bt}, "
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
            f"first uprobe registration {wait}, a fresh page {fresh_page_cost(python)}")


# A fresh process writes one byte into each of 2,000 new anonymous pages. On a virtual machine
# whose host takes back the guest's free memory, a page the guest had freed costs the host a
# fault of its own when it is used again: up to 32 us a page on the development VM, ~2 us right
# after other memory was freed. A warm tool's process takes ~1,600 page faults (bcc's
# funclatency ~19,000), so this moves every start-up time in the table, ours most in proportion.
_FRESH_PAGES = """
import mmap, time
m = mmap.mmap(-1, 2000 * 4096)
t = time.perf_counter()
for i in range(0, 2000 * 4096, 4096):
    m[i] = 1
print(f"{(time.perf_counter() - t) / 2000 * 1e6:.1f}")
"""


def back_memory(megabytes: int) -> None:
    """Touch ``megabytes`` of new memory and free it, so that the next process's new pages are
    ones the VM host backs (``--back-memory``): without it a run that follows a large process
    (bcc's, or a compile) starts on freshly freed memory and one that follows a small one does
    not, and the order of the variants moves their times."""
    import mmap

    size = megabytes << 20
    m = mmap.mmap(-1, size)
    try:
        for i in range(0, size, mmap.PAGESIZE):
            m[i] = 1
    finally:
        m.close()


def fresh_page_cost(python: str) -> str:
    out = subprocess.run([python, "-c", _FRESH_PAGES], capture_output=True, text=True).stdout.strip()
    return f"{out} us" if out else "n/a"


# A fresh process opens a uprobe on libc's getpid and times the open: the kernel's first uprobe
# registration waits for an RCU grace period, which bounds funclatency's and bashreadline's
# start-up and varies with the machine's state (10-27 ms on the development VM on one day).
_UPROBE_WAIT = """
import time
import bpfimport.elf, bpfimport.runtime.libpath, bpfimport.runtime.perf  # imports: not the wait
from bpfimport.runtime.probes import prepare_uprobe
t = time.perf_counter()
probe = prepare_uprobe("libc.so.6", "getpid")
probe.wait()
print(f"{(time.perf_counter() - t) * 1000:.1f}" if probe.fd is not None else "n/a")
probe.close()
"""


def first_uprobe_wait(python: str, runs: int = 5) -> str:
    """The median time a fresh process takes to open its first uprobe (see above)."""
    times = []
    for _ in range(runs):
        out = subprocess.run([python, "-c", _UPROBE_WAIT], capture_output=True, text=True).stdout.strip()
        try:
            times.append(float(out))
        except ValueError:
            return "n/a"
        time.sleep(0.2)  # the kernel's state returns to idle one grace period after the close
    return f"{statistics.median(times):.1f} ms (median of {runs}: {min(times):.1f}-{max(times):.1f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="startup,profile", help="startup, profile (comma-separated)")
    ap.add_argument("--tools", default=",".join(t.name for t in TOOLS), help="the tools of the startup row")
    ap.add_argument("--rounds", type=int, default=3, help="counted rounds per tool in the startup row")
    ap.add_argument("--sides", default="warm,cold,first,bcc,bpftrace,floor,floor cold",
                    help="startup variants to run (floor: see floor.py; only for funclatency)")
    ap.add_argument("--runs", type=int, default=3, help="runs per side of the profile row")
    ap.add_argument("--seconds", type=float, default=5.0, help="sampling window of a profile run")
    ap.add_argument("--hz", type=int, default=999, help="profile's sampling frequency")
    ap.add_argument("--profile-sides", default="ours,bcc")
    ap.add_argument("--back-memory", type=int, default=0, metavar="MB",
                    help="before each start-up run, touch and free this much memory (a VM whose "
                         "host takes back free memory: see back_memory); 0: do not")
    ap.add_argument("--settle", type=float, default=SETTLE,
                    help="seconds a tool runs after its first line before its RSS is read")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds a tool may take to attach")
    ap.add_argument("--python", default=sys.executable, help="the Python that runs bpfimport's tools")
    ap.add_argument("--json", help="also write the raw results here")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("tools.py: run as root (the tools load BPF programs)", file=sys.stderr)
        return 1
    # started in the background by a shell, this process (and every tool it starts) would
    # ignore SIGINT: a handler of our own is reset to the default in each child at exec
    signal.signal(signal.SIGINT, signal.default_int_handler)
    rows = set(args.rows.split(","))
    args.sides = args.sides.split(",")
    args.profile_sides = args.profile_sides.split(",")
    chosen = set(args.tools.split(","))
    tools = [t for t in TOOLS if t.name in chosen]
    # bpfimport's own .pyc written first, as an install does (PYTHONDONTWRITEBYTECODE may be set)
    subprocess.run([args.python, "-m", "compileall", "-q", str(tools_cache_dir().parent.parent)],
                   check=False, stdout=subprocess.DEVNULL)
    print(f"Machine: {machine(args.python)}\n")
    raw: dict[str, Any] = {}
    if "startup" in rows:
        start = time.monotonic()
        res = startup_row(tools, args)
        print(f"Start-up to attached and peak RSS, {args.rounds} rounds, medians "
              f"({time.monotonic() - start:.0f} s):\n")
        print(startup_table(res) + "\n")
        floors = floor_table(res)
        if floors:
            print("What the machine allows (benchmarks/floor.py: a Python process that only opens the "
                  "tool's uprobes; cold: while LLVM compiles the tool's IR), same rounds:\n")
            print(floors + "\n")
        raw["startup"] = {t: {k: [r.__dict__ for r in rs] for k, rs in v.items()} for t, v in res.items()}
    if "profile" in rows:
        start = time.monotonic()
        pres = profile_row(args)
        print(f"profile -F {args.hz} with a CPU burner on each of {NCPU} CPUs, {args.seconds:g} s windows, "
              f"{args.runs} runs per side, medians ({time.monotonic() - start:.0f} s):\n")
        print(profile_table(pres, args) + "\n")
        raw["profile"] = {k: [r.__dict__ for r in rs] for k, rs in pres.items()}
    print(f"Machine at the end: {machine(args.python)}")
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
