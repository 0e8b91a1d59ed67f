"""Turn the frames captured during one case into outcomes per sent packet.

A received frame belongs to a case only if it carries that case's tag (in its payload, or in
the packet an ICMPv6 error quotes). Neighbour discovery, MLD and router discovery are
background noise and are counted, not judged; so is anything untagged. What remains is
sorted into three kinds, per sent packet:

- forwarded: the packet (or what the DUT made of it) left on a port;
- ICMPv6 error (type < 128) quoting it, with type, code, pointer and the quoted bytes;
- answered: an ICMPv6 Echo Reply carrying its tag (the DUT delivered it locally).

"Dropped silently" is then simply none of the above.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from srinspect.ipv6 import NH_ICMPV6, pull_ipv6
from srinspect.wire import ip6

from .model import Send
from .packets import find_tag

ETH_HEADER = 14
ETHERTYPE_IPV6 = b"\x86\xdd"
ETHERTYPE_IPV4 = b"\x08\x00"
BARRIER_SEQ = 0xFFFF
# ICMPv6 types that are link housekeeping: MLD (130-132, 143), RS/RA/NS/NA/redirect (133-137),
# multicast router discovery (151-153).
NOISE_TYPES = frozenset({130, 131, 132, 133, 134, 135, 136, 137, 143, 151, 152, 153})
ECHO_REQUEST = 128
ECHO_REPLY = 129
ICMP_NAMES = {1: "Destination Unreachable", 2: "Packet Too Big", 3: "Time Exceeded",
              4: "Parameter Problem"}


@dataclass(frozen=True, slots=True)
class Captured:
    """One frame seen on a port during a case; ``port`` is the role (tx, rx, rx2)."""

    port: str
    ts: float
    frame: bytes

    def to_dict(self) -> dict[str, Any]:
        return {"port": self.port, "ts": self.ts, "frame": self.frame.hex()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Captured:
        return cls(str(data["port"]), float(data["ts"]), bytes.fromhex(str(data["frame"])))


@dataclass(frozen=True, slots=True)
class IcmpError:
    port: str
    src: str
    type: int
    code: int
    param: int  # the pointer of a Parameter Problem, the MTU of a Packet Too Big
    quoted: bytes

    def describe(self) -> str:
        name = ICMP_NAMES.get(self.type, f"ICMPv6 type {self.type}")
        extra = f" pointer {self.param}" if self.type == 4 else ""
        return f"ICMPv6 {name} code {self.code}{extra} from {self.src}"


@dataclass(frozen=True, slots=True)
class Reply:
    port: str
    src: str
    type: int

    def describe(self) -> str:
        return f"Echo Reply from {self.src}"


@dataclass(slots=True)
class PacketOutcome:
    """Everything the DUT did with one sent packet."""

    index: int
    forwarded: list[tuple[str, bytes]] = field(default_factory=list)
    errors: list[IcmpError] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)

    @property
    def silent(self) -> bool:
        return not (self.forwarded or self.errors or self.replies)

    def describe(self) -> str:
        parts = [f"forwarded on {port}" for port, _ in self.forwarded]
        parts += [e.describe() for e in self.errors]
        parts += [r.describe() for r in self.replies]
        return "; ".join(parts) if parts else "dropped silently"


@dataclass(slots=True)
class Observation:
    """All outcomes of one case, plus counts of what was set aside."""

    outcomes: list[PacketOutcome]
    barrier: bool = False
    noise: int = 0
    foreign: int = 0

    def outcome(self, index: int) -> PacketOutcome:
        return self.outcomes[index]


def ip_of(frame: bytes) -> bytes | None:
    """The IPv6 or IPv4 packet inside an Ethernet frame, or None for anything else (IPv4
    leaves the DUT after End.DX4 and End.DT4)."""
    if frame[12:14] not in (ETHERTYPE_IPV6, ETHERTYPE_IPV4):
        return None
    return frame[ETH_HEADER:]


def _too_short(ip: bytes) -> bool:
    return len(ip) < (20 if ip[:1] and ip[0] >> 4 == 4 else 40)


def icmp_type(ip: bytes) -> tuple[int, int] | None:
    """(ICMPv6 type offset, type) when the packet's upper layer is ICMPv6."""
    parsed = pull_ipv6(ip, 0, len(ip), pad1=False)
    if parsed is None or parsed.upper != NH_ICMPV6 or parsed.upper_offset + 8 > len(ip):
        return None
    return parsed.upper_offset, ip[parsed.upper_offset]


def classify(captured: list[Captured], sent: list[Send], nonce: bytes,
             case_no: int) -> Observation:
    """Pair captured frames with sent packets by tag and sort them by kind."""
    by_seq: dict[int, int] = {}
    for i, s in enumerate(sent):
        tag = find_tag(s.data, nonce)
        if tag is not None:
            by_seq[tag[1]] = i
    obs = Observation([PacketOutcome(i) for i in range(len(sent))])
    for cap in captured:
        ip = ip_of(cap.frame)
        if ip is None or _too_short(ip):
            obs.foreign += 1
            continue
        icmp = icmp_type(ip)
        if icmp is not None and icmp[1] in NOISE_TYPES:
            obs.noise += 1
            continue
        tag = find_tag(ip, nonce)
        if tag is None or tag[0] != case_no:
            obs.foreign += 1
            continue
        if tag[1] == BARRIER_SEQ:
            obs.barrier = obs.barrier or icmp is None
            continue
        index = by_seq.get(tag[1])
        if index is None:
            obs.foreign += 1
            continue
        out = obs.outcomes[index]
        src = ip6(ip[8:24])
        if icmp is not None and icmp[1] < ECHO_REQUEST:
            off = icmp[0]
            (param,) = struct.unpack_from("!I", ip, off + 4)
            out.errors.append(IcmpError(cap.port, src, ip[off], ip[off + 1], param,
                                        ip[off + 8 :]))
        elif icmp is not None and icmp[1] == ECHO_REPLY:
            out.replies.append(Reply(cap.port, src, ECHO_REPLY))
        else:
            out.forwarded.append((cap.port, ip))
    return obs
