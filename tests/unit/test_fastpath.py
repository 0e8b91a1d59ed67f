"""The audit fast path must never hide a finding: whenever it calls a packet clean, the full
decoder and validator must agree that no rule fires, and what it records of an HMAC packet
is what the validator gives. The audit engine (``AuditEngine.judge``) takes the path."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srinspect._fastpath import fast_srh_py
from srinspect.build import ethernet, inner_udp, ipv6_packet, srv6_packet, with_hmac
from srinspect.engine import AuditEngine
from srinspect.frame import Frame
from srinspect.inspector import Inspector, PacketResult
from srinspect.keys import Key, Keyring
from srinspect.linklayer import LINKTYPE_IPV6
from srinspect.rules import PACKET_PROFILES, Profile
from srinspect.srh import SrhSpec, node_tlv, padding_tlv, push_srh, resolve, tlv

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


# --- the widened fast path: options headers around the SRH, draft-04 TLV layouts ------------

SOURCE = "2001:db8:a::1"
WIDE_KEY = Key(9, "sha256", b"wide-key")


def _tlv_vocabulary(segs: list[str]) -> dict[str, bytes]:
    return {
        "ingress": node_tlv(1, SOURCE), "ingress-wrong": node_tlv(1, segs[-1]),
        "egress": node_tlv(2, segs[0]), "egress-wrong": node_tlv(2, SOURCE),
        "opaque": node_tlv(3, SOURCE), "node-short": tlv(1, bytes(10)),
        "pad4": padding_tlv(4), "pad8": padding_tlv(8), "pad-dirty": tlv(4, bytes(5) + b"\x01"),
        "pad-long": padding_tlv(12), "unknown": tlv(9, bytes(6)), "pad1": b"\x00",
    }


def _wide_packet(before: list[int], after: list[int], n: int, sl_delta: int, names: list[str],
                 hmac: str, flags: int, reserved: int) -> bytes:
    segs = [f"2001:db8:{i + 1:x}::1" for i in range(n)]
    vocab = _tlv_vocabulary(segs)
    body = b"".join(vocab[name] for name in names)
    fill = -len(body) % 8  # whole 8-byte units: a Padding TLV last (where draft-04 wants it)
    body += padding_tlv(fill if fill >= 3 else fill + 8) if fill else b""
    spec = SrhSpec(segs, segments_left=max(n - 1 + sl_delta, 0), flags=flags,
                   reserved=reserved, tlvs=(body,) if body else ())
    if hmac != "none":
        spec = with_hmac(spec, SOURCE, WIDE_KEY, corrupt=hmac == "corrupt",
                         set_h=hmac != "unflagged")
    spec = resolve(spec)
    kinds = [*before, 43, *after]
    chain = b""
    for i, kind in enumerate(kinds):
        nxt = kinds[i + 1] if i + 1 < len(kinds) else 41
        chain += (push_srh(replace(spec, next_header=nxt)) if kind == 43
                  else bytes((nxt, 0)) + b"\x01\x04\x00\x00\x00\x00")
    listed = push_srh(spec)
    sl = min(spec.segments_left or 0, spec.first_segment or 0)
    return ipv6_packet(SOURCE, listed[8 + 16 * sl : 24 + 16 * sl], kinds[0], chain + INNER)


def _agrees(data: bytes, profile: Profile, key_known: bool) -> int:
    """Assert what the fast path says of ``data`` against the validator; its verdict."""
    draft04 = profile is Profile.DRAFT04
    verdict = fast_srh_py(data, 0, draft04)
    keyring = Keyring([WIDE_KEY]) if key_known else None
    full = Inspector(profile, keyring).feed(_frame(data))
    if full is None:  # e.g. behind a later fragment: no SRH to see, nothing for a fast path
        assert verdict == -2
        return verdict
    if verdict == -1:
        assert full.findings == [] and full.hmacs == []
    elif verdict >= 0:
        assert draft04
        fast = AuditEngine(Inspector(profile, keyring), cache=False).judge(_frame(data))
        assert fast is not None and not isinstance(fast, PacketResult)
        assert fast.findings == full.findings and fast.hmacs == full.hmacs
    return verdict


@pytest.mark.parametrize("name", sorted(_tlv_vocabulary(["::1"])))
@pytest.mark.parametrize("hmac", ["none", "good"])
def test_each_tlv_alone_gets_the_validators_verdict(name: str, hmac: str) -> None:
    """Each TLV of the vocabulary on its own (padded to whole units), behind Hop-by-Hop and
    Destination Options: the clean ones take the fast path, the faulty ones do not."""
    data = _wide_packet([0, 60], [], 3, -1, [name], hmac, 0x08 if hmac == "good" else 0, 0)
    verdict = _agrees(data, Profile.DRAFT04, True)
    clean = name in ("ingress", "egress", "opaque", "pad8")  # pad4 is filled by a second one
    assert (verdict != -2) == clean, verdict


@settings(max_examples=500, deadline=None)
@given(
    before=st.lists(st.sampled_from([0, 60, 60, 44, 51]), max_size=3),
    after=st.lists(st.sampled_from([60, 0, 44]), max_size=2),
    n=st.integers(1, 4),
    sl_delta=st.integers(-3, 1),
    names=st.lists(st.sampled_from(sorted(_tlv_vocabulary(["::1"]))), max_size=2),
    hmac=st.sampled_from(["none", "good", "corrupt", "unflagged"]),
    flags=st.sampled_from([0, 0, 0x08, 0x40]),
    reserved=st.sampled_from([0, 0, 1]),
    key_known=st.booleans(),
    profile=st.sampled_from(list(PACKET_PROFILES)),
)
def test_widened_fast_path_agrees_with_the_validator(before, after, n, sl_delta, names, hmac,
                                                    flags, reserved, key_known,
                                                    profile) -> None:
    """Whatever the chain and TLVs: when the fast path calls a packet clean the validator
    finds nothing, and when it leaves only the HMAC, the engine records exactly what the
    validator gives."""
    data = _wide_packet(before, after, n, sl_delta, names, hmac, flags, reserved)
    _agrees(data, profile, key_known)
