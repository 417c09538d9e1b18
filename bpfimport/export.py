"""Prometheus export: a module's maps as metrics, read at scrape time (docs/runtime.md, "Prometheus").

Needs prometheus_client, the optional extra ``pip install 'bpfimport[prometheus]'``;
it is imported when a collector is made, never by ``import bpfimport`` or the
runtime, so a program that does not export pays nothing for it.

* A map becomes a metric family named ``PREFIX + map name`` (``bpfimport_`` by
  default); a map with struct values becomes one family per integer field
  (``PREFIX + map + "_" + field``).
* Keys become labels: each field of a struct key a label of its name (``char[N]``
  fields as text), an integer key one label, ``key`` unless ``key_labels`` names it.
* Values are counters (``_total``), or gauges for the maps named in ``gauges``;
  per-CPU values are summed over the CPUs.
* A log2 histogram (a map the compiler saw counting into ``log2()`` buckets:
  ``MapSpec.histogram``, the maps ``python -m bpfimport run`` prints as
  histograms) becomes a Prometheus histogram: bucket ``k`` holds the values
  ``2**k .. 2**(k+1) - 1``, so its cumulative count is ``le="2**(k+1) - 1"``;
  ``_count`` is the total, and ``_sum`` an estimate (each value taken as the
  middle of its bucket: the map keeps no sum).  The other fields of a struct
  key label each histogram.

Nothing runs in the background: each scrape reads every map once (batch
lookups where the kernel has them, ``Map.items_if_loaded``), and a map whose
module is not loaded (or was closed) gives no samples instead of being loaded.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from types import ModuleType
    from typing import Any

    from .runtime.maps import Map

INSTALL_HINT = "pip install 'bpfimport[prometheus]'"
DEFAULT_PREFIX = "bpfimport_"
# label names Prometheus keeps for itself (histograms' le, summaries' quantile): renamed
_RESERVED_LABELS = {"le": "le_", "quantile": "quantile_"}
_INT_CODES = "bBhHiIlLqQ?"  # ctypes' integer (and bool) type codes
_INT_TYPES = ("u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "bool")


def prometheus() -> ModuleType:
    """prometheus_client, or an ImportError that says which extra to install."""
    try:
        import prometheus_client
        import prometheus_client.core  # noqa: F401 - the metric families
    except ImportError as e:
        raise ImportError(f"bpfimport.export needs prometheus_client: {INSTALL_HINT} "
                          f"({e})", name="prometheus_client") from None
    return prometheus_client


def _label_value(v: Any) -> str:
    """A key field as a label value: text for ``char[N]``, digits for integers, arrays
    comma-separated, a nested struct as ``{a=1,b=2}`` (never a repr with an address)."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, (int, str)):
        return str(v)
    fields = _fields(type(v))
    if fields:
        return "{" + ",".join(f"{f}={_label_value(getattr(v, f))}" for f in fields) + "}"
    return ",".join(map(_label_value, v))  # a list, or a ctypes array


def _count(v: Any) -> int:
    """A value as a number: an int, or a per-CPU list summed."""
    return sum(v) if isinstance(v, list) else v


def _fields(ctype: Any) -> list[str]:
    return [f[0] for f in getattr(ctype, "_fields_", ())]


def _int_fields(ctype: Any) -> list[str]:
    """The integer fields of a struct value type (what can be a number), in order."""
    import ctypes

    return [f[0] for f in getattr(ctype, "_fields_", ())
            if isinstance(f[1], type) and issubclass(f[1], ctypes._SimpleCData)
            and getattr(f[1], "_type_", "") in _INT_CODES]


def _label_name(name: str) -> str:
    return _RESERVED_LABELS.get(name, name)


