"""A correct SRH HMAC TLV for scapy, and HMACs computed by srinspect's core for scapy packets.

scapy 2.8's ``IPv6ExtHdrSegmentRoutingTLVHMAC`` writes its Length as a 2-byte field worth
len(HMAC)+48 (a ``FieldLenField`` without ``fmt``), so every byte after the Type is shifted and
the Length is wrong by 42; it reads correct HMAC TLVs just as wrongly, so scapy round-trips its
own packets and the mistake stays hidden (spec ``srh-rules.md`` section 6). ``SRv6HmacTLV``
lays the TLV out as draft-04 s3.1.5 and RFC 8754 s2.1.2 do:
``Type 5 | Length (1 byte) | D (1 bit) + reserved (15) | key id (4) | HMAC``, Length = 6 +
len(HMAC). The MAC itself is computed by ``srinspect.keys`` (the code that verifies captures),
never by a second implementation: ``sign`` fills it in over the packet's built bytes.

Importing this module does not change scapy; ``use_for_dissection()`` makes scapy decode type
5 TLVs with this class (a process-wide change, so it is the caller's choice).
"""

from __future__ import annotations

from scapy.fields import BitField, ByteEnumField, FieldLenField, IntField, StrLenField
from scapy.layers.inet6 import IPv6ExtHdrSegmentRoutingTLV
from scapy.packet import Packet

from srinspect.ipv6 import pull_ipv6
from srinspect.keys import (
    Key,
    compute_draft04,
    compute_rfc8754,
    hmac_text_draft04,
    hmac_text_rfc8754,
)
from srinspect.rules import Profile
from srinspect.srh import TLV_HMAC

HMAC_FIXED = 6  # D+reserved (2) and key id (4) before the MAC
DEFAULT_MAC = bytes(32)


class SRv6HmacTLV(IPv6ExtHdrSegmentRoutingTLV):
    """The SRH HMAC TLV with a one-byte Length (use it in ``tlv_objects`` instead of scapy's
    ``IPv6ExtHdrSegmentRoutingTLVHMAC``). ``len`` defaults to 6 + len(hmac); set it to build
    a wrong Length on purpose."""

    name = "SRH HMAC TLV (draft-04 s3.1.5, RFC 8754 s2.1.2)"
    fields_desc = [ByteEnumField("type", TLV_HMAC, {TLV_HMAC: "HMAC TLV"}),
                   FieldLenField("len", None, length_of="hmac", fmt="B",
                                 adjust=lambda _pkt, n: n + HMAC_FIXED),
                   BitField("D", 0, 1),
                   BitField("reserved", 0, 15),
                   IntField("keyid", 0),
                   StrLenField("hmac", DEFAULT_MAC,
                               length_from=lambda pkt: max(pkt.len - HMAC_FIXED, 0))]

    @classmethod
    def register_variant(cls) -> None:
        """Do not take over scapy's dissection of type 5 on import (see module docstring)."""


def use_for_dissection() -> None:
    """Make scapy dissect HMAC TLVs (type 5) with ``SRv6HmacTLV`` from now on."""
    IPv6ExtHdrSegmentRoutingTLV.registered_sr_tlv[TLV_HMAC] = SRv6HmacTLV


class SignError(ValueError):
    """The packet has no SRH, or its SRH no complete HMAC TLV, to sign."""


def sign(packet: Packet | bytes, key: Key, *, profile: Profile = Profile.DRAFT04,
         corrupt: bool = False) -> bytes:
    """The packet's bytes with the MAC of its first SRH's HMAC TLV computed with ``key``.

    The text covers the fields as they are in the built packet (source address, First
    Segment/Last Entry, flags, the TLV's key id and D bit, the segment list), so set them
    first. The MAC fills the TLV's HMAC field, whose length is left as built. ``corrupt``
    flips one bit of it, for negative cases.
    """
    data = bytearray(bytes(packet))
    ip = pull_ipv6(bytes(data), 0, len(data), pad1=profile is not Profile.DRAFT04)
    if ip is None or not ip.srhs:
        raise SignError("the packet has no SRH to sign")
    srh = ip.srhs[0]
    tlv = next((t for t in srh.tlvs if t.type == TLV_HMAC), None)
    fields = tlv.hmac_fields() if tlv is not None and tlv.complete else None
    if tlv is None or fields is None:
        raise SignError("the SRH has no complete HMAC TLV (add SRv6HmacTLV to tlv_objects)")
    d_bit, reserved, key_id, old_mac = fields
    segments = [bytes(s) for s in srh.segments]
    if profile is Profile.DRAFT04:
        mac = compute_draft04(key, hmac_text_draft04(ip.src, srh.first_segment, srh.flags,
                                                     key_id, segments))
    else:
        word = (d_bit << 15) | reserved
        mac = compute_rfc8754(key, hmac_text_rfc8754(ip.src, srh.first_segment, srh.flags,
                                                     word, key_id, segments))
    mac = mac[: len(old_mac)].ljust(len(old_mac), b"\x00")
    if corrupt and mac:
        mac = bytes([mac[0] ^ 0x01]) + mac[1:]
    start = tlv.value_offset + HMAC_FIXED
    data[start : start + len(mac)] = mac
    return bytes(data)
