"""The RFC 8986 behaviours (End and its flavours, End.X/T/DX6/DT6/DT46/DX2, End.B6.Encaps,
H.Encaps.Red) and RFC 9800 NEXT-C-SID as conformance cases: one row per case, scored under
the ``rfc8986`` profile; the kernel's probe SKIPs a case whose behaviour it lacks."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from srinspect.build import ethernet, ipv6_packet, srv6_packet
from srinspect.csid import shift as csid_shift_bytes
from srinspect.srh import SrhSpec

from .case import Case
from .casekit import (
    ICMP_PARAM_PROBLEM,
    NETPROG,
    PP_SR_UPPER_LAYER,
    headend_care,
    needs,
    one,
    policy_packet,
    probe,
)
from .expect import Answered, AnyOf, Expectation, Forwarded, IcmpErr
from .model import Send
from .packets import (
    NH_ICMPV6,
    NH_IPV6,
    NH_UDP,
    SRH_AT,
    Ctx,
    advance,
    dec_hl,
    dec_ttl,
    decap,
    encapsulated,
    pop_srh,
    srh_len,
    with_dst,
)

NH_IPV4 = 4
NH_ETHERNET = 143  # RFC 8986 s10.1: the SRH's Next Header for an Ethernet frame
DX2_DST_MAC, DX2_SRC_MAC = bytes.fromhex("027372000d02"), bytes.fromhex("027372000d01")


def _to_sid(behaviour: str, sl: int = 2) -> Callable[[Ctx], bytes]:
    def build(c: Ctx) -> bytes:
        T = c.topo
        sid = T.sid(behaviour)
        if sl == 0:
            return c.srv6([sid], 0, inner=c.inner(T.down(5)))
        if sl == 1:
            return c.srv6([T.down(2), sid], 1)
        return c.srv6([T.down(2), T.down(1), sid], 2)
    return build


def advanced_on(port: str) -> Callable[[Ctx, list[Send]], Expectation]:
    return lambda c, sent: Forwarded(advance(probe(sent)), "SL-1, DA updated, Hop Limit-1",
                                     port=port)


def decap_on(port: str) -> Callable[[Ctx, list[Send]], Expectation]:
    return lambda c, sent: Forwarded(decap(probe(sent)), "inner packet forwarded, "
                                     "inner Hop Limit-1", port=port)


def b6_encaps(c: Ctx, sent: list[Send]) -> Expectation:
    pol = c.topo.policies["b6"]
    exp = encapsulated(pol.source or "::", pol.segments, advance(probe(sent)))
    care: tuple[str, ...] = ("ipv6.hop_limit", "ipv6.flow_label", "ipv6.traffic_class")
    care += () if pol.source else ("ipv6.src",)
    return Forwarded(exp, "original SRH advanced (SL-1, DA, Hop Limit-1), then a new outer "
                     "IPv6 + SRH with the policy's segments", dont_care=care)


def psp(c: Ctx, sent: list[Send]) -> Expectation:
    return Forwarded(pop_srh(advance(probe(sent))), "SL 1->0, DA updated, Hop Limit-1, SRH "
                     "popped (Next Header and Payload Length adjusted)")


def _end_sl0(c: Ctx) -> bytes:
    return _end_sl0_to("End")(c)


def _end_sl0_to(behaviour: str) -> Callable[[Ctx], bytes]:
    """An SRH with SL=0 at ``behaviour``'s SID whose upper layer is an Echo Request to it."""
    def build(c: Ctx) -> bytes:
        T = c.topo
        sid = T.sid(behaviour)
        return c.srv6([sid, T.down(1)], 0, inner=c.echo(sid), next_header=NH_ICMPV6)
    return build


def end_sl0(c: Ctx, sent: list[Send]) -> Expectation:
    upper = 40 + srh_len(probe(sent))
    return AnyOf((Answered(), IcmpErr(ICMP_PARAM_PROBLEM, PP_SR_UPPER_LAYER, upper)))


def usp_answered(c: Ctx, sent: list[Send]) -> Expectation:
    return Answered()


