"""Prometheus export end to end: programs count into maps, an HTTP scrape over 127.0.0.1 is
parsed with prometheus_client's own parser, and every number matches the maps read directly.

Also ``python -m bpfimport run FILE --metrics 127.0.0.1:0`` scraped from outside while the
programs run.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

import bpfimport  # noqa: F401 - installs the import hook
from bpfimport.export import MapCollector, serve
from tests.cli.test_hints_debug_and_tools import read_until
from tests.conftest import PROGRAMS, need, program_module
from tests.support import child_env

SIZES = [0, 1, 5, 100, 1000, 4096]  # log2 buckets 0 0 2 6 9 12


def scrape(url: str) -> dict[str, list]:
    """The samples of every family at ``url``, by family name."""
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        text = r.read().decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(family, name: str) -> dict[tuple, float]:
    """``{labels (sorted pairs, le left out): value}`` of the samples called ``name``."""
    return {tuple(sorted((k, v) for k, v in s.labels.items())): s.value
            for s in family.samples if s.name == name}


@pytest.fixture
def counted(tracing, bpf_dir):
    need(os.path.isdir("/sys/kernel/tracing/events/syscalls/sys_enter_write"),
         "syscall tracepoints (CONFIG_FTRACE_SYSCALLS) are not available")
    fd = os.open("/dev/null", os.O_WRONLY)
    try:
        with program_module(bpf_dir, "export_counts.bpf.py") as mod:
            mod.FD.value = fd
            with mod.on_write.attach():
                for n in SIZES:
                    os.write(fd, b"x" * n)
                mod.totals[1] = mod.Totals(calls=3, size=7)
                mod.per_cpu[2] = list(range(1, len(mod.per_cpu[2]) + 1))  # 1, 2, ... by CPU
                with serve(0, mod, addr="127.0.0.1") as server:
                    yield mod, fd, server
    finally:
        os.close(fd)


def test_scrape_matches_the_maps(counted) -> None:
    mod, fd, server = counted
    assert server.url == f"http://127.0.0.1:{server.port}/metrics"
    fams = scrape(server.url)

    # a struct key: one label per field, the char array as text
    direct = {(("comm", k.comm.decode()), ("pid", str(k.pid))): float(v)
              for k, v in mod.by_who.items()}
    ((labels, n),) = direct.items()
    assert dict(labels)["pid"] == str(os.getpid()) and n == len(SIZES)
    assert fams["bpfimport_by_who"].type == "counter"
    assert samples(fams["bpfimport_by_who"], "bpfimport_by_who_total") == direct
    assert "bpfimport_events" not in fams  # a ring buffer holds no counts

    # per-CPU values summed; an array's zero entries left out; an integer key labelled `key`
    per_cpu = samples(fams["bpfimport_per_cpu"], "bpfimport_per_cpu_total")
    assert per_cpu == {(("key", str(i)),): float(sum(mod.per_cpu[i])) for i in range(3)}
    assert per_cpu[(("key", "1"),)] == sum(SIZES)
    ncpu = len(mod.per_cpu[2])
    assert per_cpu[(("key", "2"),)] == ncpu * (ncpu + 1) // 2

    # struct values: one family per field
    assert samples(fams["bpfimport_totals_calls"], "bpfimport_totals_calls_total") == {
        (("key", "1"),): 3.0}
    assert samples(fams["bpfimport_totals_size"], "bpfimport_totals_size_total") == {
        (("key", "1"),): 7.0}


def test_log2_histograms_become_prometheus_histograms(counted) -> None:
    mod, fd, server = counted
    fams = scrape(server.url)
    hist = fams["bpfimport_sizes"]
    assert hist.type == "histogram"
    buckets = {s.labels["le"]: s.value for s in hist.samples if s.name == "bpfimport_sizes_bucket"}
    direct = mod.sizes.buckets()  # [(low, high, count)] from bucket 0 to the last used
    running = 0
    expected = {}
    for _low, high, count in direct:
        running += count
        expected[str(high)] = float(running)
    expected["+Inf"] = float(len(SIZES))
    assert buckets == expected
    assert [float(le) for le in buckets if le != "+Inf"] == [2.0 ** (k + 1) - 1
                                                              for k in range(len(direct))]
    (count,) = samples(hist, "bpfimport_sizes_count").values()
    (total,) = samples(hist, "bpfimport_sizes_sum").values()
    assert count == len(SIZES)
    # _sum is an estimate (the map keeps no sum): between the buckets' bounds
    assert sum(lo * c for lo, _, c in direct) <= total <= sum(hi * c for _, hi, c in direct)

    # a struct key holding the bucket: one histogram per section, labelled by the other field
    keyed = fams["bpfimport_by_fd"]
    by_fd = {(s.labels["fd"], s.labels["le"]): s.value for s in keyed.samples
             if s.name == "bpfimport_by_fd_bucket"}
    assert {le: v for (f, le), v in by_fd.items() if f == str(fd)} == expected
    assert samples(keyed, "bpfimport_by_fd_count") == {(("fd", str(fd)),): float(len(SIZES))}


def test_each_scrape_reads_the_maps_and_a_closed_module_is_not_loaded_again(counted) -> None:
    mod, fd, server = counted
    os.write(fd, b"y")
    fams = scrape(server.url)
    ((_, n),) = samples(fams["bpfimport_by_who"], "bpfimport_by_who_total").items()
    assert n == len(SIZES) + 1
    mod.close()
    fams = scrape(server.url)  # the families are there, without samples
    assert fams["bpfimport_by_who"].samples == []
    assert not mod.__bpf_object__.loaded


def test_collector_options_gauges_labels_prefix(counted) -> None:
    mod, _, _ = counted
    registry = prometheus_client.CollectorRegistry()
    registry.register(MapCollector([mod.per_cpu, mod.sizes], prefix="app_", gauges=[mod.per_cpu],
                                   key_labels={"per_cpu": "slot"}))
    fams = {f.name: f for f in text_string_to_metric_families(
        prometheus_client.generate_latest(registry).decode())}
    assert sorted(fams) == ["app_per_cpu", "app_sizes"]
    assert fams["app_per_cpu"].type == "gauge"
    assert samples(fams["app_per_cpu"], "app_per_cpu")[(("slot", "0"),)] == len(SIZES)
    with pytest.raises(ValueError, match="map 'events' cannot be exported: RingBuffer"):
        MapCollector([mod.by_who, mod.events])


def test_run_metrics_serves_the_maps_while_it_runs(tracing, tmp_path: Path) -> None:
    need(os.path.isdir("/sys/kernel/tracing/events/syscalls/sys_enter_getppid"),
         "syscall tracepoints (CONFIG_FTRACE_SYSCALLS) are not available")
    src = tmp_path / "export_cli.bpf.py"
    src.write_text((PROGRAMS / "export_cli.bpf.py").read_text())
    proc = subprocess.Popen([sys.executable, "-m", "bpfimport", "run", str(src), "--no-trace",
                             "--metrics", "127.0.0.1:0"], env=child_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        err = read_until(proc.stderr, "Ctrl-C to stop", time.monotonic() + 60)
        url = re.search(r"serving metrics at (http://127\.0\.0\.1:\d+/metrics)", err)
        assert url, err
        calls = 7
        for _ in range(calls):
            os.getppid()
        fams = scrape(url.group(1))
        mine = {s.labels["pid"]: s.value for s in fams["bpfimport_calls"].samples
                if s.name == "bpfimport_calls_total"}
        assert mine[str(os.getpid())] == calls  # exactly the calls this test made
        time.sleep(0.3)  # see test_run_stops_on_ctrl_c_and_prints_the_maps
        proc.send_signal(signal.SIGINT)
        out, err_rest = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err_rest
    assert f"pid={os.getpid()}, comm=" in out.decode() and f": {calls}\n" in out.decode()
    with pytest.raises(OSError):  # the server stopped with the run
        urllib.request.urlopen(url.group(1), timeout=5)
