"""The command line: ``python -m bpfimport`` (also installed as ``bpfimport``).

Sub-commands are small functions over the loader (:mod:`bpfimport.importer`), so the
command line does exactly what an import does.  Errors in the user's file are
one line, ``file:line:col: error: message``, with exit status 1 and no
traceback, the way compilers report them; usage errors exit with 2.  So are
the other failures: a missing source, one that is not a regular file (a FIFO
would hang the read, ``/dev/zero`` never end) or is over the size limit, a
full or closed stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import CompileError, SetupError
from .importer import SOURCE_SUFFIX, compile_or_read, compile_path, module_name, write_stub
from .options import DEFAULT_OPTIONS, CompileOptions

if TYPE_CHECKING:
    from .compiler import CompiledModule

PROG = "python -m bpfimport"

DESCRIPTION = """\
Compile eBPF programs written in Python (.bpf.py files).

An `import NAME_bpf` does all of this on its own (and caches the object in
__pycache__/); these commands are for looking at what the compiler makes,
for shipping objects to other tools, and for prefilling caches.
"""

EPILOG = f"""\
examples:
  {PROG} compile mytrace.bpf.py              # writes mytrace.bpf.o beside it
  {PROG} compile mytrace.bpf.py -o out.o     # for bpftool / libbpf / other loaders
  {PROG} ir mytrace.bpf.py | less            # the LLVM IR
  {PROG} asm mytrace.bpf.py                  # BPF instructions under their Python lines
  {PROG} compileall app/                     # fill caches before deploying read-only
  {PROG} stubs app/                          # NAME_bpf.pyi stubs for type checkers
  sudo {PROG} run mytrace.bpf.py             # load, attach, stream output, dump maps
  sudo {PROG} run mytrace.bpf.py --metrics :9435   # ... and serve the maps to Prometheus

