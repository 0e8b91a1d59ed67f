"""The audit fast path: recognise a clean SRv6 packet without building any object.

Most SRv6 traffic on a link is well-formed. ``fast_srh_py`` proves, with byte reads, that
no packet rule can fire on a packet whose chain is Hop-by-Hop and Destination Options
headers around one SRH (any order, any number up to ``ipv6.MAX_CHAIN``), whose SRH has no
TLVs or (draft-04) a clean layout of Ingress, Egress, Opaque, Padding and HMAC TLVs, and
whose payload holds no further header that could carry an SRH; or that only the HMAC
verdict is left to give. The audit counts such a packet and moves on. Anything else
(Fragment or AH headers, other Routing headers, RFC 8754 TLVs, nested SRHs, any doubt)
takes the full decoder and validator, which stay the single authority on findings. A
property test checks that whenever this calls a packet clean the full validator finds
nothing, and that an HMAC packet gets what the validator gives.

The compiled pre-filter (_skim.c) decides the same from the same bytes, with the numbers
below (and those of ipv6.py, srh.py and linklayer.py) generated into _skim_consts.h.
"""

from __future__ import annotations

from collections.abc import Callable

from . import skim
from .ipv6 import (
    CHAIN_HEADERS,
    DESTINATION_AT,
    IPV6_HEADER,
    MAX_CHAIN,
    MORE_HEADERS,
    NEXT_HEADER_AT,
    NH_DEST_OPTS,
    NH_ETHERNET,
    NH_HOP_BY_HOP,
    NH_IPV6,
    NH_ROUTING,
    PAYLOAD_LENGTH_AT,
    SOURCE_AT,
)
from .linklayer import ETHERTYPE_IPV6, ethernet_payload
from .srh import (
    FLAG_H,
    FLAGS_UNUSED_DRAFT04,
    FLAGS_UNUSED_RFC8754,
    HMAC_TLV_SIZE_DRAFT04,
    NODE_ADDRESS_AT,
    ROUTING_TYPE_SRH,
    SEGMENT_SIZE,
    SRH_FIELDS,
    SRH_FIXED,
    TLV_EGRESS,
    TLV_HMAC,
    TLV_INGRESS,
    TLV_LENGTHS_DRAFT04,
    TLV_OPAQUE,
    TLV_PADDING,
)

#: The pre-filter's ``mode`` bits, set by engine.AuditEngine: the draft-04 profile; C-SID
#: formats are configured (then the RFC 9800 rules may fire on any address, and the
#: pre-filter calls no SRH clean).
SKIM_DRAFT04 = 1
SKIM_CSID = 2

#: Flags a clean SRH without TLVs does not carry: the unused bits, and (draft-04) H, which
#: announces an HMAC TLV it does not have.
CLEAN_FLAGS_DRAFT04 = FLAGS_UNUSED_DRAFT04 | FLAG_H

#: Headers the fast path steps over around the SRH: options headers, which no rule reads.
OPTION_HEADERS = frozenset({NH_HOP_BY_HOP, NH_DEST_OPTS})

#: Segments the fast path leaves to the validator, which alone decides whether
#: srh.segment.invalid fires: a first byte of multicast, or the first 12 bytes of ::/96
#: (unspecified, loopback) or ::ffff:0:0/96 (IPv4-mapped). Wider than the rule on purpose.
SUSPECT_FIRST_BYTE = 0xFF
SUSPECT_PREFIXES = (bytes(12), bytes(10) + b"\xff\xff")

#: draft-04 TLV lengths, as the validator's srh.tlv.length rule allows them.
NODE_TLV_LENGTH = min(TLV_LENGTHS_DRAFT04[TLV_INGRESS])
PADDING_MIN = min(TLV_LENGTHS_DRAFT04[TLV_PADDING])
PADDING_MAX = max(TLV_LENGTHS_DRAFT04[TLV_PADDING])
HMAC_TLV_LENGTH = HMAC_TLV_SIZE_DRAFT04 - 2  # its Length byte: the TLV less type and length

