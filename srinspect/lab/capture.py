"""srinspect's own view of the lab: each node's egress captured live, decoded by srinspect.

The kernel counters say how many bytes crossed a link; only packets say which segment list
steered them. Each node namespace gets a live source (``sources.LiveSource``) running
``tcpdump -i any -Q out``: tcpdump rather than dumpcap because it delivers every packet at
once (``--immediate-mode``), so frames reach the decoder soon after they cross the links.
The frames go through ``Inspector`` exactly as a capture file's would, so the lab exercises
the real decoding path. The "any" device's
Linux cooked v2 header carries the interface index, which names the link and so the
direction (node -> peer) of every frame.

Per direction, a capture counts bytes and packets (frames as on the wire, from the cooked
header's original length) and SRH packets with their segment lists. ``window(t0, t1)``
counts by the frames' kernel timestamps, so it measures the same seconds as the kernel
counters even when decoding runs behind the wire (under TCG by a second or more). Per flow
(inner source
and destination, as node names when they are lab addresses) it keeps the segment path seen
leaving the flow's source node and the history of its changes, for the monitor's
path-change view.
"""

from __future__ import annotations

import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..findings import HMAC_MISMATCH, HMAC_VERIFIED
from ..frame import Frame
from ..inspector import Inspector, PacketResult
from ..ipv6 import Ipv6
from ..kernel.netns import ip_json
from ..linklayer import LINKTYPE_LINUX_SLL2
from ..sources import CaptureError, LiveSource, Tcpdump
from .errors import LabError
from .model import Direction
from .requirements import require_tool

if TYPE_CHECKING:
    from .lab import Lab

SLL2_LEN = 20
ETHER_LEN = 14
PACKET_OUTGOING = 4
_SLL2 = struct.Struct("!HHIHBB")  # protocol, reserved, ifindex, hatype, pkttype, halen
HISTORY = 256
#: Seconds of frames kept for ``LabCapture.window`` (10 links at 10 Mbit/s: ~500k records).
HORIZON = 60.0
#: Seconds without a decoded frame after which a node's capture counts as caught up.
IDLE = 1.0


@dataclass(frozen=True)
class _Taped:
    """One decoded frame, as ``LabCapture.window`` needs it."""

    ts: float
    direction: Direction
    wire: int
    segments: tuple[str, ...] | None  # None: no SRH
    statuses: tuple[str, ...]  # HMAC check statuses


@dataclass
class DirectionCapture:
    """What srinspect's capture saw leaving on one direction (cumulative)."""

    bytes: int = 0
    packets: int = 0
    srh_packets: int = 0
    segments: Counter[tuple[str, ...]] = field(default_factory=Counter)  # path order, names
    last_segments: tuple[str, ...] = ()
    hmac_ok: int = 0
    hmac_bad: int = 0
    hmac_unknown: int = 0  # HMAC TLV present, key id not in the lab's key file


@dataclass
class FlowPath:
    """A flow (inner source -> destination) and the segment paths it has been steered on.

    ``segments`` is the current segment list (node names, path order; () = plain IPv6,
    i.e. the shortest path), as seen leaving the flow's source node. ``history`` holds
    ``(time, segments)`` for each change. ``last_seen`` maps each direction the flow was
    seen on to the capture time of its latest packet there.
    """

    src: str
    dst: str
    segments: tuple[str, ...] = ()
    history: list[tuple[float, tuple[str, ...]]] = field(default_factory=list)
    last_seen: dict[Direction, float] = field(default_factory=dict)

    def hops(self, now: float | None = None, window: float = 1.0) -> list[Direction]:
        """Directions that carried the flow within ``window`` seconds before ``now``."""
        now = time.time() if now is None else now
        return [d for d, ts in self.last_seen.items() if now - ts <= window]

    def copy(self) -> FlowPath:
        return FlowPath(self.src, self.dst, self.segments, list(self.history),
                        dict(self.last_seen))


