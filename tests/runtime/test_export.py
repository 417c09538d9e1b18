"""Prometheus export without the kernel: the optional extra's error, ``--metrics`` addresses,
and the pinning helpers' argument checks.  (The scrapes themselves: test_export_kernel.py;
pinning across processes: test_pinning_kernel.py.)"""

from __future__ import annotations

import argparse
import importlib
import sys

import pytest

import bpfimport
import bpfimport.export
from bpfimport.__main__ import CommandError, _serve_metrics, main, metrics_address


@pytest.fixture
def no_prometheus(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the extra were not installed: ``import prometheus_client`` raises ImportError."""
    for name in [n for n in sys.modules if n == "prometheus_client" or
                 n.startswith("prometheus_client.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "prometheus_client", None)


def test_a_missing_extra_says_what_to_install(no_prometheus: None) -> None:
    importlib.reload(bpfimport.export)  # importing the module needs no prometheus_client
    with pytest.raises(ImportError, match=r"needs prometheus_client: pip install "
                                          r"'bpfimport\[prometheus\]'"):
        bpfimport.export.MapCollector([])
    with pytest.raises(ImportError, match=r"bpfimport\[prometheus\]"):
        bpfimport.export.serve(0, [])
    with pytest.raises(CommandError, match=r"pip install 'bpfimport\[prometheus\]'"):
        _serve_metrics(object(), ("127.0.0.1", 0))


@pytest.mark.parametrize(("text", "expected"), [
    (":9435", ("0.0.0.0", 9435)),
    ("127.0.0.1:0", ("127.0.0.1", 0)),
    ("[::1]:9100", ("::1", 9100)),
    ("localhost:80", ("localhost", 80)),
])
def test_metrics_addresses(text: str, expected: tuple[str, int]) -> None:
    assert metrics_address(text) == expected


@pytest.mark.parametrize("text", ["9435", "host:", "host:port", ":70000", ":-1"])
def test_bad_metrics_addresses_are_usage_errors(text: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="expected HOST:PORT"):
        metrics_address(text)
    with pytest.raises(SystemExit) as e:
        main(["run", "x.bpf.py", "--metrics", text])
    assert e.value.code == 2
    assert "expected HOST:PORT" in capsys.readouterr().err


def test_unpin_needs_a_pin_root() -> None:
    with pytest.raises(ValueError, match="was not loaded with pin_root"):
        bpfimport.unpin(object())
    assert bpfimport.unpin("/nonexistent/bpfimport-pins") == []  # nothing there: nothing to do
    from bpfimport.runtime.link import Link

    assert bpfimport.Link is Link


def test_key_fields_as_label_values() -> None:
    """Labels are stable text: a nested struct or array never shows as a repr (an address)."""
    import ctypes

    from bpfimport.export import _label_value

    class Inner(ctypes.Structure):
        _fields_ = [("a", ctypes.c_uint32), ("name", ctypes.c_char * 4)]

    class Key(ctypes.Structure):
        _fields_ = [("inner", Inner), ("arr", ctypes.c_uint16 * 3), ("comm", ctypes.c_char * 8),
                    ("n", ctypes.c_int32)]

    key = Key(Inner(1, b"xy"), (ctypes.c_uint16 * 3)(4, 5, 6), "bäsh".encode(), -3)
    assert [_label_value(getattr(key, f)) for f, _ in Key._fields_] == [
        "{a=1,name=xy}", "4,5,6", "bäsh", "-3"]
    assert _label_value([1, 2]) == "1,2" and _label_value(b"\xff") == "\ufffd"


def test_maps_of_maps_and_redirect_maps_are_not_counts() -> None:
    """A map of maps holds map ids and a DevMap/CpuMap/XskMap slots (interface indexes, queue
    sizes, socket fds): a module's export leaves them out, naming one is a ValueError."""
    from bpfimport.export import MapCollector
    from tests.runtime_objects import compiled, module_of

    moms = compiled("maps_of_maps.bpf.py", "maps_of_maps_bpf")
    mod = module_of(moms.object, moms.spec)
    names = {e.handle.name for e in MapCollector(mod).exports}
    assert names == {"counts_a", "counts_b", "sel", "out"}
    with pytest.raises(ValueError, match="map 'by_slot' cannot be exported: ArrayOfMaps holds"):
        MapCollector(mod.by_slot)
    with pytest.raises(ValueError, match="map 'by_name' cannot be exported: HashOfMaps holds"):
        MapCollector([mod.by_name])
    helpers = compiled("packet_helpers.bpf.py", "packet_helpers_bpf")
    pmod = module_of(helpers.object, helpers.spec)
    redirect = [m.name for m in helpers.spec.maps if m.map_kind.family == "redirect"]
    assert redirect
    assert not {e.handle.name for e in MapCollector(pmod).exports} & set(redirect)
    for name in redirect:
        with pytest.raises(ValueError, match=f"map '{name}' cannot be exported"):
            MapCollector(getattr(pmod, name))
