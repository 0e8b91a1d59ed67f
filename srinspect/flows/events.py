"""Flow events: what the flow table tells its clients (``srinspect watch``, the TUI).

Frozen dataclasses, one per kind; ``kind`` is the name used on the wire (``"event"`` in
JSON lines). They hold raw addresses (bytes) and interface indexes, like the rest of the
sans-I/O core; ``to_dict`` renders them with an interface-name lookup given by the I/O edge
that knows the capture's interfaces.

Segment lists in events are in *travel order* (first segment first, final destination last),
the order ``ip -6 route ... encap seg6 ... segs A,B`` is written in; the exported
``srhSegmentIPv6BasicList`` of a flow keeps the SRH's own order (Segment List[0] first).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import ClassVar

#: Flow key: outer source, final destination (Segment List[0], or the DA without SRH),
#: inner source and destination (b"" when not encapsulated), protocol, source port,
#: destination port (ICMP type and code stand in for ports).
#: (outer source, final segment, inner source, inner destination, protocol, source port,
#: destination port); a port is None when the capture cut it off (ipv6.transport_ports).
FlowKey = tuple[bytes, bytes, bytes, bytes, int, int | None, int | None]

InterfaceName = Callable[[int], str]

PROTO_NAMES = {1: "icmp", 4: "ipv4", 6: "tcp", 17: "udp", 41: "ipv6", 58: "icmpv6",
               132: "sctp"}


def addr_text(raw: bytes) -> str:
    """An address as text: IPv6 (16 bytes) or IPv4 (4 bytes, inner IPv4 packets)."""
    if len(raw) == 16:
        return socket.inet_ntop(socket.AF_INET6, raw)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw)
    return raw.hex()


def travel_order(segments: Sequence[bytes]) -> list[str]:
    """Segment List (SRH order, [0] = final destination) as text in the order travelled."""
    return [addr_text(s) for s in reversed(segments)]


def key_dict(flow_id: int, key: FlowKey) -> dict[str, object]:
    """The identifying fields of a flow, as every event and the table export spell them."""
    src, final, isrc, idst, proto, sport, dport = key
    return {
        "id": flow_id,
        "source": addr_text(src),
        "final_destination": addr_text(final),
        "inner_source": addr_text(isrc) if isrc else None,
        "inner_destination": addr_text(idst) if idst else None,
        "protocol": proto,
        "protocol_name": PROTO_NAMES.get(proto, str(proto)),
        "source_port": sport,
        "destination_port": dport,
    }


def _default_name(index: int) -> str:
    return f"if{index}"


@dataclass(frozen=True, slots=True)
class _Event:
    """What every flow event carries; ``to_dict`` puts it first, then the event's own
    fields (``_detail``)."""

    kind: ClassVar[str]
    ts: float
    flow_id: int
    key: FlowKey

    def to_dict(self, name: InterfaceName = _default_name) -> dict[str, object]:
        return {"event": self.kind, "ts": self.ts, "flow": key_dict(self.flow_id, self.key),
                **self._detail(name)}

    def _detail(self, name: InterfaceName) -> dict[str, object]:
        """The event's own fields under their own names, an interface by its name."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _COMMON}
        if "interface" in out:
            out["interface"] = name(out["interface"])
        return out


_COMMON = frozenset(f.name for f in fields(_Event))


@dataclass(frozen=True, slots=True)
class FlowStarted(_Event):
    """The first packet of a flow (key not in the table: new, or seen again after expiry)."""

    kind: ClassVar[str] = "flow-new"
    segments: tuple[bytes, ...]
    interface: int
    has_srh: bool

    def _detail(self, name: InterfaceName) -> dict[str, object]:
        return {"path": travel_order(self.segments), "srh": self.has_srh,
                "interface": name(self.interface)}


@dataclass(frozen=True, slots=True)
class PathChanged(_Event):
    """The flow's segment list changed (not merely Segments Left / the active segment)."""

    kind: ClassVar[str] = "path-change"
    old: tuple[bytes, ...]
    new: tuple[bytes, ...]
    interface: int

    def _detail(self, name: InterfaceName) -> dict[str, object]:
        return {"old": travel_order(self.old), "new": travel_order(self.new),
                "interface": name(self.interface)}


@dataclass(frozen=True, slots=True)
class FindingSeen(_Event):
    """A packet rule fired on a flow for the first time (later hits are only counted)."""

    kind: ClassVar[str] = "finding"
    rule: str
    severity: str
    message: str
    ref: str
    frame: int
    interface: int


@dataclass(frozen=True, slots=True)
class FlowEnded(_Event):
    """A flow left the table: ``reason`` is ``idle`` (timeout) or ``evicted`` (table full)."""

    kind: ClassVar[str] = "flow-end"
    reason: str
    packets: int
    bytes: int
    first_seen: float
    last_seen: float


FlowEvent = FlowStarted | PathChanged | FindingSeen | FlowEnded
