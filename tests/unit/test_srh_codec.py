"""SRH codec (srinspect/srh.py) and the inspector's robustness on cut and random input.

Ground truth for decoding is a third-party capture (the Wireshark sample), not bytes made by
srinspect's own encoder. Truncation follows h11's ``tr()`` idea: every vector is fed cut at
every length, and with trailing garbage.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srinspect.build import ethernet, inner_udp, ipv6_packet, srv6_packet, udp, with_hmac
from srinspect.errors import BuildError, SrinspectError
from srinspect.frame import Frame
from srinspect.inspector import Inspector
from srinspect.keys import Key, Keyring
from srinspect.rules import PACKET_PROFILES, RULES, Profile, Severity
from srinspect.srh import (
    SrhSpec,
    hmac_tlv,
    node_tlv,
    padding_tlv,
    pull_srh,
    pull_tlvs,
    push_srh,
    resolve,
    tlv,
)
from srinspect.wire import ip6, parse_ip6

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101

# Frame 2 of wireshark-sample-sr-header.pcap (../shared/pcaps-external/README.md): the SRH
# right after the 40-byte IPv6 header, as made by the early Linux implementation in 2016.
SAMPLE_SEGMENTS = ["fc00:2:0:6::1", "fc00:2:0:7::1", "fc00:2:0:5::1"]
SAMPLE_SRH = bytes.fromhex(
    "29"  # Next Header 41 (IPv6, encap mode)
    "06"  # Hdr Ext Len 6: (6+1)*8 = 56 bytes
    "04"  # Routing Type 4
    "02"  # Segments Left 2
    "02"  # First Segment 2
    "00"  # Flags
    "0000"  # Reserved
    "fc000002000000060000000000000001"
    "fc000002000000070000000000000001"
    "fc000002000000050000000000000001"
)


def test_wireshark_sample_frame2_srh_bytes(wireshark_frames: list[bytes]) -> None:
    frame = wireshark_frames[1]
    assert frame[6] == 43  # IPv6 Next Header: Routing
    assert frame[40:96] == SAMPLE_SRH


def test_pull_srh_decodes_the_wireshark_sample(wireshark_frames: list[bytes]) -> None:
    frame = wireshark_frames[1]
    srh = pull_srh(frame, 40, len(frame))
    assert (srh.offset, srh.next_header, srh.hdr_ext_len, srh.routing_type) == (40, 41, 6, 4)
    assert (srh.segments_left, srh.first_segment, srh.flags, srh.reserved) == (2, 2, 0, 0)
    assert (srh.last_entry, srh.tag) == (2, 0)
    assert [ip6(s) for s in srh.segments] == SAMPLE_SEGMENTS
    assert srh.length == 56 and srh.end == 96 and srh.list_end == 96
    assert srh.flag_names() == []
    assert pull_tlvs(frame, srh.list_end, srh.end, pad1=False) == []
    assert frame[srh.end] >> 4 == 6  # the inner IPv6 packet starts right after
    # The DA is Segment List[SL], as the spec's invariant wants.
    assert frame[24:40] == srh.segments[srh.segments_left]


def test_push_srh_reencodes_the_wireshark_sample_exactly() -> None:
    # Every derived field (FS = n-1, SL = FS, HEL from the size) must come out as Linux made it.
    assert push_srh(SrhSpec(SAMPLE_SEGMENTS, next_header=41)) == SAMPLE_SRH
    spec = SrhSpec(SAMPLE_SEGMENTS, segments_left=2, first_segment=2, hdr_ext_len=6,
                   next_header=41)
    assert push_srh(spec) == SAMPLE_SRH


def test_inspector_on_every_wireshark_sample_frame(wireshark_frames: list[bytes]) -> None:
    insp = Inspector(Profile.DRAFT04)
    srh_frames = []
    for number, data in enumerate(wireshark_frames, 1):
        result = insp.feed(Frame(number, 0.0, LINKTYPE_RAW, data, len(data)))
        if result is None or not result.has_srh:
            continue
        srh_frames.append(number)
        assert result.findings == []
        srh = result.srh
        assert srh is not None
        assert bytes(data[40:96]) == SAMPLE_SRH
        assert [ip6(s) for s in srh.segments] == SAMPLE_SEGMENTS
        assert result.inner is not None and result.inner.version == 6
    assert srh_frames == [2, 5, 6, 9]  # as the sample's README says


# ---------------------------------------------------------------------------------------------
# resolve() and BuildError


def test_resolve_derives_fs_sl_and_hel() -> None:
    spec = resolve(SrhSpec(SAMPLE_SEGMENTS))
    assert (spec.first_segment, spec.segments_left, spec.hdr_ext_len) == (2, 2, 6)
    assert spec.segments == tuple(parse_ip6(s) for s in SAMPLE_SEGMENTS)
    text = repr(spec)
    assert "first_segment=2" in text and "segments_left=2" in text and "hdr_ext_len=6" in text
    assert resolve(spec) == spec  # idempotent


def test_resolve_keeps_what_the_caller_gave() -> None:
    original = SrhSpec(SAMPLE_SEGMENTS, segments_left=0, first_segment=5)
    spec = resolve(original)
    assert (spec.first_segment, spec.segments_left, spec.hdr_ext_len) == (5, 0, 6)
    assert original.first_segment == 5 and original.hdr_ext_len is None  # input untouched


def test_resolve_counts_tlvs_in_hdr_ext_len() -> None:
    spec = resolve(SrhSpec(SAMPLE_SEGMENTS, tlvs=(padding_tlv(8),)))
    assert spec.hdr_ext_len == 7
    spec = resolve(SrhSpec(SAMPLE_SEGMENTS, tlvs=(node_tlv(1, "2001:db8::1"), padding_tlv(4))))
    assert spec.hdr_ext_len == 9


def test_push_srh_writes_a_wrong_hdr_ext_len_as_given() -> None:
    data = push_srh(SrhSpec(SAMPLE_SEGMENTS, hdr_ext_len=2, segments_left=7))
    assert data[1] == 2 and data[3] == 7  # no fix-up, unlike scapy's post_build
    assert len(data) == 56


@pytest.mark.parametrize("spec", [
    SrhSpec(SAMPLE_SEGMENTS, tlvs=(tlv(0x80, b"abc"),)),  # 61 bytes: not a multiple of 8
    SrhSpec(SAMPLE_SEGMENTS, segments_left=256),
    SrhSpec(SAMPLE_SEGMENTS, segments_left=-1),
    SrhSpec(SAMPLE_SEGMENTS, first_segment=256),
    SrhSpec(SAMPLE_SEGMENTS, hdr_ext_len=256),
    SrhSpec(SAMPLE_SEGMENTS, flags=0x100),
    SrhSpec(SAMPLE_SEGMENTS, next_header=-1),
    SrhSpec(SAMPLE_SEGMENTS, routing_type=300),
    SrhSpec(SAMPLE_SEGMENTS, reserved=0x10000),
    SrhSpec(["2001:db8::zz"]),
    SrhSpec([b"\x20\x01" + bytes(13)]),  # 15 bytes
    SrhSpec(["192.0.2.1"]),
], ids=["not-8n", "sl-256", "sl-neg", "fs-256", "hel-256", "flags", "nh", "rtype", "reserved",
        "bad-text", "15-bytes", "ipv4"])
def test_resolve_build_errors(spec: SrhSpec) -> None:
    with pytest.raises(BuildError):
        resolve(spec)
    with pytest.raises(BuildError):
        push_srh(spec)


def test_tlv_builder_errors() -> None:
    with pytest.raises(BuildError):
        tlv(256, b"")
    with pytest.raises(BuildError):
        tlv(1, b"", length=256)
    with pytest.raises(BuildError):
        tlv(1, bytes(256))
    with pytest.raises(BuildError):
        padding_tlv(1)
    assert issubclass(BuildError, SrinspectError)


def test_tlv_builders() -> None:
    assert tlv(0x80, b"\x01\x02") == b"\x80\x02\x01\x02"
    assert tlv(0x80, b"\x01\x02", length=9) == b"\x80\x09\x01\x02"  # a lie, on purpose
    assert padding_tlv(2) == b"\x04\x00"
    assert padding_tlv(9) == b"\x04\x07" + bytes(7)
    assert node_tlv(2, "2001:db8::1", flags=0x80) == (
        b"\x02\x12\x00\x80" + parse_ip6("2001:db8::1"))


# ---------------------------------------------------------------------------------------------
# HMAC TLV layout (draft-04 s3.1.5, RFC 8754 s2.1.2)

MAC = bytes(range(0xA0, 0xC0))


def test_hmac_tlv_layout() -> None:
    data = hmac_tlv(0x01020304, MAC)
    assert len(data) == 40
    assert data[0] == 5  # Type
    assert data[1] == 38  # ONE-byte Length (scapy 2.8 writes two bytes, 0x0050)
    assert data[2:4] == b"\x00\x00"  # D bit + reserved
    assert data[4:8] == b"\x01\x02\x03\x04"  # key id, network order
    assert data[8:] == MAC


def test_hmac_tlv_d_bit_and_reserved() -> None:
    assert hmac_tlv(1, MAC, d_bit=True)[2:4] == b"\x80\x00"
    assert hmac_tlv(1, MAC, reserved=0x7FFF)[2:4] == b"\x7f\xff"
    assert hmac_tlv(1, MAC, d_bit=True, reserved=0x0001)[2:4] == b"\x80\x01"
    assert hmac_tlv(0xFFFFFFFF, MAC)[4:8] == b"\xff\xff\xff\xff"
    assert hmac_tlv(1, MAC[:16])[1] == 22  # RFC 8754: Length is 6 + the MAC size


def test_hmac_tlv_decodes_back() -> None:
    data = push_srh(SrhSpec(SAMPLE_SEGMENTS, tlvs=(hmac_tlv(0xDEADBEEF, MAC, d_bit=True),)))
    srh = pull_srh(data, 0, len(data))
    (decoded,) = pull_tlvs(data, srh.list_end, srh.end, pad1=False)
    assert (decoded.type, decoded.length, decoded.offset) == (5, 38, 56)
    assert decoded.hmac_fields() == (1, 0, 0xDEADBEEF, MAC)


# ---------------------------------------------------------------------------------------------
# Round trips (hypothesis): push -> pull gives back every field and TLV

addresses = st.binary(min_size=16, max_size=16)
known_tlvs = st.one_of(
    st.builds(node_tlv, st.sampled_from([1, 2, 3]), addresses, flags=st.integers(0, 255)),
    st.integers(2, 9).map(padding_tlv),
    st.builds(lambda kid, mac, d: hmac_tlv(kid, mac, d_bit=d), st.integers(0, 0xFFFFFFFF),
              st.binary(min_size=32, max_size=32), st.booleans()),
    st.builds(tlv, st.integers(6, 255), st.binary(max_size=40)),
)


def _fill_to_8(tlvs: list[bytes], fixed: int) -> list[bytes]:
    """Append a Padding TLV so the header is a multiple of 8 bytes."""
    short = -(fixed + sum(map(len, tlvs))) % 8
    if short:
        tlvs = [*tlvs, padding_tlv(short if short >= 2 else 9)]
    return tlvs


def _expected_tlvs(encoded: list[bytes], start: int) -> list[tuple[int, int | None, bytes, int]]:
    out, pos = [], start
    for item in encoded:
        if item == b"\x00":
            out.append((0, None, b"", pos))
        else:
            out.append((item[0], item[1], item[2:], pos))
        pos += len(item)
    return out


@settings(max_examples=300, deadline=None)
@given(segments=st.lists(addresses, min_size=1, max_size=8),
       segments_left=st.integers(0, 255), flags=st.integers(0, 255),
       reserved=st.integers(0, 0xFFFF), next_header=st.integers(0, 255),
       tlvs=st.lists(known_tlvs, max_size=5))
def test_round_trip_draft04_layout(segments: list[bytes], segments_left: int, flags: int,
                                   reserved: int, next_header: int, tlvs: list[bytes]) -> None:
    tlvs = _fill_to_8(tlvs, 8 + 16 * len(segments))
    spec = SrhSpec(segments, segments_left=segments_left, flags=flags, reserved=reserved,
                   next_header=next_header, tlvs=tuple(tlvs))
    data = push_srh(spec)
    srh = pull_srh(data, 0, len(data))
    assert srh.length == len(data)
    assert (srh.next_header, srh.routing_type, srh.segments_left, srh.first_segment) == (
        next_header, 4, segments_left, len(segments) - 1)
    assert (srh.flags, srh.reserved, srh.segments) == (flags, reserved, segments)
    decoded = pull_tlvs(data, srh.list_end, srh.end, pad1=False)
    assert all(t.complete for t in decoded)
    assert [(t.type, t.length, t.value, t.offset) for t in decoded] == _expected_tlvs(
        tlvs, srh.list_end)
    # And back: encoding what was decoded gives the same bytes.
    again = SrhSpec(srh.segments, srh.segments_left, srh.first_segment, srh.hdr_ext_len,
                    srh.flags, srh.reserved, srh.next_header, srh.routing_type,
                    tuple(data[t.offset:t.offset + t.size] for t in decoded))
    assert push_srh(again) == data


rfc8754_tlvs = st.one_of(
    st.just(b"\x00"),  # Pad1
    st.integers(2, 7).map(padding_tlv),  # PadN
    st.builds(lambda kid, n, d: hmac_tlv(kid, bytes(range(8 * n)), d_bit=d),
              st.integers(0, 0xFFFFFFFF), st.integers(1, 4), st.booleans()),
    st.builds(tlv, st.integers(6, 255), st.binary(max_size=30)),
)


@settings(max_examples=200, deadline=None)
@given(segments=st.lists(addresses, min_size=1, max_size=8),
       tlvs=st.lists(rfc8754_tlvs, max_size=6))
def test_round_trip_rfc8754_layout_with_pad1(segments: list[bytes], tlvs: list[bytes]) -> None:
    tlvs = _fill_to_8(tlvs, 8 + 16 * len(segments))
    data = push_srh(SrhSpec(segments, tlvs=tuple(tlvs)))
    srh = pull_srh(data, 0, len(data))
    decoded = pull_tlvs(data, srh.list_end, srh.end, pad1=True)
    assert [(t.type, t.length, t.value, t.offset) for t in decoded] == _expected_tlvs(
        tlvs, srh.list_end)
    assert sum(t.size for t in decoded) == len(data) - (8 + 16 * len(segments))


@settings(max_examples=100, deadline=None)
@given(segments=st.lists(addresses.filter(lambda a: a[0] != 0xFF and a[:10] != bytes(10)),
                         min_size=1, max_size=8),
       data=st.data())
def test_round_trip_through_the_inspector(segments: list[bytes], data: st.DataObject) -> None:
    """A packet made by the encoder decodes to the same fields and has no finding."""
    sl = data.draw(st.integers(0, len(segments) - 1))
    spec = SrhSpec(segments, segments_left=sl)
    frame = ethernet(srv6_packet("2001:db8::1", spec, inner_udp("2001:db8::a", "2001:db8::b")))
    result = Inspector(Profile.DRAFT04).feed(Frame(1, 0.0, LINKTYPE_ETHERNET, frame,
                                                   len(frame)))
    assert result is not None and result.srh is not None
    assert (result.srh.segments, result.srh.segments_left) == (segments, sl)
    assert result.findings == []


# ---------------------------------------------------------------------------------------------
# Truncation at every length (h11's tr() idea), trailing garbage, random input

KEY = Key(1, "sha256", b"codec-test")
SRC = "2001:db8:a::1"
SEGS = ["2001:db8:f::1", "2001:db8:3::1", "2001:db8:2::1"]
INNER = inner_udp("2001:db8:a::100", "2001:db8:f::100")


@dataclass(frozen=True)
class Vector:
    name: str
    profile: Profile
    linktype: int
    data: bytes
    srh_offset: int

    def inspector(self) -> Inspector:
        return Inspector(self.profile, Keyring([KEY]))

    @property
    def srh_end(self) -> int:
        return self.srh_offset + (self.data[self.srh_offset + 1] + 1) * 8


def _eth(spec: SrhSpec, **kw: object) -> bytes:
    return ethernet(srv6_packet(SRC, spec, INNER, **kw))  # type: ignore[arg-type]


def _built_vectors() -> list[Vector]:
    d04, rfc, eth = Profile.DRAFT04, Profile.RFC8754, LINKTYPE_ETHERNET
    base = SrhSpec(SEGS, segments_left=1)
    inline = srv6_packet(SRC, SrhSpec(["2001:db8:f::100", *SEGS[1:]], segments_left=0,
                                      next_header=17),
                         udp(SRC, "2001:db8:f::100", 1000, 2000, b"inline"))
    return [
        Vector("hmac-sha256-draft04", d04, eth, _eth(with_hmac(base, SRC, KEY)), 54),
        Vector("node-tlvs-draft04", d04, eth, _eth(SrhSpec(SEGS, segments_left=1, tlvs=(
            node_tlv(1, SRC), node_tlv(2, SEGS[0]), node_tlv(3, "2001:db8::abcd"),
            padding_tlv(4)))), 54),
        Vector("inline-raw-draft04", d04, LINKTYPE_RAW, inline, 40),
        Vector("pad1-padn-rfc8754", rfc, eth, _eth(SrhSpec(SEGS, segments_left=1, tlvs=(
            b"\x00", padding_tlv(7)))), 54),
        Vector("hmac-rfc8754", rfc, eth, _eth(with_hmac(base, SRC, KEY, profile=rfc)), 54),
        Vector("reduced-rfc8754", rfc, eth, _eth(SrhSpec(SEGS[:2], segments_left=2),
                                                 dst=SEGS[2]), 54),
    ]


VECTORS = ["wireshark-frame2", *(v.name for v in _built_vectors())]


@pytest.fixture(params=VECTORS)
def vector(request: pytest.FixtureRequest) -> Vector:
    if request.param == "wireshark-frame2":
        frames = request.getfixturevalue("wireshark_frames")
        return Vector("wireshark-frame2", Profile.DRAFT04, LINKTYPE_RAW, frames[1], 40)
    return next(v for v in _built_vectors() if v.name == request.param)


def _rules(insp: Inspector, data: bytes, orig_len: int, linktype: int) -> list[str]:
    result = insp.feed(Frame(1, 0.0, linktype, data, orig_len))
    return [] if result is None else [f.rule for f in result.findings]


def _errors(rules: list[str]) -> set[str]:
    return {r for r in rules if RULES[r].severity is Severity.ERROR}


def test_vectors_are_valid(vector: Vector) -> None:
    assert _rules(vector.inspector(), vector.data, len(vector.data), vector.linktype) == []


def test_every_truncation_length(vector: Vector) -> None:
    """Cut the frame at every length, as a short frame and as a snaplen-cut capture.

    Before the SRH's Routing Type byte (offset 2) is captured nothing says the routing header
    is an SRH, so there is nothing to report; from there until the SRH is complete the cut is
    ``srh.truncated`` (or ``capture.snaplen`` when orig_len says the capture cut it) and no
    other error; once the SRH is whole, the cut (inside the inner packet) changes nothing.
    """
    insp = vector.inspector()
    data, start, end = vector.data, vector.srh_offset, vector.srh_end
    for n in range(len(data) + 1):
        short = _rules(insp, data[:n], n, vector.linktype)
        snap = _rules(insp, data[:n], len(data), vector.linktype)
        where = f"{vector.name} cut at {n} (SRH {start}..{end})"
        if n < start + 3 or n >= end:
            assert short == [], where
            assert snap == [], where
        else:
            assert "srh.truncated" in short, where
            assert _errors(short) == {"srh.truncated"}, where
            assert "capture.snaplen" not in short, where
            assert snap == ["capture.snaplen"], where


def test_every_payload_length_inside_the_srh(vector: Vector) -> None:
    """A Payload Length that ends inside the SRH is srh.truncated, whatever was captured."""
    insp = vector.inspector()
    ip_off = vector.srh_offset - 40
    srh_len = vector.srh_end - vector.srh_offset
    for plen in range(1, srh_len):
        data = bytearray(vector.data)
        struct.pack_into("!H", data, ip_off + 4, plen)
        rules = _rules(insp, bytes(data), len(data), vector.linktype)
        if plen < 3:
            assert rules == [], plen  # the Routing Type byte is outside the payload
        else:
            assert "srh.truncated" in rules, plen
            assert _errors(rules) == {"srh.truncated"}, plen


def _bad_vectors() -> list[Vector]:
    """Vectors with findings, so 'trailing bytes change nothing' compares something."""
    d04, rfc, eth = Profile.DRAFT04, Profile.RFC8754, LINKTYPE_ETHERNET
    return [
        Vector("segleft", d04, eth, _eth(SrhSpec(SEGS, segments_left=5), dst=SEGS[1]), 54),
        Vector("overrun", d04, eth, _eth(SrhSpec(SEGS, segments_left=1, tlvs=(
            tlv(0x7F, bytes(6), length=10),))), 54),
        Vector("lone-byte", rfc, eth, _eth(SrhSpec(SEGS, segments_left=1, tlvs=(
            padding_tlv(7), b"\x09"))), 54),
        Vector("hmac-mismatch", d04, eth, _eth(with_hmac(SrhSpec(SEGS, segments_left=1), SRC,
                                                         KEY, corrupt=True)), 54),
        Vector("hdrlen-short", d04, LINKTYPE_RAW, ipv6_packet(SRC, SEGS[0], 43, push_srh(
            SrhSpec([SEGS[0]], segments_left=0, first_segment=2, hdr_ext_len=2,
                    next_header=59))), 40),
    ]


@pytest.mark.parametrize("garbage", [b"\x00", b"\xff" * 7, bytes(range(256)),
                                     b"\x60" + bytes(39) + b"\x2b\x06\x04\x01"])
@pytest.mark.parametrize("bad", [False, True], ids=["valid", "malformed"])
def test_trailing_garbage_changes_nothing(vector: Vector, garbage: bytes, bad: bool) -> None:
    vectors = [vector] if not bad else _bad_vectors()
    for v in vectors:
        insp = v.inspector()
        clean = insp.feed(Frame(1, 0.0, v.linktype, v.data, len(v.data)))
        longer = v.data + garbage
        dirty = insp.feed(Frame(1, 0.0, v.linktype, longer, len(longer)))
        assert clean is not None and dirty is not None
        assert [f.to_dict() for f in dirty.findings] == [f.to_dict() for f in clean.findings]
        assert dirty.srh is not None and clean.srh is not None
        assert dirty.srh.tlvs == clean.srh.tlvs
        assert dirty.srh.segments == clean.srh.segments
        assert [h.status for h in dirty.hmacs] == [h.status for h in clean.hmacs]
        if bad:
            assert clean.findings, v.name


def _check_invariants(insp: Inspector, data: bytes, linktype: int,
                      orig_len: int | None = None) -> None:
    """feed() never raises; every finding is a catalogued rule pointing into the frame."""
    result = insp.feed(Frame(1, 0.0, linktype, data, len(data) if orig_len is None
                             else orig_len))
    if result is None:
        return
    for f in result.findings:
        rule = RULES[f.rule]
        assert f.severity is rule.severity
        assert rule.applies(insp.profile)
        assert 0 <= f.offset < len(data), f
        assert f.length >= 0


LINKTYPES = st.sampled_from([0, 1, 101, 108, 113, 228, 229, 276, 147, 65535])
PROFILES = st.sampled_from(list(PACKET_PROFILES))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=400), linktype=LINKTYPES, profile=PROFILES)
def test_random_bytes_never_raise(data: bytes, linktype: int, profile: Profile) -> None:
    _check_invariants(Inspector(profile, Keyring([KEY])), data, linktype)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plen=st.integers(0, 0xFFFF), nh=st.sampled_from([43, 0, 60, 44, 51, 41, 4]),
       rest=st.binary(max_size=600), profile=PROFILES, snap=st.booleans())
def test_random_extension_chains_never_raise(plen: int, nh: int, rest: bytes, profile: Profile,
                                             snap: bool) -> None:
    """A valid IPv6 header in front of random bytes, so the chain and SRH code run."""
    data = ipv6_packet("2001:db8::1", "2001:db8::2", nh, rest, payload_length=plen)
    _check_invariants(Inspector(profile, Keyring([KEY])), data, LINKTYPE_RAW,
                      len(data) + 100 if snap else None)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from(range(len(_built_vectors()) + len(_bad_vectors()))),
       edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1,
                      max_size=8),
       cut=st.integers(0, 10_000), profile=PROFILES)
def test_mutated_vectors_never_raise(which: int, edits: list[tuple[int, int]], cut: int,
                                     profile: Profile) -> None:
    """Valid and malformed vectors with random bytes overwritten and a random cut."""
    v = [*_built_vectors(), *_bad_vectors()][which]
    data = bytearray(v.data)
    for pos, value in edits:
        # Mostly hit the SRH, where the interesting length fields are.
        target = v.srh_offset + pos % (len(data) - v.srh_offset) if pos % 3 else pos % len(data)
        data[target] = value
    data = data[:max(cut % (len(data) + 1), 1)] if cut % 2 else data
    _check_invariants(Inspector(profile, Keyring([KEY])), bytes(data), v.linktype)
