"""Printing counted stacks as bcc's profile and offcputime do: frame lists, or folded lines.

Both tools count a struct key holding ``pid``, ``comm``, ``user_stack`` and ``kernel_stack``
(stack ids; a negative one is the error ``get_stackid()`` returned: no stack) in a hash map,
and keep the stacks in a ``StackTraceMap``.
"""

from __future__ import annotations

from collections.abc import Callable

from bpfimport.symbols import ksym, usym
from bpfimport.tools._common import _seconds, run_events, text
from bpfimport.tools._options import Namespace, OptionParser

TYPE_CHECKING = False  # importing typing costs ~2.5 ms of a tool's start
if TYPE_CHECKING:
    from typing import Any

# A kernel stack taken in a tracepoint program starts in the tracing machinery (the BPF
# program, bpf_trace_run4, __traceiter_sched_switch): frames the user did not ask about.
TRACING_FRAMES = ("bpf_prog_", "bpf_trace_run", "__traceiter_", "__bpf_trace_", "trace_call_bpf")


def _without_tracing(frames: list[str]) -> list[str]:
    """``frames`` from the first one that is not the tracing machinery's."""
    for i, frame in enumerate(frames):
        if not frame.startswith(TRACING_FRAMES):
            return frames[i:]
    return []


def _folded_name(name: str) -> str:
    """A name as one field of a folded line: no ``;`` (the separator) and no white space
    (a comm may hold spaces or even a newline, and the count follows the last space)."""
    return "".join("_" if ch == ";" or ch.isspace() else ch for ch in name)


def _frames(stacks: Any, stack_id: int, name: Callable[[int], str]) -> list[str]:
    if stack_id < 0:
        return []
    try:
        addresses = stacks[stack_id]
    except KeyError:
        return []
    return [name(addr) for addr in addresses]


def stack_names(stacks: Any, key: Any) -> tuple[list[str], list[str]]:
    """(kernel frames, user frames) of one key, innermost first, by name."""
    kernel = _without_tracing(_frames(stacks, key.kernel_stack, ksym))
    user = _frames(stacks, key.user_stack, lambda addr: usym(addr, key.pid))
    return kernel, user


def print_stacks(stacks: Any, counts: Any, *, folded: bool, delimited: bool = False,
                 emit: Callable[[str], object] = print) -> None:
    """Every counted stack, smallest count first (bcc's order).

    Folded: ``comm;outermost;...;innermost count``, user frames then kernel frames
    (kernel ones suffixed ``_[k]`` as bcc's ``-f`` marks them), one line per stack,
    which flamegraph.pl reads.  Otherwise each frame on its line, innermost first,
    kernel frames then user frames (``--`` between them with
    ``delimited``), then ``-  comm (pid)`` and the count.
    """
    merged: dict[tuple[int, str, tuple[str, ...], tuple[str, ...]], int] = {}
    for key, value in counts.items():
        # stacks that differ only in addresses inside the same functions print as one
        kernel_names, user_names = stack_names(stacks, key)
        row = (key.pid, text(key.comm), tuple(kernel_names), tuple(user_names))
        merged[row] = merged.get(row, 0) + value
    for (pid, comm, kernel, user), value in sorted(merged.items(), key=lambda kv: kv[1]):
        if folded:
            parts = [_folded_name(comm), *map(_folded_name, reversed(user))]
            if delimited and user and kernel:
                parts.append("-")
            parts.extend(f"{_folded_name(frame)}_[k]" for frame in reversed(kernel))
            emit(";".join(parts) + f" {value}")
        else:
            for frame in kernel:
                emit(f"    {frame}")
            if delimited and kernel and user:
                emit("    --")
            for frame in user:
                emit(f"    {frame}")
            emit(f"    {'-':<16} {comm} ({pid})")
            emit(f"        {value}\n")


# ---------------------------------------------------------------- the tools' shared parts


def add_stack_choice(parser: OptionParser) -> None:
    """``-U`` / ``-K`` (exclusive): user or kernel stacks only (``args.user_stacks_only``, ...)."""
    stack = parser.add_mutually_exclusive_group()
    stack.add_argument("-U", "--user-stacks-only", action="store_true",
                       help="show stacks from user space only (no kernel space stacks)")
    stack.add_argument("-K", "--kernel-stacks-only", action="store_true",
                       help="show stacks from kernel space only (no user space stacks)")


def add_stack_output(parser: OptionParser, folded_help: str) -> None:
    """``-d`` (a ``--`` between kernel and user frames), ``-f`` (folded) and the ``duration``
    positional, read by :func:`announce` and :func:`collect_stacks`."""
    parser.add_argument("-d", "--delimited", action="store_true",
                        help="insert delimiter between kernel/user stacks")
    parser.add_argument("-f", "--folded", action="store_true", help=folded_help)
    parser.add_argument("duration", nargs="?", type=_seconds, default=None,
                        help="duration of trace, in seconds (default: until Ctrl-C)")


def announce(args: Namespace, doing: str) -> None:
    """bcc's first line, ``DOING of TARGET by WHICH stack...``; none for folded output
    (it goes to flamegraph.pl, which reads every line as a stack)."""
    if args.folded:
        return
    which = ("user" if args.user_stacks_only else "kernel" if args.kernel_stacks_only
             else "user + kernel")
    target = f"PID {args.pid}" if args.pid else "all threads"
    until = f" for {args.duration:g} secs." if args.duration else "... Hit Ctrl-C to end."
    print(f"{doing} of {target} by {which} stack{until}", flush=True)


def collect_stacks(module: Any, args: Namespace) -> None:
    """Count until Ctrl-C, SIGTERM or ``args.duration``, then print the module's stacks and close it.

    The programs are detached before the maps are read, so the counts hold still
    while they print; ``module`` has a ``counts`` hash and a ``stacks`` StackTraceMap.
    """
    try:
        run_events([], duration=args.duration)
    except KeyboardInterrupt:
        pass
    try:
        for link in list(module.__bpf_object__.links):
            link.detach()
        print_stacks(module.stacks, module.counts, folded=args.folded, delimited=args.delimited)
    finally:
        module.close()
