"""What one decoded SRv6 packet gives a flow: the summary of its SR headers (``SrInfo``,
shared by every packet with the same header bytes, so the table can tell "same header as
last time" by identity) and its flow key (outer source, final destination, inner 5-tuple)."""

from __future__ import annotations

from dataclasses import dataclass

from ..findings import HMAC_MALFORMED, HMAC_MISMATCH, HMAC_UNKNOWN_KEY, HMAC_VERIFIED, Finding
from ..inspector import PacketResult
from ..ipv6 import (
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    NH_ETHERNET,
    NH_IPV4,
    NH_IPV6,
    transport_ports,
)
from .events import FlowKey

# Worst first: the HMAC status a packet with several HMAC TLVs is summarised by.
_HMAC_ORDER = (HMAC_MISMATCH, HMAC_MALFORMED, HMAC_UNKNOWN_KEY, HMAC_VERIFIED)
# An L2-encapsulated frame that carries one of these is keyed on its IP packet.
_IP_ETHERTYPES = frozenset({ETHERTYPE_IPV6, ETHERTYPE_IPV4})


@dataclass(frozen=True, slots=True)
class SrInfo:
    """What the SR headers of a packet say: identical for every packet with the same bytes.

    Shared (and cached by ``FlowDecoder``) between packets, so the table can tell "same
    header as last time" by identity. ``segments`` is the Segment List in SRH order
    (``(DA,)`` for SRv6 without SRH); ``active`` is the DA (the active segment at the
    capture point); ``hmac`` the worst HMAC status of the packet, None without HMAC TLV.
    """

    segments: tuple[bytes, ...]
    active: bytes
    segments_left: int | None
    flags: int | None
    tag: int | None
    has_srh: bool
    findings: tuple[Finding, ...] = ()
    hmac: str | None = None
    list_captured: bool = True  # False: an SRH cut before its Segment List[0]; the (DA,)
    # in ``segments`` then only keys the flow and is not shown as its list


def info_from_result(result: PacketResult) -> SrInfo:
    """The SrInfo of a decoded packet (the steering SRH is the first of the outer chain)."""
    ip = result.ip
    srh = result.srh
    hmac = None
    if result.hmacs:
        statuses = {h.status for h in result.hmacs}
        hmac = next((s for s in _HMAC_ORDER if s in statuses), result.hmacs[0].status)
    if srh is not None and srh.segments:
        segments = tuple(srh.segments)
        if srh.segments_left == srh.first_segment + 1 == len(segments):
            # a reduced SRH (RFC 8754 s4.1.1, H.Encaps.Red): the first segment travels only
            # in the DA, so it is the list's missing last entry (SRH order), or a change of
            # only the first segment would go unseen
            segments = (*segments, ip.dst)
        return SrInfo(segments, ip.dst, srh.value("segments_left"),
                      srh.value("flags"), srh.value("reserved"), True,
                      tuple(result.findings), hmac)
    if srh is None:
        return SrInfo((ip.dst,), ip.dst, None, None, None, False, tuple(result.findings), hmac)
    # an SRH whose list the capture (or Payload Length) cut off: only what was captured
    return SrInfo((ip.dst,), ip.dst, srh.value("segments_left"), srh.value("flags"),
                  srh.value("reserved"), True, tuple(result.findings), hmac, False)


def key_from_result(result: PacketResult) -> FlowKey:
    """The flow key of a decoded packet (see the module docstring)."""
    ip = result.ip
    srh = result.srh
    final = srh.segments[0] if srh is not None and srh.segments else ip.dst
    data = result.frame.data
    inner = result.inner
    if inner is not None:
        proto, sport, dport = transport_ports(data, inner)
        return (ip.src, final, inner.src, inner.dst, proto, sport, dport)
    if ip.upper in (NH_IPV6, NH_IPV4):  # encapsulated, but the inner header is cut short
        return (ip.src, final, b"", b"", ip.upper, None, None)  # ports not captured
    if ip.upper == NH_ETHERNET:  # L2 encapsulation without an IP packet to key on
        l2 = result.l2
        ethertype = l2.get("ethertype") if l2 is not None else None
        ports = 0 if ethertype is not None and ethertype not in _IP_ETHERTYPES else None
        return (ip.src, final, b"", b"", NH_ETHERNET, ports, ports)  # None: cut off
    proto, sport, dport = transport_ports(data, ip)
    return (ip.src, final, b"", b"", proto, sport, dport)