class _NodeCapture:
    """The live source of one node's egress plus the thread that decodes its frames."""

    def __init__(self, owner: LabCapture, node: str, snaplen: int) -> None:
        self.owner = owner
        self.node = node
        lab = owner.lab
        netns = lab.nodes[node].netns
        self.devs: dict[int, Direction] = {}
        names = {e["ifindex"]: e["ifname"] for e in ip_json(netns, "link", "show")}
        for link in lab.plan.links_of(node):
            end, peer = link.end(node), link.peer(node)
            for index, name in names.items():
                if name == end.dev:
                    self.devs[index] = (node, peer.node)
        self.inspector = Inspector(keyring=lab.keyring())
        self._keys_mtime = _mtime(lab.paths.hmac_keys)
        self._keys_checked = 0.0
        self.source = LiveSource(["any"], netns=netns, tool=Tcpdump(direction="out"),
                                 snaplen=snaplen, bpf="ip6")
        self._thread = threading.Thread(target=self._read, daemon=True,
                                        name=f"lab-capture-{node}")
        self.error: str | None = None

    def start(self) -> None:
        """Start tcpdump (returns once it captures) and the thread decoding its frames."""
        try:
            self.source.start()
        except CaptureError as exc:
            raise LabError(f"tcpdump in {self.node} did not start: {exc}") from exc
        self._thread.start()

    def _read(self) -> None:
        try:
            for frame in self.source:
                self._frame(frame)
        except Exception as exc:  # noqa: BLE001 - reported by stop()/errors, not lost
            self.error = f"capture on {self.node}: {exc}"
        else:  # tcpdump ended without being asked to
            if self.source.failed is not None:
                self.error = f"capture on {self.node}: {self.source.failed.message}"

    def stop(self) -> None:
        self.source.stop()

    def join(self) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout=3)
        self.source.close()

    def _frame(self, frame: Frame) -> None:
        if frame.ts - self._keys_checked >= 1.0:
            self._reload_keys(frame.ts)
        seen = egress_frame(frame, self.devs, self.inspector)
        if seen is not None:
            self.owner._record(seen[0], frame, seen[1])
            if self.owner.on_packet is not None:
                self.owner.on_packet(seen[0], frame, seen[1])

    def _reload_keys(self, now: float) -> None:
        """``lab steer --hmac`` may create a key after the capture started: pick it up."""
        self._keys_checked = now
        path = self.owner.lab.paths.hmac_keys
        mtime = _mtime(path)
        if mtime != self._keys_mtime:
            self._keys_mtime = mtime
            self.inspector = Inspector(keyring=self.owner.lab.keyring())


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def egress_frame(frame: Frame, devs: dict[int, Direction], inspector: Inspector,
                 ) -> tuple[Direction, PacketResult | None] | None:
    """The direction of an outgoing cooked-v2 frame on a lab interface, and its decoding.

    None for anything else (incoming copies, other interfaces such as lo, other link types).
    """
    data = frame.data
    if frame.linktype != LINKTYPE_LINUX_SLL2 or len(data) < SLL2_LEN + 40:
        return None
    _proto, _res, ifindex, _hatype, pkttype, _halen = _SLL2.unpack_from(data)
    direction = devs.get(ifindex)
    if direction is None or pkttype != PACKET_OUTGOING:
        return None
    return direction, inspector.feed(frame)


OnPacket = Callable[[Direction, Frame, PacketResult | None], None]


