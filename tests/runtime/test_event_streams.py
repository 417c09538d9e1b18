"""Event streams at scale (issue 9, item 5): exactly once under a flood, lost samples,
several maps in one poll, the iterator, the perf buffer's size.

The producer is a child process, pinned to one CPU, that calls getppid() as many
times as the test asks (one line on its stdin each); ``streams.bpf.py`` numbers each call's event
from 0 and counts the ones the kernel refused (``drops``), so the events
received plus those dropped must be exactly the calls made.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

import bpfimport
from bpfimport.errors import BpfError
from tests.conftest import need, program_module

SYSCALL_TP = "/sys/kernel/tracing/events/syscalls/sys_enter_getppid"
PAGE = os.sysconf("SC_PAGE_SIZE")
# pinned to one CPU: a perf buffer is one ring per CPU, and the kernel writes a CPU's
# lost-sample record before the next sample on that CPU
CHILD = ("import os, sys\n"
         "os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})\n"
         "for line in sys.stdin:\n"
         "    for _ in range(int(line)):\n"
         "        os.getppid()\n"
         "    print('done', flush=True)\n")


@pytest.fixture
def streams(kernel, tmp_path):
    with program_module(tmp_path, "streams.bpf.py") as mod:
        yield mod


class Producer:
    """The child: ``calls(n)`` makes it call getppid() n times and returns when it did."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.pid = self.proc.pid

    def start(self, n: int) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{n}\n")
        self.proc.stdin.flush()

    def wait(self) -> None:
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline() == "done\n"

    def calls(self, n: int) -> None:
        self.start(n)
        self.wait()


@pytest.fixture
def producer(tracing) -> Iterator[Producer]:
    need(os.path.isdir(SYSCALL_TP), "syscall tracepoints (CONFIG_FTRACE_SYSCALLS) are not available")
    p = Producer()
    try:
        yield p
    finally:
        p.proc.kill()
        p.proc.wait()


def _drain(handle, sink, **kw) -> None:
    """Poll until two polls in a row bring nothing (the buffer is empty)."""
    empty = 0
    while empty < 2:
        empty = empty + 1 if not handle.poll(sink, timeout_ms=20, **kw) else 0


def _check_numbered(events, pid: int) -> list[int]:
    """Every event decoded right: the producer's pid and the check word of its number."""
    assert all(e.pid == pid and e.check == (e.n * 7 + 3) & 0xFFFFFFFF and e.x == e.n * 3
               and e.ts > 0 for e in events)
    return [e.n for e in events]


def _flood_then_one(streams, producer: Producer, handle, n: int) -> list:
    """``n`` calls as fast as the child makes them, polled meanwhile, then one more call
    once the buffer is drained (a perf buffer reports a loss with the next sample it takes)."""
    got: list = []
    producer.start(n)
    deadline = time.monotonic() + 60
    while producer.proc.stdout is not None and not _readable(producer.proc.stdout.fileno()):
        handle.poll(got.append, timeout_ms=20)
        assert time.monotonic() < deadline, "the producer never finished"
    producer.wait()
    _drain(handle, got.append)
    producer.calls(1)
    handle.poll(got.append, timeout_ms=1000)
    _drain(handle, got.append)
    return got


def _readable(fd: int) -> bool:
    import select

    return bool(select.select([fd], [], [], 0)[0])


def test_ring_flood_delivers_every_event_once_in_order_and_decoded(streams, producer):
    n = 200_000
    streams.target.value = producer.pid
    with streams.to_ring.attach():
        got = _flood_then_one(streams, producer, streams.ring, n)
    numbers = _check_numbered(got, producer.pid)
    drops = streams.drops.value
    print(f"ring: {len(got)} events, {drops} refused by a full ring")
    assert all(type(e) is streams.Seq for e in got)
    assert numbers == sorted(set(numbers))  # each at most once, in the order sent
    assert numbers[-1] == n  # the last call's event, after the drain
    assert len(got) + drops == n + 1  # and none lost: received or refused, every one


