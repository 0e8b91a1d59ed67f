"""The flow table: per SRv6 flow, its segment list, counters, rates and path changes.

Sans-I/O (EXAMPLES.md, aioquic's "time is a parameter"): ``FlowTable`` never reads a clock.
Every time it uses is a capture timestamp handed in by the caller, so replaying a capture
gives exactly the table and the events the live run gave.

A flow is keyed on (outer source, final destination = Segment List[0], inner 5-tuple when
encapsulated, else protocol and ports). The Destination Address is deliberately *not* part of
the key: it is the active segment and changes at every SR endpoint, so a flow captured on
several links of its path is still one flow there, with one capture point per interface.

A *path change* is a change of the segment list, never of Segments Left or the active
segment, which change hop by hop. With captures on several links, the links see the old
and the new list at slightly different times (packets in flight); so a change is reported
only when a capture point sees a list different both from what *that point* saw before and
from the flow's current list. A downstream link still carrying old packets after the
upstream one switched therefore causes no flapping old/new/old reports.

SRv6 without an SRH (an inner packet behind Next Header 41/4 with a single SID or uSID
carrier as the DA) is an SRv6 flow whose segment list is ``[DA]``.

Everything is bounded (style guide: "put a bound on everything an attacker controls"):
flows (idle timeout, then LRU eviction at ``max_flows``, counted), capture points per flow,
path history per flow, the pending event queue, and the decoded-header cache (``decoder``).

Exported field names follow the RFC 9487 IPFIX information elements where one exists
(``srhSegmentIPv6BasicList``, ``srhActiveSegmentIPv6``, ``srhSegmentsIPv6Left``,
``srhFlagsIPv6``, ``srhTagIPv6``).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..csid import CsidFormats, expand_list, same_path
from ..inspector import PacketResult
from .events import (
    FindingSeen,
    FlowEnded,
    FlowEvent,
    FlowKey,
    FlowStarted,
    PathChanged,
    addr_text,
    key_dict,
    travel_order,
)
from .linkload import RateWindow
from .packet import SrInfo, info_from_result, key_from_result

__all__ = ["Flow", "FlowTable", "Path", "PathChange"]

_OVERFLOW_POINT = -1  # capture point that absorbs interfaces beyond max_points


@dataclass(frozen=True, slots=True)
class PathChange:
    """One path change of a flow: capture time, lists (SRH order), where it was seen."""

    ts: float
    old: tuple[bytes, ...]
    new: tuple[bytes, ...]
    interface: int


#: The shared, always empty history of flows that never changed path (a deque per flow
#: would be allocated for nothing on the million-flow path).
_NO_CHANGES: deque[PathChange] = deque(maxlen=0)


class Path:
    """Traffic along one hop sequence: outer source, the segments in travel order, and the
    inner destination when encapsulated (decapsulation at Segment List[0] hands the packet
    on). Shared by all capture points whose current list gives these hops; freed when none
    refers to it. ``segment_pairs`` in linkload sums these onto hop pairs.

    Rates are not kept here but summed, when asked, from the windows of the capture points
    on the path: one window update per packet instead of two.
    """

    __slots__ = ("hops", "points")

    def __init__(self, hops: tuple[bytes, ...]) -> None:
        self.hops = hops
        self.points: set[Point] = set()  # a set: removal stays O(1) with many flows

    @property
    def flows(self) -> int:
        """Flows currently on this path, each once however many links it was captured on."""
        return len({point.flow_id for point in self.points})

    @property
    def packets(self) -> int:
        """Packets along this path, a flow's counted once: at its busiest capture point
        (every point on the path sees the same packets go by; summing them would count a
        flow seen on three links three times)."""
        return self._per_flow()[0]

    @property
    def bytes(self) -> int:
        """IP-layer bytes along this path, each flow's once (see ``packets``)."""
        return self._per_flow()[1]

    def _per_flow(self) -> tuple[int, int]:
        best: dict[int, tuple[int, int]] = {}
        for point in self.points:
            old = best.get(point.flow_id)
            if old is None or point.path_packets > old[0]:
                best[point.flow_id] = (point.path_packets, point.path_bytes)
        return sum(p for p, _ in best.values()), sum(b for _, b in best.values())

    def rate(self, now: float) -> tuple[float, float]:
        """(packets/s, bytes/s) at ``now`` on this path: summed over flows, but a flow seen
        at several capture points counts once (its busiest point), since every point sees
        the same packets on their way along the path."""
        best: dict[int, tuple[float, float]] = {}
        for point in self.points:
            p, b = point.window.rate(now)
            old = best.get(point.flow_id)
            if old is None or b > old[1]:
                best[point.flow_id] = (p, b)
        return sum(p for p, _ in best.values()), sum(b for _, b in best.values())