_SUSPECT_LEADS = frozenset(prefix[0] for prefix in SUSPECT_PREFIXES)
_SUSPECT_LEN = len(SUSPECT_PREFIXES[0])
_SUSPECT = frozenset(SUSPECT_PREFIXES)
_NODE_TLVS = frozenset({TLV_INGRESS, TLV_EGRESS, TLV_OPAQUE})
_SL_AT = SRH_FIELDS["segments_left"][0]
_FS_AT = SRH_FIELDS["first_segment"][0]
_FLAGS_AT = SRH_FIELDS["flags"][0]
_RESERVED_AT = SRH_FIELDS["reserved"][0]
_TYPE_AT = SRH_FIELDS["routing_type"][0]
_LENGTH_AT = SRH_FIELDS["hdr_ext_len"][0]


def simple_chain(data: bytes, off: int) -> tuple[int, int, int, int] | None:
    """For the IPv6 packet at ``off`` (its fixed header captured): (SRH offset, upper-layer
    offset, upper protocol, usable end) when its chain is options headers around exactly
    one SRH, every header within both the captured bytes and the Payload Length; else None
    (a Payload Length of 0, a jumbogram's, is left to the full walk too)."""
    at = off + PAYLOAD_LENGTH_AT
    plen = data[at] << 8 | data[at + 1]
    limit = off + IPV6_HEADER + plen
    if limit > len(data):
        limit = len(data)
    if plen == 0:
        return None
    nh = data[off + NEXT_HEADER_AT]
    pos = off + IPV6_HEADER
    srh = -1
    for _ in range(MAX_CHAIN):
        if nh == NH_ROUTING:
            if srh >= 0 or pos + SRH_FIXED.size > limit or data[pos + _TYPE_AT] != \
                    ROUTING_TYPE_SRH:
                return None
            srh = pos
        elif nh not in OPTION_HEADERS:
            break
        elif pos + 2 > limit:
            return None
        end = pos + ((data[pos + _LENGTH_AT] + 1) << 3)
        if end > limit:
            return None
        nh = data[pos]
        pos = end
    else:
        return None
    return (srh, pos, nh, limit) if srh >= 0 else None


def fast_srh_py(data: bytes, off: int, draft04: bool) -> int:
    """For the IPv6 packet at ``off``: -1 when no rule can fire on it; the offset of its HMAC
    TLV when only the HMAC verdict is left to give (draft-04: a clean TLV layout ending in
    a well-placed HMAC TLV, the H flag set; the caller verifies the HMAC); -2 for anything
    else, which takes the full decoder."""
    if off + IPV6_HEADER > len(data) or data[off + NEXT_HEADER_AT] not in _FIRST:
        return -2
    walked = simple_chain(data, off)
    if walked is None:
        return -2
    s, upper, nh, limit = walked
    if nh in CHAIN_HEADERS or inner_more_headers(data, nh, upper, limit):
        return -2
    sl, fs, flags = data[s + _SL_AT], data[s + _FS_AT], data[s + _FLAGS_AT]
    reserved = data[s + _RESERVED_AT] | data[s + _RESERVED_AT + 1]
    end = s + ((data[s + _LENGTH_AT] + 1) << 3)
    segments = s + SRH_FIXED.size
    listed = segments + SEGMENT_SIZE * (fs + 1)
    if sl > fs + 1 or listed > end:  # SL = First Segment + 1: a reduced SRH, valid
        return -2
    if listed == end:
        if flags & (CLEAN_FLAGS_DRAFT04 if draft04 else FLAGS_UNUSED_RFC8754) or (
                draft04 and reserved):
            return -2
        tlv = -1
    elif draft04 and not (flags & FLAGS_UNUSED_DRAFT04 or reserved):
        tlv = _draft04_tlvs(data, off, segments, listed, end, flags)
        if tlv == -2:
            return -2
    else:
        return -2
    if sl <= fs:
        active = segments + SEGMENT_SIZE * sl
        if data[off + DESTINATION_AT : off + IPV6_HEADER] != data[active : active +
                                                                   SEGMENT_SIZE]:
            return -2
    return tlv if _segments_clean(data, segments, listed) else -2


