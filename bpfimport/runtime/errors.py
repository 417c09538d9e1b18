"""Turn what the kernel and libbpf say into errors a Python programmer can act on.

The raw material is an errno, libbpf's captured log and, for program loads,
the verifier log.  Each function here returns (never raises) an exception of
a type from :mod:`bpfimport.errors` (the one place they are defined), so call
sites read ``raise load_error(...)``.
"""

from __future__ import annotations

import errno as E
import os

from ..errors import BpfError, VerifierError

TRACEFS = "/sys/kernel/tracing"
KPROBE_PMU = "/sys/bus/event_source/devices/kprobe"

# A BTF line-info annotation in a verifier log: "; <source text> @ <file>:<line>" (compiled
# at the first verifier error: importing re costs every tool's start-up ~2 ms)
_SOURCE_LINE = r"^; (?P<text>.*?)(?: @ (?P<file>[^:]+):(?P<line>\d+))?\s*$"
# Summary lines the verifier prints after the complaint
_SUMMARY = ("processed ", "verification time", "stack depth", "mark_precise",
            "-- END PROG LOAD LOG", "max_states_per_insn")
# Program types the kernel may refuse even to root (lockdown, missing config)
_TRACING_TYPES = {"tracing", "lsm", "ext", "struct_ops"}


def _has_privilege() -> bool:
    """Root, or CAP_BPF / CAP_SYS_ADMIN in the effective set (asked afresh at each error)."""
    from .._host import privileged

    return privileged()


def privilege_error(what: str, err: int, libbpf_log: str = "") -> BpfError:
    msg = f"{what}: loading BPF programs needs root or CAP_BPF (run as root, or grant CAP_BPF)"
    return BpfError(with_log(msg, libbpf_log), err)


# States the verifier prints after its complaint (after "infinite loop detected")
_STATE_DUMP = ("cur state:", "old state:")


def split_verifier_log(log: str) -> tuple[str, str | None]:
    """The verifier's complaint and the Python source line it points at.

    The complaint is the last line before the summary (``processed N insns``);
    the source line is the last ``; text @ file:line`` annotation above it,
    rendered as ``file:line: text``.
    """
    lines = [ln.rstrip() for ln in log.splitlines()]
    while lines and (not lines[-1] or lines[-1].startswith(_SUMMARY + _STATE_DUMP)):
        lines.pop()
    if not lines:
        return "", None
    import re

    source_line = re.compile(_SOURCE_LINE)
    complaint_at = len(lines) - 1
    complaint = lines[complaint_at].strip()
    for i in range(complaint_at - 1, -1, -1):
        m = source_line.match(lines[i])
        if m:
            text = m.group("text").strip()
            if m.group("file"):
                return complaint, f"{m.group('file')}:{m.group('line')}: {text}"
            return complaint, text
    return complaint, None


# What the verifier's usual complaints mean in bpfimport's terms: (fragment, hint).
VERIFIER_HINTS = (
    ("map_value_or_null", "a map lookup may find nothing: test it first (`if v:` / "
                          "`if v is not None:`), or read with m.get(k, 0) / m[k]"),
    ("invalid read from stack", "a local or struct is read before it was set on every path"),
    ("unbounded memory access", "bound the index first, e.g. `if i < len(arr):`"),
    ("back-edge", "the verifier cannot prove this loop ends: loop over range(N) with a constant N"),
    ("infinite loop detected", "the verifier cannot prove this loop ends: loop over range(N)"),
    ("program is too large", "split the work into subprograms or smaller programs"),
    ("combined stack size", "the functions on this call chain use more than 512 bytes of stack "
                            "together; keep large structs in a per-CPU array map"),
    ("unknown func", "this helper is not available to this program type or kernel"),
    ("R0 !read_ok", "the program must return a value on every path"),
    ("failed to resolve CO-RE relocation", "the running kernel's BTF (vmlinux and every loaded "
                                           "module's) has no such type or field: a kernel type "
                                           "of a module needs that module loaded"),
)


def verifier_hint(complaint: str) -> str | None:
    for fragment, hint in VERIFIER_HINTS:
        if fragment in complaint:
            return hint
    return None


def verifier_error(program: str, log: str, err: int) -> VerifierError:
    """``program 'p' rejected by the verifier:`` + source line + complaint (+ a hint); ``.log`` the whole log."""
    complaint, source = split_verifier_log(log)
    parts = [f"program '{program}' rejected by the verifier:"]
    if source:
        parts.append(f"  {source}")
    parts.append(f"  {complaint or '(empty verifier log)'}")
    hint = verifier_hint(complaint or "")
    if hint:
        parts.append(f"  hint: {hint}")
    return VerifierError("\n".join(parts), program, log, err)