class Point:
    """A flow as seen at one capture point (interface): its last header, counters, and the
    sliding window its rates come from. The window restarts when the point's segment list
    changes, so the rate of a path never includes packets that took another one.
    """

    __slots__ = ("flow_id", "interface", "info", "segments", "path", "packets", "bytes",
                 "last_seen", "window", "path_packets", "path_bytes")

    def __init__(self, flow_id: int, interface: int, info: SrInfo, path: Path,
                 window: RateWindow) -> None:
        self.flow_id = flow_id
        self.interface = interface
        self.info = info
        self.segments = info.segments
        self.path = path
        self.packets = 0
        self.bytes = 0
        self.last_seen = 0.0
        self.window = window
        self.path_packets = 0  # since this point joined its current path
        self.path_bytes = 0


class Flow:
    """One flow. ``segments`` is the current Segment List (SRH order); ``info`` the SR
    header of its latest packet (active segment, SL, flags, tag at the capture point).
    ``findings`` and ``hmac`` count packets per rule id / HMAC status (None until one).
    """

    __slots__ = ("id", "key", "segments", "info", "first_seen", "last_seen", "packets",
                 "bytes", "points", "changes", "change_count", "findings", "hmac")

    def __init__(self, flow_id: int, key: FlowKey, info: SrInfo, ts: float) -> None:
        self.id = flow_id
        self.key = key
        self.segments = info.segments
        self.info = info
        self.first_seen = ts
        self.last_seen = ts
        self.packets = 0
        self.bytes = 0
        self.points: dict[int, Point] = {}
        self.changes: deque[PathChange] = _NO_CHANGES  # replaced on the first change
        self.change_count = 0
        self.findings: dict[str, int] | None = None
        self.hmac: dict[str, int] | None = None

    @property
    def path(self) -> list[bytes]:
        """The current segments in travel order (first segment first)."""
        return list(reversed(self.segments))

    def rate(self, now: float) -> tuple[float, float]:
        """(packets/s, bits/s) over the table's sliding window ending at ``now``, from its
        busiest capture point: a flow seen on five links of its path is still one flow of
        its own rate, not five times it (per-link load is in linkload)."""
        pps = byps = 0.0
        for point in self.points.values():
            p, b = point.window.rate(now)
            if b > byps or (b == byps and p > pps):
                pps, byps = p, b
        return pps, byps * 8

    def to_dict(self, now: float, name: Callable[[int], str] = lambda i: f"if{i}"
                ) -> dict[str, object]:
        """Export: RFC 9487 names for the SRH fields, rates at ``now`` (capture time)."""
        info = self.info
        pps, bps = self.rate(now)
        duration = self.last_seen - self.first_seen
        out = key_dict(self.id, self.key)
        out.update({
            "srh": info.has_srh,
            "srhSegmentIPv6BasicList": ([addr_text(s) for s in self.segments]
                                        if info.list_captured else None),
            "path": travel_order(self.segments) if info.list_captured else None,
            "srhActiveSegmentIPv6": addr_text(info.active),
            "srhSegmentsIPv6Left": info.segments_left,
            "srhFlagsIPv6": info.flags,
            "srhTagIPv6": info.tag,
            "packets": self.packets,
            "bytes": self.bytes,
            "pps": round(pps, 3),
            "bps": round(bps, 3),
            "avg_pps": round(self.packets / duration, 3) if duration > 0 else None,
            "avg_bps": round(self.bytes * 8 / duration, 3) if duration > 0 else None,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "capture_points": [
                {"interface": name(p.interface) if p.interface >= 0 else "overflow",
                 "packets": p.packets, "bytes": p.bytes,
                 "srhActiveSegmentIPv6": addr_text(p.info.active),
                 "srhSegmentsIPv6Left": p.info.segments_left,
                 "path": travel_order(p.segments) if p.info.list_captured else None}
                for p in self.points.values()],
            "findings": dict(sorted(self.findings.items())) if self.findings else {},
            "hmac": dict(self.hmac) if self.hmac else {},
            "path_changes": self.change_count,
            "path_history": [{"ts": c.ts, "old": travel_order(c.old),
                              "new": travel_order(c.new), "interface": name(c.interface)}
                             for c in self.changes],
        })
        return out


