"""Prometheus metrics for ``watch`` and ``monitor`` (``--metrics ADDR:PORT``).

Two halves, kept apart so the numbers can be tested without a socket:

- ``MetricsSnapshot`` is plain data, built from what the flow views already hold (a watch
  ``Session`` or a monitor ``Snapshot``), and ``families()`` turns it into Prometheus metric
  families; neither does I/O.
- ``MetricsServer`` is the I/O edge: prometheus_client's HTTP server in a daemon thread,
  answering each scrape from a ``provider`` (the latest published snapshot for ``watch``,
  whose session is not thread-safe; a fresh engine snapshot for the monitor, whose engine is).

Names follow Prometheus conventions: counters end in ``_total``, units are base units
(bytes, seconds), rates that the tool computes over its sliding window are gauges in
``_per_second``. Cardinality is bounded: links by the capture's interfaces, rules by the rule
table, segment pairs by the ``max_pairs`` busiest, flows by the ``top`` busiest (at most
``MAX_TOP``).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..flows.events import addr_text

PREFIX = "srinspect"
DEFAULT_TOP = 10
MAX_TOP = 100
MAX_PAIRS = 200


@dataclass(frozen=True, slots=True)
class LinkSample:
    interface: str
    direction: str
    packets: int
    bytes: int


@dataclass(frozen=True, slots=True)
class PairSample:
    a: str
    b: str
    packets_per_second: float
    bytes_per_second: float
    flows: int


@dataclass(frozen=True, slots=True)
class FlowSample:
    id: int
    source: str
    destination: str
    path: str
    packets_per_second: float
    bytes_per_second: float


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """What one scrape reports. Counters are totals since the start of the run."""

    frames: int = 0
    srv6_packets: int = 0
    flows: int = 0
    flows_evicted: int = 0
    path_changes: int = 0
    links: tuple[LinkSample, ...] = ()
    pairs: tuple[PairSample, ...] = ()
    top_flows: tuple[FlowSample, ...] = ()
    findings: tuple[tuple[str, str, int], ...] = ()  # (rule, severity, count)
    drops: tuple[tuple[str, int], ...] = ()  # (interface, dropped) where known
    faults: tuple[tuple[str, str, int], ...] = ()  # (interface, reason, count)
    lost: tuple[str, ...] = ()  # interfaces not being captured now


# --- building snapshots (pure) ---------------------------------------------------------------


def link_samples(links: Iterable[Any]) -> tuple[LinkSample, ...]:
    """From ``linkload.LinkRate`` rows."""
    return tuple(LinkSample(r.interface, r.direction, r.packets, r.bytes) for r in links)


def pair_samples(pairs: Iterable[Any], limit: int = MAX_PAIRS) -> tuple[PairSample, ...]:
    """From ``linkload.PairRate`` rows (busiest first, as ``segment_pairs`` sorts them)."""
    out = []
    for p in pairs:
        if len(out) >= limit:
            break
        out.append(PairSample(addr_text(p.a), addr_text(p.b), p.pps, p.bps / 8, p.flows))
    return tuple(out)


def top_flows(rows: Iterable[tuple[int, tuple[bytes, ...], tuple[bytes, ...], float, float]],
              top: int) -> tuple[FlowSample, ...]:
    """The ``top`` flows by rate from (id, key, segments, pps, bps) tuples; idle flows are
    left out (a flow at 0 bit/s is not "top")."""
    ranked = sorted((r for r in rows if r[4] > 0), key=lambda r: (-r[4], -r[3], r[0]))
    out = []
    for fid, key, segments, pps, bps in ranked[: max(0, min(top, MAX_TOP))]:
        path = " > ".join(addr_text(s) for s in reversed(segments))
        out.append(FlowSample(fid, addr_text(key[0]), addr_text(key[1]), path, pps, bps / 8))
    return tuple(out)


def drop_samples(drops: Iterable[Any]) -> tuple[tuple[str, int], ...]:
    """From ``InterfaceDrops``: only the interfaces whose drop count is known."""
    return tuple((d.interface, d.dropped) for d in drops if d.dropped is not None)


class FaultCounter:
    """Capture faults per interface and reason, counted from ``CaptureEvent``s (the source
    keeps only a bounded history, a counter must not go down)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.lost: tuple[str, ...] = ()

    def add(self, event: Any) -> None:
        if event.error:
            for name in event.interfaces:
                self.counts[(name, event.reason or "unknown")] += 1
        self.lost = tuple(event.lost)

    def samples(self) -> tuple[tuple[str, str, int], ...]:
        return tuple((i, r, n) for (i, r), n in sorted(self.counts.items()))


def from_monitor(snap: Any, top: int, faults: FaultCounter,
                 drops: Iterable[Any] = ()) -> MetricsSnapshot:
    """From a monitor engine ``Snapshot`` (its rule counts are totals since the start)."""
    rows = [(r.id, r.key, r.segments, r.pps, r.bps) for r in snap.flows]
    return MetricsSnapshot(
        frames=snap.frames, srv6_packets=snap.srv6, flows=snap.flow_total,
        flows_evicted=snap.evicted, path_changes=snap.path_changes,
        links=link_samples(snap.links), pairs=pair_samples(snap.pairs),
        top_flows=top_flows(rows, top),
        findings=tuple(sorted((r.rule, r.severity, r.count) for r in snap.rules)),
        drops=drop_samples(drops), faults=faults.samples(),
        lost=tuple(sorted(snap.capture_lost)))


