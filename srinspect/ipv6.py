"""IPv6 fixed header and extension-header chain, down to every SRH and the inner packet.

The chain is a list in wire order with absolute offsets (never a dict keyed by header type,
which loses duplicates; never re-sliced buffers, which lose offsets). Dispatch is on
(Next Header, Routing Type), so a routing header is only read as an SRH when its type is 4.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .fields import Header
from .linklayer import pull_ethernet
from .srh import ROUTING_HEADER, ROUTING_TYPE_SRH, SRH_FIELDS, SRH_FIXED, Srh, pull_srh, pull_tlvs

IPV6_FIXED = struct.Struct("!IHBB16s16s")
IPV4_FIXED = struct.Struct("!BBHHHBBH4s4s")
PORTS = struct.Struct("!HH")

IPV6_HEADER = IPV6_FIXED.size
# Where the fixed header's fields start (RFC 8200 s3), for the byte-level fast paths (here,
# the flow decoder and the compiled pre-filter, which is built with these numbers).
PAYLOAD_LENGTH_AT = 4
NEXT_HEADER_AT = 6
SOURCE_AT = 8
DESTINATION_AT = 24

NH_HOP_BY_HOP = 0
NH_IPV4 = 4
NH_TCP = 6
NH_UDP = 17
NH_IPV6 = 41
NH_ROUTING = ROUTING_HEADER
NH_FRAGMENT = 44
NH_AH = 51
NH_ICMPV6 = 58
NH_NONE = 59
NH_DEST_OPTS = 60
NH_SCTP = 132
NH_ETHERNET = 143  # an Ethernet frame: SRv6 L2 encapsulation (RFC 8986 End.DX2, H.Encaps.L2)
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_IPV4 = 0x0800
# Headers laid out as (next header, hdr ext len in 8-octet units after the first 8 octets).
GENERIC_EXT = frozenset({NH_HOP_BY_HOP, NH_ROUTING, NH_DEST_OPTS, 135, 139, 140})
#: The extension headers the chain walk steps over: after one of them, more headers follow.
CHAIN_HEADERS = GENERIC_EXT | {NH_FRAGMENT, NH_AH}
#: An IP packet follows: SRv6 encapsulation (or a plain tunnel, when the DA is no SID).
ENCAPSULATIONS = frozenset({NH_IPV6, NH_IPV4})
#: After one of these another header follows, which may be (or lead to) an SRH.
MORE_HEADERS = CHAIN_HEADERS | ENCAPSULATIONS
#: Next Header values after the fixed header that may lead to an SRH or an SRv6 payload
#: (the other chain headers, Mobility, HIP and Shim6, carry no SRv6 packet).
SRH_MAY_FOLLOW = frozenset({NH_HOP_BY_HOP, NH_ROUTING, NH_FRAGMENT, NH_AH, NH_DEST_OPTS}
                           ) | ENCAPSULATIONS
PORT_PROTOCOLS = frozenset({NH_TCP, NH_UDP, NH_SCTP, 136})
EXT_NAMES = {NH_HOP_BY_HOP: "Hop-by-Hop Options", NH_ROUTING: "Routing", NH_FRAGMENT: "Fragment",
             NH_AH: "Authentication Header", NH_DEST_OPTS: "Destination Options",
             135: "Mobility", 139: "HIP", 140: "Shim6"}
MAX_CHAIN = 32  # more extension headers than this in one packet is an attack, not traffic
MAX_NESTING = 4  # IPv6-in-IPv6 depth followed for inner packets


@dataclass(slots=True)
class ExtHeader:
    """One extension header: ``kind`` is the Next Header value that announced it."""

    kind: int
    offset: int
    length: int
    routing_type: int | None = None

    @property
    def name(self) -> str:
        return EXT_NAMES.get(self.kind, f"header {self.kind}")


@dataclass(slots=True)
class Ipv6:
    """An IPv6 header and its extension chain; offsets absolute in the frame.

    ``limit`` is where this packet's usable bytes end: the payload length or the captured
    bytes, whichever comes first. ``upper`` is the protocol after the chain, or -1 when the
    chain could not be walked to its end (truncated or too long).
    """

    offset: int
    src: bytes
    dst: bytes
    payload_length: int
    hop_limit: int
    next_header: int
    traffic_class: int
    flow_label: int
    captured_end: int
    chain: list[ExtHeader] = field(default_factory=list)
    srhs: list[Srh] = field(default_factory=list)
    upper: int = -1
    upper_offset: int = -1

    version = 6

    @property
    def payload_end(self) -> int:
        """End of the payload per Payload Length (0 = jumbogram: use the captured bytes)."""
        if self.payload_length == 0:
            return self.captured_end
        return self.offset + 40 + self.payload_length

    @property
    def limit(self) -> int:
        return min(self.captured_end, self.payload_end)


@dataclass(slots=True)
class Ipv4:
    """The few IPv4 fields srinspect needs (inner packets of IPv4-in-SRv6 encapsulation)."""

    offset: int
    src: bytes
    dst: bytes
    protocol: int
    ttl: int
    upper_offset: int
    limit: int
    tos: int = 0
    total_length: int = 0
    ihl: int = 20  # header length in bytes
    ident: int = 0
    frag: int = 0  # flags and fragment offset, as on the wire
    checksum: int = 0

    version = 4


def pull_ipv6(buf: bytes, offset: int, captured_end: int, *, pad1: bool) -> Ipv6 | None:
    """Decode the IPv6 header at ``offset`` and walk its chain; None if it is not IPv6.

    ``pad1`` selects the RFC 8754 TLV layout for SRHs in the chain.
    """
    if offset + 40 > captured_end:
        return None
    vtf, plen, nh, hlim, src, dst = IPV6_FIXED.unpack_from(buf, offset)
    if vtf >> 28 != 6:
        return None
    ip = Ipv6(offset, src, dst, plen, hlim, nh, (vtf >> 20) & 0xFF, vtf & 0xFFFFF, captured_end)
    _walk_chain(buf, ip, pad1)
    return ip


def walk_short(data: bytes, off: int) -> tuple[int, int, int] | None:
    """The chain walk of the byte-level fast paths, which build no objects.

    For the IPv6 packet at ``off`` (its fixed header captured): (upper-layer offset, upper
    protocol, usable end) when at most one SRH stands between the fixed header and the upper
    layer and all of it lies within both the captured bytes and the Payload Length. None
    when only the full walk (``pull_ipv6``) can tell: another extension header, a Routing
    header of another type, an SRH cut short, or a Payload Length of 0 (a jumbogram's length
    is in an option). The compiled pre-filter walks the same way (``walk_short`` in _skim.c).
    """
    nh = data[off + NEXT_HEADER_AT]
    upper = off + IPV6_HEADER
    end = len(data)
    if nh == NH_ROUTING:
        if upper + _SRH_FIXED_SIZE > end or data[upper + _SRH_TYPE_AT] != ROUTING_TYPE_SRH:
            return None
        nh = data[upper]
        upper += (data[upper + _SRH_LENGTH_AT] + 1) << 3
    elif nh in CHAIN_HEADERS:
        return None
    at = off + PAYLOAD_LENGTH_AT
    plen = data[at] << 8 | data[at + 1]
    limit = off + IPV6_HEADER + plen
    if limit > end:
        limit = end
    if plen == 0 or upper > limit:
        return None
    return upper, nh, limit


_SRH_FIXED_SIZE = SRH_FIXED.size
_SRH_TYPE_AT = SRH_FIELDS["routing_type"][0]
_SRH_LENGTH_AT = SRH_FIELDS["hdr_ext_len"][0]


def _walk_chain(buf: bytes, ip: Ipv6, pad1: bool) -> None:
    """Fill ``ip.chain`` and ``ip.srhs``; stop where the bytes or the count run out."""
    nh = ip.next_header
    pos = ip.offset + 40
    limit = ip.limit
    for _ in range(MAX_CHAIN):
        if nh in GENERIC_EXT:
            if pos + 2 > limit:
                return
            length = (buf[pos + 1] + 1) * 8
            rtype = buf[pos + 2] if nh == NH_ROUTING and pos + 3 <= limit else None
            ip.chain.append(ExtHeader(nh, pos, length, rtype))
            if nh == NH_ROUTING and rtype == ROUTING_TYPE_SRH and pos + 8 <= limit:
                srh = pull_srh(buf, pos, limit)
                start, end = srh.list_end, min(srh.end, limit)
                if start < end:
                    srh.tlvs = pull_tlvs(buf, start, end, pad1=pad1)
                ip.srhs.append(srh)
            elif nh == NH_ROUTING and rtype == ROUTING_TYPE_SRH:
                ip.srhs.append(pull_srh_partial(buf, pos, limit))
        elif nh == NH_FRAGMENT:
            length = 8
            ip.chain.append(ExtHeader(nh, pos, length))
            if pos + 8 > limit:
                return
        elif nh == NH_AH:
            if pos + 2 > limit:
                return
            length = (buf[pos + 1] + 2) * 4
            ip.chain.append(ExtHeader(nh, pos, length))
        else:
            ip.upper, ip.upper_offset = nh, pos
            return
        if pos + length > limit:
            return
        nh = buf[pos]
        pos += length
        if ip.chain[-1].kind == NH_FRAGMENT and _is_later_fragment(buf, ip.chain[-1].offset):
            ip.upper, ip.upper_offset = NH_NONE, pos  # no headers to read in a non-first fragment
            return


def _is_later_fragment(buf: bytes, offset: int) -> bool:
    return (struct.unpack_from("!H", buf, offset + 2)[0] >> 3) != 0


def pull_srh_partial(buf: bytes, offset: int, limit: int) -> Srh:
    """An SRH of which fewer than 8 bytes are there: every field the bytes hold, the rest 0.

    Lets the validator report ``srh.truncated`` at the right offset instead of losing it.
    """
    fixed = bytes(buf[offset:limit]).ljust(8, b"\x00")
    srh = pull_srh(fixed, 0, 8)
    srh.offset, srh.limit, srh.segments = offset, limit, []
    return srh


def pull_ipv4(buf: bytes, offset: int, captured_end: int) -> Ipv4 | None:
    if offset + 20 > captured_end:
        return None
    vihl, tos, total, ident, frag, ttl, proto, csum, src, dst = IPV4_FIXED.unpack_from(
        buf, offset)
    if vihl >> 4 != 4:
        return None
    ihl = (vihl & 0x0F) * 4
    limit = min(captured_end, offset + total) if total else captured_end
    return Ipv4(offset, src, dst, proto, ttl, offset + max(ihl, 20), limit, tos, total, ihl,
                ident, frag, csum)


def pull_inner(buf: bytes, outer: Ipv6, *, pad1: bool) -> Ipv6 | Ipv4 | None:
    """The packet behind Next Header 41 or 4 (SRv6 encap mode), if the bytes hold one."""
    if outer.upper == NH_IPV6:
        return pull_ipv6(buf, outer.upper_offset, outer.limit, pad1=pad1)
    if outer.upper == NH_IPV4:
        return pull_ipv4(buf, outer.upper_offset, outer.limit)
    return None


def pull_l2(buf: bytes, outer: Ipv6, *, pad1: bool) -> tuple[Header, Ipv6 | Ipv4 | None]:
    """The Ethernet frame behind Next Header 143 (SRv6 L2 encapsulation) and the IPv6 or
    IPv4 packet it carries, if any; both end where the outer packet's usable bytes end."""
    frame = buf[: outer.limit]  # the inner frame may not read past the outer payload
    header = pull_ethernet(frame, outer.upper_offset)
    ethertype, payload = header.get("ethertype"), header.offset + header.length
    if ethertype == ETHERTYPE_IPV6:
        return header, pull_ipv6(buf, payload, outer.limit, pad1=pad1)
    if ethertype == ETHERTYPE_IPV4:
        return header, pull_ipv4(buf, payload, outer.limit)
    return header, None


ICMP_PROTOCOLS = frozenset({NH_ICMPV6, 1})


def transport_ports(buf: bytes, ip: Ipv6 | Ipv4) -> tuple[int, int | None, int | None]:
    """(protocol, source port, destination port). Ports are 0 where the protocol has none,
    and None where it has them but the capture (or the IP length) cut them off: a flow
    key or a view must never show a port that was not captured."""
    if isinstance(ip, Ipv6):
        proto, off, limit = ip.upper, ip.upper_offset, ip.limit
    else:
        proto, off, limit = ip.protocol, ip.upper_offset, ip.limit
    if proto < 0:
        return proto, None, None  # the chain was cut before its upper layer: all unknown
    if proto in PORT_PROTOCOLS:
        if off >= 0 and off + 4 <= limit:
            sport, dport = PORTS.unpack_from(buf, off)
            return proto, sport, dport
        return proto, None, None
    if proto in ICMP_PROTOCOLS:
        if off >= 0 and off + 2 <= limit:
            return proto, buf[off], buf[off + 1]  # ICMP type and code stand in for ports
        return proto, None, None
    return proto, 0, 0
