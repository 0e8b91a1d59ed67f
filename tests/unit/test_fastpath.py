"""The audit fast path must never hide a finding: whenever it calls a packet clean, the full
decoder and validator must agree that no rule fires, and what it records of an HMAC packet
is what the validator gives. The audit engine (``AuditEngine.judge``) takes the path."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from srinspect._fastpath import fast_srh_py
from srinspect.build import ethernet, inner_udp, ipv6_packet, srv6_packet
from srinspect.engine import AuditEngine
from srinspect.frame import Frame
from srinspect.inspector import Inspector, PacketResult
from srinspect.linklayer import LINKTYPE_IPV6
from srinspect.rules import PACKET_PROFILES, Profile
from srinspect.srh import SrhSpec, push_srh

SEGS = ["2001:db8:f::1", "2001:db8:3::1", "2001:db8:2::1"]
INNER = inner_udp("2001:db8:a::100", "2001:db8:f::100")
# SRv6 L2 encapsulation (Next Header 143) of a frame whose IPv6 packet has a faulty SRH
L2_FAULTY = ethernet(srv6_packet("2001:db8:a::100", SrhSpec(SEGS, segments_left=5), INNER,
                                 dst=SEGS[1]))


def _frame(data: bytes) -> Frame:
    return Frame(1, 0.0, LINKTYPE_IPV6, data, len(data))


def test_clean_packet_takes_the_fast_path() -> None:
    data = srv6_packet("2001:db8:a::1", SrhSpec(SEGS, segments_left=1), INNER)
    assert fast_srh_py(data, 0, True) == -1
    insp = Inspector()
    assert AuditEngine(insp).judge(_frame(data)) is None  # nothing to record
    assert insp.srh_packets == 1
    full = insp.feed(_frame(data))
    assert isinstance(full, PacketResult) and full.findings == []


def test_faulty_packets_leave_the_fast_path() -> None:
    bad_sl = srv6_packet("2001:db8:a::1", SrhSpec(SEGS, segments_left=5), INNER,
                         dst=SEGS[1])
    bad_da = srv6_packet("2001:db8:a::1", SrhSpec(SEGS, segments_left=1), INNER,
                         dst="2001:db8::99")
    multicast = srv6_packet("2001:db8:a::1", SrhSpec(["ff02::1", *SEGS[1:]], segments_left=1),
                            INNER)
    for data in (bad_sl, bad_da, multicast):
        assert fast_srh_py(data, 0, True) == -2
        result = AuditEngine(Inspector()).judge(_frame(data))
        assert isinstance(result, PacketResult) and result.findings


def test_l2_encapsulated_faulty_srh_leaves_the_fast_path() -> None:
    """Next Header 143: the outer SRH is clean, the SRv6 packet in the Ethernet frame is not."""
    data = srv6_packet("2001:db8:a::1", SrhSpec(SEGS, segments_left=1, next_header=143),
                       L2_FAULTY)
    assert fast_srh_py(data, 0, True) == -2
    result = AuditEngine(Inspector()).judge(_frame(data))
    assert isinstance(result, PacketResult)
    assert [f.rule for f in result.findings] == ["srh.segleft.range"]


segment = st.one_of(
    st.sampled_from(["2001:db8::1", "::", "::1", "ff02::2", "::ffff:10.0.0.1", "fc00::5"]),
    st.binary(min_size=16, max_size=16),
)


@settings(max_examples=400, deadline=None)
@given(
    segs=st.lists(segment, min_size=1, max_size=5),
    sl=st.integers(0, 6),
    fs_delta=st.integers(-1, 1),
    flags=st.sampled_from([0, 0x08, 0x40, 0x80, 0x01]),
    reserved=st.sampled_from([0, 1]),
    nh=st.sampled_from([41, 4, 17, 43, 59, 143]),
    da_index=st.integers(0, 5),
    plen_delta=st.sampled_from([0, 0, -8, 8]),
    profile=st.sampled_from(list(PACKET_PROFILES)),
)
def test_fast_path_agrees_with_the_validator(segs, sl, fs_delta, flags, reserved, nh, da_index,
                                             plen_delta, profile) -> None:
    fs = max(len(segs) - 1 + fs_delta, 0)
    raw = [s if isinstance(s, bytes) else s for s in segs]
    srh = push_srh(SrhSpec(raw, segments_left=sl, first_segment=fs, flags=flags,
                           reserved=reserved, next_header=nh))
    payload = srh + {41: INNER, 143: L2_FAULTY}.get(nh, b"\x00" * 8)
    dst = push_srh(SrhSpec(raw))[8 + 16 * min(da_index, len(raw) - 1):][:16]
    data = ipv6_packet("2001:db8:a::1", dst, 43, payload,
                       payload_length=max(len(payload) + plen_delta, 0))
    if fast_srh_py(data, 0, profile is Profile.DRAFT04) == -1:
        result = Inspector(profile).feed(_frame(data))
        assert isinstance(result, PacketResult)
        assert result.findings == [], result.findings


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 5),
    sl=st.integers(0, 5),
    key_known=st.booleans(),
    algo=st.sampled_from(["sha1", "sha256"]),
    corrupt=st.booleans(),
    extra_flags=st.sampled_from([0, 0x40, 0x80, 0x01]),
    reserved=st.sampled_from([0, 7]),
    da_ok=st.booleans(),
    nh=st.sampled_from([41, 17, 59]),
)
def test_hmac_fast_path_gives_what_the_validator_gives(n, sl, key_known, algo, corrupt,
                                                      extra_flags, reserved, da_ok,
                                                      nh) -> None:
    from srinspect.build import with_hmac
    from srinspect.keys import Key, Keyring

    segs = [f"2001:db8:{i + 1:x}::1" for i in range(n)]
    key = Key(3, algo, b"k-e-y")
    spec = with_hmac(SrhSpec(segs, segments_left=min(sl, n - 1), flags=extra_flags,
                             reserved=reserved, next_header=nh), "2001:db8:a::1", key,
                     corrupt=corrupt)
    payload = INNER if nh == 41 else b"\x00" * 8
    data = srv6_packet("2001:db8:a::1", spec, payload,
                       dst=None if da_ok else "2001:db8:99::1")
    insp = Inspector(Profile.DRAFT04, Keyring([key]) if key_known else None)
    fast = AuditEngine(insp).judge(_frame(data))
    full = insp.feed(_frame(data))
    assert isinstance(full, PacketResult)
    if fast is None:
        assert full.findings == [] and full.hmacs == []
    else:
        assert fast.findings == full.findings
        assert fast.hmacs == full.hmacs


def test_hmac_fast_path_is_taken_for_kernel_packets() -> None:
    from pathlib import Path

    from srinspect.sources import open_capture

    pcap = Path(__file__).resolve().parents[2] / "pcaps" / "kernel-hmac.pcap"
    taken = 0
    for frame in open_capture(pcap):
        off = 14
        if frame.data[12:14] == b"\x86\xdd" and fast_srh_py(frame.data, off, True) >= 0:
            taken += 1
    assert taken == 12  # every HMAC packet the kernel made qualifies
