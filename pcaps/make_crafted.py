"""Write the crafted sample captures: one frame per packet rule, each labelled with the rule.

Every frame carries a pcapng comment ``expect=<rule id or valid> profile=<profile> | why``;
tests audit the file and check each frame fires exactly its rule (and no other error). Built
with srinspect's own encoder, never scapy (whose HMAC TLV is wrong). Rerun with
``python pcaps/make_crafted.py`` after changing the encoder; output is deterministic.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable
from pathlib import Path

from srinspect.build import ethernet, inner_udp, ipv6_packet, srv6_packet, udp, with_hmac
from srinspect.keys import Key
from srinspect.rules import Profile
from srinspect.sinks.pcapng_writer import PcapngWriter
from srinspect.srh import SrhSpec, node_tlv, padding_tlv, push_srh, tlv

HERE = Path(__file__).resolve().parent
SRC = "2001:db8:a::1"
SEGS = ["2001:db8:f::1", "2001:db8:3::1", "2001:db8:2::1"]  # wire order: [0] is final
INNER = inner_udp("2001:db8:a::100", "2001:db8:f::100")
KEY_SHA256 = Key(1, "sha256", b"srinspect-crafted-1")
KEY_SHA1 = Key(2, "sha1", b"srinspect-crafted-2")
KEYS_TOML = """# Test-only keys for pcaps/crafted-*.pcapng (not secret).
[[key]]
id = 1
algo = "sha256"
secret = "srinspect-crafted-1"

[[key]]
id = 2
algo = "sha1"
secret = "srinspect-crafted-2"
"""

Case = tuple[str, str, Callable[[], bytes | tuple[bytes, int]]]


def pkt(spec: SrhSpec, **kw: object) -> bytes:
    return srv6_packet(SRC, spec, INNER, **kw)  # type: ignore[arg-type]


def base(**fields: object) -> SrhSpec:
    fields.setdefault("segments_left", 1)
    return SrhSpec(SEGS, **fields)  # type: ignore[arg-type]


def truncated_by_payload_length() -> bytes:
    full = pkt(base())
    return full[:4] + struct.pack("!H", 40) + full[6:40 + 40]  # SRH is 56 bytes, PL says 40


def snaplen_cut() -> tuple[bytes, int]:
    full = pkt(base())
    return full[:40 + 30], len(full)  # captured 30 bytes of the SRH; orig_len says the rest


def hdrlen_short() -> bytes:
    srh = push_srh(SrhSpec([SEGS[0]], segments_left=0, first_segment=2, hdr_ext_len=2,
                           next_header=59))
    return ipv6_packet(SRC, SEGS[0], 43, srh)


def duplicate() -> bytes:
    second = push_srh(SrhSpec(SEGS, segments_left=1, next_header=41))
    first = push_srh(SrhSpec(SEGS, segments_left=1, next_header=43))
    return ipv6_packet(SRC, SEGS[1], 43, first + second + INNER)


def behind_fragment() -> bytes:
    """A first fragment (offset 0, M=1) whose SRH follows the Fragment header (RFC 8200 s4.5
    puts the Routing header in the unfragmentable part, before it)."""
    srh = push_srh(SrhSpec(SEGS, segments_left=1, next_header=41))
    frag = struct.pack("!BBHI", 43, 0, 0x0001, 0x53520001)  # offset 0, M=1, id "SR" 1
    return ipv6_packet(SRC, SEGS[1], 44, frag + srh + INNER)


def after_type0() -> bytes:
    """A Type 0 Routing header (deprecated, RFC 5095) followed by an SRH: two Routing
    headers in one chain (RFC 8200 s4.1)."""
    rh0 = struct.pack("!BBBBI", 43, 2, 0, 1, 0) + bytes.fromhex("20010db8000c" + "00" * 9 + "01")
    srh = push_srh(SrhSpec(SEGS, segments_left=1, next_header=41))
    return ipv6_packet(SRC, SEGS[1], 43, rh0 + srh + INNER)


def two_hmacs() -> bytes:
    signed = with_hmac(base(), SRC, KEY_SHA256)
    return pkt(SrhSpec(signed.segments, 1, None, None, signed.flags, 0, 41, 4,
                       (signed.tlvs[0], signed.tlvs[0])))


def last_cases(profile: Profile, invalid_segment: str, what: str) -> list[Case]:
    """The rows both profiles' captures end with: the same rules on the same frames, but for
    the profile's HMAC and a Segment List[0] the profile calls invalid (``what`` it is)."""
    return [
        ("srh.hmac.unknown-key", "HMAC key id 99, no key configured", lambda: pkt(with_hmac(
            base(), SRC, Key(99, "sha256", b"not-in-the-key-file"), profile=profile))),
        ("srh.duplicate", "two SRHs in one chain", duplicate),
        ("srh.segment.invalid", f"Segment List[0] is {what} {invalid_segment}",
         lambda: pkt(SrhSpec([invalid_segment, *SEGS[1:]], segments_left=1))),
        ("srh.order.fragment", "SRH behind a Fragment header (first fragment, M=1)",
         behind_fragment),
        ("srh.order.routing", "Type 0 Routing header, then an SRH", after_type0),
    ]


