"""The packet rules (spec section 4) against the crafted captures, plus targeted checks.

``pcaps/crafted-*.pcapng`` hold one labelled frame per rule (``expect=<rule|valid>
profile=<p> | why``, written by ``pcaps/make_crafted.py``). Each frame must fire its rule and no
other error; valid frames fire nothing; and every rule of a profile must have a frame, so a new
rule without a sample fails here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from srinspect.build import ethernet, inner_udp, ipv6_packet, srv6_packet, with_hmac
from srinspect.findings import HMAC_MISMATCH, HMAC_VERIFIED, Finding
from srinspect.frame import Frame
from srinspect.inspector import Inspector, PacketResult
from srinspect.keys import Key, Keyring, build_keyring
from srinspect.rules import PACKET_PROFILES, RULES, Profile, Severity, rules_for
from srinspect.srh import SrhSpec, hmac_tlv, node_tlv, padding_tlv, push_srh, tlv
from srinspect.wire import parse_ip6

LINKTYPE_ETHERNET = 1
ETH = 14  # the crafted frames are Ethernet: the IPv6 header starts at 14, the SRH at 54
SRC = "2001:db8:a::1"
SEGS = ["2001:db8:f::1", "2001:db8:3::1", "2001:db8:2::1"]
INNER = inner_udp("2001:db8:a::100", "2001:db8:f::100")
KEY = Key(1, "sha256", b"rules-test")

if TYPE_CHECKING:  # the fixture's type lives in tests/conftest.py
    from conftest import CraftedFrame


@pytest.fixture(scope="module")
def keyring(crafted_keys: Path) -> Keyring:
    return build_keyring(key_files=[str(crafted_keys)])


def _feed(data: bytes, profile: Profile, keyring: Keyring | None = None,
          orig_len: int | None = None) -> PacketResult:
    frame = Frame(1, 0.0, LINKTYPE_ETHERNET, data, len(data) if orig_len is None else orig_len)
    result = Inspector(profile, keyring if keyring is not None else Keyring([KEY])).feed(frame)
    assert result is not None and result.has_srh
    return result


def _packet(spec: SrhSpec, **kw: object) -> bytes:
    return ethernet(srv6_packet(SRC, spec, INNER, **kw))  # type: ignore[arg-type]


def _rules(result: PacketResult) -> list[str]:
    return [f.rule for f in result.findings]


# ---------------------------------------------------------------------------------------------
# The crafted captures


def test_crafted_frame(crafted_frame: CraftedFrame, keyring: Keyring) -> None:
    """``expect=R``: R fires and no other error-severity rule; ``expect=valid``: nothing."""
    cf = crafted_frame
    result = Inspector(cf.profile, keyring).feed(cf.frame)
    assert result is not None and result.has_srh, f"frame {cf.frame.number}: no SRH decoded"
    fired = _rules(result)
    label = f"{cf.path.name} frame {cf.frame.number} ({cf.why}): fired {fired}"
    if cf.expect == "valid":
        assert fired == [], label
        # Valid HMAC frames verify with the key file (none is "unknown-key" or "mismatch").
        assert all(h.status == HMAC_VERIFIED for h in result.hmacs), label
        if "HMAC" in cf.why:
            assert result.hmacs, label
        return
    assert cf.expect in RULES, f"{label}: label names no rule"
    assert cf.expect in fired, label
    other_errors = {r for r in fired if r != cf.expect and RULES[r].severity is Severity.ERROR}
    assert not other_errors, label
    for f in result.findings:
        assert f.frame == cf.frame.number
        assert f.ref == RULES[f.rule].ref(cf.profile)
        assert 0 <= f.offset < len(cf.frame.data)


@pytest.mark.parametrize("profile", list(PACKET_PROFILES))
def test_every_rule_has_a_crafted_frame(
        profile: Profile, crafted_by_profile: dict[Profile, list[CraftedFrame]]) -> None:
    covered = {cf.expect for cf in crafted_by_profile[profile]}
    missing = [r.id for r in rules_for(profile) if r.id not in covered and not r.needs]
    assert not missing, f"rules of {profile} without a crafted frame: {missing}"
    assert "valid" in covered
    # A label for a rule that cannot fire under its profile is a mistake in the sample.
    wrong = covered - {"valid"} - {r.id for r in rules_for(profile)}
    assert not wrong, f"{profile} frames labelled with rules of another profile: {wrong}"


# ---------------------------------------------------------------------------------------------
# Profile differences


def test_reduced_srh_is_legal_under_both_profiles() -> None:
    """RFC 8754 s4.1.1 / RFC 8986 s5.2 (H.Encaps.Red): SL == LE+1, the first segment only in
    the DA, skips srh.da.mismatch. draft-04 knew no reduced SRH, but Linux (which the draft-04
    profile follows) emits them with encap.red, so neither profile calls them faulty; one
    more (SL == LE+2) is still out of range under both."""
    data = _packet(SrhSpec(SEGS[:2], segments_left=2), dst=SEGS[2])
    assert _rules(_feed(data, Profile.RFC8754)) == []
    assert _rules(_feed(data, Profile.DRAFT04)) == []
    beyond = _packet(SrhSpec(SEGS[:2], segments_left=3), dst=SEGS[2])
    assert _rules(_feed(beyond, Profile.RFC8754)) == ["srh.segleft.range"]
    assert _rules(_feed(beyond, Profile.DRAFT04)) == ["srh.segleft.range"]
    # One past LE+1 is out of range under RFC 8754 too.
    data = _packet(SrhSpec(SEGS[:2], segments_left=3), dst=SEGS[2])
    assert _rules(_feed(data, Profile.RFC8754)) == ["srh.segleft.range"]


def test_da_mismatch_when_sl_is_in_range() -> None:
    data = _packet(SrhSpec(SEGS, segments_left=1), dst=SEGS[0])
    for profile in PACKET_PROFILES:
        assert _rules(_feed(data, profile)) == ["srh.da.mismatch"]


def test_lone_trailing_zero_is_pad1_under_rfc8754_but_an_overrun_under_draft04() -> None:
    data = _packet(SrhSpec(SEGS, segments_left=1, tlvs=(padding_tlv(7), b"\x00")))
    rfc = _feed(data, Profile.RFC8754)
    assert _rules(rfc) == []
    assert (rfc.srh.tlvs[-1].type, rfc.srh.tlvs[-1].length) == (0, None)  # Pad1: no Length
    d04 = _feed(data, Profile.DRAFT04)
    (overrun,) = [f for f in d04.findings if f.rule == "srh.tlv.overrun"]
    assert overrun.offset == rfc.srh.end - 1  # points at the lone byte
    # The only error; draft-04 may add that the Padding TLV is then not the last one.
    assert {f.rule for f in d04.findings} <= {"srh.tlv.overrun", "srh.tlv.padding"}


def test_rfc8754_hmac_with_d_bit_on_a_reduced_list_verifies() -> None:
    """RFC 8754 s2.1.2.1: D=1 and SL > LE skips the DA check; D=0 there fails it."""
    reduced = SrhSpec(SEGS[:2], segments_left=2)
    good = _packet(with_hmac(reduced, SRC, KEY, profile=Profile.RFC8754, d_bit=True),
                   dst=SEGS[2])
    result = _feed(good, Profile.RFC8754)
    assert _rules(result) == []
    assert [h.status for h in result.hmacs] == [HMAC_VERIFIED]
    bad = _packet(with_hmac(reduced, SRC, KEY, profile=Profile.RFC8754, d_bit=False),
                  dst=SEGS[2])
    result = _feed(bad, Profile.RFC8754)
    assert _rules(result) == ["srh.hmac.mismatch"]
    assert [h.status for h in result.hmacs] == [HMAC_MISMATCH]


def test_rfc8754_hmac_fails_when_the_da_is_not_the_active_segment() -> None:
    spec = with_hmac(SrhSpec(SEGS, segments_left=1), SRC, KEY, profile=Profile.RFC8754)
    result = _feed(_packet(spec, dst=SEGS[0]), Profile.RFC8754)
    assert set(_rules(result)) == {"srh.da.mismatch", "srh.hmac.mismatch"}
    # ... while draft-04 does not involve the DA in the HMAC at all.
    spec = with_hmac(SrhSpec(SEGS, segments_left=1), SRC, KEY)
    result = _feed(_packet(spec, dst=SEGS[0]), Profile.DRAFT04)
    assert _rules(result) == ["srh.da.mismatch"]
    assert [h.status for h in result.hmacs] == [HMAC_VERIFIED]


def test_draft04_rules_are_silent_under_rfc8754() -> None:
    data = _packet(SrhSpec(SEGS, segments_left=1, reserved=0xBEEF, tlvs=(
        node_tlv(1, "2001:db8:bad::1"), padding_tlv(4))))
    assert set(_rules(_feed(data, Profile.DRAFT04))) == {"srh.reserved.nonzero",
                                                         "srh.tlv.ingress.mismatch"}
    assert _rules(_feed(data, Profile.RFC8754)) == ["srh.tlv.unknown"]  # type 1 is Reserved


@pytest.mark.parametrize(("length", "draft04", "rfc8754"), [
    (14, True, False), (22, True, False), (30, True, False), (38, False, False),
])
def test_hmac_tlv_lengths_per_profile(length: int, draft04: bool, rfc8754: bool) -> None:
    """draft-04 allows only Length 38; RFC 8754 allows 14, 22, 30 and 38."""
    mac = bytes(length - 6)
    tlvs = (hmac_tlv(99, mac), padding_tlv(-(length + 2) % 8)) if (length + 2) % 8 else (
        hmac_tlv(99, mac),)
    data = _packet(SrhSpec(SEGS, segments_left=1, flags=0x08 if length == 38 else 0,
                           tlvs=tlvs))
    d04 = _rules(_feed(data, Profile.DRAFT04))
    rfc = _rules(_feed(data, Profile.RFC8754))
    assert ("srh.tlv.length" in d04) is draft04, d04
    assert ("srh.tlv.length" in rfc) is rfc8754, rfc
    assert "srh.hmac.unknown-key" in rfc  # the RFC 8754 HMAC was understood (key 99 unknown)


# ---------------------------------------------------------------------------------------------
# Finding offsets point at the bytes at fault


def _finding(data: bytes, rule: str, profile: Profile = Profile.DRAFT04,
             orig_len: int | None = None) -> tuple[Finding, PacketResult]:
    result = _feed(data, profile, orig_len=orig_len)
    matches = [f for f in result.findings if f.rule == rule]
    assert len(matches) == 1, _rules(result)
    return matches[0], result


def test_offset_segments_left() -> None:
    data = _packet(SrhSpec(SEGS, segments_left=5), dst=SEGS[1])
    f, result = _finding(data, "srh.segleft.range")
    assert f.offset == ETH + 40 + 3 and f.length == 1
    assert data[f.offset] == 5
    assert (f.field, f.srh) == ("segments_left", result.srh.offset)


def test_offset_flags_reserved_and_hdr_ext_len() -> None:
    data = _packet(SrhSpec(SEGS, segments_left=1, flags=0x81, reserved=0x1234))
    f, _ = _finding(data, "srh.flags.unused")
    assert (f.offset, f.length, data[f.offset]) == (ETH + 40 + 5, 1, 0x81)
    f, _ = _finding(data, "srh.reserved.nonzero")
    assert (f.offset, f.length) == (ETH + 40 + 6, 2)
    assert data[f.offset:f.offset + 2] == b"\x12\x34"
    srh = push_srh(SrhSpec([SEGS[0]], segments_left=0, first_segment=2, hdr_ext_len=2,
                           next_header=59))
    data = ethernet(ipv6_packet(SRC, SEGS[0], 43, srh))
    f, _ = _finding(data, "srh.hdrlen.short")
    assert (f.offset, data[f.offset]) == (ETH + 40 + 1, 2)


def test_offset_da_and_segments() -> None:
    data = _packet(SrhSpec(SEGS, segments_left=1), dst="2001:db8:9::1")
    f, _ = _finding(data, "srh.da.mismatch")
    assert (f.offset, f.length) == (ETH + 24, 16)
    assert data[f.offset:f.offset + 16] == parse_ip6("2001:db8:9::1")
    data = _packet(SrhSpec([SEGS[0], SEGS[1], "ff02::1"], segments_left=1))
    f, _ = _finding(data, "srh.segment.invalid")
    assert (f.offset, f.length, f.field) == (ETH + 40 + 8 + 32, 16, "segments[2]")
    assert data[f.offset:f.offset + 16] == parse_ip6("ff02::1")


def test_offset_tlvs() -> None:
    list_end = ETH + 40 + 8 + 16 * 3
    data = _packet(SrhSpec(SEGS, segments_left=1, tlvs=(tlv(1, bytes(10)), padding_tlv(4))))
    f, _ = _finding(data, "srh.tlv.length")
    assert (f.offset, data[f.offset], f.field) == (list_end + 1, 10, "tlvs[0]")
    data = _packet(SrhSpec(SEGS, segments_left=1, tlvs=(tlv(0x7F, bytes(6), length=10),)))
    f, _ = _finding(data, "srh.tlv.overrun")
    assert (f.offset, data[f.offset]) == (list_end + 1, 10)  # the Length that lies
    data = _packet(SrhSpec(SEGS, segments_left=1, tlvs=(node_tlv(2, "2001:db8:bad::2"),
                                                        padding_tlv(4))))
    f, _ = _finding(data, "srh.tlv.egress.mismatch")
    assert data[f.offset:f.offset + f.length] == parse_ip6("2001:db8:bad::2")


def test_offset_hmac() -> None:
    spec = with_hmac(SrhSpec(SEGS, segments_left=1), SRC, KEY, corrupt=True)
    data = _packet(spec)
    f, result = _finding(data, "srh.hmac.mismatch")
    tlv_off = result.srh.end - 40
    assert (f.offset, f.length) == (tlv_off + 8, 32)  # the MAC bytes
    assert data[f.offset:f.offset + 32] == spec.tlvs[-1][8:]
    spec = with_hmac(SrhSpec(SEGS, segments_left=1), SRC, Key(77, "sha256", b"x"))
    data = _packet(spec)
    f, _ = _finding(data, "srh.hmac.unknown-key")
    assert (f.offset, f.length) == (tlv_off + 4, 4)  # the key id
    assert data[f.offset:f.offset + 4] == (77).to_bytes(4, "big")


def test_offset_truncated_and_snaplen() -> None:
    full = _packet(SrhSpec(SEGS, segments_left=1))
    f, _ = _finding(full[:ETH + 40 + 30], "srh.truncated")
    assert (f.offset, f.field) == (ETH + 40 + 1, "hdr_ext_len")
    f, _ = _finding(full[:ETH + 40 + 30], "capture.snaplen", orig_len=len(full))
    assert (f.offset, f.length) == (ETH + 40, 30)


def test_duplicate_srh() -> None:
    second = push_srh(SrhSpec(SEGS, segments_left=1, next_header=41))
    first = push_srh(SrhSpec(SEGS, segments_left=1, next_header=43))
    data = ethernet(ipv6_packet(SRC, SEGS[1], 43, first + second + INNER))
    f, result = _finding(data, "srh.duplicate")
    assert len(result.ip.srhs) == 2
    assert f.offset == result.ip.srhs[1].offset + 2  # its Routing Type
    assert f.srh == ETH + 40 + 56


# ---------------------------------------------------------------------------------------------
# srinspect rules


def test_rules_command_lists_every_rule(run_cli: Callable) -> None:
    res = run_cli("rules")
    assert res.rc == 0
    listed = {line.split()[0] for line in res.out.splitlines()[1:] if line.strip()}
    assert listed == set(RULES)
    for rule in RULES.values():
        line = next(ln for ln in res.out.splitlines() if ln.split()[0] == rule.id)
        assert rule.severity.label in line.split()


def test_rules_command_json(run_cli: Callable) -> None:
    res = run_cli("rules", "--format", "json")
    assert res.rc == 0
    data = json.loads(res.out)
    assert [r["id"] for r in data] == list(RULES)
    for item in data:
        rule = RULES[item["id"]]
        assert item["severity"] == rule.severity.label
        assert set(item["profiles"]) == {str(p) for p in rule.profiles}


def test_rule_table_is_the_spec_contract() -> None:
    """Spec section 4's IDs and severities (the public contract: never renamed)."""
    spec = {
        "srh.truncated": "error", "srh.hdrlen.short": "error", "srh.segleft.range": "error",
        "srh.da.mismatch": "warning", "srh.flags.unused": "warning",
        "srh.reserved.nonzero": "warning", "srh.tlv.overrun": "error",
        "srh.tlv.length": "error", "srh.tlv.unknown": "info", "srh.tlv.padding": "warning",
        "srh.tlv.ingress.mismatch": "warning", "srh.tlv.egress.mismatch": "warning",
        "srh.hmac.missing": "error", "srh.hmac.unflagged": "error",
        "srh.hmac.position": "error", "srh.hmac.mismatch": "error",
        "srh.hmac.unknown-key": "info", "srh.duplicate": "warning",
        "srh.segment.invalid": "warning", "capture.snaplen": "info",
        # header order (RFC 8200 s4.1), added after the spec digest was written
        "srh.order.fragment": "error", "srh.order.routing": "warning",
        # RFC 9800 C-SIDs, only with --csid
        "csid.container.empty": "error", "csid.container.gap": "error",
    }
    assert {r.id: r.severity.label for r in RULES.values()} == spec
    draft04_only = {"srh.reserved.nonzero", "srh.hmac.missing", "srh.hmac.unflagged",
                    "srh.hmac.position"}
    for rule in RULES.values():
        if rule.id in draft04_only:
            assert rule.profiles == {Profile.DRAFT04}, rule.id


