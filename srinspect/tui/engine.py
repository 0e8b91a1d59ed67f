"""The monitor's engine: frames in (capture thread), snapshots out (UI timer).

Why a separate, UI-free engine: capture and decode must never run on the UI thread, and the
UI must never walk live data structures while the capture thread changes them. So the
capture worker calls ``feed(frame)`` and the UI's refresh timer calls ``snapshot()`` a few
times a second; both take ``lock``, and a snapshot is plain immutable data the widgets can
render at leisure. Per packet the engine does what the flow views already do
(``FlowDecoder`` + ``FlowTable`` + ``LinkLoad``) and keeps the packet itself in a bounded ring
buffer (for the packet list, the hex view and saving), so memory stays flat however long the
monitor runs. Capture faults of a live feed (``capture_event``) change nothing of that: the
engine only records which interfaces are not being captured, for the status bar, and
everything it holds stays while the feed resumes.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice

from srinspect.csid import CsidFormats
from srinspect.findings import Finding
from srinspect.flows.decoder import FlowDecoder
from srinspect.flows.events import FlowKey
from srinspect.flows.linkload import LinkLoad, LinkRate, PairRate, segment_pairs
from srinspect.flows.packet import SrInfo
from srinspect.flows.table import FlowTable, PathChange
from srinspect.frame import Frame
from srinspect.inspector import Inspector
from srinspect.keys import Keyring
from srinspect.locators import Locators
from srinspect.rules import Profile
from srinspect.sources import CaptureEvent

#: (name, link type, MAC or None) of capture interface ``index``, asked once per interface.
Describe = Callable[[int], tuple[str, int, bytes | None]]

DEFAULT_MAX_PACKETS = 100_000
DEFAULT_MAX_FINDINGS = 2_000
MAX_ROWS = 2_000  # flows handed to the UI per snapshot (busiest first beyond it)
SPARK_LEN = 30  # seconds of bit/s history per flow (the sparkline)
MAX_SPARKS = 4_096  # flows with a history at once (more: the newest go without)
MAX_CAPTURE_EVENTS = 200  # capture faults and recoveries kept for the UI


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """A finding as the Findings pane lists it, with the packet to jump to (``seq``)."""

    n: int
    seq: int
    flow_id: int
    ts: float
    finding: Finding
    key: FlowKey
    segments: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class PointRow:
    """A flow as seen at one capture interface."""

    interface: str
    packets: int
    active: bytes
    segments_left: int | None


@dataclass(frozen=True, slots=True)
class FlowRow:
    """Everything the Flows pane shows of one flow, copied out of the table."""

    id: int
    key: FlowKey
    segments: tuple[bytes, ...]
    active: bytes
    segments_left: int | None
    has_srh: bool
    packets: int
    bytes: int
    pps: float
    bps: float
    findings: dict[str, int]
    hmac: dict[str, int]
    change_count: int
    changes: tuple[PathChange, ...]
    first_seen: float
    last_seen: float
    points: tuple[PointRow, ...]

    @property
    def finding_count(self) -> int:
        return sum(self.findings.values())


@dataclass(frozen=True, slots=True)
class RuleRow:
    rule: str
    severity: str
    count: int
    last_seq: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The engine's state at one refresh (immutable: the UI may keep it)."""

    now: float
    frames: int
    bytes: int
    srv6: int
    seq: int
    flows: list[FlowRow]
    flow_total: int
    links: list[LinkRate]
    pairs: list[PairRate]
    rules: list[RuleRow]
    findings_total: int
    path_changes: int
    evicted: int
    expired: int
    ring: int
    first_ts: float | None
    last_ts: float | None
    interfaces: dict[int, str] = field(default_factory=dict)
    spark: dict[int, tuple[float, ...]] = field(default_factory=dict)
    #: interfaces not being captured now -> why (empty while the capture is healthy)
    capture_lost: dict[str, str] = field(default_factory=dict)
    #: capture events so far (faults and recoveries; the UI announces new ones)
    capture_events: int = 0


class PacketRecord:
    """One SRv6 packet kept for the packet list: the frame (bytes for hex and save), its flow
    and the shared header summary. ``seq`` numbers SRv6 packets in arrival order."""

    __slots__ = ("seq", "frame", "flow_id", "key", "info")

    def __init__(self, seq: int, frame: Frame, flow_id: int, key: FlowKey, info: SrInfo) -> None:
        self.seq = seq
        self.frame = frame
        self.flow_id = flow_id
        self.key = key
        self.info = info

    def __repr__(self) -> str:
        return f"<PacketRecord #{self.seq} frame {self.frame.number} flow {self.flow_id}>"


