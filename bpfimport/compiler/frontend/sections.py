"""What a program decorator's strings may hold.

They end up in one place, the program's ELF section name, which libbpf reads
back twice: to know the program's type, and to attach it (``bpf_program__attach``
splits ``tracepoint/<category>/<name>`` and ``uprobe/<path>:<symbol>[+offset]``
again).  A name the ELF cannot hold (a NUL ends it) or that libbpf would split
differently from what was written is refused here, at the decorator, rather than
attaching somewhere else or failing at run time.
"""

from __future__ import annotations

from ...kinds import ProgramKind

# What libbpf (1.0 on) reads as a kprobe/uprobe symbol: sscanf("%m[a-zA-Z0-9_.]+%li") — any
# other character would end the symbol early and attach to a different one.  (Patterns, not
# compiled regexes: re caches them at first use, so a module without probes never compiles them.)
_SYMBOL = r"[A-Za-z0-9_.]+"
# "+offset" as %li reads it completely: decimal, 0x hex or 0-prefixed octal, nothing after.
_OFFSET = r"\+(0[xX][0-9A-Fa-f]+|0[0-7]*|[1-9][0-9]*)"

SYMBOL_HINT = "a symbol is letters, digits, '_' and '.', optionally followed by +offset, e.g. \"readline+0x10\""

# Sections libbpf reads as something other than a program (data, maps, BTF, the license ...).
_NOT_PROGRAMS = {"license": "the license", "version": "the kernel version",
                 "maps": "legacy map definitions (refused since libbpf 1.0)"}


class SectionProblem(Exception):
    """A decorator string libbpf cannot take: ``index`` of the argument (None: the whole)."""

    def __init__(self, index: int | None, message: str, hint: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message
        self.hint = hint


def check_arguments(pk: ProgramKind, values: list[str]) -> None:
    """Raise :class:`SectionProblem` for strings ``@kind(*values)`` cannot hold."""
    for i, v in enumerate(values):
        if "\0" in v:
            raise SectionProblem(i, f"@{pk.decorator}(...) holds a NUL character, which would end "
                                 "the ELF section name there", "remove the \\0")
    if pk.arguments == "tracepoint":
        _tracepoint(values[0])
    elif pk.arguments == "binary:symbol":
        _uprobe(pk, values[0], values[1])
    elif pk.arguments == "symbol":
        _symbol(pk, 0, values[0])
    elif pk.arguments == "hook" and values[0] not in pk.hooks:
        raise SectionProblem(0, f"'{values[0]}' is not a hook of @{pk.decorator} programs",
                             "one of " + ", ".join(pk.hooks))


def check_section(section: str) -> None:
    """Raise :class:`SectionProblem` for a section libbpf does not read as a program."""
    what = _NOT_PROGRAMS.get(section)
    if section.startswith("."):
        what = "ELF, BTF or global data (.text, .maps, .rodata, .BTF, ...)"
    if what is not None:
        raise SectionProblem(None, f"section '{section}' is where libbpf reads {what}, not a program",
                             "name a program section (xdp, tc, tracepoint/..., see docs/language.md) "
                             "or one of your own that does not start with '.'")


def _tracepoint(name: str) -> None:
    category, _, event = name.partition("/")
    if not category or not event or "/" in event:
        raise SectionProblem(0, f"tracepoint '{name}' is not 'category/name'; libbpf splits it at "
                             "the first '/' into the tracefs category and event",
                             '@tracepoint("syscalls/sys_enter_execve")')


def _uprobe(pk: ProgramKind, path: str, symbol: str) -> None:
    if ":" in path:
        raise SectionProblem(0, f"the binary path '{path}' holds ':', where libbpf ends the path "
                             f"of a {pk.decorator} section", "use a path without ':' (a symlink to the binary)")
    _symbol(pk, 1, symbol)


def _symbol(pk: ProgramKind, index: int, text: str) -> None:
    import re  # here: only a probe section with a symbol needs it (~1.5 ms of a compile)

    kind = pk.decorator
    head = re.match(_SYMBOL, text)
    rest = text[head.end():] if head else text
    if head is None or (rest and not re.fullmatch(_OFFSET, rest)):
        raise SectionProblem(index, f"'{text}' is not a symbol libbpf can attach a {kind} to",
                             SYMBOL_HINT)
    if rest and pk.returns:
        raise SectionProblem(index, f"a {kind} attaches at function entry, not at '{text}'",
                             "drop the +offset, or use @" + kind[:1] + "probe")