`{PROG} COMMAND --help` describes each command.
"""


class CommandError(Exception):
    """A failure to report as one line (not the user's source: a file, a tool, the kernel)."""


# ---------------------------------------------------------------- shared pieces


def _options(args: argparse.Namespace) -> CompileOptions:
    return CompileOptions(cpu=args.cpu, opt_level=args.opt_level, debug=not args.no_debug)


def _compile(path: str, args: argparse.Namespace) -> CompiledModule:
    """Read (refusing FIFOs, devices and huge files: they would hang or never end) and compile."""
    try:
        return compile_path(path, _options(args))
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None


class OutputError(CommandError):
    """stdout is closed or cannot take the output (``> /dev/full``)."""


def _stdout(text: str | None = None) -> None:
    """Write ``text`` to stdout (None: flush it), turning a failure into an :class:`OutputError`.

    stdout may be closed (``>&-``: Python then has no ``sys.stdout``) or full;
    a closed pipe (``| head``) stays a BrokenPipeError, which is no error.
    """
    if sys.stdout is None:
        if text is None:
            return
        raise OutputError("cannot write the output: stdout is closed")
    try:
        if text is None:
            sys.stdout.flush()
        else:
            sys.stdout.write(text)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write the output: {exc.strerror or exc}") from None


def _write(path: str, data: bytes | str) -> None:
    try:
        mode = "w" if isinstance(data, str) else "wb"
        with open(path, mode) as f:
            f.write(data)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None


def default_output(source: str) -> str:
    """``dir/NAME.bpf.py`` → ``dir/NAME.bpf.o``: the name clang users give a libbpf object."""
    base = source[:-3] if source.endswith(".py") else source
    return base + ".o"


def _add_compile_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("code generation (the defaults are what an import uses)")
    g.add_argument("--cpu", default=DEFAULT_OPTIONS.cpu, choices=["v1", "v2", "v3", "v4", "generic"],
                   help="BPF instruction set version (default: %(default)s)")
    g.add_argument("-O", dest="opt_level", type=int, default=DEFAULT_OPTIONS.opt_level, choices=[0, 1, 2, 3],
                   help="LLVM optimisation level (default: %(default)s)")
    g.add_argument("--no-debug", action="store_true",
                   help="omit BTF line info (verifier logs then lose the Python lines)")


# ---------------------------------------------------------------- commands


def cmd_compile(args: argparse.Namespace) -> int:
    out = args.output or default_output(args.file)
    compiled = _compile(args.file, args)
    _write(out, compiled.object)
    if not args.quiet:
        print(f"{out}: {len(compiled.object)} bytes, "
              f"{len(compiled.spec.programs)} program(s), {len(compiled.spec.maps)} map(s)")
    return 0


def cmd_ir(args: argparse.Namespace) -> int:
    ir = _compile(args.file, args).ir
    if args.output:
        _write(args.output, ir)
    else:
        _stdout(ir if ir.endswith("\n") else ir + "\n")
    return 0


OBJDUMPS = ("llvm-objdump", *(f"llvm-objdump-{v}" for v in range(22, 13, -1)))


def _objdump() -> str | None:
    """An llvm-objdump with the BPF target (every LLVM build has it since LLVM 3.7)."""
    import shutil

    for name in OBJDUMPS:
        found = shutil.which(name)
        if found:
            return found
    return None


def _helper_names() -> dict[str, str]:
    """``"14"`` → ``"bpf_get_current_pid_tgid"``, from the compiler's helper table."""
    from .compiler.helpers import Helper

    return {str(v): f"bpf_{k.lower()}" for k, v in vars(Helper).items() if isinstance(v, int)}


def cmd_asm(args: argparse.Namespace) -> int:
    import re
    import subprocess
    import tempfile

    objdump = _objdump()
    if objdump is None:
        raise CommandError(
            "asm needs llvm-objdump (Debian/Ubuntu: apt-get install llvm); "
            f"or write the object with `{PROG} compile FILE -o OUT.o` and disassemble it elsewhere"
        )
    compiled = _compile(args.file, args)
    with tempfile.TemporaryDirectory(prefix="bpfimport-asm-") as tmp:
        obj = os.path.join(tmp, os.path.basename(default_output(args.file)))
        _write(obj, compiled.object)
        # -S interleaves the Python lines (from the object's line info), -r names the
        # maps and globals an `r1 = 0 ll` refers to
        r = subprocess.run([objdump, "-d", "-l", "-S", "-r", "--no-show-raw-insn", obj],
                           capture_output=True, text=True)
    if r.returncode != 0:
        raise CommandError(f"{objdump} failed: {r.stderr.strip()}")
    helpers = _helper_names()
    out = []
    lineno = None
    for line in r.stdout.splitlines():
        if line.startswith(obj) and "file format" in line:
            line = f"{args.file}: BPF object, {len(compiled.object)} bytes"
        elif line.startswith("; "):
            # -l gives "; func():" and "; path:N" before the "; text" that -S gives:
            # fold them into "; N | text"
            where = re.fullmatch(r"; (.*):(\d+)", line)
            if where and where.group(1).endswith(".py"):
                lineno = where.group(2)
                continue
            if re.fullmatch(r"; [\w.]+\(\):", line):
                continue
            if lineno is not None:
                line = f"; {lineno:>4} | {line[2:]}"
                lineno = None
        else:
            m = re.search(r"\bcall (\d+)$", line)
            if m and m.group(1) in helpers:
                line += f"\t# {helpers[m.group(1)]}"
        out.append(line)
    _stdout("\n".join(out).strip("\n") + "\n")
    return 0


def _sources(paths: Sequence[str]) -> Iterator[str]:
    """The files named, and every ``*.bpf.py`` under the folders named (FIFOs too: reading refuses them)."""
    for path in paths:
        if not os.path.isdir(path):
            if not os.path.lexists(path):
                raise CommandError(f"{path}: no such file or folder")
            yield path
            continue
        for folder, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
            for name in sorted(files):
                if name.endswith(SOURCE_SUFFIX):
                    yield os.path.join(folder, name)


def cmd_compileall(args: argparse.Namespace) -> int:
    failed = 0
    for path in _sources(args.paths):
        try:
            entry = compile_or_read(path, module_name(path), write_cache=True, force=args.force,
                                    portable=args.portable)
        except CompileError as exc:
            print(exc.one_line(), file=sys.stderr)
            failed += 1
            continue
        except OSError as exc:
            print(f"{path}: error: cannot read: {exc.strerror or exc}", file=sys.stderr)
            failed += 1
            continue
        if entry.hit:
            status = "up to date"
        elif entry.written:
            status = "compiled"
        else:
            print(f"{path}: error: could not write {entry.cached}", file=sys.stderr)
            failed += 1
            continue
        if not args.quiet:
            print(f"{path}: {status} -> {entry.cached} ({entry.spec.portability()})")
    return 1 if failed else 0


def cmd_stubs(args: argparse.Namespace) -> int:
    failed = 0
    for path in _sources(args.paths):
        try:
            written = write_stub(path, module_name(path))
        except CompileError as exc:
            print(exc.one_line(), file=sys.stderr)
            failed += 1
            continue
        except OSError as exc:
            print(f"{path}: error: {exc.strerror or exc}"
                  + (f": {exc.filename}" if exc.filename and exc.filename != path else ""),
                  file=sys.stderr)
            failed += 1
            continue
        if not args.quiet:
            print(f"{path}: -> {written}")
    return 1 if failed else 0


TRACE_PIPES = ("/sys/kernel/tracing/trace_pipe", "/sys/kernel/debug/tracing/trace_pipe")
STALE_TRACE_READS = 64  # 4 MiB at most: what is left in the pipe is dropped, not printed


def _open_trace_pipe() -> int | None:
    """The trace pipe, opened non-blocking and emptied of what earlier runs left there.

    Stale lines would otherwise be printed as this run's output.  The drain is bounded
    (a busy tracer elsewhere could refill the pipe as fast as it is read).
    """
    for path in TRACE_PIPES:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            continue
        for _ in range(STALE_TRACE_READS):
            try:
                if not os.read(fd, 65536):
                    break
            except BlockingIOError:
                break
        return fd
    return None


KERNEL_SPACE = 0xFFFF_8000_0000_0000  # x86-64 and arm64: kernel addresses start here


def _dump_maps(module: object, spec: object) -> None:
    """Print every map's entries (arrays: the non-zero ones), the way a user would read them.

    A log2 histogram (``MapSpec.histogram``) prints as bcc prints one; a stack trace map
    prints each stack's frames by name.
    """
    maps = spec.maps  # type: ignore[attr-defined]
    for m in maps:
        handle = getattr(module, m.name)
        if not hasattr(handle, "items") or m.map_kind.events or m.map_kind.keyless:
            continue
        try:
            items = handle.items()
        except Exception as exc:  # noqa: BLE001 - one unreadable map must not hide the others
            print(f"{m.name}: (cannot read: {exc})")
            continue
        if m.histogram == "log2" and items:
            print(f"{m.name} (log2 histogram):")
            handle.print_log2_hist(section_header=_section_name(handle))
            continue
        if m.kind == "StackTraceMap":
            _print_stacks(m.name, items, _stack_pids(module, maps))
            continue
        shown = [(k, v) for k, v in items if not (m.map_kind.array and _is_zero(v))]
        hidden = len(items) - len(shown)
        note = f", {hidden} zero entries not shown" if hidden else ""
        print(f"{m.name} ({m.kind}, {len(shown)} entries{note}):")
        try:
            shown.sort()
        except TypeError:  # struct keys
            shown.sort(key=repr)
        for k, v in shown:
            print(f"  {k!r}: {v!r}")


def _section_name(handle: Any) -> str:
    """A keyed histogram's section header: the key's section field names (bcc's default else)."""
    from .spec import slot_field

    fields = [f[0] for f in getattr(handle.key_type, "_fields_", ())]
    if len(fields) < 2:
        return "Bucket ptr"
    slot = slot_field(fields)
    return ", ".join(f for f in fields if f != slot)


def _stack_pids(module: object, maps: Any) -> dict[int, int]:
    """Stack id -> the process it was taken in, from maps keyed by a struct holding both
    (a field named like pid/tgid and fields named like *stack*), as profilers count them."""
    pids: dict[int, int] = {}
    for m in maps:
        if not (m.key or "").startswith("struct ") or m.map_kind.events or m.map_kind.keyless:
            continue
        handle = getattr(module, m.name)
        fields = [f[0] for f in getattr(handle.key_type, "_fields_", ())]
        pid_field = next((f for f in fields if f in ("pid", "tgid")), None)
        stack_fields = [f for f in fields if "stack" in f]
        if pid_field is None or not stack_fields:
            continue
        try:
            keys = handle.keys()
        except Exception:  # noqa: BLE001 - a hint for naming frames, never a failure
            continue
        for k in keys:
            for f in stack_fields:
                pids.setdefault(getattr(k, f), getattr(k, pid_field))
    return pids


def _frame_name(addr: int, pid: int | None) -> str:
    """A frame by name where one can be found (kernel: kallsyms; user: the process's ELF files)."""
    from . import symbols

    try:
        if addr >= KERNEL_SPACE:
            name = symbols.ksym(addr, offset=True)
        elif pid is not None:
            name = symbols.usym(addr, pid, offset=True, module=True)
        else:
            name = symbols.UNKNOWN
    except (ImportError, OSError):  # no pyelftools, kallsyms hidden: the address alone
        name = symbols.UNKNOWN
    return f"{addr:#x}" if name == symbols.UNKNOWN else f"{name} ({addr:#x})"


def _print_stacks(name: str, items: list[tuple[int, list[int]]], pids: dict[int, int]) -> None:
    print(f"{name} (StackTraceMap, {len(items)} stacks):")
    for stack_id, frames in sorted(items):
        pid = pids.get(stack_id)
        print(f"  stack {stack_id}" + (f" (pid {pid})" if pid is not None else "") + ":")
        for addr in frames:
            print(f"    {_frame_name(addr, pid)}")


def _is_zero(value: object) -> bool:
    """An array map's untouched entry: 0, a per-CPU list of zeros, an all-zero struct."""
    if isinstance(value, list):
        return all(_is_zero(v) for v in value)
    if hasattr(value, "_fields_"):
        return not any(bytes(value))  # type: ignore[call-overload]
    return not value


def cmd_run(args: argparse.Namespace) -> int:
    from .errors import BpfError
    from .importer import import_file

    try:
        module = import_file(args.file)
    except OSError as exc:
        raise CommandError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    except ImportError as exc:  # a missing file, a FIFO, a device: the loader says which
        raise CommandError(str(exc)) from None
    spec = module.__bpf_spec__
    server = None
    try:
        module.load()
        if args.metrics is not None:
            server = _serve_metrics(module, args.metrics)
        _attach_stream_dump(module, spec, args)
    except BpfError as exc:  # e.g. from poll(): one line, like every other failure here
        raise CommandError(str(exc)) from None
    finally:
        if server is not None:
            server.close()
        module.close()
    return 0


def metrics_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``:9435`` for every interface, ``[::1]:9435`` for IPv6) → (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT (e.g. :9435 or 127.0.0.1:9435), "
                                         f"got {text!r}")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return host or "0.0.0.0", int(port)