def csid_shifted(da: str, block_bits: int, csid_bits: int) -> str:
    """RFC 9800 s4.1.1 (End with NEXT-C-SID, DA.Argument != 0): srinspect.csid.shift, the
    one implementation the decoder and validator use too, on text addresses."""
    return str(ipaddress.IPv6Address(
        csid_shift_bytes(ipaddress.IPv6Address(da).packed, block_bits, csid_bits)))


def _csid_container(c: Ctx) -> tuple[str, str]:
    """(DA, DA after one shift): this node's C-SID, then one C-SID of the downstream prefix.

    2001:db8 | c51 | f | a1 -> 2001:db8 | f | a1: the next C-SID ``f`` keeps the packet inside
    the prefix the DUT routes out of rx."""
    sid = ipaddress.IPv6Address(c.topo.sid("End.NEXT-C-SID"))
    words = list(sid.exploded.split(":"))
    words[3], words[4] = "000f", "00a1"
    da = str(ipaddress.IPv6Address(":".join(words)))
    return da, csid_shifted(da, 32, 16)


def _csid_shift(c: Ctx) -> bytes:
    da, final = _csid_container(c)
    src = c.topo.sender
    return ipv6_packet(src, da, NH_UDP, c.udp(src, final))


def csid_shift(c: Ctx, sent: list[Send]) -> Expectation:
    _da, final = _csid_container(c)
    return Forwarded(with_dst(dec_hl(probe(sent)), final), "DA shifted by one C-SID within the "
                     "container (locator block kept), Hop Limit-1, no SRH added", port="rx")


def _csid_last(c: Ctx) -> bytes:
    T = c.topo
    return c.srv6([T.down(2), T.sid("End.NEXT-C-SID")], 1)


def _reduced(source: str | None, segments: tuple[str, ...], inner: bytes,
             next_header: int) -> bytes:
    """What a reduced headend emits (RFC 8986 s5.2, s5.4): the first segment only in the
    DA, the SRH holding the others (Last Entry n-2) with Segments Left n-1."""
    segs = list(reversed(segments))  # wire order, [0] = last segment
    spec = SrhSpec(segs[:-1], segments_left=len(segs) - 1, first_segment=len(segs) - 2,
                   next_header=next_header)
    return srv6_packet(source or "::", spec, inner, dst=segments[0])


def encap_red(c: Ctx, sent: list[Send]) -> Expectation:
    """RFC 8986 s5.2 H.Encaps.Red: the first segment only in the DA; the SRH holds the others
    (Last Entry n-2) with Segments Left n-1."""
    pol = c.topo.policies["encap-red"]
    exp = _reduced(pol.source, pol.segments, probe(sent), NH_IPV6)
    return Forwarded(exp, "outer IPv6 to the first segment, SRH without it (Last Entry = n-2, "
                     "SL = n-1), Next Header 41, original packet inside",
                     dont_care=headend_care(c, "encap-red"))


#: The tester's MACs are the adapter's business, not the case's: an L2 headend must carry the
#: frame it received, and the expectation checks every field of it but the two addresses.
L2_DONT_CARE = ("inner.eth.dst", "inner.eth.src")
ANY_MAC = bytes(6)


def _received_frame(sent: list[Send]) -> bytes:
    """The Ethernet frame the DUT received for the probe (addresses left unspecified)."""
    return ethernet(probe(sent), src=ANY_MAC, dst=ANY_MAC)


def headend_l2encap(c: Ctx, sent: list[Send]) -> Expectation:
    """RFC 8986 s5.3 H.Encaps.L2: the received frame (without FCS) whole behind an outer
    IPv6 header and an SRH with Next Header 143."""
    pol = c.topo.policies["l2encap"]
    exp = encapsulated(pol.source or "::", pol.segments, _received_frame(sent),
                       next_header=NH_ETHERNET)
    return Forwarded(exp, "outer IPv6 + SRH (list reversed, SL = FS = n-1, Next Header 143), "
                     "the received Ethernet frame inside, its IPv6 packet untouched",
                     dont_care=headend_care(c, "l2encap", L2_DONT_CARE))


