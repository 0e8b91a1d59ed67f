"""Example user cases: the SRH HMAC TLV, written with scapy.

scapy's own ``IPv6ExtHdrSegmentRoutingTLVHMAC`` writes a 2-byte Length (wrong by 42) and
reads correct HMAC TLVs wrongly, so these cases use ``SRv6HmacTLV`` from
``conformance.casefile``, and ``t.sign(pkt)`` fills in the MAC with the DUT's key (the
profile's computation: draft-04/Linux, or RFC 8754). They need the ``hmac-key`` capability.
"""

from scapy.layers.inet6 import IPv6, IPv6ExtHdrSegmentRouting

from conformance.casefile import SRv6HmacTLV, advanced, case, dropped, forwarded

HMAC = ("srv6", "hmac-key")


def _signed_packet(t, *, corrupt=False, key_id=None):
    srh = IPv6ExtHdrSegmentRouting(addresses=[t.down(2), t.dut], segleft=1, hmac=1,
                                   tlv_objects=[SRv6HmacTLV(keyid=key_id or 0)])
    pkt = IPv6(src=t.sender, dst=t.dut) / srh / t.inner(t.down(2))
    return t.sign(pkt, key_id=key_id, corrupt=corrupt)


@case("scapy-hmac-valid", rule="node.hmac.valid", levels={"draft-04": "MUST"}, needs=HMAC,
      summary="H flag and an HMAC TLV that verifies: processed like any SRH",
      ref="draft-04 s5.2; RFC 8754 s2.1.2.1")
def hmac_valid(t):
    return _signed_packet(t), advanced()


@case("scapy-hmac-corrupt-drop", rule="node.hmac.invalid", levels={"draft-04": "MUST"},
      needs=HMAC, summary="one bit of the MAC flipped: the packet is dropped",
      ref="draft-04 s5.2")
def hmac_corrupt(t):
    return _signed_packet(t, corrupt=True), dropped()


@case("scapy-hmac-unknown-key", rule="node.hmac.invalid", levels={"draft-04": "MUST"},
      needs=HMAC, summary="HMAC under a key id the DUT does not know: dropped",
      ref="draft-04 s5.2")
def hmac_unknown_key(t):
    return _signed_packet(t, key_id=t.unknown_key_id), dropped()


@case("scapy-transit-bad-hmac", rule="node.transit.unchanged", levels="MUST", needs=HMAC,
      summary="not addressed to the DUT, bogus HMAC: transit nodes do not verify",
      ref="draft-04 s5.2; RFC 8754 s2.1.2.1")
def transit_bad_hmac(t):
    srh = IPv6ExtHdrSegmentRouting(addresses=[t.down(2), t.down(1)], segleft=1, hmac=1,
                                   tlv_objects=[SRv6HmacTLV(keyid=1, hmac=b"\xa5" * 32)])
    return IPv6(src=t.sender, dst=t.down(1)) / srh / t.inner(t.down(2)), forwarded()
