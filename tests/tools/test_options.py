"""The tools' OptionParser against argparse: the same namespace, or it steps aside.

Every tool's real parser is captured (its ``add_argument`` calls as the tool makes
them) and fed command lines made of its own options, values good and bad, clusters,
abbreviations and stray words; whenever the fast path answers, argparse (built from
the same calls) must have accepted the line and given the same namespace.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpfimport.tools import _common, _options
from bpfimport.tools._options import Namespace, OptionParser, _StepAside

TOOLS = ("bashreadline", "biolatency", "biosnoop", "execsnoop", "exitsnoop", "funclatency",
         "offcputime", "opensnoop", "profile", "runqlat", "runqlen", "syscount", "tcpconnect",
         "tcplife")


class _Captured(Exception):
    pass


def _capture(name: str) -> OptionParser:
    """The parser tool ``name`` builds, caught at its parse_args call (nothing else runs)."""
    module = importlib.import_module(f"bpfimport.tools.{name}")
    seen: list[OptionParser] = []
    original = OptionParser.parse_args

    def record(self: OptionParser, argv: object = None) -> Namespace:
        seen.append(self)
        raise _Captured

    OptionParser.parse_args = record  # type: ignore[method-assign]
    try:
        with contextlib.suppress(_Captured):
            if name == "syscount":
                module.parse_args([], {})
            elif hasattr(module, "parse_args"):
                module.parse_args([])
            else:
                module.main([])
    finally:
        OptionParser.parse_args = original  # type: ignore[method-assign]
    assert len(seen) == 1, name
    return seen[0]


PARSERS = {name: _capture(name) for name in TOOLS}


def _argparse_result(parser: OptionParser, argv: list[str]) -> dict[str, object] | None:
    """argparse's namespace for ``argv`` (as a dict), None where it exits (help, an error)."""
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            return vars(parser.argparse().parse_args(argv))
        except SystemExit:
            return None


def _fast_result(parser: OptionParser, argv: list[str]) -> dict[str, object] | None:
    try:
        return parser._fast(argv)
    except _StepAside:
        return None


def _words(parser: OptionParser) -> list[str]:
    flags = [f for a in parser._arguments for f in a.flags if f.startswith("-")]
    shorts = [f[1] for f in flags if len(f) == 2]
    clusters = ["-" + a + b for a in shorts for b in shorts[:6]]
    longs = [f for f in flags if f.startswith("--")]
    return (flags + clusters[:40] + [f + "=5" for f in longs] + [f[:4] for f in longs]
            + ["-h", "--help", "--", "-", "", "1", "0", "5", "-1", "-5", "0.5", "2.5", "x",
               "0x10", "80,443", "c:usleep", "vfs_read", "bash", "-p5", "-i2", "-d1", "-p=3",
               "ENOENT", "2147483648", "inf", "nan", "-4", "-6", "-zz", "--nope"])


@pytest.mark.parametrize("name", TOOLS)
def test_every_tool_parser_is_taken_by_the_fast_path(name: str) -> None:
    """No tool declares something the fast path gives up on for good (it would work, slowly)."""
    assert PARSERS[name]._understood


@pytest.mark.parametrize("name", TOOLS)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_fast_path_agrees_with_argparse(name: str, data: st.DataObject) -> None:
    parser = PARSERS[name]
    argv = data.draw(st.lists(st.sampled_from(_words(parser)), max_size=6), label="argv")
    fast = _fast_result(parser, argv)
    if fast is not None:
        assert _argparse_result(parser, argv) == fast, argv


