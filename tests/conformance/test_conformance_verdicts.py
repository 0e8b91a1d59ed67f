"""Verdict and scoring logic, without root: recorded observations from a real kernel run
(``data/linux-observations.json.gz``, see ``record_observations.py``) are re-judged offline,
and hand-made observations pin down each expectation's edge cases.
"""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from conformance import packets
from conformance.case import CaseResult
from conformance.cases import BY_ID
from conformance.dut.linux import LinuxDut
from conformance.expect import Answered, AnyOf, Dropped, Forwarded, IcmpErr, RateLimited
from conformance.fields import diff, packet_fields
from conformance.model import Send, Verdict
from conformance.observe import BARRIER_SEQ, Captured, classify
from conformance.runner import judge
from conformance.score import exit_status, score
from srinspect.build import ipv6_packet, udp
from srinspect.rules import Profile

DATA = Path(__file__).parent / "data" / "linux-observations.json.gz"
RECORD_SECRET = "srinspect-recorded-observations"
NONCE = b"\xaa\xbb\xcc\xdd"
MAC = b"\x02\x00\x00\x00\x00\x01"


def _records() -> list[dict[str, Any]]:
    with gzip.open(DATA, "rt", encoding="utf-8") as f:
        return json.load(f)["records"]


RECORDS = _records()


@pytest.mark.parametrize("rec", RECORDS, ids=[f"{r['profile']}-{r['case']}" for r in RECORDS])
def test_recorded_observation_rejudged(rec: dict[str, Any]) -> None:
    """The same frames give the same verdict offline as they did live."""
    topo = LinuxDut(hmac_secret=RECORD_SECRET).topology
    sent = [Send(bytes.fromhex(h), role) for h, role in zip(rec["sent"], rec["roles"],
                                                             strict=True)]
    captured = [Captured.from_dict(c) for c in rec["captured"]]
    verdict, _exp, observed, _detail = judge(BY_ID[rec["case"]], Profile(rec["profile"]), topo,
                                             sent, captured, bytes.fromhex(rec["nonce"]),
                                             rec["case_no"])
    assert (verdict, observed) == (Verdict(rec["verdict"]), rec["observed"])


def test_recorded_linux_behaviour_matches_spec_section5() -> None:
    by = {(r["profile"], r["case"]): r for r in RECORDS}
    assert "Parameter Problem code 0 pointer 43" in by["draft-04", "segleft-out-of-range"][
        "observed"]
    assert by["draft-04", "hmac-invalid-drop"]["verdict"] == "PASS"
    assert by["draft-04", "hmac-invalid-icmp"]["verdict"] == "FAIL"
    assert by["draft-04", "hmac-invalid-icmp"]["observed"] == "dropped silently"


def test_recorded_observations_without_barrier_are_inconclusive() -> None:
    rec = next(r for r in RECORDS if r["case"] == "hmac-invalid-drop")
    topo = LinuxDut(hmac_secret=RECORD_SECRET).topology
    sent = [Send(bytes.fromhex(h)) for h in rec["sent"]]
    # Drop everything on the receive ports: a dead DUT must not pass a drop case.
    captured = [Captured.from_dict(c) for c in rec["captured"] if c["port"] == "tx"]
    verdict, *_ = judge(BY_ID["hmac-invalid-drop"], Profile.DRAFT04, topo, sent, captured,
                        bytes.fromhex(rec["nonce"]), rec["case_no"])
    assert verdict is Verdict.INCONCLUSIVE


# --- hand-made observations -----------------------------------------------------------------

def eth(ip: bytes) -> bytes:
    return MAC + MAC + b"\x86\xdd" + ip


def tagged(seq: int, dst: str = "2001:db8:f::1", hl: int = 64) -> bytes:
    payload = packets.make_tag(NONCE, 1, seq) + b"x" * 8
    return ipv6_packet("2001:db8:a::1", dst, 17, udp("2001:db8:a::1", dst, 1, 2, payload), hl)


def icmp_error(quoted: bytes, itype: int = 4, code: int = 0, pointer: int = 43) -> bytes:
    msg = struct.pack("!BBHI", itype, code, 0, pointer) + quoted
    return ipv6_packet("2001:db8:d::1", "2001:db8:a::1", 58, msg)


def barrier() -> Captured:
    return Captured("rx", 0.0, eth(tagged(BARRIER_SEQ, "2001:db8:f::ba77")))


def observe(sent: list[bytes], *frames: Captured):  # type: ignore[no-untyped-def]
    sends = [Send(p) for p in sent]
    return classify([*frames, barrier()], sends, NONCE, 1), sends