DRAFT04: list[Case] = [
    ("valid", "encap, SL=1 of 3, no TLVs", lambda: pkt(base())),
    ("valid", "inline (Next Header UDP), SL=0", lambda: srv6_packet(
        SRC, SrhSpec(["2001:db8:f::100", *SEGS[1:]], segments_left=0, next_header=17),
        udp(SRC, "2001:db8:f::100", 1000, 2000, b"inline"))),
    ("valid", "HMAC SHA-256 key 1, verifies", lambda: pkt(with_hmac(base(), SRC, KEY_SHA256))),
    ("valid", "HMAC SHA-1 key 2, verifies", lambda: pkt(with_hmac(base(), SRC, KEY_SHA1))),
    ("valid", "Ingress + Egress Node TLVs matching, Padding last", lambda: pkt(base(tlvs=(
        node_tlv(1, SRC), node_tlv(2, SEGS[0]), node_tlv(3, "2001:db8::abcd"),
        padding_tlv(4))))),
    ("valid", "flags P,O,A set (all defined)", lambda: pkt(base(flags=0x70))),
    ("srh.truncated", "Payload Length ends inside the SRH", truncated_by_payload_length),
    ("capture.snaplen", "snaplen cut inside the SRH (orig_len > captured)", snaplen_cut),
    ("srh.hdrlen.short", "First Segment 2 but Hdr Ext Len 2 (24 bytes)", hdrlen_short),
    ("srh.segleft.range", "Segments Left 5 > First Segment 2",
     lambda: pkt(base(segments_left=5), dst=SEGS[1])),
    ("srh.da.mismatch", "DA is not Segment List[SL]",
     lambda: pkt(base(), dst="2001:db8:9::1")),
    ("srh.flags.unused", "flag 0x80 (old Clean-up bit) set", lambda: pkt(base(flags=0x80))),
    ("srh.reserved.nonzero", "Reserved 0x1234", lambda: pkt(base(reserved=0x1234))),
    ("srh.tlv.overrun", "TLV Length 10 in an 8-byte TLV area",
     lambda: pkt(base(tlvs=(tlv(0x7F, bytes(6), length=10),)))),
    ("srh.tlv.length", "Ingress Node TLV with Length 10",
     lambda: pkt(base(tlvs=(tlv(1, bytes(10)), padding_tlv(4))))),
    ("srh.tlv.unknown", "TLV type 0x80", lambda: pkt(base(tlvs=(tlv(0x80, bytes(6)),)))),
    ("srh.tlv.padding", "Padding bytes not zero",
     lambda: pkt(base(tlvs=(tlv(4, b"\x01\x02\x03\x04\x05\x06"),)))),
    ("srh.tlv.ingress.mismatch", "Ingress Node is not the source",
     lambda: pkt(base(tlvs=(node_tlv(1, "2001:db8:bad::1"), padding_tlv(4))))),
    ("srh.tlv.egress.mismatch", "Egress Node is not Segment List[0]",
     lambda: pkt(base(tlvs=(node_tlv(2, "2001:db8:bad::2"), padding_tlv(4))))),
    ("srh.hmac.missing", "H flag set, no HMAC TLV", lambda: pkt(base(flags=0x08))),
    ("srh.hmac.unflagged", "valid HMAC TLV but H clear",
     lambda: pkt(with_hmac(base(), SRC, KEY_SHA256, set_h=False))),
    ("srh.hmac.position", "two HMAC TLVs: the first is not last", two_hmacs),
    ("srh.hmac.mismatch", "HMAC with one bit flipped",
     lambda: pkt(with_hmac(base(), SRC, KEY_SHA256, corrupt=True))),
    *last_cases(Profile.DRAFT04, "ff0e::1", "multicast"),
]