def test_perf_flood_delivers_every_event_once_and_counts_the_lost(streams, producer):
    first, n = 20_000, 50_000
    # woken at each sample, as before the watermark default: the producer is then held to the
    # reader's pace, so "most of the flood is delivered" holds on a loaded machine too (with
    # the default, how much a flood outruns the reader depends on the load; the watermark's
    # own tests are below)
    streams.perf.wakeup_events = 1
    streams.target.value = producer.pid
    with streams.to_perf.attach():
        producer.calls(first)  # nobody polls: 64 pages (5461 records) overflow
        got = _flood_then_one(streams, producer, streams.perf, n)  # the loss record comes first
    numbers = _check_numbered(got, producer.pid)
    drops = streams.drops.value
    print(f"perf: {len(got)} events, {streams.perf.lost} lost (the program saw {drops} refused)")
    assert numbers == sorted(set(numbers))  # each at most once, in the order sent (one CPU)
    assert numbers[-1] == first + n
    assert drops >= first - 5461 and len([x for x in numbers if x >= first]) > n // 2
    assert streams.perf.lost == drops
    assert len(got) + drops == first + n + 1


def test_small_perf_buffer_reports_lost_samples(streams, producer):
    streams.perf.page_cnt = 1  # before load: one page per CPU, 85 records of 48 bytes
    streams.target.value = producer.pid
    lost: list[int] = []
    lost_pairs: list[tuple[object, int]] = []
    got: list = []
    with streams.to_perf.attach():
        producer.calls(3000)  # nobody reads meanwhile: most of them are refused
        _drain(streams.perf, got.append)
        assert lost == [] and streams.perf.lost == 0  # the kernel has not said so yet:
        producer.calls(1)  # it writes the loss record before the next sample that fits
        _drain(streams.perf, got.append, lost=lost.append)
        first = streams.drops.value
        producer.calls(3000)
        _drain(streams.perf, got.append)
        producer.calls(1)
        bpfimport.poll({streams.perf: got.append}, timeout_ms=100,
                       lost=lambda m, count: lost_pairs.append((m, count)))
        _drain(streams.perf, got.append)
    drops = streams.drops.value
    print(f"page_cnt=1: {len(got)} events, lost {lost} then {lost_pairs}")
    assert first > 0 and sum(lost) == first  # told once, with the count
    assert [m for m, _ in lost_pairs] == [streams.perf]
    assert sum(lost) + sum(c for _, c in lost_pairs) == drops == streams.perf.lost
    assert len(got) + drops == 6002
    assert sorted(_check_numbered(got, producer.pid))[-1] == 6001


def test_page_cnt_is_set_before_load(streams):
    with pytest.raises(ValueError, match="power of two"):
        streams.perf.page_cnt = 3
    with pytest.raises(ValueError, match="must be positive"):
        streams.perf.page_cnt = 0
    with pytest.raises(TypeError, match="must be an int"):
        streams.perf.page_cnt = 4.0
    assert streams.perf.page_cnt == 64
    streams.perf.page_cnt = 8
    streams.load()
    with pytest.raises(BpfError, match="set page_cnt before the module loads, or close"):
        streams.perf.page_cnt = 16
    streams.perf.page_cnt = 8  # unchanged: fine
    assert streams.perf._reader.page_cnt == 8
    streams.close()
    streams.perf.page_cnt = 16
    streams.load()
    assert streams.perf._reader.page_cnt == 16


def _woken(reader, wait_s: float = 0.3) -> bool:
    """Whether the kernel woke the perf buffer's epoll fd (not whether it holds samples)."""
    import select

    return bool(select.select([reader.epfd], [], [], wait_s)[0])