def headend_l2encap_red(c: Ctx, sent: list[Send]) -> Expectation:
    """RFC 8986 s5.4 H.Encaps.L2.Red: as H.Encaps.L2 with the reduced SRH."""
    pol = c.topo.policies["l2encap-red"]
    exp = _reduced(pol.source, pol.segments, _received_frame(sent), NH_ETHERNET)
    return Forwarded(exp, "outer IPv6 to the first segment, SRH without it (Last Entry = n-2, "
                     "SL = n-1), Next Header 143, the received Ethernet frame inside",
                     dont_care=headend_care(c, "l2encap-red", L2_DONT_CARE))


def _to_sid4(behaviour: str) -> Callable[[Ctx], bytes]:
    """SRv6 to ``behaviour``'s SID at SL=0 carrying an IPv4 packet (Next Header 4)."""
    def build(c: Ctx) -> bytes:
        T = c.topo
        return c.srv6([T.sid(behaviour)], 0, inner=c.inner4(T.down4(7)),
                      next_header=NH_IPV4)
    return build


def ipv4_forwarded(c: Ctx, sent: list[Send]) -> Expectation:
    inner = probe(sent)[SRH_AT + srh_len(probe(sent)) :]
    return Forwarded(dec_ttl(inner), "decapsulated, the inner IPv4 packet forwarded out of "
                     "rx2 (TTL-1, checksum updated)", port="rx2")


def _dx2_frame(c: Ctx) -> bytes:
    """An SRv6 packet carrying an Ethernet frame (Next Header 143) to the End.DX2 SID."""
    T = c.topo
    inner_ip = c.inner(T.alt(7))
    frame = ethernet(inner_ip, src=DX2_SRC_MAC, dst=DX2_DST_MAC)
    return c.srv6([T.sid("End.DX2")], 0, inner=frame, next_header=NH_ETHERNET)


def dx2_forwarded(c: Ctx, sent: list[Send]) -> Expectation:
    inner = probe(sent)[SRH_AT + srh_len(probe(sent)) + 14:]
    return Forwarded(inner, "inner Ethernet frame sent unchanged out of the cross-connect "
                     "(rx2): the IPv6 packet inside untouched, Hop Limit included", port="rx2")



