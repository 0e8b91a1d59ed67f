"""The verdict cache must be invisible: an audit reports the same findings, offsets, counts
and HMAC results with the cache on, off, and in pure Python, whatever varies between the
packets that share a key (payload length, hop limit, flow label, payload, capture length)
and whatever keys are configured; and it stays within its bound.

The key itself: what it leaves out must be what the validator does not read, and the
compiled pre-filter must build the same key (tests/unit/test_skim.py checks that frame by
frame on mutated packets).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapes import INNER, SEGS, SOURCE, wide_seeds  # type: ignore[import-not-found]

from srinspect import _fastpath, skim, verdicts
from srinspect.audit.sequential import Auditor
from srinspect.build import ethernet, ipv6_packet, srv6_packet, with_hmac
from srinspect.engine import AuditEngine
from srinspect.frame import Frame
from srinspect.inspector import Inspector
from srinspect.keys import Key, Keyring
from srinspect.rules import PACKET_PROFILES, Profile
from srinspect.sinks.audit_json import report_dict
from srinspect.sinks.pcapng_writer import write_pcap
from srinspect.srh import SrhSpec
from srinspect.verdicts import VerdictCache, verdict_key

KEY = Key(7, "sha256", b"verdict-test-key")
OTHER = Key(7, "sha256", b"another-secret")  # same id, other secret: every MAC mismatches


def base_packets() -> list[bytes]:
    """IPv6 packets with an SRH: the wide shapes, plus SRHs the validator faults."""
    faulty = [
        srv6_packet(SOURCE, SrhSpec(SEGS, segments_left=5), INNER, dst=SEGS[1]),
        srv6_packet(SOURCE, SrhSpec(SEGS, segments_left=1), INNER, dst="2001:db8::99"),
        srv6_packet(SOURCE, SrhSpec(["ff02::1", *SEGS[1:]], segments_left=1), INNER),
        srv6_packet(SOURCE, with_hmac(SrhSpec(SEGS, segments_left=1, flags=0x80), SOURCE, KEY),
                    INNER),
    ]
    return [*wide_seeds(KEY), *faulty]


BASES = base_packets()


def vary(packet: bytes, plen: int | None, hop_limit: int, label: int, tail: int,
         cut: int | None, source: int = 0) -> tuple[bytes, int]:
    """The packet with another Payload Length (None: the right one), hop limit, flow label,
    payload size and last source byte, cut to ``cut`` bytes: (captured bytes, original
    length), as an Ethernet frame."""
    data = bytearray(packet + bytes(tail))
    struct.pack_into("!IH", data, 0, (6 << 28) | label, len(data) - 40 if plen is None else plen)
    data[7] = hop_limit
    data[8 + 15] ^= source
    frame = ethernet(bytes(data))
    return (frame[:cut] if cut is not None else frame), len(frame)


variation = st.tuples(
    st.integers(0, 2),  # which of the example's bases
    st.one_of(st.none(), st.none(), st.none(), st.integers(0, 200)),  # Payload Length
    st.integers(0, 255), st.integers(0, 0xFFFFF), st.integers(0, 64),  # hop limit, label, tail
    st.one_of(st.none(), st.none(), st.integers(20, 200)),  # captured length
    st.sampled_from([0, 0, 0, 1]),  # source: another one now and then
)


def audit(path: Path, profile: Profile, keyring: Keyring | None) -> str:
    auditor = Auditor(profile, keyring)
    return json.dumps(report_dict(auditor.audit_files([str(path)])), sort_keys=True)


def three_ways(monkeypatch: pytest.MonkeyPatch, path: Path, profile: Profile,
               keyring: Keyring | None) -> tuple[str, str, str]:
    """The report with the cache on, with it off, and in pure Python with the cache on."""
    on = audit(path, profile, keyring)
    with monkeypatch.context() as m:
        m.setenv(verdicts.CACHE_ENV, "0")
        off = audit(path, profile, keyring)
    with monkeypatch.context() as m:
        m.setattr(skim, "native", None)
        m.setattr("srinspect.engine.fast_srh", _fastpath.fast_srh_py)
        pure = audit(path, profile, keyring)
    return on, off, pure


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(bases=st.lists(st.integers(0, len(BASES) - 1), min_size=3, max_size=3),
       frames=st.lists(variation, min_size=1, max_size=40),
       repeats=st.integers(1, 4),
       profile=st.sampled_from(list(PACKET_PROFILES)),
       keys=st.sampled_from(["none", "right", "wrong"]))
def test_reports_are_identical_with_the_cache_on_off_and_in_pure_python(
        tmp_path_factory, monkeypatch, bases, frames, repeats, profile, keys) -> None:
    """Packets sharing an SRH but not their payload length, hop limit, flow label, payload
    or capture length, each several times in a row and interleaved, under each profile and
    key set: one report."""
    keyring = {"none": None, "right": Keyring([KEY]), "wrong": Keyring([OTHER])}[keys]
    records = [vary(BASES[bases[b]], *rest) for b, *rest in frames] * repeats
    path = tmp_path_factory.mktemp("v") / "varied.pcap"
    write_pcap(path, [Frame(i + 1, 1.0 + i, 1, data, orig)
                      for i, (data, orig) in enumerate(records)], 1)
    on, off, pure = three_ways(monkeypatch, path, profile, keyring)
    assert on == off
    assert on == pure


def test_repeats_are_served_from_the_cache(tmp_path) -> None:
    """Not a no-op: a capture of a few flows fills a few entries, later packets hit them,
    and their findings come out on their own frame numbers."""
    packets = [vary(p, None, 64, 0, 0, None)[0] for p in BASES]
    path = tmp_path / "repeats.pcap"
    frames = [Frame(i + 1, 1.0, 1, packets[i % len(packets)], len(packets[i % len(packets)]))
              for i in range(len(packets) * 20)]
    write_pcap(path, frames, 1)
    cached = Auditor(Profile.DRAFT04, Keyring([KEY]))
    report = cached.audit_files([str(path)])
    cache = cached.engine.cache
    assert cache is not None and 0 < len(cache) <= len(packets)
    assert cache.inserted == len(cache)  # each distinct chain validated once
    per_frame = {f.frame for _file, f in report.findings}
    faulty = [i + 1 for i, f in enumerate(frames)
              if Inspector(Profile.DRAFT04, Keyring([KEY])).feed(f).findings]  # type: ignore[union-attr]
    assert per_frame == set(faulty)


def test_the_key_leaves_out_what_the_validator_does_not_read() -> None:
    packet = BASES[0]
    base, _ = vary(packet, None, 64, 0, 0, None)
    key = verdict_key(base, 14)
    assert key is not None
    for other in (vary(packet, None, 1, 0, 0, None), vary(packet, None, 64, 0xABCDE, 0, None),
                  vary(packet, None, 64, 0, 40, None), vary(packet, 400, 64, 0, 0, None),
                  vary(packet, 96, 64, 0, 40, None)):
        assert verdict_key(other[0], 14) == key
    changed = bytearray(base)
    changed[14 + 8 + 15] ^= 1  # the source
    assert verdict_key(bytes(changed), 14) != key
    assert verdict_key(b"\x00" * 4 + base, 18) != key  # another IPv6 offset


@pytest.mark.parametrize("make", [
    lambda: vary(BASES[0], 30, 64, 0, 0, None)[0],  # Payload Length ends inside the chain
    lambda: vary(BASES[0], None, 64, 0, 0, 14 + 60)[0],  # the capture cut the chain
    lambda: ethernet(ipv6_packet(SOURCE, SEGS[1], 43, b"", payload_length=0)),  # jumbo / none
    lambda: ethernet(INNER),  # no SRH at all
    lambda: ethernet(BASES[4]),  # a Fragment header after the SRH
    lambda: ethernet(srv6_packet(SOURCE, SrhSpec(SEGS, segments_left=1), BASES[0])),  # nested
])
def test_what_may_change_the_verdict_is_not_cached(make) -> None:
    assert verdict_key(make(), 14) is None


def test_the_cache_stays_within_its_bound(tmp_path, monkeypatch) -> None:
    """A capture in which no two packets share a key (a counter in the source): the cache
    empties itself whenever it would pass its bound and never holds more; the report is the
    one without a cache."""
    monkeypatch.setattr(verdicts, "MAX_BYTES", 16 << 10)
    template = bytearray(vary(BASES[-1], None, 64, 0, 0, None)[0])  # unused flag + HMAC TLV
    frames = []
    for i in range(3000):
        struct.pack_into("!I", template, 14 + 8 + 12, i)
        frames.append(Frame(i + 1, 1.0, 1, bytes(template), len(template)))
    path = tmp_path / "distinct.pcap"
    write_pcap(path, frames, 1)
    auditor = Auditor()
    report = auditor.audit_files([str(path)])
    cache = auditor.engine.cache
    assert cache is not None and cache.max_bytes == 16 << 10
    assert cache.inserted == 3000 and cache.evicted > 2000
    assert 0 < cache.size <= cache.max_bytes
    assert report.by_rule["srh.flags.unused"] == report.by_rule["srh.hmac.unknown-key"] == 3000
    monkeypatch.setenv(verdicts.CACHE_ENV, "0")
    assert audit(path, Profile.DRAFT04, None) == json.dumps(report_dict(report), sort_keys=True)


def test_the_engine_can_share_or_refuse_a_cache() -> None:
    shared = VerdictCache()
    assert AuditEngine(Inspector(), shared).cache is shared
    assert AuditEngine(Inspector(), False).cache is None
    assert AuditEngine(Inspector(), None).cache is None
    assert isinstance(AuditEngine(Inspector()).cache, VerdictCache)  # empty is still a cache


def _distinct_capture(path: Path, count: int, run: int) -> Path:
    """``count`` packets (unused flag + HMAC TLV: findings), each source ``run`` times in a
    row."""
    template = bytearray(vary(BASES[-1], None, 64, 0, 0, None)[0])
    frames = []
    for i in range(count):
        struct.pack_into("!I", template, 14 + 8 + 12, i // run)
        frames.append(Frame(i + 1, 1.0, 1, bytes(template), len(template)))
    write_pcap(path, frames, 1)
    return path


def test_the_cache_stops_storing_when_nothing_repeats(tmp_path, monkeypatch) -> None:
    """Admission: where (nearly) every SRH packet is new, storing verdicts is upkeep for
    nothing; the cache stops for a while and looks again, and the report does not change.
    Where flows repeat, it keeps storing."""
    monkeypatch.setattr(verdicts, "WINDOW", 64)
    monkeypatch.setattr(verdicts, "BYPASS", 1000)
    path = _distinct_capture(tmp_path / "distinct.pcap", 3000, 1)
    auditor = Auditor()
    report = auditor.audit_files([str(path)])
    cache = auditor.engine.cache
    assert cache is not None and cache.bypasses >= 2 and 0 < cache.inserted < 3000 // 2
    monkeypatch.setenv(verdicts.CACHE_ENV, "0")
    assert audit(path, Profile.DRAFT04, None) == json.dumps(report_dict(report), sort_keys=True)
    monkeypatch.delenv(verdicts.CACHE_ENV)

    repeated = Auditor()
    repeated.audit_files([str(_distinct_capture(tmp_path / "flows.pcap", 3000, 30))])
    assert repeated.engine.cache is not None and repeated.engine.cache.bypasses == 0
    assert repeated.engine.cache.inserted == 100