class _Export:
    """How one map becomes metric families: names, labels, and the reading of its entries."""

    def __init__(self, handle: Map, prefix: str, gauge: bool, key_label: str | None) -> None:
        from .spec import slot_field

        self.handle = handle
        spec = handle.spec
        self.name = prefix + spec.name
        self.doc = f"BPF {spec.kind} '{spec.name}' ({spec.key} -> {spec.value})"
        self.histogram = spec.histogram == "log2"
        self.gauge = gauge
        key_fields = _fields(handle.key_type)
        self.slot: str | None = None
        if self.histogram and key_fields:
            self.slot = slot_field(key_fields)
            key_fields = [f for f in key_fields if f != self.slot]
        self.key_fields = key_fields  # empty: an integer key
        if key_fields:
            self.labels = [_label_name(f) for f in key_fields]
        elif self.histogram:
            self.labels = []
        else:
            self.labels = [key_label or "key"]
        self.value_fields = _int_fields(handle.value_type)  # empty: an integer value
        self.skip_zero = spec.map_kind.array  # every index of an array exists: show the used

    def describe(self) -> list[Any]:
        """The families without samples (names and types only: no map is read)."""
        return self._families()

    def _families(self) -> list[Any]:
        core = prometheus().core
        if self.histogram:
            return [core.HistogramMetricFamily(self.name, self.doc, labels=self.labels)]
        cls = core.GaugeMetricFamily if self.gauge else core.CounterMetricFamily
        if not self.value_fields:
            return [cls(self.name, self.doc, labels=self.labels)]
        return [cls(f"{self.name}_{f}", f"{self.doc}, field {f}", labels=self.labels)
                for f in self.value_fields]

    def collect(self) -> list[Any]:
        """The families with this scrape's samples (none when the module is not loaded)."""
        families = self._families()
        items = self.handle.items_if_loaded()
        if not items:
            return families
        if self.histogram:
            self._histograms(families[0], items)
            return families
        for key, value in items:
            labels = self._labels(key)
            if self.value_fields:
                per_cpu = value if isinstance(value, list) else [value]
                for fam, f in zip(families, self.value_fields):
                    total = sum(getattr(v, f) for v in per_cpu)
                    if total or not self.skip_zero:
                        fam.add_metric(labels, total)
            else:
                n = _count(value)
                if n or not self.skip_zero:
                    families[0].add_metric(labels, n)
        return families

    def _labels(self, key: Any) -> list[str]:
        if self.key_fields:
            return [_label_value(getattr(key, f)) for f in self.key_fields]
        return [_label_value(key)]

    def _histograms(self, family: Any, items: list[tuple[Any, Any]]) -> None:
        """One Prometheus histogram per section: cumulative buckets up to the highest in use."""
        from .runtime.hist import log2_range

        sections: dict[tuple[str, ...], dict[int, int]] = {}
        section: tuple[str, ...]
        for key, value in items:
            if self.slot is None:
                section, index = (), key
            else:
                section = tuple(_label_value(getattr(key, f)) for f in self.key_fields)
                index = getattr(key, self.slot)
            counts = sections.setdefault(section, {})
            counts[index] = counts.get(index, 0) + _count(value)
        top = max((i for counts in sections.values() for i, n in counts.items() if n), default=0)
        for section, counts in sorted(sections.items()):
            buckets: list[tuple[str, float]] = []
            running = 0
            estimate = 0.0
            for k in range(top + 1):
                n = counts.get(k, 0)
                running += n
                low, high = log2_range(k)
                estimate += n * (low + high) / 2
                buckets.append((str(high), running))
            buckets.append(("+Inf", running))
            family.add_metric(list(section), buckets, estimate)


def _exportable(handle: Any) -> str | None:
    """Why a map cannot be exported, or None when it can."""
    from .kinds import KEYED_OPS

    kind = handle.spec.map_kind
    if kind.events or kind.keyless:
        return f"{handle.spec.kind} holds no keyed counts"
    if kind.ops != KEYED_OPS:  # stacks, program arrays, maps of maps (ids), redirect slots
        return f"{handle.spec.kind} holds no counts"
    value = handle.spec.value or ""
    if value in _INT_TYPES or (value.startswith("struct ") and _int_fields(handle.value_type)):
        return None
    return f"its values are {value}, not integers or a struct of them"


