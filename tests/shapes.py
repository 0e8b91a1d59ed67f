"""SRv6 packets of the shapes the fast paths and the verdict cache take, shared by the tests
that hold the compiled pre-filter, the Python fast path, the cache and the validator
together: options headers around the SRH, draft-04 node, padding and HMAC TLVs (clean and
subtly wrong), reduced SRHs."""

from __future__ import annotations

from dataclasses import replace

from srinspect.build import inner_udp, ipv6_packet, srv6_packet, with_hmac
from srinspect.keys import Key
from srinspect.srh import SrhSpec, node_tlv, padding_tlv, push_srh, resolve

SEGS = ["2001:db8:f::1", "2001:db8:3::1", "2001:db8:2::1"]
INNER = inner_udp("2001:db8:a::100", "2001:db8:f::100")
SOURCE = "2001:db8:a::1"
OPTIONS = b"\x01\x04\x00\x00\x00\x00"  # PadN filling an 8-byte options header


def _chain(before: list[int], spec: SrhSpec, after: tuple[int, ...] = ()) -> bytes:
    """IPv6 with 8-byte headers of the kinds in ``before`` ahead of the SRH and ``after`` it,
    then INNER: the chains the widened fast path and the verdict cache walk."""
    kinds = [*before, 43, *after]
    spec = resolve(spec)
    body = b""
    for i, kind in enumerate(kinds):
        nxt = kinds[i + 1] if i + 1 < len(kinds) else 41
        body += (push_srh(replace(spec, next_header=nxt)) if kind == 43
                 else bytes((nxt, 0)) + OPTIONS)
    at = 8 + 16 * min(spec.segments_left or 0, spec.first_segment or 0)
    return ipv6_packet(SOURCE, push_srh(spec)[at : at + 16], kinds[0], body + INNER)


def wide_seeds(key: Key) -> list[bytes]:
    """The shapes the widened fast path and the verdict cache take: options headers around
    the SRH, draft-04 node, padding and HMAC TLVs (clean and subtly wrong), reduced SRHs."""
    def enc(**kw: object) -> SrhSpec:
        kw.setdefault("segments_left", 1)
        return SrhSpec(SEGS, next_header=41, **kw)  # type: ignore[arg-type]

    ingress, egress, pad4 = node_tlv(1, SOURCE), node_tlv(2, SEGS[0]), padding_tlv(4)
    return [
        _chain([0, 60], enc()), _chain([0], enc(), (60,)), _chain([60, 60], enc()),
        _chain([0, 60], with_hmac(enc(), SOURCE, key)),
        _chain([0], enc(), (44,)), _chain([51], enc()),
        srv6_packet(SOURCE, enc(tlvs=(ingress, egress)), INNER),
        srv6_packet(SOURCE, enc(tlvs=(node_tlv(1, SEGS[1]), pad4)), INNER),  # wrong ingress
        srv6_packet(SOURCE, enc(tlvs=(node_tlv(2, SEGS[1]), pad4)), INNER),  # wrong egress
        srv6_packet(SOURCE, enc(tlvs=(node_tlv(3, SEGS[1]), pad4)), INNER),
        srv6_packet(SOURCE, enc(tlvs=(pad4, ingress)), INNER),  # padding not last
        srv6_packet(SOURCE, enc(tlvs=(ingress, b"\x04\x02\x00\x01")), INNER),  # not zero
        srv6_packet(SOURCE, with_hmac(enc(tlvs=(ingress, pad4)), SOURCE, key), INNER),
        srv6_packet(SOURCE, with_hmac(enc(tlvs=(ingress, pad4)), SOURCE, key,
                                      corrupt=True), INNER),
        srv6_packet(SOURCE, with_hmac(enc(tlvs=(padding_tlv(8),)), SOURCE, key, set_h=False),
                    INNER),
        srv6_packet(SOURCE, enc(tlvs=(padding_tlv(8),), flags=0x08), INNER),  # H, no HMAC
        srv6_packet(SOURCE, enc(segments_left=3, first_segment=2), INNER, dst=SEGS[1]),
        srv6_packet(SOURCE, with_hmac(enc(segments_left=3, first_segment=2), SOURCE, key),
                    INNER, dst=SEGS[1]),
    ]