RFC8754: list[Case] = [
    ("valid", "tag 0x1234 is legal under RFC 8754", lambda: pkt(base(reserved=0x1234))),
    ("valid", "reduced SRH: SL == LE+1, first segment only in the DA", lambda: pkt(
        SrhSpec(SEGS[:2], segments_left=2), dst=SEGS[2])),
    ("valid", "Pad1 + PadN(5) padding", lambda: pkt(base(tlvs=(b"\x00", padding_tlv(7))))),
    ("valid", "HMAC SHA-256 per RFC 8754 s2.1.2, verifies",
     lambda: pkt(with_hmac(base(), SRC, KEY_SHA256, profile=Profile.RFC8754))),
    ("srh.tlv.unknown", "types 1, 2 are Reserved under RFC 8754: skipped as unknown",
     lambda: pkt(base(tlvs=(node_tlv(1, "2001:db8:bad::1"), node_tlv(2, "2001:db8:bad::2"))))),
    ("srh.segleft.range", "Segments Left 4 > Last Entry 2 + 1",
     lambda: pkt(base(segments_left=4), dst=SEGS[1])),
    ("srh.flags.unused", "any flag is unused under RFC 8754", lambda: pkt(base(flags=0x08))),
    ("srh.tlv.length", "PadN with Length 6", lambda: pkt(base(tlvs=(tlv(4, bytes(6)),)))),
    ("srh.tlv.padding", "two consecutive Pad1s", lambda: pkt(base(tlvs=(
        b"\x00", b"\x00", padding_tlv(6))))),
    ("srh.tlv.overrun", "lone trailing non-zero byte", lambda: pkt(base(tlvs=(
        padding_tlv(7), b"\x09")))),
    ("srh.hmac.mismatch", "draft-04 HMAC checked as RFC 8754", lambda: pkt(SrhSpec(
        SEGS, 1, tlvs=with_hmac(base(), SRC, KEY_SHA256).tlvs))),
    ("srh.tlv.unknown", "TLV type 0x81", lambda: pkt(base(tlvs=(tlv(0x81, bytes(6)),)))),
    # The rules both profiles share, so every rule of the profile has a sample here too.
    ("srh.truncated", "Payload Length ends inside the SRH", truncated_by_payload_length),
    ("capture.snaplen", "snaplen cut inside the SRH (orig_len > captured)", snaplen_cut),
    ("srh.hdrlen.short", "Last Entry 2 but Hdr Ext Len 2 (24 bytes)", hdrlen_short),
    ("srh.da.mismatch", "DA is not Segment List[SL]",
     lambda: pkt(base(), dst="2001:db8:9::1")),
    *last_cases(Profile.RFC8754, "::ffff:192.0.2.1", "IPv4-mapped"),
]


