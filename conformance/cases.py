"""The conformance catalogue: one table row per case, built from small functions.

Every node rule of spec section 5 (``../shared/spec/srh-rules.md``) has at least one case;
the ``rule`` column is that section's rule ID (a public contract: it names JUnit classes and
JSON entries). ``levels`` says how binding the rule is per profile; ``unspecified`` is
informational (reported, never scored). To add a case: write a ``build`` function returning
``Send`` packets (use ``Ctx`` builders so payloads carry tags) and an ``expect`` function
returning an expectation from ``expect.py``, then add a ``Case`` row to ``CASES`` (SRH
rules, here) or to ``BEHAVIOUR_CASES`` (RFC 8986/9800 behaviours, ``behaviours.py``);
shared shortcuts are in ``casekit.py``.

Conventions: ``T`` is the topology; ``D1..D5`` are addresses the DUT routes out of ``rx``;
segment lists are written in wire order ([0] is the final destination).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from srinspect.build import ipv6_packet
from srinspect.frame import Frame
from srinspect.inspector import Inspector, PacketResult
from srinspect.keys import Keyring
from srinspect.linklayer import LINKTYPE_RAW
from srinspect.srh import FLAG_H, SrhSpec, hmac_tlv, node_tlv, padding_tlv, push_srh, tlv

from .behaviours import BEHAVIOUR_CASES
from .case import Case
from .casekit import (
    BOTH_MUST,
    D04,
    ICMP_PARAM_PROBLEM,
    ICMP_TIME_EXCEEDED,
    PP_ERRONEOUS_FIELD,
    PP_SR_UPPER_LAYER,
    M,
    S,
    U,
    headend_care,
    lv,
    needs,
    one,
    policy_packet,
    probe,
)
from .expect import Answered, AnyOf, Dropped, Expectation, Forwarded, IcmpErr, RateLimited
from .model import Send
from .packets import (
    NH_ICMPV6,
    NH_ROUTING,
    NH_UDP,
    Ctx,
    advance,
    dec_hl,
    decap,
    encapsulated,
    inline,
    routing_header,
    srh_len,
)

PTR_ROUTING_TYPE, PTR_SEGMENTS_LEFT = 42, 43  # with the routing header right after IPv6


HMAC_TLV_BYTES = 40


def _transit(c: Ctx, sl: int = 2, **srh: Any) -> bytes:
    T = c.topo
    return c.srv6([T.down(3), T.down(2), T.down(1)], sl, dst=T.down(1), **srh)


def transit_unchanged(c: Ctx, sent: list[Send]) -> Expectation:
    return Forwarded(dec_hl(probe(sent)), "forwarded, SRH byte-identical, Hop Limit-1, no ICMP")


def _endpoint(c: Ctx, **kw: Any) -> bytes:
    T = c.topo
    return c.srv6([T.down(3), T.down(2), T.dut], 2, **kw)


def advanced(c: Ctx, sent: list[Send]) -> Expectation:
    return Forwarded(advance(probe(sent)),
                     "SL-1, DA = Segment List[SL], Hop Limit-1, rest of the SRH unchanged")


def _fields(c: Ctx) -> bytes:
    T = c.topo
    tlvs = (node_tlv(1, T.sender), node_tlv(2, T.down(3)), node_tlv(3, "2001:db8::cafe"),
            padding_tlv(4))
    return _endpoint(c, flags=0x50, reserved=0x1234, tlvs=tlvs)


def _final_echo(c: Ctx) -> bytes:
    T = c.topo
    return c.srv6([T.dut, T.down(1)], 0, inner=c.echo(T.dut), next_header=NH_ICMPV6)


def final_answered(c: Ctx, sent: list[Send]) -> Expectation:
    if c.profile is D04:
        return Answered()
    # RFC 8754 s4.3.1.2: upper-layer processing if local policy allows it, else PP code 4
    # pointing at the upper-layer header.
    upper = 40 + srh_len(probe(sent))
    return AnyOf((Answered(), IcmpErr(ICMP_PARAM_PROBLEM, PP_SR_UPPER_LAYER, upper)))


def _decap(c: Ctx) -> bytes:
    T = c.topo
    return c.srv6([T.dut, T.down(1)], 0, inner=c.inner(T.down(5)))


def decapsulated(c: Ctx, sent: list[Send]) -> Expectation:
    return Forwarded(decap(probe(sent)), "inner packet forwarded, inner Hop Limit-1")


def pp(pointer: int) -> Callable[[Ctx, list[Send]], Expectation]:
    return lambda c, sent: IcmpErr(ICMP_PARAM_PROBLEM, PP_ERRONEOUS_FIELD, pointer)


def time_exceeded(c: Ctx, sent: list[Send]) -> Expectation:
    return IcmpErr(ICMP_TIME_EXCEEDED, 0)


def _hmac(c: Ctx, **kw: Any) -> bytes:
    T = c.topo
    return c.srv6_hmac([T.down(2), T.dut], 1, **kw)


def hmac_pp(c: Ctx, sent: list[Send]) -> Expectation:
    pkt = probe(sent)
    return IcmpErr(ICMP_PARAM_PROBLEM, PP_ERRONEOUS_FIELD, 40 + srh_len(pkt) - HMAC_TLV_BYTES)


def dropped(c: Ctx, sent: list[Send]) -> Expectation:
    return Dropped()


def _rtype(rtype: int, sl: int) -> Callable[[Ctx], bytes]:
    def build(c: Ctx) -> bytes:
        T = c.topo
        if sl == 0:
            rh = routing_header(rtype, 0, [T.down(1)], next_header=NH_ICMPV6)
            return _to_dut(c, T.dut, rh + c.echo(T.dut))
        return _to_dut(c, T.dut, routing_header(rtype, sl, [T.down(1)]) + c.inner(T.down(1)))
    return build


def _to_dut(c: Ctx, dst: str, payload: bytes, next_header: int = NH_ROUTING) -> bytes:
    """An IPv6 packet from the sender whose payload starts with a hand-built routing header."""
    return ipv6_packet(c.topo.sender, dst, next_header, payload)


def _malformed_burst(c: Ctx) -> list[Send]:
    T = c.topo
    segs = [T.down(2), T.down(1), T.dut]
    bad: list[bytes] = [
        c.srv6(segs, 2, hdr_ext_len=2),  # list does not fit
        c.srv6(segs, 2, hdr_ext_len=255),  # header runs past the packet
        c.srv6(segs, 2, first_segment=200),  # Last Entry beyond the header
        c.srv6(segs, 200, dst=T.dut),  # Segments Left out of range
        c.srv6(segs, 2, tlvs=(tlv(7, bytes(14), length=200),)),  # TLV overrun
        c.srv6(segs, 2, flags=FLAG_H, tlvs=(hmac_tlv(1, bytes(32)),)),  # bogus HMAC
        c.srv6(["ff02::1", T.dut], 1),  # multicast next segment
        c.srv6(["::1", T.dut], 1),  # loopback next segment
        c.srv6(["::", T.dut], 1),  # unspecified next segment
        ipv6_packet(T.sender, T.dut, NH_ROUTING, push_srh(SrhSpec(segs, 2))[:8] + c.tag()),
        ipv6_packet(T.sender, T.dut, NH_ROUTING, b""),  # no routing header at all
        ipv6_packet(T.sender, T.dut, NH_ROUTING, c.srv6(segs, 2)[40:], payload_length=400),
    ]
    burst = [Send(p, "burst") for _ in range(3) for p in bad]
    good = c.srv6([T.down(2), T.dut], 1)
    return [*burst, Send(good, "probe")]


def survives(c: Ctx, sent: list[Send]) -> Expectation:
    return Forwarded(advance(probe(sent)), "a valid packet after the burst is still processed "
                     "(SL-1, DA updated, Hop Limit-1)")


def _ratelimit_burst(c: Ctx) -> list[Send]:
    """40 error-triggering packets from a source the DUT has not answered before, so a per-
    destination limiter starts from a full bucket whatever the earlier cases did."""
    T = c.topo
    src = c.fresh_source()
    return [Send(c.srv6([T.down(1), T.dut], 200, dst=T.dut, src=src), "burst")
            for _ in range(40)]


def headend_encap(c: Ctx, sent: list[Send]) -> Expectation:
    pol = c.topo.policies["encap"]
    exp = encapsulated(pol.source or "::", pol.segments, probe(sent))
    return Forwarded(exp, "outer IPv6 + SRH to the first segment, list reversed, SL = FS = n-1,"
                     " Next Header 41, original packet inside",
                     dont_care=headend_care(c, "encap"))


def headend_inline(c: Ctx, sent: list[Send]) -> Expectation:
    pol = c.topo.policies["inline"]
    exp = dec_hl(inline(probe(sent), pol.segments))
    return Forwarded(exp, "SRH inserted after the original header, [0] = original DA, "
                     "DA = first segment, Hop Limit-1")


def hmac_verifies(c: Ctx) -> Callable[[bytes], str | None]:
    """A check that the packet's SRH carries an HMAC TLV that verifies with the DUT key,
    using the core inspector (the same code that audits captures)."""
    key = c.topo.hmac_key
    ring = Keyring([key] if key else [])
    core_profile = c.hmac_profile

    def check(pkt: bytes) -> str | None:
        result = Inspector(core_profile, ring).feed(Frame(1, 0.0, LINKTYPE_RAW, pkt, len(pkt)))
        if not isinstance(result, PacketResult) or not result.hmacs:
            return "no HMAC TLV in the SRH"
        statuses = [h.status for h in result.hmacs]
        if "verified" in statuses:
            return None
        return f"HMAC TLV does not verify ({core_profile} computation): {', '.join(statuses)}"
    return check


def headend_hmac(c: Ctx, sent: list[Send]) -> Expectation:
    pol = c.topo.policies["hmac"]
    # the TLV area is the HMAC check's business; RFC 8754 leaves the flags undefined
    care = headend_care(c, "hmac", ("ipv6.payload_length", "srh.hdr_ext_len", "srh.tlvs",
                                    *(("srh.flags",) if c.profile is not D04 else ())))
    exp = encapsulated(pol.source or "::", pol.segments, probe(sent), flags=FLAG_H)
    return Forwarded(exp, "encapsulated as by the policy, with an HMAC TLV that verifies with"
                     " the key", dont_care=care, checks=(hmac_verifies(c),))


CASES: tuple[Case, ...] = (
    # transit
    Case("transit-valid", "node.transit.unchanged", BOTH_MUST,
         "SRH packet to an address beyond the DUT is forwarded untouched",
         one(_transit), transit_unchanged, ref="draft-04 s4.2; RFC 8754 s4.2"),
    Case("transit-segleft-range", "node.transit.unchanged", BOTH_MUST,
         "transit with SL > FS: not the DUT's business, forwarded untouched",
         one(lambda c: _transit(c, sl=9)), transit_unchanged, ref="RFC 8754 s4.2"),
    Case("transit-hdrlen-short", "node.transit.unchanged", BOTH_MUST,
         "transit with a Hdr Ext Len too short for the list: forwarded untouched",
         one(lambda c: _transit(c, hdr_ext_len=2)), transit_unchanged, ref="RFC 8754 s4.2"),
    Case("transit-tlv-overrun", "node.transit.unchanged", BOTH_MUST,
         "transit with a TLV running past the SRH: forwarded untouched",
         one(lambda c: _transit(c, tlvs=(tlv(7, bytes(14), length=200),))),
         transit_unchanged, ref="RFC 8754 s4.2"),
    Case("transit-bad-hmac", "node.transit.unchanged", BOTH_MUST,
         "transit with a bogus HMAC TLV: transit nodes do not verify, forwarded untouched",
         one(lambda c: _transit(c, flags=FLAG_H, tlvs=(hmac_tlv(1, b"\xa5" * 32),))),
         transit_unchanged, ref="draft-04 s5.2; RFC 8754 s2.1.2.1"),
    Case("transit-hoplimit", "node.hoplimit", BOTH_MUST,
         "transit SRH packet with Hop Limit 1: Time Exceeded",
         one(lambda c: c.srv6([c.topo.down(2), c.topo.down(1)], 1, hop_limit=1)),
         time_exceeded, needs=frozenset(), ref="RFC 8200 s3; RFC 4443 s3.3"),
    # endpoint
    Case("endpoint-advance", "node.endpoint.advance", BOTH_MUST,
         "DA = DUT, SL=2 of 3: SL-1, DA = Segment List[1], Hop Limit-1",
         one(_endpoint), advanced, ref="draft-04 s4.3; RFC 8754 s4.3.1.1"),
    Case("endpoint-advance-last", "node.endpoint.advance", BOTH_MUST,
         "DA = DUT, SL=1 of 2: SL becomes 0, DA = Segment List[0]",
         one(lambda c: c.srv6([c.topo.down(2), c.topo.dut], 1)), advanced,
         ref="draft-04 s4.3; RFC 8754 s4.3.1.1"),
    Case("endpoint-advance-inline", "node.endpoint.advance", BOTH_MUST,
         "DA = DUT, SRH directly followed by UDP (inline mode): advanced the same way",
         one(lambda c: c.srv6([c.topo.down(2), c.topo.dut], 1, next_header=NH_UDP,
                              inner=c.udp(c.topo.sender, c.topo.down(2)))), advanced,
         ref="draft-04 s4.3; RFC 8754 s4.3.1.1"),
    Case("endpoint-fields", "node.endpoint.fields", BOTH_MUST,
         "flags, Reserved/Tag, TLVs, FS and the list survive the endpoint unchanged",
         one(_fields), advanced, ref="draft-04 s4.3; RFC 8754 s4.3.1.1"),
    Case("endpoint-final-echo", "node.endpoint.final", BOTH_MUST,
         "DA = DUT, SL=0, Echo Request: the DUT processes the upper layer and replies",
         one(_final_echo), final_answered, ref="draft-04 s4.3; RFC 8754 s4.3.1.2"),
    Case("endpoint-decap", "node.endpoint.decap", lv(U, U),
         "DA = DUT, SL=0, Next Header 41: the inner packet is decapsulated and forwarded",
         one(_decap), decapsulated, ref="RFC 8754 s4.3.1.2 (if local configuration permits)"),
    Case("endpoint-hoplimit", "node.hoplimit", BOTH_MUST,
         "DA = DUT, SL=1, Hop Limit 1: Time Exceeded instead of forwarding",
         one(lambda c: c.srv6([c.topo.down(2), c.topo.dut], 1, hop_limit=1)), time_exceeded,
         ref="RFC 8200 s3; RFC 8754 s4.3.1.1"),
    # bounds
    Case("segleft-out-of-range", "node.segleft.bounds", lv(U, M),
         "SL=200 with 2 segments: Parameter Problem pointing at Segments Left",
         one(lambda c: c.srv6([c.topo.down(1), c.topo.dut], 200, dst=c.topo.dut)),
         pp(PTR_SEGMENTS_LEFT), ref="RFC 8754 s4.3.1.1"),
    Case("segleft-reduced", "node.segleft.bounds", lv(U, M),
         "SL=2 of 2 (LE=1) is a legal reduced SRH: SL-1, DA = Segment List[1]",
         one(lambda c: c.srv6([c.topo.down(2), c.topo.down(1)], 2, dst=c.topo.dut)),
         advanced, ref="RFC 8754 s4.1.1, s4.3.1.1"),
    Case("segleft-beyond-last-entry", "node.segleft.bounds", lv(U, M),
         "SL=2 with LE=0 but 3 segments on the wire: SL > LE+1, Parameter Problem",
         one(lambda c: c.srv6([c.topo.down(2), c.topo.down(1), c.topo.dut], 2,
                              first_segment=0)),
         pp(PTR_SEGMENTS_LEFT), ref="RFC 8754 s4.3.1.1"),
    Case("lastentry-out-of-range", "node.lastentry.bounds", lv(U, M),
         "LE=5 > Hdr Ext Len/2-1 with SL=1: Parameter Problem pointing at Segments Left",
         one(lambda c: c.srv6([c.topo.down(1), c.topo.dut], 1, first_segment=5)),
         pp(PTR_SEGMENTS_LEFT), ref="RFC 8754 s4.3.1.1"),
    # HMAC
    Case("hmac-valid", "node.hmac.valid", BOTH_MUST,
         "correct HMAC with the DUT's key: processed as an endpoint",
         one(_hmac), advanced, needs=needs("srv6", "hmac-key"),
         ref="draft-04 s5.2; RFC 8754 s2.1.2.1"),
    Case("hmac-invalid-drop", "node.hmac.invalid", lv(M, S),
         "wrong HMAC with the DUT's key id: dropped",
         one(lambda c: _hmac(c, corrupt=True)), dropped, needs=needs("srv6", "hmac-key"),
         ref="draft-04 s5.2; RFC 8754 s2.1.2.1"),
    Case("hmac-invalid-icmp", "node.hmac.invalid", lv(S, S),
         "wrong HMAC: Parameter Problem code 0 pointing at the HMAC TLV",
         one(lambda c: _hmac(c, corrupt=True)), hmac_pp, needs=needs("srv6", "hmac-key"),
         ref="RFC 8754 s2.1.2.1"),
    Case("hmac-unknown-key", "node.hmac.invalid", lv(M, S),
         "HMAC under a key id the DUT does not know: cannot verify, dropped",
         one(lambda c: _hmac(c, key_id=c.topo.unknown_key_id)), dropped,
         needs=needs("srv6", "hmac-key"), ref="draft-04 s5.2; RFC 8754 s2.1.2.1"),
    Case("hmac-required-missing", "node.hmac.required", lv(M, U),
         "ingress requires an HMAC, packet has none: dropped",
         one(lambda c: c.srv6([c.topo.down(2), c.topo.dut], 1)), dropped,
         needs=needs("srv6", "require-hmac"), ref="draft-04 s5.3"),
    Case("hmac-required-valid", "node.hmac.required", lv(M, U),
         "ingress requires an HMAC, packet has a correct one: processed",
         one(_hmac), advanced, needs=needs("srv6", "require-hmac", "hmac-key"),
         ref="draft-04 s5.3"),
    # SR disabled
    Case("sr-disabled-sl0", "node.sr.disabled", BOTH_MUST,
         "SR disabled, SL=0: the SRH is ignored and the Echo Request answered",
         one(_final_echo), lambda c, s: Answered(), needs=needs("sr-disabled"),
         ref="draft-04 s5; RFC 8200 s4.4"),
    Case("sr-disabled-drop", "node.sr.disabled", BOTH_MUST,
         "SR disabled, SL=1: discarded",
         one(lambda c: c.srv6([c.topo.down(2), c.topo.dut], 1)), dropped,
         needs=needs("sr-disabled"), ref="draft-04 s5; RFC 8200 s4.4"),
    Case("sr-disabled-icmp", "node.sr.disabled", lv(U, M),
         "SR disabled, SL=1: Parameter Problem pointing at the Routing Type",
         one(lambda c: c.srv6([c.topo.down(2), c.topo.dut], 1)), pp(PTR_ROUTING_TYPE),
         needs=needs("sr-disabled"), ref="draft-04 s5 (MAY); RFC 8200 s4.4"),
    # unknown routing types
    Case("rtype0-sl1", "node.rtype.unknown", BOTH_MUST,
         "Routing Type 0 (deprecated) with SL=1: Parameter Problem pointing at the type",
         one(_rtype(0, 1)), pp(PTR_ROUTING_TYPE), needs=frozenset(),
         ref="RFC 8200 s4.4; RFC 5095"),
    Case("rtype33-sl1", "node.rtype.unknown", BOTH_MUST,
         "unknown Routing Type 33 with SL=1: Parameter Problem pointing at the type",
         one(_rtype(33, 1)), pp(PTR_ROUTING_TYPE), needs=frozenset(), ref="RFC 8200 s4.4"),
    Case("rtype33-sl0", "node.rtype.unknown", BOTH_MUST,
         "unknown Routing Type 33 with SL=0: ignored, the Echo Request is answered",
         one(_rtype(33, 0)), lambda c, s: Answered(), needs=frozenset(),
         ref="RFC 8200 s4.4"),
    # robustness
    Case("malformed-burst-survives", "node.malformed.survives", BOTH_MUST,
         "36 truncated/malformed SRHs to the DUT, then a valid one: still processed",
         _malformed_burst, survives, ref="draft-04 s4.3; RFC 8754 s4.3.1.1"),
    Case("icmp-ratelimit", "node.icmp.ratelimit", lv(S, S),
         "40 packets with SL out of range: the ICMPv6 errors are rate-limited",
         _ratelimit_burst, lambda c, s: RateLimited(), needs=needs("srv6", "icmp-ratelimit"),
         ref="RFC 4443 s2.4(f); RFC 8754 s4.3.1.1"),
    # headend
    Case("headend-encap", "headend.encap", BOTH_MUST,
         "encap policy: outer IPv6 + SRH (list reversed, SL = FS = n-1, NH 41)",
         one(policy_packet("encap")), headend_encap, needs=needs("policy:encap"),
         ref="draft-04 s4.1; RFC 8754 s4.1"),
    Case("headend-inline", "headend.inline", lv(U, U),
         "inline policy: SRH inserted after the original header, [0] = original DA",
         one(policy_packet("inline")), headend_inline, needs=needs("policy:inline"),
         ref="draft-04 s4.1 (Linux inline mode)"),
    Case("headend-hmac", "headend.hmac", BOTH_MUST,
         "encap policy with an HMAC key: the HMAC TLV verifies with that key",
         one(policy_packet("hmac")), headend_hmac, needs=needs("policy:hmac", "hmac-key"),
         ref="draft-04 s5.2; RFC 8754 s2.1.2.1"),
    # rfc8986 behaviours (Linux seg6local)
    *BEHAVIOUR_CASES,
)


BY_ID: dict[str, Case] = {case.id: case for case in CASES}


assert len(BY_ID) == len(CASES), "case IDs must be unique"