def _serve_metrics(module: Any, where: tuple[str, int]) -> Any:
    """``run --metrics``: serve the module's maps to Prometheus while the programs run."""
    try:
        from .export import serve

        server = serve(where[1], module, addr=where[0])
    except ImportError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot serve metrics at {where[0]}:{where[1]}: "
                           f"{exc.strerror or exc}") from None
    print(f"serving metrics at {server.url}", file=sys.stderr, flush=True)
    return server


def _attach_stream_dump(module: Any, spec: Any, args: argparse.Namespace) -> None:
    """``run`` once the module is loaded: attach, stream until stopped, print the maps."""
    import select
    import time

    from .errors import BpfError
    from .runtime.events import poll_maps

    pipe = None if args.no_trace else _open_trace_pipe()  # before attach: drops only old lines
    attached = 0
    for p in spec.programs:
        try:
            getattr(module, p.name).attach()
            attached += 1
            print(f"attached {p.name} ({p.section})", file=sys.stderr)
        except (BpfError, TypeError) as exc:  # TypeError: a packet program names no target
            print(f"not attached {p.name} ({p.section}): {exc}", file=sys.stderr)
    events = [getattr(module, m.name) for m in spec.maps if m.map_kind.events]
    events = [e for e in events if hasattr(e, "poll")]
    if not args.no_trace and pipe is None:
        print("print() output not shown: tracefs is not mounted "
              "(mount -t tracefs nodev /sys/kernel/tracing)", file=sys.stderr)
    until = time.monotonic() + args.duration if args.duration is not None else None
    print(f"{attached} program(s) attached; Ctrl-C to stop and print the maps", file=sys.stderr)

    def show(event: object) -> None:
        print(f"event: {event!r}", flush=True)

    def lost(m: Any, count: int) -> None:
        print(f"lost: {count} event(s) of {m.name} (the perf buffer was full)", file=sys.stderr)

    # one loop for every event map (bpfimport.poll): one wait on all their descriptors, and
    # the map that goes first turns at each round, so a flood on one does not starve another
    callbacks = {e: show for e in events}
    pending = b""

    try:
        while until is None or time.monotonic() < until:
            wait = 0.1 if until is None else max(0.0, min(0.1, until - time.monotonic()))
            if pipe is not None:
                ready, _, _ = select.select([pipe], [], [], 0 if events else wait)
                if ready:
                    pending += os.read(pipe, 65536)
                    *lines, pending = pending.split(b"\n")
                    # print() ends its text with a newline and the trace adds one: skip the blanks
                    text = "".join(f"{ln}\n" for ln in (x.decode("utf-8", "replace") for x in lines) if ln.strip())
                    sys.stdout.write(text)
                    sys.stdout.flush()
            elif not events:
                time.sleep(wait)
            if callbacks:
                # at least 1 ms: poll(timeout_ms=0) is bounded only by the buffers' size, which
                # under a flood is seconds of printing; a timeout bounds it by the clock
                poll_maps(callbacks, timeout_ms=max(1, int(wait * 1000)), lost=lost)
    except KeyboardInterrupt:
        print(file=sys.stderr)
    finally:
        if pipe is not None:
            os.close(pipe)
    _dump_maps(module, spec)