# RFC 9800 NEXT-C-SID: one locator block 2001:db8::/32 with 16-bit C-SIDs, given to the audit
# by crafted-csid.toml (`srinspect audit --config pcaps/crafted-csid.toml`); without it these
# frames are ordinary SRv6 (tests check both). Containers: block | C-SIDs | zeros.
CSID_TOML = """# C-SID format of pcaps/crafted-csid.pcapng (RFC 9800 NEXT-C-SID)
[srv6]
csid = ["2001:db8::/32/16"]
"""
C1 = "2001:db8:100:200:300::"       # three C-SIDs 0100 0200 0300
C2 = "2001:db8:400:500::"           # two C-SIDs
CFINAL = "2001:db8:d6::"            # one C-SID: the decapsulating node
CSID_INNER = inner_udp("2001:db8:a::100", "2001:db8:f::100")


def csid_pkt(segs: list[str], sl: int, dst: str, profile_next: int = 41) -> bytes:
    return srv6_packet(SRC, SrhSpec(segs, segments_left=sl, next_header=profile_next),
                       CSID_INNER, dst=dst)


def csid_no_srh(dst: str) -> bytes:
    return ipv6_packet(SRC, dst, 41, CSID_INNER)


CSID: list[Case] = [
    ("valid", "container not yet shifted: DA == Segment List[SL]",
     lambda: csid_pkt([CFINAL, C2, C1], 2, C1)),
    ("valid", "container shifted once: DA = Segment List[SL] << 16 (RFC 9800 s4.1.1)",
     lambda: csid_pkt([CFINAL, C2, C1], 2, "2001:db8:200:300::")),
    ("valid", "next container after the SRH step: SL 1",
     lambda: csid_pkt([CFINAL, C2, C1], 1, C2)),
    ("valid", "reduced SRH (H.Encaps.Red): SL == LE+1, first container only in the DA, shifted",
     lambda: csid_pkt([CFINAL, C2], 2, "2001:db8:300::")),
    ("valid", "no SRH: one container as DA (H.Encaps.Red with one segment), in the block",
     lambda: csid_no_srh("2001:db8:100:200:d6::")),
    ("srh.da.mismatch", "DA in the block but no shift of Segment List[SL] gives it",
     lambda: csid_pkt([CFINAL, C2, C1], 2, "2001:db8:300:100::")),
    ("csid.container.empty", "DA is the bare block 2001:db8:: (first C-SID 0)",
     lambda: csid_pkt([CFINAL, C2, "2001:db8::"], 2, "2001:db8::")),
    ("csid.container.empty", "Segment List[1] 2001:db8:: carries no C-SID",
     lambda: csid_pkt([CFINAL, "2001:db8::", C1], 2, C1)),
    ("csid.container.gap", "Segment List[1] 2001:db8:400:0:500:: has a C-SID after a 0",
     lambda: csid_pkt([CFINAL, "2001:db8:400:0:500::", C1], 2, C1)),
    ("csid.container.gap", "no SRH: DA 2001:db8:100::1 (C-SIDs 0100 0 0 0 0 0001)",
     lambda: csid_no_srh("2001:db8:100::1")),
]


def write(path: Path, profile: Profile, cases: list[Case]) -> None:
    with path.open("wb") as out:
        w = PcapngWriter(out)
        w.add_interface(1, name="crafted")
        for n, (expect, why, make) in enumerate(cases):
            made = make()
            data, orig = made if isinstance(made, tuple) else (made, len(made))
            frame = ethernet(data)
            w.write(frame, ts=1_700_000_000 + n, orig_len=orig + (len(frame) - len(data)),
                    comments=[f"expect={expect} profile={profile} | {why}"])
    print(f"wrote {path} ({len(cases)} frames)")


def main() -> int:
    write(HERE / "crafted-draft04.pcapng", Profile.DRAFT04, DRAFT04)
    write(HERE / "crafted-rfc8754.pcapng", Profile.RFC8754, RFC8754)
    (HERE / "crafted-keys.toml").write_text(KEYS_TOML)
    write(HERE / "crafted-csid.pcapng", Profile.RFC8754, CSID)
    (HERE / "crafted-csid.toml").write_text(CSID_TOML)
    return 0


if __name__ == "__main__":
    sys.exit(main())