BEHAVIOUR_CASES: tuple[Case, ...] = (
    Case("end", "rfc8986.end", NETPROG, "End: SL-1, DA updated, forwarded by the main table",
         one(_to_sid("End")), advanced_on("rx"), needs=needs("seg6local:End"),
         ref="RFC 8986 s4.1"),
    Case("end-sl0", "rfc8986.end", NETPROG,
         "End at SL=0 with an Echo Request: upper layer processed (or PP code 4)",
         one(_end_sl0), end_sl0, needs=needs("seg6local:End"), ref="RFC 8986 s4.1, s4.1.1"),
    Case("end-x", "rfc8986.end.x", NETPROG,
         "End.X: SL-1, DA updated, sent to the cross-connect neighbour (rx2)",
         one(_to_sid("End.X")), advanced_on("rx2"), needs=needs("seg6local:End.X", "port:rx2"),
         ref="RFC 8986 s4.2"),
    Case("end-t", "rfc8986.end.t", NETPROG,
         "End.T: SL-1, DA updated, looked up in the behaviour's table (routes to rx2)",
         one(_to_sid("End.T")), advanced_on("rx2"), needs=needs("seg6local:End.T", "port:rx2"),
         ref="RFC 8986 s4.3"),
    Case("end-dx6", "rfc8986.end.dx6", NETPROG,
         "End.DX6: decapsulate, inner packet to the cross-connect neighbour (rx2)",
         one(_to_sid("End.DX6", 0)), decap_on("rx2"),
         needs=needs("seg6local:End.DX6", "port:rx2"), ref="RFC 8986 s4.4"),
    Case("end-dt6", "rfc8986.end.dt6", NETPROG,
         "End.DT6: decapsulate, inner packet looked up in the behaviour's table (rx2)",
         one(_to_sid("End.DT6", 0)), decap_on("rx2"),
         needs=needs("seg6local:End.DT6", "port:rx2"), ref="RFC 8986 s4.6"),
    Case("end-b6-encaps", "rfc8986.end.b6.encaps", NETPROG,
         "End.B6.Encaps: advance, then push a new IPv6 + SRH of the bound policy",
         one(_to_sid("End.B6.Encaps")), b6_encaps, needs=needs("seg6local:End.B6.Encaps"),
         ref="RFC 8986 s4.13"),
    Case("end-psp", "rfc8986.end.psp", NETPROG,
         "End with PSP at the penultimate segment: SL 1->0, DA updated, SRH popped",
         one(_to_sid("End.PSP", 1)), psp, needs=needs("seg6local:End.PSP"),
         ref="RFC 8986 s4.16.1"),
    Case("end-usp", "rfc8986.end.usp", NETPROG,
         "End with USP at the ultimate segment (SL=0): SRH popped, Echo Request answered",
         one(_end_sl0_to("End.USP")), usp_answered, needs=needs("seg6local:End.USP"),
         ref="RFC 8986 s4.16.2"),
    Case("end-usd", "rfc8986.end.usd", NETPROG,
         "End with USD at SL=0 over an inner IPv6 packet: decapsulated, inner forwarded",
         one(_to_sid("End.USD", 0)), decap_on("rx"), needs=needs("seg6local:End.USD"),
         ref="RFC 8986 s4.16.3"),
    Case("end-dt46", "rfc8986.end.dt46", NETPROG,
         "End.DT46 with an inner IPv6 packet: decapsulated, looked up in the VRF table (rx2)",
         one(_to_sid("End.DT46", 0)), decap_on("rx2"),
         needs=needs("seg6local:End.DT46", "port:rx2"), ref="RFC 8986 s4.8"),
    Case("end-dx2", "rfc8986.end.dx2", NETPROG,
         "End.DX2: the inner Ethernet frame (Next Header 143) sent out of the cross-connect",
         one(_dx2_frame), dx2_forwarded, needs=needs("seg6local:End.DX2", "port:rx2"),
         ref="RFC 8986 s4.9"),
    Case("end-next-csid-shift", "rfc9800.next-csid.shift", NETPROG,
         "End with NEXT-C-SID, argument not zero: DA shifted by one C-SID, no SRH needed",
         one(_csid_shift), csid_shift, needs=needs("seg6local:End.NEXT-C-SID"),
         ref="RFC 9800 s4.1.1"),
    Case("end-next-csid-last", "rfc9800.next-csid.end", NETPROG,
         "End with NEXT-C-SID, argument zero: the SRH steps to the next segment (SL-1, DA)",
         one(_csid_last), advanced_on("rx"), needs=needs("seg6local:End.NEXT-C-SID"),
         ref="RFC 9800 s4.1.1"),
    Case("end-dx4", "rfc8986.end.dx4", NETPROG,
         "End.DX4: decapsulate, the inner IPv4 packet to the cross-connect next hop (rx2)",
         one(_to_sid4("End.DX4")), ipv4_forwarded,
         needs=needs("seg6local:End.DX4", "port:rx2"), ref="RFC 8986 s4.5"),
    Case("end-dt4", "rfc8986.end.dt4", NETPROG,
         "End.DT4: decapsulate, the inner IPv4 packet looked up in the VRF table (rx2)",
         one(_to_sid4("End.DT4")), ipv4_forwarded,
         needs=needs("seg6local:End.DT4", "port:rx2"), ref="RFC 8986 s4.7"),
    Case("headend-l2encap", "rfc8986.h.encaps.l2", NETPROG,
         "H.Encaps.L2: the received Ethernet frame inside outer IPv6 + SRH (Next Header 143)",
         one(policy_packet("l2encap")), headend_l2encap, needs=needs("policy:l2encap"),
         ref="RFC 8986 s5.3"),
    Case("headend-l2encap-red", "rfc8986.h.encaps.l2.red", NETPROG,
         "H.Encaps.L2.Red: the received frame behind a reduced SRH (first segment only in "
         "the DA)", one(policy_packet("l2encap-red")), headend_l2encap_red,
         needs=needs("policy:l2encap-red"), ref="RFC 8986 s5.4"),
    Case("headend-encap-red", "rfc8986.h.encaps.red", NETPROG,
         "H.Encaps.Red: first segment only in the DA, SRH holds the rest (LE n-2, SL n-1)",
         one(policy_packet("encap-red")), encap_red, needs=needs("policy:encap-red"),
         ref="RFC 8986 s5.2"),
)