def test_forwarded_exact_and_diff() -> None:
    pkt = tagged(0)
    obs, sends = observe([pkt], Captured("rx", 0, eth(packets.dec_hl(pkt))))
    assert Forwarded(packets.dec_hl(pkt)).evaluate(obs, sends).verdict is Verdict.PASS
    j = Forwarded(pkt).evaluate(obs, sends)  # expected HL 64, got 63
    assert j.verdict is Verdict.FAIL and "ipv6.hop_limit: expected 64, got 63" in j.detail
    assert Forwarded(pkt, dont_care=("ipv6.hop_limit",)).evaluate(obs, sends).verdict is \
        Verdict.PASS
    j = Forwarded(packets.dec_hl(pkt), port="rx2").evaluate(obs, sends)
    assert j.verdict is Verdict.FAIL and "left on rx, expected rx2" in j.detail


def test_forwarded_twice_or_with_icmp_fails() -> None:
    pkt = tagged(0)
    fwd = Captured("rx", 0, eth(packets.dec_hl(pkt)))
    obs, sends = observe([pkt], fwd, fwd)
    assert "forwarded 2 times" in Forwarded(packets.dec_hl(pkt)).evaluate(obs, sends).detail
    obs, sends = observe([pkt], fwd, Captured("tx", 0, eth(icmp_error(pkt))))
    assert Forwarded(packets.dec_hl(pkt)).evaluate(obs, sends).verdict is Verdict.FAIL


def test_dropped_silent_versus_icmp() -> None:
    pkt = tagged(0)
    obs, sends = observe([pkt])
    assert Dropped(silent=True).evaluate(obs, sends).observed == "dropped silently"
    obs, sends = observe([pkt], Captured("tx", 0, eth(icmp_error(pkt))))
    assert Dropped().evaluate(obs, sends).verdict is Verdict.PASS
    assert Dropped(silent=True).evaluate(obs, sends).verdict is Verdict.FAIL
    obs, sends = observe([pkt], Captured("rx", 0, eth(pkt)))
    assert Dropped().evaluate(obs, sends).verdict is Verdict.FAIL


def test_icmp_type_code_pointer_and_quote() -> None:
    pkt = tagged(0)
    obs, sends = observe([pkt], Captured("tx", 0, eth(icmp_error(pkt, pointer=43))))
    j = IcmpErr(4, 0, 43).evaluate(obs, sends)
    assert j.verdict is Verdict.PASS and "quoted" in j.detail
    assert IcmpErr(4, 0, 42).evaluate(obs, sends).verdict is Verdict.FAIL
    assert IcmpErr(3, 0).evaluate(obs, sends).verdict is Verdict.FAIL
    # A quote of a modified packet is a note, or a failure when the quote is judged strictly.
    obs, sends = observe([pkt], Captured("tx", 0, eth(icmp_error(packets.dec_hl(pkt)))))
    assert "note" in IcmpErr(4, 0, 43).evaluate(obs, sends).detail
    assert IcmpErr(4, 0, 43, strict_quote=True).evaluate(obs, sends).verdict is Verdict.FAIL


def test_answered_anyof_and_ratelimit() -> None:
    pkt = tagged(0)
    reply = ipv6_packet("2001:db8:d::1", "2001:db8:a::1", 58,
                        b"\x81\x00\x00\x00" + packets.make_tag(NONCE, 1, 0))
    obs, sends = observe([pkt], Captured("tx", 0, eth(reply)))
    assert Answered().evaluate(obs, sends).verdict is Verdict.PASS
    either = AnyOf((IcmpErr(4, 4), Answered()))
    assert either.evaluate(obs, sends).verdict is Verdict.PASS
    burst = [tagged(i) for i in range(10)]
    obs, sends = observe(burst)
    assert RateLimited().evaluate(obs, sends).verdict is Verdict.INCONCLUSIVE
    obs, sends = observe(burst, *(Captured("tx", 0, eth(icmp_error(p))) for p in burst[:3]))
    assert RateLimited().evaluate(obs, sends).verdict is Verdict.PASS
    obs, sends = observe(burst, *(Captured("tx", 0, eth(icmp_error(p))) for p in burst))
    assert RateLimited().evaluate(obs, sends).verdict is Verdict.FAIL


