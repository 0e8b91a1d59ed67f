"""The audit fast path: recognise a clean, simple SRv6 packet without building any object.

Most SRv6 traffic on a link is well-formed: one SRH right after the IPv6 header, no TLVs.
``clean_simple_srh`` proves, with a handful of byte reads, that no packet rule can fire on
such a packet, so the audit counts it and moves on. Anything else (TLVs, HMAC, other
extension headers, nested SRHs, reduced SRHs, any doubt) returns False and takes the full
decoder and validator, which stay the single authority on findings. A property test checks
that whenever this returns True the full validator finds nothing.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from . import skim
from .linklayer import ETHERTYPE_IPV6, ethernet_payload

_FIXED = struct.Struct("!HBB")  # payload length, next header, hop limit (at offset 4)
_SRH = struct.Struct("!BBBBBBH")
_BAD_PREFIX = frozenset({bytes(12), bytes(10) + b"\xff\xff"})  # ::/96 family, IPv4-mapped
_CHAIN = frozenset({0, 43, 44, 51, 60, 135, 139, 140})  # more headers to walk: slow path
_INNER_CHAIN = _CHAIN | {41, 4}


def clean_simple_srh(data: bytes, off: int, draft04: bool) -> bool:
    """True when the IPv6 packet at ``off`` is a simple SRv6 packet no rule fires on."""
    end = len(data)
    if off + 48 > end or data[off + 6] != 43 or data[off + 42] != 4:
        return False
    plen = _FIXED.unpack_from(data, off + 4)[0]
    if plen == 0:
        return False
    limit = min(end, off + 40 + plen)
    s = off + 40
    nh, hel, _rt, sl, fs, flags, reserved = _SRH.unpack_from(data, s)
    size = (hel + 1) * 8
    if size != 8 + 16 * (fs + 1) or s + size > limit or sl > fs:
        return False
    if draft04:
        if flags & 0x8F or reserved:  # unused bits, or H without an HMAC TLV
            return False
    elif flags:
        return False
    if nh in _CHAIN:
        return False
    if nh == 41:
        inner = s + size
        if inner + 40 <= limit and data[inner + 6] in _INNER_CHAIN:
            return False
    if nh == 143 and _l2_inner_chain(data, s + size, limit):
        return False
    seg = s + 8 + 16 * sl
    if data[off + 24 : off + 40] != data[seg : seg + 16]:
        return False
    p = s + 8
    for _ in range(fs + 1):
        first = data[p]
        if first == 0xFF or (first == 0 and data[p : p + 12] in _BAD_PREFIX):
            return False
        p += 16
    return True


def _l2_inner_chain(data: bytes, eth: int, limit: int) -> bool:
    """Next Header 143: the Ethernet frame at ``eth`` carries IPv6 with more headers (maybe
    an SRH the validator must see); mirrors inspector._l2_may_hold_srh, conservatively."""
    ethertype, at = ethernet_payload(data[:limit], eth)
    return ethertype == ETHERTYPE_IPV6 and at + 40 <= limit and data[at + 6] in _INNER_CHAIN


def simple_hmac_srh(data: bytes, off: int) -> int:
    """draft-04 only: the offset of the HMAC TLV when the packet is a simple SRH whose one
    TLV is a well-placed HMAC TLV with the H flag set and nothing else any rule could fire
    on; -1 otherwise. The caller still verifies the HMAC itself."""
    end = len(data)
    if off + 48 > end or data[off + 6] != 43 or data[off + 42] != 4:
        return -1
    plen = _FIXED.unpack_from(data, off + 4)[0]
    if plen == 0:
        return -1
    limit = min(end, off + 40 + plen)
    s = off + 40
    nh, hel, _rt, sl, fs, flags, reserved = _SRH.unpack_from(data, s)
    size = (hel + 1) * 8
    tlv = s + 8 + 16 * (fs + 1)
    if size != 8 + 16 * (fs + 1) + 40 or s + size > limit or sl > fs:
        return -1
    if flags & 0x87 or not flags & 0x08 or reserved or data[tlv] != 5 or data[tlv + 1] != 38:
        return -1
    if nh in _CHAIN:
        return -1
    if nh == 41:
        inner = s + size
        if inner + 40 <= limit and data[inner + 6] in _INNER_CHAIN:
            return -1
    if nh == 143 and _l2_inner_chain(data, s + size, limit):
        return -1
    seg = s + 8 + 16 * sl
    if data[off + 24 : off + 40] != data[seg : seg + 16]:
        return -1
    p = s + 8
    for _ in range(fs + 1):
        first = data[p]
        if first == 0xFF or (first == 0 and data[p : p + 12] in _BAD_PREFIX):
            return -1
        p += 16
    return tlv


def fast_srh_py(data: bytes, off: int, draft04: bool) -> int:
    """-1: a clean simple SRH (``clean_simple_srh``); the HMAC TLV offset of a simple draft-04
    HMAC SRH (``simple_hmac_srh``); -2: anything else, which takes the full decoder."""
    if clean_simple_srh(data, off, draft04):
        return -1
    if draft04:
        tlv = simple_hmac_srh(data, off)
        if tlv >= 0:
            return tlv
    return -2


#: What the inspector calls: the C version in ``_skim`` when built, else ``fast_srh_py``.
#: tests/unit/test_skim.py holds the two together, test_fastpath.py to the full validator.
fast_srh: Callable[[bytes, int, bool], int] = (
    skim.native.fast_srh if skim.native is not None else fast_srh_py)
