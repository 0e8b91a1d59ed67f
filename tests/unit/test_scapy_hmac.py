"""scapy 2.8's SRH HMAC TLV is wrong on the wire (spec section 6); srinspect's is not.

``IPv6ExtHdrSegmentRoutingTLVHMAC`` declares its Length as a ``FieldLenField`` with no ``fmt``
(so two bytes) and ``adjust=x + 48``: it writes ``05 00 50`` where draft-04 and RFC 8754 want
``05 26``. scapy decodes with the same mistake, so it round-trips its own packets and misreads
correct ones. These tests pin both directions so nobody "simplifies" the builder to scapy.
"""

from __future__ import annotations

from scapy.layers.inet6 import IPv6, IPv6ExtHdrSegmentRouting, IPv6ExtHdrSegmentRoutingTLVHMAC

from srinspect.build import inner_udp, srv6_packet, with_hmac
from srinspect.findings import HMAC_VERIFIED
from srinspect.frame import Frame
from srinspect.inspector import Inspector, PacketResult
from srinspect.keys import Key, Keyring, compute_draft04, hmac_text_draft04
from srinspect.rules import Profile
from srinspect.srh import SrhSpec
from srinspect.wire import parse_ip6

LINKTYPE_RAW = 101
SRC = "2001:db8:a::1"
SEGS = ["2001:db8:f::1", "2001:db8:3::1", "2001:db8:2::1"]  # wire order
KEY = Key(1, "sha256", b"scapy-vs-srinspect")
TLV_ERRORS = {"srh.tlv.length", "srh.tlv.overrun", "srh.hmac.missing"}


def _correct_mac() -> bytes:
    """The draft-04 HMAC of the packet below (H flag set, key id 1)."""
    text = hmac_text_draft04(parse_ip6(SRC), 2, 0x08, KEY.key_id, [parse_ip6(s) for s in SEGS])
    return compute_draft04(KEY, text)


def _scapy_packet() -> bytes:
    tlv = IPv6ExtHdrSegmentRoutingTLVHMAC(hmackeyid=KEY.key_id, hmac=_correct_mac())
    srh = IPv6ExtHdrSegmentRouting(addresses=SEGS, segleft=1, hmac=1, nh=41, tlv_objects=[tlv])
    inner = IPv6(inner_udp("2001:db8:a::100", "2001:db8:f::100"))
    return bytes(IPv6(src=SRC, dst=SEGS[1]) / srh / inner)


def _srinspect_packet() -> bytes:
    return srv6_packet(SRC, with_hmac(SrhSpec(SEGS, segments_left=1), SRC, KEY),
                       inner_udp("2001:db8:a::100", "2001:db8:f::100"))


def _feed(data: bytes, profile: Profile = Profile.DRAFT04) -> PacketResult:
    result = Inspector(profile, Keyring([KEY])).feed(Frame(1, 0.0, LINKTYPE_RAW, data,
                                                           len(data)))
    assert result is not None and result.srh is not None
    return result


def test_scapy_hmac_tlv_has_a_two_byte_length() -> None:
    raw = bytes(IPv6ExtHdrSegmentRoutingTLVHMAC(hmackeyid=1, hmac=bytes(32)))
    assert len(raw) == 41  # one byte more than the 40 the spec defines
    assert raw[:3] == b"\x05\x00\x50"  # Type 5, Length 0x0050 = 32 + 48 in two bytes
    assert raw[1] != 38


def test_srinspect_reports_the_scapy_packet_as_malformed() -> None:
    data = _scapy_packet()
    srh_bytes = data[40:]
    assert srh_bytes[2] == 4 and srh_bytes[5] == 0x08  # an SRH with the H flag, as asked
    result = _feed(data)
    rules = {f.rule for f in result.findings}
    assert rules & TLV_ERRORS, rules
    # The first TLV is read as Type 5 with Length 0 (the high byte of scapy's 0x0050).
    first = result.srh.tlvs[0]
    assert (first.type, first.length) == (5, 0)
    assert not any(h.status == HMAC_VERIFIED for h in result.hmacs)


def test_srinspect_reports_the_scapy_packet_as_malformed_under_rfc8754() -> None:
    rules = {f.rule for f in _feed(_scapy_packet(), Profile.RFC8754).findings}
    assert rules & {"srh.tlv.length", "srh.tlv.overrun"}, rules


def test_srinspect_packet_verifies() -> None:
    result = _feed(_srinspect_packet())
    assert result.findings == []
    assert [(h.key_id, h.status) for h in result.hmacs] == [(1, HMAC_VERIFIED)]
    tlv = result.srh.tlvs[-1]
    assert (tlv.type, tlv.length, tlv.offset) == (5, 38, result.srh.end - 40)


def test_scapy_misreads_a_correct_hmac_tlv() -> None:
    data = _srinspect_packet()
    mac = _correct_mac()
    ours = _feed(data).srh.tlvs[-1]
    assert ours.hmac_fields() == (0, 0, KEY.key_id, mac)  # what is really on the wire

    theirs = IPv6(data)[IPv6ExtHdrSegmentRoutingTLVHMAC]
    # scapy takes Length and the first reserved byte as one 16-bit Length: 0x2600.
    assert theirs.len == 0x2600 != 38
    # Every field after it is shifted by one byte: the key id is not 1, the MAC is not ours.
    assert theirs.hmackeyid != KEY.key_id
    assert theirs.hmackeyid == int.from_bytes(data[ours.offset + 5:ours.offset + 9], "big")
    assert bytes(theirs.hmac) != mac
    assert bytes(theirs.hmac) == mac[1:]  # it starts one byte late and runs out of bytes


def test_scapy_round_trips_its_own_mistake() -> None:
    """Why a self round-trip proves nothing: scapy decodes what it encoded without complaint."""
    raw = _scapy_packet()
    tlv = IPv6(raw)[IPv6ExtHdrSegmentRoutingTLVHMAC]
    assert tlv.hmackeyid == KEY.key_id
    assert bytes(tlv.hmac) == _correct_mac()