def _handles(maps: Any) -> Iterator[tuple[Any, bool]]:
    """(map handle, named explicitly) for a module, a map, or an iterable of either."""
    if hasattr(maps, "__bpf_spec__"):
        for m in maps.__bpf_spec__.maps:
            yield getattr(maps, m.name), False
    elif hasattr(maps, "items_if_loaded"):
        yield maps, True
    else:
        for x in maps:
            yield from _handles(x)


class MapCollector:
    """A prometheus_client collector of BPF maps: ``registry.register(MapCollector(mod))``.

    ``maps``: a module (every map that holds integer counts), a map handle, or
    a list of them.  ``prefix`` starts every metric name; ``gauges`` names the
    maps (or map handles) exported as gauges rather than counters; ``key_labels``
    maps a map name to the label of its integer key (``{"counts": "pid"}``).
    A map named explicitly that holds no counts (a ring buffer, a stack trace
    map, values that are not integers) is a ValueError.
    """

    def __init__(self, maps: Any, *, prefix: str = DEFAULT_PREFIX, gauges: Iterable[Any] = (),
                 key_labels: dict[str, str] | None = None) -> None:
        prometheus()  # the missing extra is an error here, not at the first scrape
        gauge_names = {getattr(g, "name", g) for g in gauges}
        labels = dict(key_labels or {})
        self.exports: list[_Export] = []
        for handle, named in _handles(maps):
            why = _exportable(handle)
            if why is not None:
                if named:
                    raise ValueError(f"map '{handle.name}' cannot be exported: {why}")
                continue
            self.exports.append(_Export(handle, prefix, handle.name in gauge_names,
                                        labels.get(handle.name)))

    def describe(self) -> Iterator[Any]:
        """The metric families, without reading a map (registries check names with it)."""
        for e in self.exports:
            yield from e.describe()

    def collect(self) -> Iterator[Any]:
        """Read every map now and yield its families (prometheus_client calls it per scrape)."""
        for e in self.exports:
            yield from e.collect()


class MetricsServer:
    """The HTTP server of :func:`serve`: ``.url``, ``.port`` (the one bound), ``close()``."""

    def __init__(self, httpd: Any, thread: Any, registry: Any, collector: MapCollector) -> None:
        self._httpd = httpd
        self._thread = thread
        self.registry = registry
        self.collector = collector
        self.addr: str = httpd.server_address[0]
        self.port: int = httpd.server_address[1]

    @property
    def url(self) -> str:
        host = f"[{self.addr}]" if ":" in self.addr else self.addr
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving and free the port (waits for the request in progress). Idempotent."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
            self._thread.join()

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<MetricsServer {self.url} {'open' if self._httpd else 'closed'}>"


def serve(port: int, maps: Any, *, addr: str = "0.0.0.0", prefix: str = DEFAULT_PREFIX,
          gauges: Iterable[Any] = (), key_labels: dict[str, str] | None = None,
          registry: Any = None) -> MetricsServer:
    """Serve ``maps`` (see :class:`MapCollector`) at ``http://ADDR:PORT/metrics``.

    ``port=0`` takes a free port (``server.port`` says which).  The metrics go
    in a registry of their own unless ``registry`` is given.  The server runs in
    a daemon thread that only answers requests; each request reads the maps.
    """
    pc = prometheus()
    collector = MapCollector(maps, prefix=prefix, gauges=gauges, key_labels=key_labels)
    if registry is None:
        registry = pc.CollectorRegistry()
    registry.register(collector)
    try:
        httpd, thread = pc.start_http_server(port, addr=addr, registry=registry)
    except BaseException:
        registry.unregister(collector)
        raise
    return MetricsServer(httpd, thread, registry, collector)


__all__ = ["DEFAULT_PREFIX", "INSTALL_HINT", "MapCollector", "MetricsServer", "prometheus", "serve"]
