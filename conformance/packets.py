"""Packet building for cases, and the byte transforms that derive expected packets.

Packets are built with srinspect's own byte builders (``srinspect.build``, ``srinspect.srh``),
which write every field exactly as given: a conformance tester must be able to send wrong
headers on purpose, and scapy's self-filling fields (and its broken HMAC TLV) cannot.

Every payload carries a tag (``Ctx.tag``): magic, a per-run nonce, the case number and a
sequence number. Received packets are paired with what was sent by finding the tag, also
inside the packet an ICMPv6 error quotes, so unrelated traffic can never be mistaken for a
response. The transforms (``advance``, ``decap``...) express what a correct node does to the
bytes, so expected packets are computed from the packet actually sent, not written twice.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

from srinspect.build import (
    icmpv6_echo,
    internet_checksum,
    ipv4_packet,
    ipv6_packet,
    srv6_packet,
    udp,
    udp4,
    with_hmac,
)
from srinspect.rules import Profile
from srinspect.rules import Profile as CoreProfile
from srinspect.srh import SrhSpec, push_srh, resolve
from srinspect.wire import parse_ip6

from .topology import Topology

TAG_MAGIC = b"SRIN"
TAG_SIZE = 12  # magic(4) nonce(4) case(2) seq(2)
_TAG = struct.Struct("!4s4sHH")
FILLER = b"srinspect-conformance"  # makes payloads easy to spot in a hex dump

NH_UDP = 17
NH_IPV6 = 41
NH_ROUTING = 43
NH_ICMPV6 = 58
UDP_SPORT = 40000
UDP_DPORT = 9  # discard: nothing a stray host would answer


def make_tag(nonce: bytes, case_no: int, seq: int) -> bytes:
    return _TAG.pack(TAG_MAGIC, nonce, case_no, seq)


def find_tag(data: bytes, nonce: bytes) -> tuple[int, int] | None:
    """(case number, sequence) of the first tag of this run in ``data``, or None."""
    pos = data.find(TAG_MAGIC + nonce)
    if pos < 0 or pos + TAG_SIZE > len(data):
        return None
    _magic, _nonce, case_no, seq = _TAG.unpack_from(data, pos)
    return case_no, seq


class Ctx:
    """What a case's build function gets: the topology, the profile, and fresh tags.

    The builders here put a tag into every payload they make; a case that builds a payload
    itself must call ``tag()``.
    """

    def __init__(self, topo: Topology, profile: Profile, tagger: Callable[[], bytes],
                 case_no: int = 0) -> None:
        self.topo = topo
        self.profile = profile
        self._tagger = tagger
        self.case_no = case_no

    def fresh_source(self) -> str:
        """A source address no earlier case of this run used (from the topology's sender
        pool, routed back to the tester), or the sender when there is no pool."""
        return self.topo.pool_address(self.case_no)

    def tag(self) -> bytes:
        return self._tagger()

    @property
    def hmac_profile(self) -> CoreProfile:
        """The HMAC computation to use: draft-04 (Linux) or RFC 8754 for the others."""
        return CoreProfile.DRAFT04 if self.profile is Profile.DRAFT04 else CoreProfile.RFC8754

    def payload(self) -> bytes:
        return self.tag() + FILLER

    def udp(self, src: str, dst: str) -> bytes:
        """A tagged UDP datagram; ``dst`` is the final destination (checksum pseudo-header)."""
        return udp(src, dst, UDP_SPORT, UDP_DPORT, self.payload())

    def echo(self, dst: str, src: str | None = None) -> bytes:
        """A tagged ICMPv6 Echo Request to ``dst`` (its final destination)."""
        return icmpv6_echo(src or self.topo.sender, dst, 0x5352, 1, self.payload())

    def inner(self, dst: str, src: str | None = None, hop_limit: int = 64) -> bytes:
        """A tagged inner IPv6/UDP packet, for encapsulation-mode SRv6 packets."""
        s = src or self.topo.sender
        return ipv6_packet(s, dst, NH_UDP, self.udp(s, dst), hop_limit)

    def inner4(self, dst: str, src: str = "203.0.113.1", ttl: int = 64) -> bytes:
        """A tagged inner IPv4/UDP packet, for End.DX4 and End.DT4 (source: TEST-NET-3)."""
        return ipv4_packet(src, dst, NH_UDP, udp4(src, dst, UDP_SPORT, UDP_DPORT,
                                                   self.payload()), ttl)

    def plain(self, dst: str, hop_limit: int = 64) -> bytes:
        """A tagged plain IPv6/UDP packet from the sender (headend and barrier traffic)."""
        return self.inner(dst, hop_limit=hop_limit)

    def srv6(self, segments: Sequence[str], sl: int | None = None, *, inner: bytes | None = None,
             next_header: int = NH_IPV6, dst: str | None = None, hop_limit: int = 64,
             src: str | None = None, **fields: Any) -> bytes:
        """Outer IPv6 + SRH + ``inner`` (default: a tagged IPv6/UDP packet to segment [0]).

        ``segments`` is in wire order ([0] = final destination); other SRH fields go through
        ``fields`` to ``SrhSpec`` unchecked. The DA defaults to Segment List[SL].
        """
        source = src or self.topo.sender
        if inner is None:
            inner = self.inner(segments[0], src=source)
        spec = SrhSpec(list(segments), segments_left=sl, next_header=next_header,
                       **fields)
        return srv6_packet(source, spec, inner, dst=dst, hop_limit=hop_limit)

    def srv6_hmac(self, segments: Sequence[str], sl: int, *, key_id: int | None = None,
                  corrupt: bool = False) -> bytes:
        """An SRv6 packet whose SRH carries an HMAC TLV computed with the DUT's key.

        ``key_id`` overrides the key id written (the MAC still uses the DUT's secret), which
        is how the unknown-key case is built; ``corrupt`` flips one bit of the MAC.
        """
        key = self.topo.hmac_key
        if key is None:
            raise LookupError("no HMAC key known for this DUT")
        spec = with_hmac(SrhSpec(list(segments), segments_left=sl), self.topo.sender, key,
                         profile=self.hmac_profile, key_id=key_id, corrupt=corrupt)
        return srv6_packet(self.topo.sender, spec, self.inner(segments[0]))


# ---------------------------------------------------------------------------------------------
# Expected-packet transforms (byte level, for packets whose SRH follows the fixed header)

SRH_AT = 40


def dec_hl(pkt: bytes, by: int = 1) -> bytes:
    """Hop Limit minus ``by``: what every forwarding node does."""
    b = bytearray(pkt)
    b[7] = max(b[7] - by, 0)
    return bytes(b)


def dec_ttl(pkt: bytes) -> bytes:
    """An IPv4 packet as a router forwards it: TTL-1, header checksum updated."""
    b = bytearray(pkt)
    b[8] -= 1
    b[10:12] = b"\x00\x00"
    ihl = (b[0] & 0x0F) * 4
    struct.pack_into("!H", b, 10, internet_checksum(bytes(b[:ihl])))
    return bytes(b)


def srh_len(pkt: bytes, at: int = SRH_AT) -> int:
    return (pkt[at + 1] + 1) * 8


def advance(pkt: bytes) -> bytes:
    """draft-04 s4.3 / RFC 8754 s4.3.1.1: SL-1, DA = Segment List[SL], Hop Limit-1."""
    b = bytearray(pkt)
    sl = b[SRH_AT + 3] - 1
    b[SRH_AT + 3] = sl
    seg = SRH_AT + 8 + 16 * sl
    b[24:40] = b[seg : seg + 16]
    b[7] -= 1
    return bytes(b)


def decap(pkt: bytes) -> bytes:
    """The inner packet of an encap-mode packet, as forwarded (Hop Limit-1)."""
    return dec_hl(pkt[SRH_AT + srh_len(pkt) :])


def pop_srh(pkt: bytes) -> bytes:
    """The packet without its SRH (PSP): Next Header and Payload Length fixed up."""
    n = srh_len(pkt)
    b = bytearray(pkt[:SRH_AT] + pkt[SRH_AT + n :])
    b[6] = pkt[SRH_AT]
    struct.pack_into("!H", b, 4, len(b) - 40)
    return bytes(b)


def encapsulated(source: str, segments: Sequence[str], inner: bytes, hop_limit: int = 64,
                 tlvs: Sequence[bytes] = (), flags: int = 0, next_header: int = NH_IPV6
                 ) -> bytes:
    """What a headend emits for ``inner`` with a policy of ``segments`` (path order):
    outer IPv6 from ``source`` to the first segment, SRH with the list reversed,
    SL = FS = n-1, Next Header 41 (draft-04 s4.1, RFC 8754 s4.1; 143 for an L2 frame)."""
    spec = SrhSpec(list(reversed(segments)), next_header=next_header, tlvs=tuple(tlvs),
                   flags=flags)
    return srv6_packet(source, spec, inner, hop_limit=hop_limit)


def inline(original: bytes, segments: Sequence[str]) -> bytes:
    """What Linux's inline mode emits: the original header with DA = first segment, an SRH
    [original DA, segments reversed] with SL = FS = n, and the original payload."""
    orig_da = original[24:40]
    segs = [orig_da, *(parse_ip6(s) for s in reversed(segments))]
    spec = resolve(SrhSpec(segs, next_header=original[6]))
    srh = push_srh(spec)
    payload = original[40:]
    b = bytearray(original[:40])
    b[6] = NH_ROUTING
    b[24:40] = segs[-1]
    struct.pack_into("!H", b, 4, len(srh) + len(payload))
    return bytes(b) + srh + payload


def with_dst(pkt: bytes, dst: str) -> bytes:
    b = bytearray(pkt)
    b[24:40] = parse_ip6(dst)
    return bytes(b)


def routing_header(routing_type: int, segments_left: int, addresses: Sequence[str],
                   next_header: int = NH_IPV6) -> bytes:
    """A generic routing header (type 0 layout: 4 reserved bytes, then addresses).

    Used for the unknown-routing-type cases (RFC 8200 s4.4): only Next Header, Hdr Ext Len,
    Routing Type and Segments Left matter to a node that does not know the type.
    """
    body = b"".join(parse_ip6(a) for a in addresses)
    return struct.pack("!BBBBI", next_header, 2 * len(addresses), routing_type, segments_left,
                       0) + body
