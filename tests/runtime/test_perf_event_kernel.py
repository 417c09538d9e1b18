"""@perf_event programs sample on every online CPU through one link: attach(sample_freq=...)
or attach(sample_period=...), a CPU or pid filter, and detach closes every perf event fd."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

import bpfimport
from bpfimport.runtime.perf import online_cpus
from tests.conftest import need, open_fds

SOURCE = """
from bpfimport.lang import *

per_cpu = HashMap(key=u32, value=u64, max_entries=1024)
per_pid = HashMap(key=u32, value=u64, max_entries=4096)

@perf_event
def on_sample(ctx) -> int:
    per_cpu[smp_processor_id()] += 1
    per_pid[tgid()] += 1
    return 0
"""


@pytest.fixture
def sampler(kernel, bpf_dir: Path):
    (bpf_dir / "sampler.bpf.py").write_text(SOURCE)
    import sampler_bpf as mod

    with mod:
        yield mod


def burn(seconds: float, cpu: int | None = None) -> None:
    """Spin on the CPU for ``seconds`` (pinned to ``cpu`` if given), in a thread of this process."""

    def spin() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass

    t = threading.Thread(target=spin)
    t.start()
    t.join()


def test_one_link_samples_every_online_cpu_and_detach_closes_every_fd(sampler) -> None:
    cpus = online_cpus()
    need(len(cpus) >= 1, "no online CPUs listed")
    sampler.load()
    before = open_fds()
    start = time.monotonic()
    link = sampler.on_sample.attach(sample_freq=199)
    assert len(link) == len(cpus)
    assert len(open_fds()) > len(before)  # the perf events (and their BPF links) are open
    for cpu in cpus:
        burn(0.3, cpu)
    link.detach()
    elapsed = time.monotonic() - start
    assert open_fds() == before
    assert len(link) == 0 and not link.attached
    counts = dict(sampler.per_cpu.items())
    assert set(counts) == set(cpus), counts  # every CPU sampled, each with its own event
    for cpu in cpus:  # the CPU clock ticks on each CPU all along, busy or not
        assert 10 <= counts[cpu] <= 1.5 * 199 * elapsed + 5, (counts, elapsed)
    assert sampler.per_pid[os.getpid()] >= 5  # this process was busy (how much: the load decides)
    settled = dict(sampler.per_cpu.items())
    burn(0.2)
    assert dict(sampler.per_cpu.items()) == settled  # detached: no more samples


def test_sample_period_and_the_cpu_filter(sampler) -> None:
    cpus = online_cpus()
    only = cpus[-1]
    # the CPU clock counts nanoseconds: one sample every 2 ms
    start = time.monotonic()
    with sampler.on_sample.attach(sample_period=2_000_000, cpu=only) as link:
        assert len(link) == 1
        burn(0.3, only)
        if len(cpus) > 1:
            burn(0.3, cpus[0])
    elapsed = time.monotonic() - start
    counts = dict(sampler.per_cpu.items())
    assert set(counts) == {only}, counts
    assert 0.3 / 0.002 / 2 <= counts[only] <= elapsed / 0.002 * 1.2 + 2, (counts, elapsed)


def test_the_pid_filter_samples_only_that_process_and_its_new_threads(sampler) -> None:
    with sampler.on_sample.attach(sample_freq=499, pid=os.getpid()):
        burn(0.3)  # a thread started after the attach: followed
    counts = dict(sampler.per_pid.items())
    assert list(counts) == [os.getpid()], counts
    assert counts[os.getpid()] >= 5


def test_close_detaches_the_group_too(sampler) -> None:
    sampler.load()
    before = open_fds()
    sampler.on_sample.attach(sample_freq=49)
    sampler.close()
    assert len(open_fds()) < len(before)  # the module's fds and the perf events all closed


def test_bad_requests_say_what_to_give(sampler) -> None:
    with pytest.raises(ValueError, match="sample_freq=49"):
        sampler.on_sample.attach()
    with pytest.raises(ValueError, match="give exactly one"):
        sampler.on_sample.attach(sample_freq=1, sample_period=1)
    with pytest.raises(ValueError, match="unknown perf event 'cpu-clocks'"):
        sampler.on_sample.attach(sample_freq=49, event="cpu-clocks")
    with pytest.raises(ValueError, match="positive"):
        sampler.on_sample.attach(sample_freq=0)
    with pytest.raises(ValueError, match="cpu must be an online CPU"):
        sampler.on_sample.attach(sample_freq=49, cpu=4095)
    with pytest.raises(ValueError, match="pid must be a process id"):
        sampler.on_sample.attach(sample_freq=49, pid=-2)
    assert sampler.__bpf_object__.links == []  # nothing left attached by the failures


def test_a_missing_hardware_event_is_said_plainly(sampler) -> None:
    """Hardware counters are absent in most VMs (ENOENT); where they exist, they sample."""
    try:
        link = sampler.on_sample.attach(sample_period=1_000_000, event="cpu-cycles")
    except bpfimport.BpfError as e:
        assert "does not count that event" in str(e) and "cpu-clock" in str(e)
        return
    with link:
        burn(0.2)
    assert sum(sampler.per_cpu.values()) > 0


def test_only_perf_event_programs_sample(kernel, bpf_dir: Path) -> None:
    (bpf_dir / "notperf.bpf.py").write_text(
        "from bpfimport.lang import *\n@raw_tracepoint('sys_enter')\ndef p(ctx) -> int:\n"
        "    return 0\n")
    import notperf_bpf as mod

    with pytest.raises(TypeError, match="attach @perf_event programs"):
        mod.p.attach(sample_freq=49)
    with pytest.raises(TypeError, match="choose what a @perf_event program samples"):
        mod.p.attach(cpu=0)
    assert mod.__bpf_object__.links == []