def program_type_error(program: str, ptype: str | None, err: int, libbpf_log: str) -> BpfError:
    """A program type this kernel refuses (tracing/lsm under lockdown, or not configured)."""
    kind = f"type {ptype}" if ptype else "its type"
    msg = (f"program '{program}' ({kind}) cannot be loaded: this kernel does not allow "
           f"{ptype or 'this'} programs (not configured, or refused in lockdown mode); "
           f"use a tracepoint or raw_tracepoint program instead")
    return BpfError(with_log(msg, libbpf_log), err)


def load_error(
    object_name: str,
    err: int,
    libbpf_log: str,
    program: str | None = None,
    program_type: str | None = None,
    verifier_log: str = "",
) -> BpfError:
    """The best explanation for a failed ``bpf_object__load``."""
    err = abs(err)
    if program and verifier_log.strip() and err != E.EPERM:
        return verifier_error(program, verifier_log, err)
    if err in (E.EPERM, E.EACCES) and not _has_privilege():
        return privilege_error(f"cannot load BPF object '{object_name}'", err, libbpf_log)
    if program and err in (E.EINVAL, E.EPERM, E.ENOTSUP, 524) and program_type in _TRACING_TYPES:
        return program_type_error(program, program_type, err, libbpf_log)
    where = f"program '{program}' of " if program else ""
    msg = f"failed to load {where}BPF object '{object_name}': {strerror(err)}"
    return BpfError(with_log(msg, libbpf_log), err)


def attach_error(program: str, section: str, err: int, libbpf_log: str) -> BpfError:
    """Why ``bpf_program__attach`` failed, with the fix when there is a known one."""
    err = abs(err)
    kind = section.split("/", 1)[0]
    if kind in ("tp", "tracepoint") and not _tracefs_mounted():
        msg = (f"cannot attach program '{program}' to {section}: tracefs is not mounted; "
               f"mount it as root with `mount -t tracefs nodev {TRACEFS}`")
        return BpfError(with_log(msg, libbpf_log), err)
    if kind in ("kprobe", "kretprobe", "ksyscall", "kretsyscall") and not kprobes_available():
        msg = (f"cannot attach program '{program}' to {section}: this kernel has no kprobes "
               f"(CONFIG_KPROBES is off); attach to a tracepoint or raw_tracepoint instead")
        return BpfError(with_log(msg, libbpf_log), err)
    if err in (E.EPERM, E.EACCES) and not _has_privilege():
        return privilege_error(f"cannot attach program '{program}'", err, libbpf_log)
    if err == E.EOPNOTSUPP:
        msg = (f"program '{program}' (section '{section}') cannot be attached automatically; "
               f"its section does not say where (packet programs take ifname=, a socket or "
               f"cgroup=; syscall programs are run with test_run())")
        return BpfError(with_log(msg, libbpf_log), err)
    if err == E.EEXIST:
        msg = (f"cannot attach program '{program}' to {section}: {strerror(err)}: the "
               f"program is already attached there; detach the existing link first")
        return BpfError(with_log(msg, libbpf_log), err)
    msg = f"cannot attach program '{program}' to {section}: {strerror(err)}"
    return BpfError(with_log(msg, libbpf_log), err)


def _tracefs_mounted() -> bool:
    return os.path.isdir(os.path.join(TRACEFS, "events")) or os.path.isdir(
        "/sys/kernel/debug/tracing/events"
    )


def kprobes_available() -> bool:
    """Whether the kernel can create kprobes (perf PMU or legacy kprobe_events)."""
    if os.path.isdir(KPROBE_PMU):
        return True
    return any(os.path.exists(os.path.join(d, "kprobe_events"))
               for d in (TRACEFS, "/sys/kernel/debug/tracing"))


def strerror(err: int) -> str:
    """``File exists (EEXIST)``: the text and the name to search for; libbpf's own codes too."""
    if err >= 4000:
        from . import libbpf

        return libbpf.strerror(err)
    name = E.errorcode.get(err, str(err))
    return f"{os.strerror(err)} ({name})" if err else "unknown error"


def with_log(msg: str, libbpf_log: str) -> str:
    """``msg``, then what libbpf said that explains it (if anything)."""
    log = _relevant(libbpf_log)
    if not log:
        return msg
    return f"{msg}\nlibbpf said:\n{log}"


def _relevant(libbpf_log: str, limit: int = 40) -> str:
    """The last few libbpf lines (its debug chatter about ELF sections is noise)."""
    lines = [ln for ln in libbpf_log.splitlines()
             if ln.strip() and not ln.startswith(("libbpf: elf:", "libbpf: sec '"))]
    lines = lines[-limit:]
    return "\n".join(f"  {ln}" for ln in lines)