_FIRST = OPTION_HEADERS | {NH_ROUTING}


def _draft04_tlvs(data: bytes, off: int, segments: int, p: int, end: int, flags: int) -> int:
    """The draft-04 TLVs in ``data[p:end]``: -1 when they are a clean layout without HMAC,
    the HMAC TLV's offset when they end in one (announced by the H flag), -2 for anything
    a rule could fire on: an overrun, an unknown type or length, a node TLV naming the
    wrong node, non-zero or misplaced padding, a misplaced or unflagged HMAC TLV."""
    hmac = -1
    padded = False
    while p < end:
        if p + 2 > end or hmac >= 0:
            return -2
        kind, length = data[p], data[p + 1]
        stop = p + 2 + length
        if stop > end:
            return -2
        if kind == TLV_HMAC:
            if length != HMAC_TLV_LENGTH:
                return -2
            hmac = p
        elif padded:
            return -2  # draft-04: only the HMAC TLV may follow the padding
        elif kind == TLV_PADDING:
            if not PADDING_MIN <= length <= PADDING_MAX or any(data[p + 2 : stop]):
                return -2
            padded = True
        elif kind in _NODE_TLVS and length == NODE_TLV_LENGTH:
            node = data[p + NODE_ADDRESS_AT : stop]
            if kind == TLV_INGRESS and node != data[off + SOURCE_AT : off + DESTINATION_AT]:
                return -2
            if kind == TLV_EGRESS and node != data[segments : segments + SEGMENT_SIZE]:
                return -2
        else:
            return -2
        p = stop
    if bool(flags & FLAG_H) != (hmac >= 0):
        return -2
    return hmac


def hmac_field(data: bytes, srh: int, tlv: int) -> str:
    """The validator's name for the HMAC TLV at ``tlv`` (``tlvs[i]``), for its finding."""
    p = srh + SRH_FIXED.size + SEGMENT_SIZE * (data[srh + _FS_AT] + 1)
    index = 0
    while p < tlv:
        p += 2 + data[p + 1]
        index += 1
    return f"tlvs[{index}]"


def inner_more_headers(data: bytes, nh: int, at: int, limit: int) -> bool:
    """Whether the packet behind the SRH may carry more headers (maybe an SRH the
    validator must see): IPv6 in IPv6 with more headers, or an Ethernet frame (Next Header
    143, SRv6 L2 encapsulation) carrying such IPv6; mirrors Inspector's decision,
    conservatively."""
    if nh == NH_ETHERNET:
        ethertype, at = ethernet_payload(data[:limit], at)
        if ethertype != ETHERTYPE_IPV6:
            return False
    elif nh != NH_IPV6:
        return False
    return at + IPV6_HEADER <= limit and data[at + NEXT_HEADER_AT] in MORE_HEADERS


def _segments_clean(data: bytes, start: int, stop: int) -> bool:
    """No entry of the Segment List between ``start`` and ``stop`` is suspect."""
    for p in range(start, stop, SEGMENT_SIZE):
        lead = data[p]
        if lead == SUSPECT_FIRST_BYTE or (
                lead in _SUSPECT_LEADS and data[p : p + _SUSPECT_LEN] in _SUSPECT):
            return False
    return True


#: What the inspector calls: the C version in ``_skim`` when built, else ``fast_srh_py``.
#: tests/unit/test_skim.py holds the two together, test_fastpath.py to the full validator.
fast_srh: Callable[[bytes, int, bool], int] = (
    skim.native.fast_srh if skim.native is not None else fast_srh_py)
