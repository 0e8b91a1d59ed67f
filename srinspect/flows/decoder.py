"""Frames to flow-table input, fast: the flow key, the SR header's SrInfo and the IP bytes.

``Inspector.feed`` (full decode and every packet rule) costs ~12 us a packet, too slow for
a live link. But the findings and HMAC result of a packet are a function of its header
bytes once the conditions of the audit's verdict cache hold (``verdicts``: the whole chain
inside the captured bytes and the payload length, an SRH in it, nothing after it that
could hold another), and so is the rest of its SrInfo. So the same key (``verdict_walk``,
``key_at``) keys a cache of SrInfo: the first packet with a given header goes through the
Inspector (the single authority on findings), the following ones reuse its SrInfo and
only their inner 5-tuple is read. Packets without an SRH whose DA is a SID (reduced
encapsulation) are keyed on their addresses (``ipv6.walk_short``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from ..frame import Frame
from ..inspector import Inspector
from ..ipv6 import (
    CHAIN_HEADERS,
    DESTINATION_AT,
    ENCAPSULATIONS,
    ICMP_PROTOCOLS,
    IPV4_FIXED,
    IPV6_HEADER,
    MORE_HEADERS,
    NEXT_HEADER_AT,
    NH_ETHERNET,
    NH_IPV4,
    NH_IPV6,
    PORT_PROTOCOLS,
    PORTS,
    SOURCE_AT,
    SRH_MAY_FOLLOW,
    walk_short,
)
from ..linklayer import ETHERNET_HEADER, ETHERTYPE_AT, ETHERTYPE_IPV6, LINKTYPE_ETHERNET
from ..verdicts import key_at, verdict_walk
from .events import FlowKey
from .linkload import LinkLoad
from .packet import SrInfo, info_from_result, key_from_result
from .table import FlowTable

__all__ = ["Decoded", "FlowDecoder", "FlowMonitor"]

_INNER6_FIXED = struct.Struct("!IHBx16s16s")  # version/class/label, payload length, next
# header, hop limit skipped, source, destination
_INNER6 = struct.Struct("!IHBx16s16sHH")  # the same and the first 4 upper-layer bytes
_ETHERTYPE = slice(ETHERTYPE_AT, ETHERTYPE_AT + 2)

Decoded = tuple[FlowKey, SrInfo, int]


class FlowDecoder:
    """Frames -> (flow key, SrInfo, IP bytes) for the flow table, or None if not SRv6.

    Anything ``walk_short`` does not walk (extension headers before or after the SRH, SRHs
    cut short, jumbograms claiming a zero payload length), nested SRv6 and L2
    encapsulation take the full path every time (see the module docstring). A property
    test checks that both paths give the same key and SrInfo.
    """

    def __init__(self, inspector: Inspector, cache_size: int = 4096) -> None:
        self.inspector = inspector
        self.cache_size = cache_size
        self._cache: dict[bytes, SrInfo] = {}
        self._links: dict[int, Callable[[bytes], int] | None] = {}
        #: frames seen, SRv6 packets returned, headers that were not in the cache yet
        self.frames = 0
        self.srv6 = 0
        self.cache_misses = 0

    def decode(self, frame: Frame) -> Decoded | None:
        self.frames += 1
        data = frame.data
        linktype = frame.linktype
        if linktype == LINKTYPE_ETHERNET and data[_ETHERTYPE] == ETHERTYPE_IPV6:
            off = ETHERNET_HEADER  # plain Ethernet: no call needed
        else:
            try:
                fn = self._links[linktype]
            except KeyError:
                fn = self._links[linktype] = self.inspector.link_decoder(linktype)
            if fn is None:
                return self._slow(frame)  # the Inspector counts unsupported link types
            off = fn(data)
            if off < 0:
                return None
        if off + IPV6_HEADER > len(data) or data[off] >> 4 != 6:
            return None
        nh = data[off + NEXT_HEADER_AT]
        if nh not in SRH_MAY_FOLLOW:
            return None
        if nh in ENCAPSULATIONS:  # no SRH: SRv6 only if the DA is a SID
            walked = walk_short(data, off)
            if walked is None or not self.inspector.is_sid(
                    data[off + DESTINATION_AT : off + IPV6_HEADER]):
                return self._slow(frame)  # a tunnel unless an inner SRH says otherwise
        else:
            walked = verdict_walk(data, off)
            if walked is None:
                return self._slow(frame)
        s, nxt, pend = walked
        upper = _upper(data, s, nxt, pend)
        if upper is None:
            return self._slow(frame)
        hkey = key_at(data, off, s)
        info = self._cache.get(hkey)
        if info is None:
            info = self._miss(frame, hkey)
            if info is None:  # pragma: no cover - the checks above mirror feed()'s
                return None
        isrc, idst, proto, sport, dport = upper
        self.srv6 += 1
        src = data[off + SOURCE_AT : off + DESTINATION_AT]
        return ((src, info.segments[0], isrc, idst, proto, sport, dport), info,
                frame.orig_len - off)

    def _miss(self, frame: Frame, hkey: bytes) -> SrInfo | None:
        """First packet with this header: the Inspector decides, the cache remembers."""
        result = self.inspector.feed(frame)
        if result is None:
            return None
        info = info_from_result(result)
        cache = self._cache
        if len(cache) >= self.cache_size:
            del cache[next(iter(cache))]
        cache[hkey] = info
        self.cache_misses += 1
        return info

    def _slow(self, frame: Frame) -> Decoded | None:
        result = self.inspector.feed(frame)
        if result is None:
            return None
        self.srv6 += 1
        nbytes = max(frame.orig_len - result.ip.offset, 0)
        return key_from_result(result), info_from_result(result), nbytes


Upper = tuple[bytes, bytes, int, int | None, int | None]


def _upper(data: bytes, s: int, nxt: int, pend: int) -> Upper | None:
    """(inner source, inner destination, protocol, source port, destination port) of what
    follows the SRv6 header at ``s``: the inner packet's 5-tuple when encapsulated (b""
    addresses inline), ports as ``ipv6.transport_ports`` gives them; None when only the full
    decoder can say (an inner header cut short, more headers, L2 encapsulation)."""
    if nxt == NH_IPV6:
        if s + 44 <= pend:  # the common case: fixed header and ports in one unpack
            vtf, iplen, proto, isrc, idst, sport, dport = _INNER6.unpack_from(data, s)
        elif s + IPV6_HEADER <= pend:
            vtf, iplen, proto, isrc, idst = _INNER6_FIXED.unpack_from(data, s)
            sport = dport = -1
        else:
            return None
        if vtf >> 28 != 6 or proto in MORE_HEADERS:
            return None
        l4 = s + IPV6_HEADER
        limit = pend if iplen == 0 or l4 + iplen > pend else l4 + iplen
        if proto in PORT_PROTOCOLS and l4 + 4 <= limit:
            return isrc, idst, proto, sport, dport  # already read
    elif nxt == NH_IPV4:
        if s + IPV4_FIXED.size > pend or data[s] >> 4 != 4:
            return None
        vihl, _tos, total, _id, _frag, _ttl, proto, _sum, isrc, idst = IPV4_FIXED.unpack_from(
            data, s)
        limit = pend if total == 0 else min(pend, s + total)
        l4 = s + max((vihl & 0x0F) << 2, IPV4_FIXED.size)
    elif nxt in CHAIN_HEADERS or nxt == NH_ETHERNET:
        return None  # L2 encapsulation: the inner frame's 5-tuple
    else:
        proto, isrc, idst, limit, l4 = nxt, b"", b"", pend, s
    if proto in PORT_PROTOCOLS and l4 + 4 <= limit:
        sport, dport = PORTS.unpack_from(data, l4)
    elif proto in ICMP_PROTOCOLS and l4 + 2 <= limit:
        sport, dport = data[l4], data[l4 + 1]
    else:
        sport = dport = _uncaptured_ports(proto)
    return isrc, idst, proto, sport, dport


def _uncaptured_ports(proto: int) -> int | None:
    """Ports of a header that is not there: None when the protocol has ports (they were cut
    off, so unknown), 0 when it has none (transport_ports' convention)."""
    return None if proto in PORT_PROTOCOLS or proto in ICMP_PROTOCOLS else 0


class FlowMonitor:
    """Frames in; flow table, link load and counters updated. Still no I/O and no clock.

    The one loop body shared by ``srinspect flows``, ``srinspect watch`` and the TUI.
    """

    def __init__(self, table: FlowTable, decoder: FlowDecoder, links: LinkLoad) -> None:
        self.table = table
        self.decoder = decoder
        self.links = links

    def feed(self, frame: Frame) -> None:
        self.links.add(frame)
        decoded = self.decoder.decode(frame)
        if decoded is not None:
            key, info, nbytes = decoded
            self.table.add(frame.ts, frame.interface, key, info, nbytes, frame.number)