def test_classify_filters_noise_and_foreign_tags() -> None:
    pkt = tagged(0)
    ns = ipv6_packet("fe80::1", "ff02::1:ff00:1", 58, bytes([135, 0, 0, 0]) + bytes(20))
    mld = ipv6_packet("fe80::1", "ff02::16", 58, bytes([143, 0, 0, 0]) + bytes(20))
    other_run = ipv6_packet("2001:db8:a::1", "2001:db8:f::1", 17,
                            udp("2001:db8:a::1", "2001:db8:f::1", 1, 2,
                                packets.make_tag(b"zzzz", 1, 0)))
    obs, _ = observe([pkt], *(Captured("rx", 0, eth(p)) for p in (ns, mld, other_run)))
    assert obs.noise == 2 and obs.foreign == 1 and obs.barrier
    assert obs.outcome(0).silent


# --- fields and transforms ------------------------------------------------------------------

def test_fields_cover_every_byte() -> None:
    topo = LinuxDut().topology
    ctx = packets.Ctx(topo, Profile.DRAFT04, lambda: packets.make_tag(NONCE, 1, 0))
    pkt = ctx.srv6([topo.down(2), topo.down(1), topo.dut], 2)
    assert diff(pkt, pkt) == []
    f = packet_fields(pkt)
    assert f["srh.segments_left"] == "2" and f["inner.ipv6.dst"] == topo.down(2)
    broken = bytearray(pkt)
    broken[-1] ^= 1
    assert [d.name for d in diff(pkt, bytes(broken))] == ["inner.payload"]


def test_transforms() -> None:
    topo = LinuxDut().topology
    ctx = packets.Ctx(topo, Profile.DRAFT04, lambda: packets.make_tag(NONCE, 1, 0))
    pkt = ctx.srv6([topo.down(2), topo.down(1), topo.dut], 2)
    adv = packet_fields(packets.advance(pkt))
    assert (adv["srh.segments_left"], adv["ipv6.dst"], adv["ipv6.hop_limit"]) == \
        ("1", topo.down(1), "63")
    inner = ctx.inner(topo.down(5))
    assert packets.decap(ctx.srv6([topo.dut], 0, inner=inner)) == packets.dec_hl(inner)
    popped = packet_fields(packets.pop_srh(packets.advance(ctx.srv6([topo.down(2), topo.dut], 1))))
    assert popped["ipv6.next_header"] == "41" and "srh.segments_left" not in popped
    enc = packet_fields(packets.encapsulated(topo.dut, ["2001:db8::a", "2001:db8::b"], inner))
    assert (enc["ipv6.dst"], enc["srh.segments[0]"], enc["srh.segments_left"]) == \
        ("2001:db8::a", "2001:db8::b", "1")
    inl = packet_fields(packets.inline(inner, ["2001:db8::a"]))
    assert (inl["ipv6.dst"], inl["srh.segments[0]"], inl["srh.next_header"]) == \
        ("2001:db8::a", topo.down(5), "17")


# --- scoring --------------------------------------------------------------------------------

def result(case_id: str, profile: Profile, verdict: Verdict) -> CaseResult:
    return CaseResult(BY_ID[case_id], profile, verdict)


def test_score_per_profile_and_level() -> None:
    results = [
        result("transit-valid", Profile.DRAFT04, Verdict.PASS),  # MUST
        result("hmac-invalid-drop", Profile.DRAFT04, Verdict.PASS),  # MUST
        result("hmac-invalid-icmp", Profile.DRAFT04, Verdict.FAIL),  # SHOULD
        result("segleft-out-of-range", Profile.DRAFT04, Verdict.FAIL),  # unspecified
        result("end-psp", Profile.RFC8986, Verdict.SKIP),
        result("segleft-out-of-range", Profile.RFC8754, Verdict.PASS),  # MUST there
    ]
    s = score(results)
    d04 = s[Profile.DRAFT04]
    assert (str(d04.must), str(d04.should)) == ("2/2", "0/1")
    assert d04.informational == {"FAIL": 1}
    assert str(s[Profile.RFC8986].must) == "0/0"
    assert str(s[Profile.RFC8754].must) == "1/1"
    assert exit_status(results) == 0  # a SHOULD and an informational failure do not count


@pytest.mark.parametrize("verdict", [Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.ERROR])
def test_a_must_that_did_not_pass_fails_the_run(verdict: Verdict) -> None:
    results = [result("transit-valid", Profile.DRAFT04, Verdict.PASS),
               result("endpoint-advance", Profile.DRAFT04, verdict)]
    assert exit_status(results) == 1
    assert str(score(results)[Profile.DRAFT04].must) == "1/2"