class MonitorEngine:
    """Flow table, link load, packet ring and finding counts behind one lock.

    ``paced`` says whether frames arrive in real time (live capture, replay): then rates are
    measured up to the wall clock, so an idle flow's rate decays to zero; for a file read as
    fast as possible they are measured at the last frame's capture time, so the numbers are
    those of the capture, whatever the machine's speed.
    """

    def __init__(self, profile: Profile = Profile.DRAFT04, keyring: Keyring | None = None, *,
                 max_packets: int = DEFAULT_MAX_PACKETS, max_flows: int = 65536,
                 idle_timeout: float = 300.0, window: float = 5.0, paced: bool = False,
                 describe: Describe | None = None,
                 max_findings: int = DEFAULT_MAX_FINDINGS,
                 locators: Locators | None = None, csid: CsidFormats | None = None) -> None:
        self.profile = profile
        self.keyring = keyring
        self.locators = locators
        self.csid = csid
        self.paced = paced
        self.lock = threading.Lock()
        self.table = FlowTable(max_flows=max_flows, idle_timeout=idle_timeout,
                               rate_window=window, events=False, csid=csid)
        self.decoder = FlowDecoder(Inspector(profile, keyring, locators, csid))
        self.links = LinkLoad(window=window)
        self.packets: deque[PacketRecord] = deque(maxlen=max(max_packets, 1))
        self.findings: deque[FindingRecord] = deque(maxlen=max(max_findings, 1))
        self._describe = describe
        self._names: dict[int, str] = {}
        self.seq = 0
        self.frames = 0
        self.bytes = 0
        self.finding_n = 0
        self.rule_counts: Counter[str] = Counter()
        self.rule_severity: dict[str, str] = {}
        self.rule_last: dict[str, int] = {}
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        #: bit/s per flow per second of capture time (the sparklines): bytes of the second
        #: in progress in ``_bucket``, finished seconds in ``spark``.
        self.spark: dict[int, deque[float]] = {}
        self._bucket: dict[int, int] = {}
        self._second: int | None = None
        #: capture faults and recoveries (newest last), their count, and per capture source
        #: the interfaces it is not capturing now with the reason
        self.capture_log: deque[CaptureEvent] = deque(maxlen=MAX_CAPTURE_EVENTS)
        self.capture_count = 0
        self._lost: dict[str, dict[str, str]] = {}

    # --- capture side ---------------------------------------------------------------------

    def feed(self, frame: Frame) -> PacketRecord | None:
        """Account one frame; return its record when it is an SRv6 packet."""
        with self.lock:
            return self._feed(frame)

    def _feed(self, frame: Frame) -> PacketRecord | None:
        self.frames += 1
        self.bytes += frame.orig_len
        ts = frame.ts
        if self.first_ts is None:
            self.first_ts = ts
        self.last_ts = ts
        if frame.interface not in self._names:
            self._declare(frame)
        self.links.add(frame)
        decoded = self.decoder.decode(frame)
        if decoded is None:
            return None
        key, info, nbytes = decoded
        table = self.table
        flow = table.add(ts, frame.interface, key, info, nbytes, frame.number)
        second = int(ts)
        if second != self._second:
            self._roll(second)
        bucket = self._bucket
        bucket[flow.id] = bucket.get(flow.id, 0) + nbytes
        self.seq += 1
        rec = PacketRecord(self.seq, frame, flow.id, key, info)
        self.packets.append(rec)
        if info.findings:
            self._findings(rec, info.findings)
        return rec

    def capture_event(self, event: CaptureEvent) -> None:
        """A live feed lost or regained interfaces (any capture thread). Each event lists
        every interface its source still misses, so the state per source is just that."""
        with self.lock:
            self.capture_log.append(event)
            self.capture_count += 1
            lost = self._lost.setdefault(event.source, {})
            if event.error:
                for name in event.interfaces:
                    lost[name] = event.message
            still = set(event.lost)
            for name in [n for n in lost if n not in still]:
                del lost[name]
            for name in event.lost:
                lost.setdefault(name, "not captured")

    def capture_lost(self) -> dict[str, str]:
        """Interfaces not being captured now (all sources) -> why."""
        with self.lock:
            return {name: why for lost in self._lost.values() for name, why in lost.items()}

    def capture_events_since(self, n: int) -> tuple[int, list[CaptureEvent]]:
        """(count so far, the capture events numbered above ``n`` still kept, oldest
        first); events are numbered from 1 in arrival order."""
        with self.lock:
            fresh = min(self.capture_count - n, len(self.capture_log))
            return self.capture_count, list(self.capture_log)[-fresh:] if fresh > 0 else []

    def _roll(self, second: int) -> None:
        """Close the seconds before ``second``: append each flow's bit/s (zeros for idle
        seconds), forget histories that are all zero. Out-of-order frames (an older second
        from another interface) count in the second in progress."""
        current = self._second
        if current is None:
            self._second = second
            return
        if second < current:
            return
        gap = min(second - current, SPARK_LEN)
        spark = self.spark
        bucket = self._bucket
        for fid in bucket:
            if fid not in spark and len(spark) < MAX_SPARKS:
                spark[fid] = deque(maxlen=SPARK_LEN)
        for fid, hist in list(spark.items()):
            hist.append(bucket.get(fid, 0) * 8.0)
            hist.extend([0.0] * (gap - 1))
            if not any(hist):
                del spark[fid]
        self._bucket = {}
        self._second = second

    def _declare(self, frame: Frame) -> None:
        index = frame.interface
        if self._describe is not None:
            name, linktype, mac = self._describe(index)
        else:
            name, linktype, mac = f"if{index}", frame.linktype, None
        self._names[index] = name
        self.links.declare(index, name, linktype if linktype >= 0 else frame.linktype, mac)

    def _findings(self, rec: PacketRecord, findings: tuple[Finding, ...]) -> None:
        for f in findings:
            self.finding_n += 1
            self.rule_counts[f.rule] += 1
            self.rule_severity[f.rule] = f.severity.label
            self.rule_last[f.rule] = rec.seq
            self.findings.append(FindingRecord(self.finding_n, rec.seq, rec.flow_id,
                                               rec.frame.ts, f, rec.key, rec.info.segments))

    # --- UI side --------------------------------------------------------------------------

    def interface_name(self, index: int) -> str:
        return self._names.get(index, f"if{index}" if index >= 0 else "overflow")

    def now(self, wall: float) -> float:
        """"Now" for rates: the wall clock when paced, else the last frame's time."""
        if self.paced:
            return wall
        return self.last_ts if self.last_ts is not None else 0.0

    def snapshot(self, wall: float, max_rows: int = MAX_ROWS) -> Snapshot:
        """Copy out what the panes show. Costs O(flows); called a few times a second."""
        with self.lock:
            now = self.now(wall)
            table = self.table
            if self.paced:
                table.expire(now)
                if self._second is not None and int(now) > self._second:
                    self._roll(int(now))  # a quiet link: the sparklines still move
            flows = list(table)
            if len(flows) > max_rows:
                flows.sort(key=lambda f: -f.packets)
                flows = flows[:max_rows]
            name = self.interface_name
            rows = []
            for f in flows:
                pps, bps = f.rate(now)
                info = f.info
                segments, active = self.table.expanded(f.segments, info.active)
                rows.append(FlowRow(
                    f.id, f.key, segments, active, info.segments_left, info.has_srh,
                    f.packets, f.bytes, pps, bps, dict(f.findings or {}), dict(f.hmac or {}),
                    f.change_count, tuple(f.changes), f.first_seen, f.last_seen,
                    tuple(PointRow(name(p.interface), p.packets, p.info.active,
                                   p.info.segments_left) for p in f.points.values())))
            rules = [RuleRow(rule, self.rule_severity[rule], n, self.rule_last[rule])
                     for rule, n in self.rule_counts.most_common()]
            return Snapshot(
                now=now, frames=self.frames, bytes=self.bytes, srv6=self.decoder.srv6,
                seq=self.seq, flows=rows, flow_total=len(table),
                links=self.links.links(now), pairs=segment_pairs(table.paths(), now),
                rules=rules, findings_total=self.finding_n, path_changes=table.path_changes,
                evicted=table.evicted, expired=table.expired, ring=len(self.packets),
                first_ts=self.first_ts, last_ts=self.last_ts, interfaces=dict(self._names),
                spark={r.id: tuple(self.spark[r.id]) for r in rows if r.id in self.spark},
                capture_lost={name: why for lost in self._lost.values()
                              for name, why in lost.items()},
                capture_events=self.capture_count)

    def records_since(self, seq: int, limit: int) -> list[PacketRecord]:
        """SRv6 packets newer than ``seq``, newest first, at most ``limit``.

        Seqs in the ring are contiguous, so the count is known and the copy is a C-level
        slice (no per-record Python work while holding the capture thread's lock).
        """
        with self.lock:
            n = min(self.seq - seq, len(self.packets), limit)
            if n <= 0:
                return []
            return list(islice(reversed(self.packets), n))

    def records(self, match: Callable[[PacketRecord], bool] | None = None,
                limit: int | None = None, before: int | None = None) -> list[PacketRecord]:
        """Packets in the ring that ``match``, newest first (all of them without ``limit``).

        The ring is copied under the lock and scanned outside it, so a long scan (a filter
        over 100k packets) does not stall the capture thread.
        """
        with self.lock:
            ring = list(self.packets)
        out: list[PacketRecord] = []
        for rec in reversed(ring):
            if before is not None and rec.seq >= before:
                continue
            if match is None or match(rec):
                out.append(rec)
                if limit is not None and len(out) >= limit:
                    break
        return out

    def record(self, seq: int) -> PacketRecord | None:
        """The packet numbered ``seq`` if the ring still holds it (seqs are contiguous)."""
        with self.lock:
            if not self.packets:
                return None
            index = seq - self.packets[0].seq
            if 0 <= index < len(self.packets):
                return self.packets[index]
        return None

    def findings_since(self, n: int) -> list[FindingRecord]:
        """Findings numbered above ``n``, oldest first."""
        with self.lock:
            if not self.findings or self.findings[-1].n <= n:
                return []
            return [r for r in self.findings if r.n > n]

    def decode_full(self, rec: PacketRecord):  # noqa: ANN201 - PacketResult | None
        """Full decode of one packet for the detail view, on a private Inspector (the
        capture thread's one is not thread-safe; its counters would also be skewed)."""
        return Inspector(self.profile, self.keyring, self.locators, self.csid).feed(rec.frame)
