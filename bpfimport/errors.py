"""Every exception type bpfimport raises, in one place (``bpfimport.CompileError`` etc.).

The compiler, the cache and the runtime all raise these; how a kernel or
libbpf failure becomes one (errno names, verifier logs with Python lines) is
in :mod:`bpfimport.runtime.errors`, which defines no types of its own.  This
module imports nothing heavy: the runtime raises these on a cache hit, when
llvmlite must not be imported.
"""

from __future__ import annotations

import errno as _errno


class CompileError(SyntaxError):
    """A construct in a ``.bpf.py`` file that bpfimport cannot compile.

    It is a ``SyntaxError`` so tracebacks, IDEs and ``python -m`` show the
    offending line with a caret, exactly as for a Python syntax error.
    ``filename``, ``lineno``, ``offset`` (1-based column) and ``text`` point at
    the construct in the user's file; ``hint`` is the supported alternative.
    """

    def __init__(
        self,
        message: str,
        filename: str | None = None,
        lineno: int | None = None,
        offset: int | None = None,
        text: str | None = None,
        hint: str | None = None,
        end_lineno: int | None = None,
        end_offset: int | None = None,
    ) -> None:
        if text is None and filename and lineno:
            import linecache  # here, not at the top: it imports tokenize (~1.5 ms of `import bpfimport`)

            text = linecache.getline(filename, lineno) or None
        full = f"{message} (hint: {hint})" if hint else message
        super().__init__(full, (filename, lineno, offset, text, end_lineno, end_offset))
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """``file:line:col: message`` for command lines and logs."""
        where = f"{self.filename or '<unknown>'}:{self.lineno or 0}"
        if self.offset:
            where += f":{self.offset}"
        return f"{where}: error: {self.msg}"


class BpfError(OSError):
    """The kernel or libbpf refused an operation.

    ``errno`` holds the error number (0 when libbpf gave none) and the message
    says what to do about it, e.g. that loading needs root or CAP_BPF.
    """

    def __init__(self, message: str, errno: int = 0) -> None:
        super().__init__(errno, message)
        self.message = message

    def __str__(self) -> str:
        if self.errno:
            name = _errno.errorcode.get(self.errno, str(self.errno))
            return f"{self.message} [{name}]"
        return self.message


class VerifierError(BpfError):
    """The kernel's verifier rejected a program.

    ``program`` names it, ``log`` is the whole verifier log, and the message
    shows the verifier's complaint beside the Python source line it points at.
    """

    def __init__(self, message: str, program: str, log: str, errno: int = 0) -> None:
        super().__init__(message, errno)
        self.program = program
        self.log = log

    def __str__(self) -> str:
        return self.message  # the complaint says it all; errno (EACCES) adds nothing


class MapError(BpfError, TypeError):
    """An operation the map's kind does not have (e.g. deleting from an ArrayMap).

    It is a TypeError too, as for ``del`` on a tuple.
    """


class SourceFileError(OSError):
    """A source path that is not a readable program: a FIFO, a device, a folder, too large.

    An OSError, so callers that report unreadable files report these too;
    ``strerror`` says what is wrong in words.
    """


class SetupError(RuntimeError):
    """Something bpfimport needs is missing from this machine; the message says what to install."""


__all__ = ["BpfError", "CompileError", "MapError", "SetupError", "SourceFileError", "VerifierError"]