# ---------------------------------------------------------------------------------------------
# Header order (RFC 8200 s4.1)

_RH0 = bytes([43, 2, 0, 1, 0, 0, 0, 0]) + parse_ip6("2001:db8:c::1")


def _frag(nh: int, offset_words: int = 0, more: bool = True) -> bytes:
    return bytes([nh, 0]) + ((offset_words << 3) | more).to_bytes(2, "big") + bytes(4)


def test_srh_behind_fragment_fires_order_fragment_at_the_srh() -> None:
    srh = push_srh(SrhSpec(SEGS, segments_left=1, next_header=41))
    data = ethernet(ipv6_packet(SRC, SEGS[1], 44, _frag(43) + srh + INNER))
    f, result = _finding(data, "srh.order.fragment")
    assert f.offset == result.ip.srhs[0].offset == ETH + 48
    assert f.severity is Severity.ERROR and "RFC 8200 s4.1" in f.ref
    assert "srh.order.routing" not in _rules(result)


def test_srh_before_fragment_is_in_order() -> None:
    srh = push_srh(SrhSpec(SEGS, segments_left=1, next_header=44))
    data = ethernet(ipv6_packet(SRC, SEGS[1], 43, srh + _frag(41, more=False) + INNER))
    result = _feed(data, Profile.DRAFT04)
    assert _rules(result) == []