# --- rendering (pure) --------------------------------------------------------------------------


def families(snap: MetricsSnapshot) -> Iterator[Any]:
    """The metric families of ``snap`` (prometheus_client objects, no I/O)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    def counter(name: str, doc: str, labels: list[str] | None = None) -> CounterMetricFamily:
        return CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)

    def gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
        return GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)

    yield CounterMetricFamily(f"{PREFIX}_frames", "Frames read from the capture",
                              value=snap.frames)
    yield CounterMetricFamily(f"{PREFIX}_srv6_packets", "SRv6 packets decoded",
                              value=snap.srv6_packets)
    yield GaugeMetricFamily(f"{PREFIX}_flows", "SRv6 flows in the table", value=snap.flows)
    yield CounterMetricFamily(f"{PREFIX}_flows_evicted", "Flows evicted by --max-flows",
                              value=snap.flows_evicted)
    yield CounterMetricFamily(f"{PREFIX}_path_changes", "Segment-list changes of flows",
                              value=snap.path_changes)
    link = ["interface", "direction"]
    pkts = counter("link_packets", "Frames per capture interface and direction", link)
    byts = counter("link_bytes", "Frame bytes (on the wire) per interface and direction", link)
    for s in snap.links:
        pkts.add_metric([s.interface, s.direction], s.packets)
        byts.add_metric([s.interface, s.direction], s.bytes)
    yield pkts
    yield byts
    pair = ["from", "to"]
    ppps = gauge("segment_pair_packets_per_second",
                 "SRv6 packets/s between consecutive hops of the paths (sliding window)", pair)
    pbps = gauge("segment_pair_bytes_per_second",
                 "SRv6 IP-layer bytes/s between consecutive hops (sliding window)", pair)
    pflows = gauge("segment_pair_flows", "Flows across each segment pair", pair)
    for p in snap.pairs:
        ppps.add_metric([p.a, p.b], p.packets_per_second)
        pbps.add_metric([p.a, p.b], p.bytes_per_second)
        pflows.add_metric([p.a, p.b], p.flows)
    yield ppps
    yield pbps
    yield pflows
    found = counter("findings", "Rule findings (packets a rule fired on)", ["rule", "severity"])
    for rule, severity, n in snap.findings:
        found.add_metric([rule, severity], n)
    yield found
    drops = counter("capture_dropped_packets",
                    "Packets the capture engine reported dropped (known when it reports)",
                    ["interface"])
    for iface, n in snap.drops:
        drops.add_metric([iface], n)
    yield drops
    faults = counter("capture_faults", "Capture faults (interface down or gone, dumpcap "
                     "ended)", ["interface", "reason"])
    for iface, reason, n in snap.faults:
        faults.add_metric([iface, reason], n)
    yield faults
    lost = gauge("capture_lost", "1 while the interface is not being captured", ["interface"])
    for iface in snap.lost:
        lost.add_metric([iface], 1)
    yield lost
    flow = ["flow", "source", "destination", "path"]
    fpps = gauge("top_flow_packets_per_second", "Packets/s of the busiest flows", flow)
    fbps = gauge("top_flow_bytes_per_second", "IP-layer bytes/s of the busiest flows", flow)
    for f in snap.top_flows:
        labels = [str(f.id), f.source, f.destination, f.path]
        fpps.add_metric(labels, f.packets_per_second)
        fbps.add_metric(labels, f.bytes_per_second)
    yield fpps
    yield fbps


def exposition(snap: MetricsSnapshot) -> bytes:
    """The text exposition of ``snap`` (what a scrape returns)."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(lambda: snap))
    return generate_latest(registry)


# --- the I/O edge ------------------------------------------------------------------------------


class _Collector:
    def __init__(self, provider: Callable[[], MetricsSnapshot]) -> None:
        self.provider = provider

    def collect(self) -> Iterator[Any]:
        yield from families(self.provider())


class MetricsError(ValueError):
    """A bad --metrics address, or a port that cannot be bound."""


def parse_address(text: str) -> tuple[str, int]:
    """ADDR:PORT ([v6]:PORT for IPv6) -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise MetricsError(f"--metrics {text!r}: give ADDR:PORT, e.g. 127.0.0.1:9464")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


@dataclass
class MetricsServer:
    """Serves ``/metrics`` on ``address`` from ``provider`` until ``stop()``."""

    address: tuple[str, int]
    provider: Callable[[], MetricsSnapshot] | None = None
    _latest: MetricsSnapshot = field(default_factory=MetricsSnapshot)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: Any = None

    def publish(self, snap: MetricsSnapshot) -> None:
        """Make ``snap`` what scrapes see (push mode, from the capture thread)."""
        with self._lock:
            self._latest = snap

    def _current(self) -> MetricsSnapshot:
        if self.provider is not None:
            return self.provider()
        with self._lock:
            return self._latest

    def start(self) -> MetricsServer:
        from prometheus_client import CollectorRegistry, start_http_server

        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(self._current))
        host, port = self.address
        try:
            self._server, _thread = start_http_server(port, addr=host, registry=registry)
        except OSError as exc:
            raise MetricsError(f"--metrics {host}:{port}: {exc.strerror or exc}") from None
        return self

    @property
    def port(self) -> int:
        return int(self._server.server_port) if self._server is not None else 0

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