class LabCapture:
    """Captures the egress of some lab nodes until ``stop()`` (or the end of a ``with``).

    ``on_packet(direction, frame, result)`` is called for every frame leaving a lab
    interface (``result`` is None for plain IPv6), from the capture threads: a consumer
    with its own flow table (the monitor) hooks in here instead of capturing again.
    Frames are cut at ``snaplen`` bytes: enough for the headers and an SRH of ~10
    segments, and cheap to decode.
    """

    def __init__(self, lab: Lab, nodes: Iterable[str] | None = None, *,
                 snaplen: int = 256, on_packet: OnPacket | None = None) -> None:
        self.lab = lab
        self.on_packet = on_packet
        self.nodes = list(nodes) if nodes is not None else list(lab.nodes)
        self.snaplen = snaplen
        self._lock = threading.Lock()
        self._flows: dict[tuple[str, str], FlowPath] = {}
        self.changes: deque[tuple[float, str, str, tuple[str, ...]]] = deque(maxlen=HISTORY)
        self._captures: list[_NodeCapture] = []
        self._tape: deque[_Taped] = deque()
        self._latest: dict[str, float] = {}  # node -> timestamp of its newest decoded frame
        self._decoded_at: dict[str, float] = {}  # node -> when (monotonic) it was decoded

    def start(self) -> LabCapture:
        require_tool("tcpdump", "to capture lab links")
        try:
            for node in self.nodes:
                cap = _NodeCapture(self, node, self.snaplen)
                self._captures.append(cap)
                cap.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for cap in self._captures:
            cap.stop()
        for cap in self._captures:
            cap.join()

    def __enter__(self) -> LabCapture:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def errors(self) -> list[str]:
        return [cap.error for cap in self._captures if cap.error]

    # -- recording (capture threads) ------------------------------------------------------

    def _record(self, direction: Direction, frame: Frame, result: PacketResult | None) -> None:
        wire = frame.orig_len - SLL2_LEN + ETHER_LEN
        src, dst, segments, has_srh = self._flow_of(frame, result)
        with self._lock:
            statuses = tuple(c.status for c in result.hmacs) if result is not None else ()
            self._keep(_Taped(frame.ts, direction, wire, segments if has_srh else None,
                              statuses))
            if src is None or dst is None:
                return
            flow = self._flows.get((src, dst))
            if flow is None:
                flow = self._flows[(src, dst)] = FlowPath(src, dst)
                flow.history.append((frame.ts, segments))
                flow.segments = segments
                self.changes.append((frame.ts, src, dst, segments))
            flow.last_seen[direction] = frame.ts
            if direction[0] == src and segments != flow.segments:
                flow.segments = segments
                flow.history.append((frame.ts, segments))
                self.changes.append((frame.ts, src, dst, segments))

    def _keep(self, taped: _Taped) -> None:
        """Remember the frame for ``window`` (lock held); forget what is past the horizon."""
        tape = self._tape
        tape.append(taped)
        while tape and tape[0].ts < taped.ts - HORIZON:
            tape.popleft()
        node = taped.direction[0]
        self._latest[node] = max(taped.ts, self._latest.get(node, 0.0))
        self._decoded_at[node] = time.monotonic()

    def _flow_of(self, frame: Frame, result: PacketResult | None,
                 ) -> tuple[str | None, str | None, tuple[str, ...], bool]:
        """(source node, destination node, segment path, has SRH) of a frame."""
        lab = self.lab
        if result is None:  # plain IPv6: the cooked header is followed by the IPv6 header
            data = frame.data
            off = SLL2_LEN
            if data[off] >> 4 != 6:
                return None, None, (), False
            return (lab.node_of(data[off + 8:off + 24]), lab.node_of(data[off + 24:off + 40]),
                    (), False)
        srh = result.srh
        inner = result.inner
        segments = tuple(lab.segment_path(srh.segments)) if srh else ()
        if isinstance(inner, Ipv6):
            return lab.node_of(inner.src), lab.node_of(inner.dst), segments, srh is not None
        final = srh.segments[0] if srh and srh.segments else result.ip.dst
        return lab.node_of(result.ip.src), lab.node_of(final), segments, srh is not None

    # -- reading (any thread) -------------------------------------------------------------

    def window(self, t0: float, t1: float, timeout: float = 15.0,
               ) -> dict[Direction, DirectionCapture]:
        """What each direction carried with a capture timestamp in ``[t0, t1)``.

        First waits (up to ``timeout`` seconds) until decoding has caught up with ``t1``
        on every captured node: a frame from after ``t1`` was decoded, or nothing was
        decoded for ``IDLE`` seconds (a node behind the wire decodes without pause, so a
        pause means its pipe is empty). Windows older than ``HORIZON`` are incomplete.
        """
        deadline = time.monotonic() + timeout
        while not self._caught_up(t1) and time.monotonic() < deadline:
            time.sleep(0.1)
        out: dict[Direction, DirectionCapture] = {}
        with self._lock:
            for taped in self._tape:
                if t0 <= taped.ts < t1:
                    stats = out.get(taped.direction)
                    if stats is None:
                        stats = out[taped.direction] = DirectionCapture()
                    _count(stats, taped)
        return out

    def _caught_up(self, t1: float) -> bool:
        now = time.monotonic()
        with self._lock:
            return all(self._latest.get(node, 0.0) >= t1
                       or now - self._decoded_at.get(node, -IDLE) >= IDLE
                       for node in self.nodes)

    def flows(self) -> dict[tuple[str, str], FlowPath]:
        """Flows seen so far by (source, destination) (copies)."""
        with self._lock:
            return {k: f.copy() for k, f in self._flows.items()}


def _count(stats: DirectionCapture, taped: _Taped) -> None:
    """Add one frame to a direction's counters."""
    stats.bytes += taped.wire
    stats.packets += 1
    if taped.segments is None:
        return
    stats.srh_packets += 1
    stats.segments[taped.segments] += 1
    stats.last_segments = taped.segments
    for status in taped.statuses:
        if status == HMAC_VERIFIED:
            stats.hmac_ok += 1
        elif status == HMAC_MISMATCH:
            stats.hmac_bad += 1
        else:
            stats.hmac_unknown += 1