TYPICAL = {  # command lines from the tools' examples: the fast path must take these itself
    "funclatency": [["c:usleep"], ["-p", "181", "vfs_read"], ["-mTi", "5", "vfs_read"],
                    ["-u", "-i", "2", "-d", "10", "c:open"], ["--pid=181", "-T", "c:read"]],
    "syscount": [[], ["-p", "181"], ["-P", "-T", "5"], ["-x", "-i", "1"], ["-e", "ENOENT"],
                 ["--syscall", "openat"]],
    "execsnoop": [[], ["-T", "-x"], ["-n", "main"], ["--max-args", "5"], ["-tP", "1"]],
    "runqlat": [[], ["1", "5"], ["-m", "5"], ["-P", "-p", "185", "1"]],
    "tcpconnect": [[], ["-P", "80,443"], ["-4", "-t"]],
    "profile": [[], ["-F", "99", "-f", "5"], ["-U", "-p", "185"]],
    "bashreadline": [[], ["-d", "1"]],
}


@pytest.mark.parametrize(("name", "argv"), [(n, a) for n, lines in TYPICAL.items() for a in lines])
def test_typical_command_lines_need_no_argparse(name: str, argv: list[str]) -> None:
    parser = PARSERS[name]
    fast = _fast_result(parser, argv)
    assert fast is not None, argv
    assert fast == _argparse_result(parser, argv)


def test_help_and_errors_are_argparse_s(capsys: pytest.CaptureFixture[str]) -> None:
    parser = PARSERS["funclatency"]
    with pytest.raises(SystemExit) as exit_help:
        parser.parse_args(["-h"])
    assert exit_help.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m bpfimport.tools.funclatency") and "examples:\n" in out
    assert "    ./funclatency c:read" in out  # the examples' line breaks and indents kept
    for argv, message in ((["-p", "x", "f"], "'x' is not an integer"), ([], "required: pattern"),
                          (["-u", "-m", "f"], "not allowed with argument"),
                          (["--nope", "f"], "unrecognized arguments: --nope")):
        with pytest.raises(SystemExit) as exit_error:
            parser.parse_args(argv)
        assert exit_error.value.code == 2
        assert message in capsys.readouterr().err
    # an abbreviation argparse accepts: the fast path steps aside and argparse answers
    assert parser.parse_args(["--mil", "--pi", "7", "f"]) == Namespace(
        pid=7, interval=None, duration=None, timestamp=False, microseconds=False,
        milliseconds=True, pattern="f")


def test_parser_error_after_parsing(capsys: pytest.CaptureFixture[str]) -> None:
    parser = _common.tool_parser("x", "d")
    parser.add_argument("-n", type=int)
    assert parser.parse_args(["-n", "3"]).n == 3
    with pytest.raises(SystemExit):
        parser.error("-n: too many")
    assert capsys.readouterr().err.endswith("python -m bpfimport.tools.x: error: -n: too many\n")


def test_declarations_it_does_not_read_go_to_argparse() -> None:
    parser = OptionParser(prog="x")
    parser.add_argument("-v", action="count", default=0)
    assert not parser._understood
    assert parser.parse_args(["-vv"]).v == 2
    parser = OptionParser(prog="x", allow_abbrev=False)
    assert not parser._understood


def test_namespace_compares_and_prints_like_argparse_s() -> None:
    import argparse

    ns = Namespace(a=1, b="x")
    assert ns == argparse.Namespace(a=1, b="x") and ns != Namespace(a=2, b="x")
    assert repr(ns) == repr(argparse.Namespace(a=1, b="x")) and "a" in ns


def test_a_tool_start_imports_no_argparse() -> None:
    """The point of it all: a tool parsing an ordinary command line never imports argparse
    (nor re, locale, shutil: ~8 ms of start-up)."""
    code = ("import sys; before = set(sys.modules); from bpfimport.tools import funclatency as f; "
            "a = f.parse_args(['-mTi', '5', '-p', '3', 'c:usleep']); "
            "print(a.milliseconds, a.interval, a.pid, a.pattern, "
            "sorted({'argparse', 're', 'locale', 'shutil'} & (set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "5.0", "3", "c:usleep", "[]"]
    assert _options.__name__ == "bpfimport.tools._options"
