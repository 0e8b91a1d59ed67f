"""Load per link: per capture interface and direction, and per segment pair of SRv6 paths.

Sans-I/O like the flow table: every rate is computed from capture timestamps passed in by the
caller (``now``), never from a clock, so a replayed capture gives the same numbers as the
live run it was recorded from.

Two views, for two questions:

- ``LinkLoad`` answers "how loaded is the link I am capturing on": every frame counts (SRv6
  or not), split by the direction the frame crossed the interface when that can be known
  (see ``direction_classifier``).
- ``segment_pairs`` answers "which hops of the SR topology carry how much": it sums the SRv6
  traffic of every path the flow table knows onto consecutive pairs of that path (outer
  source -> first segment, segment -> next segment, ..., last segment -> inner destination
  in encapsulation mode), so a topology view can colour each link a flow uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from ..frame import Frame
from ..linklayer import LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2
from .events import addr_text

DIR_RX = "rx"
DIR_TX = "tx"
DIR_ANY = "any"  # direction unknowable from what the capture recorded

# Linux packet types (linux/if_packet.h): PACKET_OUTGOING is a frame this host sent.
_PACKET_OUTGOING = 4


class RateWindow:
    """Packets and bytes over the last ``span`` seconds of capture time, in fixed buckets.

    Why buckets and not a list of timestamps: memory per counter is constant whatever the
    packet rate (two lists of ``buckets`` ints), and ``add`` is a few integer operations.
    The price is granularity: the window slides a bucket (``span / buckets``) at a time,
    and ``rate`` divides by the exact time the counted buckets cover, so a constant rate
    reads the same whatever the phase of ``now``. Frames older than the window (out of
    order across interfaces by more than ``span``) still count in totals elsewhere but not
    in the rate.
    """

    __slots__ = ("n", "width", "_inv", "_head", "_pk", "_by", "_first")

    def __init__(self, span: float = 5.0, buckets: int = 10) -> None:
        if span <= 0 or buckets < 1:
            raise ValueError("rate window needs span > 0 and at least one bucket")
        self.n = buckets
        self.width = span / buckets
        self._inv = buckets / span
        self._head = -1  # absolute index (ts // width) of the newest bucket; -1: empty
        self._pk = [0] * buckets
        self._by = [0] * buckets
        self._first = 0.0

    def add(self, ts: float, nbytes: int) -> None:
        idx = int(ts * self._inv)
        if idx != self._head:
            if idx > self._head:
                self._advance(idx, ts)
            elif idx <= self._head - self.n:
                return
        slot = idx % self.n
        self._pk[slot] += 1
        self._by[slot] += nbytes

    def _advance(self, idx: int, ts: float) -> None:
        n = self.n
        head = self._head
        if head < 0:  # first packet: the buckets are still zero
            self._first = ts
        elif idx - head >= n:
            pk, by = self._pk, self._by
            for i in range(n):
                pk[i] = 0
                by[i] = 0
        else:
            for i in range(head + 1, idx + 1):
                slot = i % n
                self._pk[slot] = 0
                self._by[slot] = 0
        self._head = idx

    def rate(self, now: float) -> tuple[float, float]:
        """(packets/s, bytes/s) over the window ending at ``now`` (capture time)."""
        head = self._head
        if head < 0:
            return 0.0, 0.0
        n = self.n
        now_idx = int(now * self._inv)
        if now_idx < head:  # ``now`` before the newest packet: measure up to that packet
            now_idx = head
            now = max(now, head * self.width)
        lo = now_idx - n + 1
        pk = by = 0
        for i in range(max(lo, head - n + 1), head + 1):
            slot = i % n
            pk += self._pk[slot]
            by += self._by[slot]
        if pk == 0:
            return 0.0, 0.0
        start = max(lo * self.width, self._first)
        span = max(now - start, self.width)
        return pk / span, by / span


@dataclass(frozen=True, slots=True)
class LinkRate:
    """Load of one interface in one direction. ``bytes`` counts captured frames at the link
    layer as recorded (``orig_len``), so bits/s include the Ethernet header but not the FCS.
    """

    interface: str
    direction: str
    packets: int
    bytes: int
    pps: float
    bps: float

    def to_dict(self) -> dict[str, object]:
        return {"interface": self.interface, "direction": self.direction,
                "packets": self.packets, "bytes": self.bytes, "pps": round(self.pps, 3),
                "bps": round(self.bps, 3)}


class _Counter:
    __slots__ = ("direction", "packets", "bytes", "window")

    def __init__(self, direction: str, span: float, buckets: int) -> None:
        self.direction = direction
        self.packets = 0
        self.bytes = 0
        self.window = RateWindow(span, buckets)


Classifier = Callable[[bytes], bool | None]


def direction_classifier(linktype: int, mac: bytes | None) -> Classifier | None:
    """A function telling whether a frame was sent (True) or received (False) on an interface.

    pcapng can record this in ``epb_flags``, but dumpcap (4.0) does not write it for Linux
    captures, so it is read from the frame where the link layer allows: Linux cooked
    headers carry the packet type; on Ethernet a frame whose source MAC is the interface's
    own was sent by it (the MAC is known for live captures only). None: not knowable.
    """
    if linktype == LINKTYPE_ETHERNET and mac is not None and len(mac) == 6:
        return lambda data: data[6:12] == mac
    if linktype == LINKTYPE_LINUX_SLL2:
        return lambda data: len(data) > 10 and data[10] == _PACKET_OUTGOING
    if linktype == LINKTYPE_LINUX_SLL:
        return lambda data: len(data) > 1 and data[1] == _PACKET_OUTGOING
    return None


class _Iface:
    __slots__ = ("name", "mac", "classify", "rx", "tx", "any")

    def __init__(self, name: str, classify: Classifier | None, span: float,
                 buckets: int, mac: bytes | None = None) -> None:
        self.name = name
        self.mac = mac  # Ethernet with a known MAC: compared inline, the common live case
        self.classify = classify
        self.rx = _Counter(DIR_RX, span, buckets)
        self.tx = _Counter(DIR_TX, span, buckets)
        self.any = _Counter(DIR_ANY, span, buckets)


class LinkLoad:
    """Per interface and direction: packets, bytes, and windowed packets/s and bits/s.

    Interfaces are pcapng interface indexes (0 for classic pcap). Call ``declare`` with a
    name, link type and (for live Ethernet captures) the interface MAC to get rx/tx split;
    an undeclared interface is counted as ``if<N>`` with direction ``any``.
    """

    def __init__(self, window: float = 5.0, buckets: int = 10, max_interfaces: int = 256) -> None:
        self._span = window
        self._buckets = buckets
        self._max = max_interfaces
        self._ifaces: dict[int, _Iface] = {}
        self.frames = 0

    def declare(self, index: int, name: str, linktype: int, mac: bytes | None = None) -> None:
        """Name an interface and say how to tell its directions apart (replaces counters)."""
        if index not in self._ifaces and len(self._ifaces) >= self._max:
            return  # a file declaring thousands of interfaces: the rest count as "overflow"
        classify = direction_classifier(linktype, mac)
        inline = mac if linktype == LINKTYPE_ETHERNET and classify is not None else None
        self._ifaces[index] = _Iface(name, classify, self._span, self._buckets, inline)

    def known(self, index: int) -> bool:
        return index in self._ifaces

    def add(self, frame: Frame) -> None:
        self.frames += 1
        iface = self._ifaces.get(frame.interface)
        if iface is None:
            iface = self._undeclared(frame.interface)
        if iface.mac is not None:
            counter = iface.tx if frame.data[6:12] == iface.mac else iface.rx
        elif iface.classify is None:
            counter = iface.any
        else:
            sent = iface.classify(frame.data)
            counter = iface.any if sent is None else iface.tx if sent else iface.rx
        n = frame.orig_len
        counter.packets += 1
        counter.bytes += n
        counter.window.add(frame.ts, n)

    def _undeclared(self, index: int) -> _Iface:
        if len(self._ifaces) >= self._max:
            index = -1
        iface = self._ifaces.get(index)
        if iface is None:
            name = f"if{index}" if index >= 0 else "overflow"
            iface = self._ifaces[index] = _Iface(name, None, self._span, self._buckets)
        return iface

    def links(self, now: float) -> list[LinkRate]:
        """Every (interface, direction) that has seen a frame, in interface order."""
        out: list[LinkRate] = []
        for _, iface in sorted(self._ifaces.items()):
            for counter in (iface.rx, iface.tx, iface.any):
                if counter.packets:
                    pps, byps = counter.window.rate(now)
                    out.append(LinkRate(iface.name, counter.direction, counter.packets,
                                        counter.bytes, pps, byps * 8))
        return out


class PathLike(Protocol):
    """What ``segment_pairs`` needs of a path (``flows.Path`` provides it)."""

    hops: tuple[bytes, ...]
    packets: int
    bytes: int

    @property
    def flows(self) -> int: ...

    def rate(self, now: float) -> tuple[float, float]: ...


@dataclass(frozen=True, slots=True)
class PairRate:
    """SRv6 traffic between two consecutive hops of the paths seen (``a`` -> ``b``).

    ``bytes`` are IP-layer bytes (outer IPv6 header included). A flow seen at several
    capture points along its path counts once (its busiest point), in ``flows`` as in
    ``packets`` and ``bytes``.
    """

    a: bytes
    b: bytes
    packets: int
    bytes: int
    pps: float
    bps: float
    flows: int
    paths: int

    def to_dict(self) -> dict[str, object]:
        return {"from": addr_text(self.a), "to": addr_text(self.b), "packets": self.packets,
                "bytes": self.bytes, "pps": round(self.pps, 3), "bps": round(self.bps, 3),
                "flows": self.flows, "paths": self.paths}


def segment_pairs(paths: Iterable[PathLike], now: float) -> list[PairRate]:
    """Sum every path's traffic onto each consecutive pair of its hops; busiest first.

    Computed on demand (a few times a second at most) rather than per packet, so pair
    accounting costs two additions per packet (the path's totals), not work per hop.
    """
    acc: dict[tuple[bytes, bytes], list[float]] = {}
    for path in paths:
        pps, byps = path.rate(now)
        hops = path.hops
        for i in range(len(hops) - 1):
            pair = (hops[i], hops[i + 1])
            if pair[0] == pair[1]:
                continue
            slot = acc.get(pair)
            if slot is None:
                slot = acc[pair] = [0, 0, 0.0, 0.0, 0, 0]
            slot[0] += path.packets
            slot[1] += path.bytes
            slot[2] += pps
            slot[3] += byps * 8
            slot[4] += path.flows  # distinct flows: a flow is on one path at a time per point
            slot[5] += 1
    out = [PairRate(a, b, int(s[0]), int(s[1]), s[2], s[3], int(s[4]), int(s[5]))
           for (a, b), s in acc.items()]
    out.sort(key=lambda p: (-p.bps, -p.packets, p.a, p.b))
    return out