def test_perf_wakes_by_bytes_by_default_and_a_poll_still_finds_a_lone_sample(streams,
                                                                            producer) -> None:
    """The default: a wake-up per 4 KiB of samples (a watermark), not per sample; the samples
    that wake nobody are found by the waiting poll within ~10 ms."""
    assert streams.perf.wakeup_events is None and streams.perf.wakeup_bytes == 4096
    with pytest.raises(ValueError, match="must be positive"):
        streams.perf.wakeup_bytes = 0
    streams.target.value = producer.pid
    got: list = []
    with streams.to_perf.attach():
        reader = streams.perf._reader
        assert reader.wakeup_events is None and reader.wakeup_bytes == 4096
        producer.calls(3)  # ~150 bytes: under the watermark, so no wake-up
        assert not _woken(reader)
        assert reader.has_data()
        start = time.monotonic()
        assert streams.perf.poll(got.append, timeout_ms=2000) == 3
        assert time.monotonic() - start < 0.1  # found by the poll's own look, not a wake-up
        sender = threading.Timer(0.1, producer.calls, (2,))  # while the poll waits
        sender.start()
        start = time.monotonic()
        assert streams.perf.poll(got.append, timeout_ms=2000) == 2
        took = time.monotonic() - start
        sender.join()
        producer.calls(200)  # ~10 KiB: past the watermark, a wake-up
        assert _woken(reader)
        _drain(streams.perf, got.append)
    print(f"by bytes: a lone sample found in {took * 1000:.0f} ms")
    assert 0.09 < took < 0.5
    assert len(got) + streams.drops.value == 205
    streams.close()
    streams.perf.wakeup_events = 1  # libbpf's and bcc's: a wake-up at every sample
    streams.perf.page_cnt = 1
    streams.perf.wakeup_bytes = 1 << 20
    with streams.to_perf.attach():
        reader = streams.perf._reader
        assert reader.wakeup_bytes == PAGE // 4  # capped at a quarter of a ring
        producer.calls(1)
        assert _woken(reader)
    streams.close()
    streams.perf.wakeup_events = None  # back to bytes, with the ring's quarter as the watermark
    with streams.to_perf.attach():
        with pytest.raises(BpfError, match=r"\(made at load, wakeup_events=None\)"):
            streams.perf.wakeup_events = 2
        producer.calls(3)
        assert not _woken(streams.perf._reader)


def test_perf_wakeup_events_batches_wakeups_and_a_poll_still_finds_a_lone_sample(streams,
                                                                                 producer):
    with pytest.raises(ValueError, match="must be positive"):
        streams.perf.wakeup_events = 0
    streams.perf.wakeup_events = 64
    streams.target.value = producer.pid
    got: list = []
    with streams.to_perf.attach():
        assert streams.perf._reader.wakeup_events == 64
        sender = threading.Timer(0.1, producer.calls, (3,))  # while the poll waits
        sender.start()
        start = time.monotonic()
        assert streams.perf.poll(got.append, timeout_ms=2000) == 3  # 3 < 64: no wake-up
        took = time.monotonic() - start
        sender.join()
        producer.calls(20_000)
        _drain(streams.perf, got.append)
    print(f"wakeup_events=64: a lone sample found in {took * 1000:.0f} ms")
    assert 0.09 < took < 0.5  # the poll looks at the ring every 10 ms, not only on wake-ups
    assert len(got) + streams.drops.value == 20_003
    assert _check_numbered(got, producer.pid) == sorted(set(_check_numbered(got, producer.pid)))
    with pytest.raises(BpfError, match="set wakeup_events before the module loads"):
        streams.perf.wakeup_events = 1
    with pytest.raises(BpfError, match=r"\(made at load, wakeup_events=64\)"):
        streams.perf.wakeup_events = None
    with pytest.raises(TypeError, match="must be an int"):
        streams.perf.page_cnt = None


def test_one_poll_delivers_from_a_ring_and_a_perf_buffer(streams, producer):
    streams.target.value = producer.pid
    ring: list = []
    perf: list = []
    with streams.to_ring.attach(), streams.to_perf.attach():  # each call: one event on each
        producer.calls(1000)
        deadline = time.monotonic() + 10
        while len(ring) + len(perf) < 2000 and time.monotonic() < deadline:
            bpfimport.poll({streams.ring: ring.append, streams.perf: perf.append}, timeout_ms=100)
        assert bpfimport.poll({streams.ring: ring.append, streams.perf: perf.append},
                              timeout_ms=0) == 0
        producer.calls(5)
        pairs = list(bpfimport.events(streams.ring, streams.perf, timeout_ms=200))
    assert len(ring) == len(perf) == 1000
    numbers = _check_numbered(ring + perf, producer.pid)
    assert sorted(numbers) == list(range(2000))  # the two programs share the numbering
    assert sorted(m.name for m, _ in pairs) == ["perf"] * 5 + ["ring"] * 5
    assert sorted(e.n for _, e in pairs) == list(range(2000, 2010))


