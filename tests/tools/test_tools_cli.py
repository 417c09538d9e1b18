"""The tools' command lines and formatting, without the kernel: help, bad options, columns."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bpfimport.tools import _common
from bpfimport.tools.exitsnoop import exit_text
from bpfimport.tools.syscount import syscall_names
from tests.tools.cli_support import check_compileall, check_real_help, in_process

TOOLS = ("execsnoop", "opensnoop", "exitsnoop", "syscount")


run_tool = in_process


def test_help_as_users_run_it() -> None:
    check_real_help(TOOLS[0])

@pytest.mark.parametrize("name", TOOLS)
def test_help_reads_well(name: str) -> None:
    done = run_tool(name, "-h")
    assert done.returncode == 0 and not done.stderr
    assert done.stdout.startswith(f"usage: python -m bpfimport.tools.{name}")
    assert "examples:\n" in done.stdout and f"./{name} " in done.stdout
    assert "-d SECONDS, --duration SECONDS" in done.stdout


@pytest.mark.parametrize(("name", "args"), [
    ("execsnoop", ["--max-args", "0"]), ("execsnoop", ["-n", "("]), ("opensnoop", ["-p", "0"]),
    ("opensnoop", ["-p", "x"]), ("exitsnoop", ["-d", "-1"]), ("syscount", ["--syscall", "nope"]),
    ("syscount", ["-e", "ENOPE"]), ("syscount", ["-T", "0"]),
])
def test_bad_options_are_usage_errors(name: str, args: list[str]) -> None:
    done = run_tool(name, *args)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "error:" in done.stderr.splitlines()[-1]


def test_every_tool_compiles(tmp_path: Path) -> None:
    """compileall over a copy of the tools' folder: what packagers run to prefill the cache."""
    check_compileall(TOOLS, tmp_path)


def test_exit_text() -> None:
    assert exit_text(0) == "0"
    assert exit_text(7 << 8) == "code 7"
    assert exit_text(9) == "signal 9 (KILL)"
    assert exit_text(11 | 0x80) == "signal 11 (SEGV), core dumped"


def test_columns_align_like_bcc() -> None:
    cols = _common.Columns(("PID", -6), ("FD", 4), ("PATH", 0))
    assert cols.header() == "PID      FD PATH"
    assert cols.format([12, -1, "/a b"]) == "12       -1 /a b"
    assert _common.text(b"abc\0junk") == "abc"


def test_syscall_numbers() -> None:
    names = syscall_names("x86_64")
    assert (names[0], names[2], names[59], names[257]) == ("read", "open", "execve", "openat")
    assert syscall_names("no-such-machine") == {}


def test_set_globals_refuses_unknown_names() -> None:
    mod = _common.tool_module("exitsnoop")
    with pytest.raises(KeyError, match="NOPE"):
        _common.set_globals(mod, NOPE=1)
    _common.set_globals(mod, PER_THREAD=True)
    assert mod.PER_THREAD.value in (1, True)
    _common.set_globals(mod, PER_THREAD=False)


def test_interval_count_positionals() -> None:
    parser = _common.tool_parser("x", "d")
    _common.add_interval_count(parser)
    args = parser.parse_args(["0.5", "3"])
    assert (args.interval, args.count) == (0.5, 3)
    args = parser.parse_args([])
    assert (args.interval, args.count) == (None, None)
    with pytest.raises(SystemExit):
        parser.parse_args(["0"])


class FakeClock:
    """``time`` as run_events sees it: ``sleep`` moves the clock on at once.

    The loop's arithmetic (deadline, ticks, each poll's budget) is what these tests check;
    on the real clock the first one slept 0.55 s of every run.  Each reading moves the clock
    on by a microsecond, as the loop's own work does: a budget under a millisecond rounds to
    a poll of 0 ms, which the loop then repeats until the wake-up time is reached.
    """

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        self.now += 1e-6
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


class FakeRing:
    """A buffer map's poll(): hands over queued events, else waits out its timeout."""

    def __init__(self, events: list[int], clock: FakeClock) -> None:
        self.events = events
        self.clock = clock
        self.timeouts: list[int] = []

    def poll(self, callback: object, timeout_ms: int = 100) -> int:
        self.timeouts.append(timeout_ms)
        if self.events:
            callback(self.events.pop(0))  # type: ignore[operator]
            return 1
        self.clock.sleep(timeout_ms / 1000)
        return 0


def test_run_events_duration_and_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(_common, "time", clock)
    ring = FakeRing([1, 2, 3], clock)
    got: list[int] = []
    ticks: list[float] = []
    start = clock.monotonic()
    _common.run_events([(ring, got.append)], duration=0.55, interval=0.2,
                       tick=lambda: ticks.append(clock.monotonic() - start))
    took = clock.monotonic() - start
    assert got == [1, 2, 3]
    assert 0.55 <= took < 0.8
    assert len(ticks) == 2 and 0.2 <= ticks[0] < 0.35 and 0.4 <= ticks[1] < 0.55
    assert max(ring.timeouts) <= 200  # each poll bounded by the next wake-up


def test_run_summaries_stops_after_count(capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[int] = []

    def summarize() -> None:
        print(f"summary {len(calls)}", end="")
        calls.append(1)

    _common.run_summaries("banner", summarize, interval=0.05, count=2, timestamp=False)
    assert calls == [1, 1]  # returns after COUNT, with no extra summary for the stop
    assert capsys.readouterr().out == "banner\n\nsummary 0\nsummary 1"


def test_run_summaries_prints_what_was_counted_at_ctrl_c(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def ctrl_c(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_common, "run_events", ctrl_c)
    _common.run_summaries("banner", lambda: print("summary", end=""), interval=None,
                          count=None, timestamp=True)
    banner, blank, clock, summary = capsys.readouterr().out.split("\n")
    assert (banner, blank, summary) == ("banner", "", "summary")
    assert time.strptime(clock, "%H:%M:%S")


def test_net_ports_families_addresses() -> None:
    from bpfimport.tools import _net

    parser = _common.tool_parser("x", "d")
    parser.add_argument("-P", type=_net.port_list(2))
    _net.add_family(parser)
    args = parser.parse_args(["-P", "80,443", "-6"])
    assert args.P == [80, 443] and _net.chosen_family(args) == _net.AF_INET6
    assert _net.chosen_family(parser.parse_args([])) == 0
    for bad in ("80,443,8080", "0", "http", "80,"):
        with pytest.raises(SystemExit):
            parser.parse_args(["-P", bad])
    with pytest.raises(SystemExit):
        parser.parse_args(["-4", "-6"])
    assert _net.padded([80], 3) == [80, 0, 0] and _net.padded(None, 2) == [0, 0]
    raw = [127, 0, 0, 1] + [9] * 12  # an IPv4 address leaves the rest of the 16 bytes unread
    assert _net.address(_net.AF_INET, raw) == "127.0.0.1"
    assert _net.address(_net.AF_INET6, [0] * 15 + [1]) == "::1"
