"""srinspect's own view of the lab: tcpdump on each node's egress, decoded by srinspect.

The kernel counters say how many bytes crossed a link; only packets say which segment list
steered them. One ``tcpdump -i any -Q out`` per node namespace writes pcap to a pipe; the
bytes go through srinspect's streaming reader (``sources.from_stream``) and ``Inspector``,
exactly as a capture file would, so the lab exercises the real decoding path. The "any"
device's Linux cooked v2 header carries the interface index, which names the link and so the
direction (node -> peer) of every frame.

Per direction, a capture counts bytes and packets (frames as on the wire, from the cooked
header's original length) and SRH packets with their segment lists. Per flow (inner source
and destination, as node names when they are lab addresses) it keeps the segment path seen
leaving the flow's source node and the history of its changes, for the monitor's
path-change view.
"""

from __future__ import annotations

import struct
import subprocess
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ..errors import CaptureFormatError
from ..findings import HMAC_MISMATCH, HMAC_VERIFIED
from ..frame import Frame
from ..inspector import Inspector, PacketResult
from ..ipv6 import Ipv6
from ..kernel.netns import ip_json
from ..linklayer import LINKTYPE_LINUX_SLL2
from ..sources import from_stream
from .errors import LabError
from .requirements import require_tool

if TYPE_CHECKING:
    from .lab import Lab

Direction = tuple[str, str]
SLL2_LEN = 20
ETHER_LEN = 14
PACKET_OUTGOING = 4
_SLL2 = struct.Struct("!HHIHBB")  # protocol, reserved, ifindex, hatype, pkttype, halen
HISTORY = 256


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

    def copy(self) -> DirectionCapture:
        return DirectionCapture(self.bytes, self.packets, self.srh_packets,
                                Counter(self.segments), self.last_segments, self.hmac_ok,
                                self.hmac_bad, self.hmac_unknown)


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
    """One tcpdump in one namespace plus the thread that decodes its output."""

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
        self.error: str | None = None
        self.ready = threading.Event()
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, "tcpdump", "-i", "any", "-Q", "out", "-n", "-U",
             "--immediate-mode", "-s", str(snaplen), "-w", "-", "ip6"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._stderr: list[str] = []
        self._err_thread = threading.Thread(target=self._watch_stderr, daemon=True)
        self._thread = threading.Thread(target=self._read, daemon=True,
                                        name=f"lab-capture-{node}")
        self._err_thread.start()
        self._thread.start()

    def _watch_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").strip()
            self._stderr.append(line)
            if "listening on" in line:
                self.ready.set()
        self.ready.set()  # tcpdump ended: stop waiting, the error is in _stderr

    def stderr(self) -> str:
        return "; ".join(line for line in self._stderr if line)

    def _read(self) -> None:
        stream: IO[bytes] | None = self.proc.stdout
        assert stream is not None
        try:
            reader = from_stream(stream, name=f"tcpdump@{self.node}")
            for frame in reader:
                self._frame(frame)
        except CaptureFormatError as exc:
            if self.proc.poll() is None or not self.owner.stopping:
                self.error = f"capture on {self.node}: {exc}"
        except Exception as exc:  # noqa: BLE001 - reported by stop()/errors, not lost
            self.error = f"capture on {self.node}: {exc!r}"

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
        self.stopping = False
        self._lock = threading.Lock()
        self._dirs: dict[Direction, DirectionCapture] = {}
        self._flows: dict[tuple[str, str], FlowPath] = {}
        self.changes: deque[tuple[float, str, str, tuple[str, ...]]] = deque(maxlen=HISTORY)
        self._captures: list[_NodeCapture] = []

    def start(self, timeout: float = 5.0) -> LabCapture:
        require_tool("tcpdump", "to capture lab links")
        for node in self.nodes:
            self._captures.append(_NodeCapture(self, node, self.snaplen))
        deadline = time.monotonic() + timeout
        for cap in self._captures:
            cap.ready.wait(max(0.0, deadline - time.monotonic()))
            if cap.proc.poll() is not None or not cap.ready.is_set():
                why = cap.stderr() or "no answer"
                self.stop()
                raise LabError(f"tcpdump in {cap.node} did not start: {why}")
        return self

    def stop(self) -> None:
        self.stopping = True
        for cap in self._captures:
            if cap.proc.poll() is None:
                cap.proc.terminate()
        for cap in self._captures:
            try:
                cap.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                cap.proc.kill()
                cap.proc.wait()
            cap._thread.join(timeout=3)
            cap._err_thread.join(timeout=1)

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
            stats = self._dirs.get(direction)
            if stats is None:
                stats = self._dirs[direction] = DirectionCapture()
            stats.bytes += wire
            stats.packets += 1
            if has_srh:
                stats.srh_packets += 1
                stats.segments[segments] += 1
                stats.last_segments = segments
                assert result is not None
                for check in result.hmacs:
                    if check.status == HMAC_VERIFIED:
                        stats.hmac_ok += 1
                    elif check.status == HMAC_MISMATCH:
                        stats.hmac_bad += 1
                    else:
                        stats.hmac_unknown += 1
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

    def snapshot(self) -> dict[Direction, DirectionCapture]:
        """Cumulative per-direction counters so far (copies)."""
        with self._lock:
            return {d: s.copy() for d, s in self._dirs.items()}

    def flows(self) -> dict[tuple[str, str], FlowPath]:
        """Flows seen so far by (source, destination) (copies)."""
        with self._lock:
            return {k: f.copy() for k, f in self._flows.items()}


def capture_delta(before: dict[Direction, DirectionCapture],
                  after: dict[Direction, DirectionCapture]) -> dict[Direction, DirectionCapture]:
    """What each direction saw between two snapshots."""
    out: dict[Direction, DirectionCapture] = {}
    for direction, end in after.items():
        start = before.get(direction, DirectionCapture())
        out[direction] = DirectionCapture(
            end.bytes - start.bytes, end.packets - start.packets,
            end.srh_packets - start.srh_packets, end.segments - start.segments,
            end.last_segments, end.hmac_ok - start.hmac_ok, end.hmac_bad - start.hmac_bad,
            end.hmac_unknown - start.hmac_unknown)
    return out