class FlowTable:
    """SRv6 flows keyed on (outer source, final destination, inner 5-tuple).

    Feed it with ``update(result)`` (a decoded PacketResult) or, on the hot path, with
    ``add(ts, interface, key, info, nbytes)`` as ``FlowDecoder`` produces them. Events
    (``FlowStarted``, ``PathChanged``, ``FindingSeen``, ``FlowEnded``) queue up; take them
    with ``drain()`` after each update (the queue is bounded; overflow is counted in
    ``events_dropped``). Idle flows expire on capture time (checked at most once per
    ``sweep_interval`` of capture time, or when the caller calls ``expire(now)``); when
    ``max_flows`` is reached the least recently seen flow is evicted and counted.

    With C-SID formats (``csid``, RFC 9800), paths are made of the SIDs the containers carry,
    and a DA that moves along a container (a NEXT-C-SID shift between two capture points,
    or seen before and after one) keeps the flow on its path: no path change.
    """

    def __init__(self, *, max_flows: int = 65536, idle_timeout: float = 60.0,
                 rate_window: float = 5.0, rate_buckets: int = 10, max_history: int = 16,
                 max_points: int = 16, max_pending_events: int = 10000,
                 events: bool = True, sweep_interval: float = 1.0,
                 csid: CsidFormats | None = None) -> None:
        if max_flows < 1:
            raise ValueError("max_flows must be at least 1")
        self.max_flows = max_flows
        self.idle_timeout = idle_timeout
        self.rate_window = rate_window
        self.rate_buckets = rate_buckets
        self.max_history = max_history
        self.max_points = max_points
        self.max_pending_events = max_pending_events
        self.sweep_interval = sweep_interval
        self._events_on = events
        self.csid = csid if csid is not None else CsidFormats()
        self._flows: OrderedDict[FlowKey, Flow] = OrderedDict()
        self._paths: dict[tuple[bytes, ...], Path] = {}
        self._pending: list[FlowEvent] = []
        self._next_id = 1
        self._next_sweep = float("-inf")
        #: Counters: packets taken, flows created / expired (idle) / evicted (table full),
        #: events lost because nobody drained them.
        self.packets = 0
        self.created = 0
        self.expired = 0
        self.evicted = 0
        self.events_dropped = 0
        self.path_changes = 0
        self.last_ts = 0.0

    # --- feeding --------------------------------------------------------------------------

    def update(self, result: PacketResult, interface: int | None = None) -> Flow:
        """Account one decoded SRv6 packet (convenience form of ``add``)."""
        frame = result.frame
        nbytes = max(frame.orig_len - result.ip.offset, 0)
        return self.add(frame.ts, frame.interface if interface is None else interface,
                        key_from_result(result), info_from_result(result), nbytes,
                        frame.number)

    def add(self, ts: float, interface: int, key: FlowKey, info: SrInfo, nbytes: int,
            frame: int = 0) -> Flow:
        """Account one packet of ``nbytes`` IP-layer bytes captured at ``ts`` on ``interface``.

        The hot path: a dict lookup, an LRU touch, counters, one rate-window update (the
        capture point's). Everything else (new flow, a header the capture point has not
        seen just before, findings, HMAC results) is a rarer branch.
        """
        self.packets += 1
        if ts > self.last_ts:
            self.last_ts = ts
            if ts >= self._next_sweep:
                self._next_sweep = ts + self.sweep_interval
                self.expire(ts)
        flows = self._flows
        flow = flows.get(key)
        if flow is None:
            flow = self._new_flow(ts, interface, key, info, frame)
        else:
            flows.move_to_end(key)
        flow.last_seen = ts
        flow.packets += 1
        flow.bytes += nbytes
        flow.info = info
        point = flow.points.get(interface)
        if point is None or point.info is not info:
            point = self._header(flow, point, ts, interface, info)
        point.packets += 1
        point.bytes += nbytes
        point.last_seen = ts
        point.window.add(ts, nbytes)
        point.path_packets += 1
        point.path_bytes += nbytes
        if info.findings:
            self._findings(flow, ts, interface, info, frame)
        if info.hmac is not None:
            counts = flow.hmac
            if counts is None:
                counts = flow.hmac = {}
            counts[info.hmac] = counts.get(info.hmac, 0) + 1
        return flow

    def _new_flow(self, ts: float, interface: int, key: FlowKey, info: SrInfo,
                  frame: int) -> Flow:
        flows = self._flows
        while len(flows) >= self.max_flows:
            _, old = flows.popitem(last=False)
            self.evicted += 1
            self._release(old, ts, "evicted")
        flow = Flow(self._next_id, key, info, ts)
        self._next_id += 1
        flows[key] = flow
        self.created += 1
        if self._room():
            self._emit(FlowStarted(ts, flow.id, key, info.segments, interface, info.has_srh))
        return flow

    def _header(self, flow: Flow, point: Point | None, ts: float, interface: int,
                info: SrInfo) -> Point:
        """A capture point sees a header different from its last one (or its first)."""
        segments = info.segments
        if point is None:
            if len(flow.points) >= self.max_points:
                interface = _OVERFLOW_POINT
                point = flow.points.get(interface)
            if point is None:
                point = Point(flow.id, interface, info, self._path(flow.key, segments),
                              RateWindow(self.rate_window, self.rate_buckets))
                point.path.points.add(point)
                flow.points[interface] = point
                if segments != flow.segments:  # a new link sees the flow on another list
                    self._changed(flow, ts, interface, segments)
                return point
        point.info = info
        if segments != point.segments:
            if self.csid and self._shifted(flow, point, segments):
                return point
            if segments != flow.segments:
                self._changed(flow, ts, interface, segments)
            self._unref(point)
            point.segments = segments
            point.path = self._path(flow.key, segments)
            point.path.points.add(point)
            point.window = RateWindow(self.rate_window, self.rate_buckets)
            point.path_packets = point.path_bytes = 0
        return point

    def _shifted(self, flow: Flow, point: Point, segments: tuple[bytes, ...]) -> bool:
        """The same path with its containers at another shift: the point keeps (or takes,
        when this one is less shifted) the fuller list, without a path change."""
        fuller = same_path(point.segments, segments, self.csid)
        if fuller is None:
            return False
        if fuller > 0:
            self._unref(point)
            point.segments = segments
            point.path = self._path(flow.key, segments)
            point.path.points.add(point)
            if same_path(flow.segments, segments, self.csid) == 1:
                flow.segments = segments
        return True

    def _changed(self, flow: Flow, ts: float, interface: int, segments: tuple[bytes, ...]
                 ) -> None:
        if self.csid:
            fuller = same_path(flow.segments, segments, self.csid)
            if fuller is not None:  # another point on the same path, at another shift
                if fuller > 0:
                    flow.segments = segments
                return
        old = flow.segments
        flow.segments = segments
        if flow.changes is _NO_CHANGES:
            flow.changes = deque(maxlen=self.max_history)
        flow.changes.append(PathChange(ts, old, segments, interface))
        flow.change_count += 1
        self.path_changes += 1
        if self._room():
            self._emit(PathChanged(ts, flow.id, flow.key, old, segments, interface))

    def _findings(self, flow: Flow, ts: float, interface: int, info: SrInfo,
                  frame: int) -> None:
        counts = flow.findings
        if counts is None:
            counts = flow.findings = {}
        for f in info.findings:
            seen = counts.get(f.rule, 0)
            counts[f.rule] = seen + 1
            if not seen and self._room():
                self._emit(FindingSeen(ts, flow.id, flow.key, f.rule, f.severity.label,
                                       f.message, f.ref, frame, interface))

    def expanded(self, segments: tuple[bytes, ...], active: bytes
                 ) -> tuple[tuple[bytes, ...], bytes]:
        """A Segment List (SRH order) and active segment as the views show them: with
        C-SID formats, each container as the SIDs it carries and the active C-SID's SID."""
        if not self.csid:
            return segments, active
        return expand_list(segments, active, self.csid)

    def _path(self, key: FlowKey, segments: tuple[bytes, ...]) -> Path:
        hops: tuple[bytes, ...] = (key[0], *reversed(self.expanded(segments, b"")[0]))
        if key[3] and key[3] != segments[0]:
            hops += (key[3],)
        path = self._paths.get(hops)
        if path is None:
            path = self._paths[hops] = Path(hops)
        return path

    def _unref(self, point: Point) -> None:
        """Take ``point`` off its path; forget the path when no point is left on it."""
        path = point.path
        path.points.discard(point)
        if not path.points:
            self._paths.pop(path.hops, None)

    def _release(self, flow: Flow, ts: float, reason: str) -> None:
        for point in flow.points.values():
            self._unref(point)
        if self._room():
            self._emit(FlowEnded(ts, flow.id, flow.key, reason, flow.packets, flow.bytes,
                                 flow.first_seen, flow.last_seen))

    def _room(self) -> bool:
        """Whether an event may be queued; counts it as dropped when the queue is full
        (checked before the event is built, so a flood costs no allocations)."""
        if not self._events_on:
            return False
        if len(self._pending) < self.max_pending_events:
            return True
        self.events_dropped += 1
        return False

    def _emit(self, event: FlowEvent) -> None:
        self._pending.append(event)

    # --- time and events ------------------------------------------------------------------

    def expire(self, now: float) -> int:
        """Drop flows idle for more than ``idle_timeout`` at ``now``; return how many.

        The table is in LRU order, so this stops at the first flow still active. Live
        callers call it from their stats tick so flows expire when no packet arrives.
        """
        cutoff = now - self.idle_timeout
        flows = self._flows
        n = 0
        while flows:
            key = next(iter(flows))
            flow = flows[key]
            if flow.last_seen > cutoff:
                break
            del flows[key]
            n += 1
            self._release(flow, now, "idle")
        self.expired += n
        return n

    def drain(self) -> list[FlowEvent]:
        """Take the events queued since the last call, oldest first."""
        out = self._pending
        self._pending = []
        return out

    @property
    def has_events(self) -> bool:
        return bool(self._pending)

    # --- reading --------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._flows)

    def __iter__(self) -> Iterator[Flow]:
        """Flows from least to most recently seen."""
        return iter(list(self._flows.values()))

    def get(self, key: FlowKey) -> Flow | None:
        return self._flows.get(key)

    def paths(self) -> list[Path]:
        return list(self._paths.values())

    @property
    def path_count(self) -> int:
        return len(self._paths)

    def stats(self) -> dict[str, int]:
        return {"flows": len(self._flows), "created": self.created, "expired": self.expired,
                "evicted": self.evicted, "path_changes": self.path_changes,
                "paths": len(self._paths), "packets": self.packets,
                "events_dropped": self.events_dropped, "max_flows": self.max_flows}