@pytest.mark.parametrize("profile", list(PACKET_PROFILES))
def test_type0_and_srh_fire_order_routing_either_way(profile: Profile) -> None:
    srh_then = push_srh(SrhSpec(SEGS, segments_left=1, next_header=43))
    rh0_last = _RH0[:0] + bytes([41]) + _RH0[1:]
    for chain in (_RH0 + push_srh(SrhSpec(SEGS, segments_left=1, next_header=41)),
                  srh_then + rh0_last):
        data = ethernet(ipv6_packet(SRC, SEGS[1], 43, chain + INNER))
        result = _feed(data, profile)
        rules = _rules(result)
        assert rules.count("srh.order.routing") == 1, rules
        f = next(f for f in result.findings if f.rule == "srh.order.routing")
        assert f.offset == ETH + 40 + (24 if chain.startswith(_RH0) else 56) + 2
        assert f.severity is Severity.WARNING


def test_two_srhs_are_duplicate_not_order_routing() -> None:
    second = push_srh(SrhSpec(SEGS, segments_left=1, next_header=41))
    first = push_srh(SrhSpec(SEGS, segments_left=1, next_header=43))
    result = _feed(ethernet(ipv6_packet(SRC, SEGS[1], 43, first + second + INNER)),
                   Profile.DRAFT04)
    assert "srh.duplicate" in _rules(result)
    assert "srh.order.routing" not in _rules(result)
