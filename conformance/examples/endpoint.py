"""Example user cases: SRv6 endpoint behaviour, written with scapy.

Run them next to the built-in catalogue:
    srinspect conformance run --cases conformance/examples --case 'scapy-*'

Each function gets the target ``t`` (addresses of the DUT's topology, tagged payloads) and
returns the packet to send plus what a correct DUT does with it. Segment lists are in wire
order, as in the SRH: addresses[0] is the final destination.
"""

from scapy.layers.inet6 import IPv6, IPv6ExtHdrSegmentRouting

from conformance.casefile import advanced, answered, any_of, case, forwarded, param_problem

SEGMENTS_LEFT_POINTER = 43  # IPv6 header (40) + 3: the SRH's Segments Left byte


@case("scapy-endpoint-advance", rule="node.endpoint.advance", levels="MUST",
      summary="DA = DUT, SL=1 of 2: SL becomes 0, DA = Segment List[0] (fields named)",
      ref="draft-04 s4.3; RFC 8754 s4.3.1.1")
def endpoint_advance(t):
    srh = IPv6ExtHdrSegmentRouting(addresses=[t.down(2), t.dut], segleft=1)
    pkt = IPv6(src=t.sender, dst=t.dut) / srh / t.inner(t.down(2))
    return pkt, forwarded({"srh.segments_left": 0, "ipv6.dst": t.down(2)})


@case("scapy-endpoint-tag-flags", rule="node.endpoint.fields", levels="MUST",
      summary="Tag and the O flag survive the endpoint; only SL, DA and Hop Limit change",
      ref="draft-04 s4.3; RFC 8754 s4.3.1.1")
def endpoint_keeps_fields(t):
    srh = IPv6ExtHdrSegmentRouting(addresses=[t.down(3), t.down(2), t.dut], segleft=2,
                                   tag=0x1234, oam=1)
    return IPv6(src=t.sender, dst=t.dut) / srh / t.inner(t.down(3)), advanced()


@case("scapy-segleft-out-of-range", rule="node.segleft.bounds",
      levels={"draft-04": "unspecified", "rfc8754": "MUST"},
      summary="SL=200 of 2 segments: Parameter Problem code 0 pointing at Segments Left",
      ref="RFC 8754 s4.3.1.1")
def segleft_out_of_range(t):
    srh = IPv6ExtHdrSegmentRouting(addresses=[t.down(2), t.dut], segleft=200)
    pkt = IPv6(src=t.sender, dst=t.dut) / srh / t.inner(t.down(2))
    return pkt, param_problem(0, SEGMENTS_LEFT_POINTER)


@case("scapy-final-echo", rule="node.endpoint.final", levels="MUST",
      summary="DA = DUT, SL=0, Echo Request behind the SRH: answered (or PP code 4)",
      ref="draft-04 s4.3; RFC 8754 s4.3.1.2")
def final_echo(t):
    srh = IPv6ExtHdrSegmentRouting(addresses=[t.dut, t.down(1)], segleft=0, nh=58)
    pkt = IPv6(src=t.sender, dst=t.dut) / srh / t.echo()
    if t.profile == "draft-04":
        return pkt, answered()
    upper_layer = 40 + len(srh)  # RFC 8754: PP code 4 points at the upper-layer header
    return pkt, any_of(answered(), param_problem(4, upper_layer))