# ---------------------------------------------------------------- the parser


def _version_text() -> str:
    try:
        import llvmlite
        import llvmlite.binding as llvm

        toolchain = f"llvmlite {llvmlite.__version__}, LLVM {'.'.join(map(str, llvm.llvm_version_info))}"
    except Exception as exc:  # noqa: BLE001 - --version must always answer
        toolchain = f"no compiler: {type(exc).__name__}: {exc}"
    py = ".".join(map(str, sys.version_info[:3]))
    return f"bpfimport {__version__} ({toolchain}; Python {py})"


class _Version(argparse.Action):
    """--version without importing llvmlite unless asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version (and LLVM's) and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        print(_version_text())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG, formatter_class=fmt)
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "compile", help="compile a .bpf.py file to a BPF ELF object", formatter_class=fmt,
        description="Compile a .bpf.py file to a standard BPF ELF object (with BTF) that\n"
        "bpftool, libbpf and other loaders accept.",
        epilog=f"example:\n  {PROG} compile mytrace.bpf.py -o mytrace.o\n"
        "  bpftool prog loadall mytrace.o /sys/fs/bpf/mytrace",
    )
    p.add_argument("file", metavar="FILE.bpf.py", help="the source to compile")
    p.add_argument("-o", "--output", metavar="OUT.o",
                   help="where to write the object (default: FILE.bpf.o beside the source)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    _add_compile_options(p)
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("ir", help="print the LLVM IR", formatter_class=fmt,
                       description="Print the LLVM IR the compiler generates for the file.")
    p.add_argument("file", metavar="FILE.bpf.py")
    p.add_argument("-o", "--output", metavar="OUT.ll", help="write the IR to a file instead of stdout")
    _add_compile_options(p)
    p.set_defaults(func=cmd_ir)

    p = sub.add_parser(
        "asm", help="print BPF instructions under their Python lines", formatter_class=fmt,
        description="Compile, then print each program's BPF instructions, each group under\n"
        "the Python source line it came from. Needs llvm-objdump (any LLVM >= 14).",
    )
    p.add_argument("file", metavar="FILE.bpf.py")
    _add_compile_options(p)
    p.set_defaults(func=cmd_asm)

    p = sub.add_parser(
        "compileall", help="prefill __pycache__ for every .bpf.py under folders", formatter_class=fmt,
        description="Compile every .bpf.py file under the given folders (or the given files) into\n"
        "its cache file, as an import would, so that a later import is a cache hit.\n"
        "For read-only deployments (containers, packages): run it at build time.\n"
        "Like `python -m compileall` it writes even under PYTHONDONTWRITEBYTECODE and\n"
        "honours PYTHONPYCACHEPREFIX. Exit status 1 if any file failed.",
        epilog=f"examples:\n  {PROG} compileall /opt/app && chmod -R a-w /opt/app\n"
        f"  {PROG} compileall --portable src/    # before building a wheel (docs/packaging.md)",
    )
    p.add_argument("paths", nargs="+", metavar="DIR")
    p.add_argument("-f", "--force", action="store_true", help="recompile even when the cache is up to date")
    p.add_argument("--portable", action="store_true",
                   help="key each object by its source's bytes, not its path, so it stays valid "
                   "where the tree is installed or copied (wheels, images); always recompiles")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    p.set_defaults(func=cmd_compileall)

    p = sub.add_parser(
        "stubs", help="write NAME_bpf.pyi beside every NAME.bpf.py, for type checkers",
        formatter_class=fmt,
        description="Write a typed stub (NAME_bpf.pyi) beside every .bpf.py file under the given\n"
        "folders (or the given files), so mypy, pyright and editors know what\n"
        "`import NAME_bpf` gives: maps with their key and value types, struct classes\n"
        "with their fields, globals, programs. Runs the compiler's frontend only (no\n"
        "LLVM). Exit status 1 if any file failed. To keep stubs fresh as you work,\n"
        "set BPFIMPORT_STUBS=1 (or call bpfimport.install(stubs=True)): each import\n"
        "then rewrites a stub its source no longer matches.",
        epilog=f"example:\n  {PROG} stubs app/ && mypy app/",
    )
    p.add_argument("paths", nargs="+", metavar="DIR")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    p.set_defaults(func=cmd_stubs)

    p = sub.add_parser(
        "run", help="load and attach every program; stream output; dump maps on Ctrl-C",
        formatter_class=fmt,
        description="Import FILE.bpf.py, load it, attach every program, and stream the\n"
        "output of its print() calls (trace_pipe) and ring/perf buffer events until\n"
        "Ctrl-C (or --duration); then print every map. Needs root (or CAP_BPF).",
    )
    p.add_argument("file", metavar="FILE.bpf.py")
    p.add_argument("-d", "--duration", type=float, metavar="SECONDS", help="stop after this long")
    p.add_argument("--no-trace", action="store_true", help="do not stream trace_pipe")
    p.add_argument("--metrics", type=metrics_address, metavar="HOST:PORT",
                   help="serve the maps as Prometheus metrics at http://HOST:PORT/metrics "
                   "while running (:9435: every interface; port 0: any free port; "
                   "needs bpfimport[prometheus])")
    p.set_defaults(func=cmd_run)
    return parser


def _error(message: str) -> int:
    print(f"{PROG.split()[-1]}: error: {message}", file=sys.stderr)
    return 1


def _detach_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's final flush of a failed stdout is silent.

    Without it, Python prints "Exception ignored ... BrokenPipeError" (or
    ENOSPC for ``> /dev/full``) with a traceback after ``main`` returns.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, AttributeError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (the console script's entry point)."""
    args = build_parser().parse_args(argv)
    try:
        status = args.func(args)
        _stdout()  # flush here, where a full disk is reported, not at exit
        return status
    except CompileError as exc:
        print(exc.one_line(), file=sys.stderr)
        return 1
    except OutputError as exc:
        _detach_stdout()
        return _error(str(exc))
    except (CommandError, SetupError) as exc:
        return _error(str(exc))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `... | head`: the reader has what it wanted
        _detach_stdout()
        return 0


if __name__ == "__main__":
    sys.exit(main())