def test_poll_of_several_maps_waits_for_the_first_event_and_checks_its_arguments(streams):
    start = time.monotonic()
    assert bpfimport.poll({streams.ring: print, streams.perf: print}, timeout_ms=150) == 0
    assert 0.14 < time.monotonic() - start < 1.0
    with pytest.raises(TypeError, match="dict of event maps"):
        bpfimport.poll([streams.ring])
    with pytest.raises(TypeError, match="RingBuffer or PerfEventArray"):
        bpfimport.poll({streams.drops: print})
    with pytest.raises(TypeError, match="callback"):
        bpfimport.poll({streams.ring: 5})
    with pytest.raises(TypeError, match="takes the event maps"):
        bpfimport.events()
    with pytest.raises(TypeError, match="timeout_ms must be an int"):
        streams.ring.events(timeout_ms=0.5)


def test_events_iterator_yields_what_comes_and_stops_on_timeout(streams):
    start = time.monotonic()
    assert list(streams.numbers.events(timeout_ms=100)) == []
    assert 0.09 < time.monotonic() - start < 1.0
    streams.mixed_burst.test_run()
    start = time.monotonic()
    assert list(streams.numbers.events(timeout_ms=100)) == [i * 1000 for i in range(9)]
    assert time.monotonic() - start < 1.0
    streams.mixed_burst.test_run()
    assert list(streams.numbers.events(timeout_ms=0)) == [i * 1000 for i in range(9)]


def test_events_left_by_a_broken_loop_come_next(streams):
    streams.mixed_burst.test_run()
    seen = []
    for value in streams.numbers.events(timeout_ms=-1):
        seen.append(value)
        if len(seen) == 3:
            break
    rest: list = []
    streams.numbers.poll(rest.append, timeout_ms=0)
    assert seen + rest == [i * 1000 for i in range(9)]


def test_records_of_two_sizes_and_discarded_ones(streams):
    """A map sent two struct types gives bytes; runs of one size end at the other size."""
    streams.mixed_burst.test_run()
    got: list = []
    assert streams.mixed.poll(got.append, timeout_ms=0) == 9

    def small(i: int) -> bytes:
        return i.to_bytes(4, "little")

    def big(i: int) -> bytes:
        return b"".join((i * k).to_bytes(8, "little") for k in (1, 2, 3))

    assert got == [small(i) if i % 3 == 0 else big(i) for i in range(9)]  # no discarded record


def test_an_event_too_short_for_the_value_type_raises_after_the_ones_before(streams, monkeypatch):
    from bpfimport.runtime.codec import ArrayCodec, IntCodec

    streams.mixed_burst.test_run()
    reader = streams.numbers._open_reader()
    long_codec = ArrayCodec(IntCodec(8, False, ctypes.c_uint64), 2)  # 16 bytes: longer than a u64
    got: list = []
    monkeypatch.setattr(reader, "codec", long_codec)
    with pytest.raises(BpfError, match="event of 8 bytes .* shorter than its value type u64"):
        streams.numbers.poll(got.append, timeout_ms=0)
    monkeypatch.undo()
    streams.numbers.poll(got.append, timeout_ms=0)
    assert got == [i * 1000 for i in range(1, 9)]  # the bad one skipped, the rest delivered


def test_lost_counter_of_a_ring_buffer_is_zero(streams):
    streams.mixed_burst.test_run()
    streams.numbers.poll(lambda e: None, timeout_ms=0)
    assert streams.numbers.lost == 0


def test_an_endless_events_loop_ends_when_the_module_is_closed_while_it_waits(streams):
    streams.load()
    closer = threading.Timer(0.2, streams.close)
    closer.start()
    start = time.monotonic()
    assert list(streams.numbers.events(timeout_ms=-1)) == []
    closer.join()
    assert 0.15 < time.monotonic() - start < 2.0
    assert streams.__bpf_object__._live is None  # and it did not load the module again
