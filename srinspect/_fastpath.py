"""The audit fast path: recognise a clean, simple SRv6 packet without building any object.

Most SRv6 traffic on a link is well-formed: one SRH right after the IPv6 header, no TLVs, or
(draft-04) only its HMAC TLV. ``fast_srh_py`` proves, with a handful of byte reads, that no
packet rule can fire on such a packet (or that only the HMAC verdict is left to give), so
the audit counts it and moves on. Anything else (other TLVs, other extension headers,
nested SRHs, reduced SRHs, any doubt) takes the full decoder and validator, which stay the
single authority on findings. A property test checks that whenever this calls a packet
clean the full validator finds nothing.

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
    MORE_HEADERS,
    NEXT_HEADER_AT,
    NH_ETHERNET,
    NH_IPV6,
    NH_ROUTING,
    walk_short,
)
from .linklayer import ETHERTYPE_IPV6, ethernet_payload
from .srh import (
    FLAG_H,
    FLAGS_UNUSED_DRAFT04,
    FLAGS_UNUSED_RFC8754,
    HMAC_TLV_SIZE_DRAFT04,
    SEGMENT_SIZE,
    SRH_FIXED,
    TLV_HMAC,
)

#: The pre-filter's ``mode`` bits, set by engine.AuditEngine: the draft-04 profile; C-SID
#: formats are configured (then the RFC 9800 rules may fire on any address, and the
#: pre-filter calls no SRH clean).
SKIM_DRAFT04 = 1
SKIM_CSID = 2

#: Flags a clean SRH without TLVs does not carry: the unused bits, and (draft-04) H, which
#: announces an HMAC TLV it does not have.
CLEAN_FLAGS_DRAFT04 = FLAGS_UNUSED_DRAFT04 | FLAG_H

#: Segments the fast path leaves to the validator, which alone decides whether
#: srh.segment.invalid fires: a first byte of multicast, or the first 12 bytes of ::/96
#: (unspecified, loopback) or ::ffff:0:0/96 (IPv4-mapped). Wider than the rule on purpose.
SUSPECT_FIRST_BYTE = 0xFF
SUSPECT_PREFIXES = (bytes(12), bytes(10) + b"\xff\xff")

_SUSPECT_LEADS = frozenset(prefix[0] for prefix in SUSPECT_PREFIXES)
_SUSPECT_LEN = len(SUSPECT_PREFIXES[0])
_SUSPECT = frozenset(SUSPECT_PREFIXES)
_HMAC_TLV_LENGTH = HMAC_TLV_SIZE_DRAFT04 - 2  # its Length byte: the TLV less type and length


def fast_srh_py(data: bytes, off: int, draft04: bool) -> int:
    """For the IPv6 packet at ``off``: -1 when it is a simple SRv6 packet no rule fires on;
    the offset of its HMAC TLV when it is a simple draft-04 SRH whose one TLV is a
    well-placed HMAC TLV with the H flag set and nothing else any rule could fire on (the
    caller still verifies the HMAC); -2 for anything else, which takes the full decoder."""
    s = off + IPV6_HEADER
    if s + SRH_FIXED.size > len(data) or data[off + NEXT_HEADER_AT] != NH_ROUTING:
        return -2
    walked = walk_short(data, off)
    if walked is None:
        return -2
    upper, nh, limit = walked
    _nh, _hel, _rt, sl, fs, flags, reserved = SRH_FIXED.unpack_from(data, s)
    segments = s + SRH_FIXED.size
    listed = segments + SEGMENT_SIZE * (fs + 1)
    if sl > fs or nh in CHAIN_HEADERS or _inner_more_headers(data, nh, upper, limit):
        return -2
    if upper == listed:
        if flags & (CLEAN_FLAGS_DRAFT04 if draft04 else FLAGS_UNUSED_RFC8754) or (
                draft04 and reserved):
            return -2
        tlv = -1
    elif draft04 and upper == listed + HMAC_TLV_SIZE_DRAFT04 and _lone_hmac(data, listed,
                                                                           flags, reserved):
        tlv = listed
    else:
        return -2
    active = segments + SEGMENT_SIZE * sl
    if data[off + DESTINATION_AT : s] != data[active : active + SEGMENT_SIZE]:
        return -2
    return tlv if _segments_clean(data, segments, listed) else -2


def _lone_hmac(data: bytes, tlv: int, flags: int, reserved: int) -> bool:
    """draft-04: the H flag and nothing else, and an HMAC TLV of the one valid length."""
    return (not flags & FLAGS_UNUSED_DRAFT04 and bool(flags & FLAG_H) and not reserved
            and data[tlv] == TLV_HMAC and data[tlv + 1] == _HMAC_TLV_LENGTH)


def _inner_more_headers(data: bytes, nh: int, at: int, limit: int) -> bool:
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
