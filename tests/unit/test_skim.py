"""The compiled pre-filter (srinspect._skim) must decide exactly what the Python path decides.

It consumes records in C only when the audit engine's Python path would find nothing to
record (not SRv6, or a clean simple SRH), sets aside the simple HMAC packets that path
verifies without decoding them, and its counts must be the inspector's. These tests hold
the two together per frame (real, crafted and randomly mutated packets on every supported
link type), per reader (pcap and pcapng, limits, damaged files) and per audit report.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapes import wide_seeds  # type: ignore[import-not-found]

from srinspect import _fastpath as fastpath
from srinspect import skim
from srinspect.audit.sequential import Auditor
from srinspect.build import (
    ETH_IPV4,
    NH_ETHERNET,
    ethernet,
    inner_udp,
    ipv4_packet,
    srv6_packet,
    udp4,
    vlan_tag,
    with_hmac,
)
from srinspect.engine import AuditEngine
from srinspect.frame import Frame
from srinspect.inspector import Inspector, PacketResult
from srinspect.keys import Key, Keyring
from srinspect.linklayer import ipv6_offset_func
from srinspect.rules import PACKET_PROFILES, Profile
from srinspect.sinks.audit_json import report_dict
from srinspect.sinks.pcapng_writer import PcapngWriter, write_pcap
from srinspect.sources import open_capture
from srinspect.sources.pcap import PcapReader
from srinspect.srh import SrhSpec
from srinspect.verdicts import verdict_key

REPO = Path(__file__).resolve().parents[2]
EXTERNAL = REPO.parent / "shared" / "pcaps-external"
CAPTURES = sorted(REPO.glob("pcaps/*.pcap*")) + sorted(EXTERNAL.glob("*.pcap*"))

SEGS = ["2001:db8:f::1", "2001:db8:3::1", "2001:db8:2::1"]
INNER = inner_udp("2001:db8:a::100", "2001:db8:f::100")
KEY = Key(7, "sha256", b"skim-test-key")

native = skim.native


def test_the_compiled_prefilter_is_built() -> None:
    """CI installs a compiler (scripts/setup.sh), so a missing build is a failure here."""
    if os.environ.get("SRINSPECT_PURE", "") not in ("", "0"):
        pytest.skip("SRINSPECT_PURE is set: a pure-Python run was asked for")
    assert native is not None, "srinspect._skim was not built (see setup.py)"
    assert "compiled" in skim.describe()


needs_native = pytest.mark.skipif(native is None, reason="srinspect._skim is not built")


# --- seed packets ----------------------------------------------------------------------------


def _seed_packets() -> list[bytes]:
    """IPv6 packets (no link header): clean, faulty, HMAC, plain, nested, from the kernel."""
    def pkt(spec: SrhSpec, **kw: object) -> bytes:
        return srv6_packet("2001:db8:a::1", spec, INNER, **kw)  # type: ignore[arg-type]

    out = [
        pkt(SrhSpec(SEGS, segments_left=1)),
        pkt(SrhSpec(SEGS, segments_left=0)),
        pkt(SrhSpec(SEGS, segments_left=5), dst=SEGS[1]),
        pkt(SrhSpec(SEGS, segments_left=1, flags=0x80)),
        pkt(with_hmac(SrhSpec(SEGS, segments_left=1), "2001:db8:a::1", KEY)),
        pkt(with_hmac(SrhSpec(SEGS, segments_left=2), "2001:db8:a::1", KEY, corrupt=True)),
        INNER,
        srv6_packet("2001:db8:a::1", SrhSpec(SEGS, segments_left=1, next_header=17),
                    b"\x00" * 8),
    ]
    out.append(srv6_packet("2001:db8:b::1", SrhSpec(["2001:db8:9::1"], segments_left=0),
                           out[0]))  # an SRH inside an SRH
    out.extend(_l2_seeds(out[0], out[2]))
    out.extend(wide_seeds(KEY))
    for path in CAPTURES:
        with open_capture(path) as reader:
            for frame in reader:
                fn = ipv6_offset_func(frame.linktype)
                off = fn(frame.data) if fn else -1
                if off >= 0:
                    out.append(frame.data[off:])
    return out


def _l2_seeds(good: bytes, bad: bytes) -> list[bytes]:
    """SRv6 L2 encapsulation (Next Header 143): the Ethernet frame carries plain IPv6, IPv4,
    an SRv6 packet (clean or faulty: the pre-filter must not call it clean), behind QinQ
    tags, and behind a simple HMAC SRH (the HMAC batch must not take it either)."""
    def l2(frame: bytes, spec: SrhSpec | None = None) -> bytes:
        spec = spec or SrhSpec(["2001:db8:7::1"], segments_left=0, next_header=NH_ETHERNET)
        return srv6_packet("2001:db8:b::1", spec, frame)

    qinq = (vlan_tag(100, tpid=0x88A8), vlan_tag(10))
    ip4 = ipv4_packet("10.0.0.1", "10.0.0.2", 17, udp4("10.0.0.1", "10.0.0.2", 1, 2, b"x"))
    hmac = with_hmac(SrhSpec(SEGS, segments_left=1, next_header=NH_ETHERNET),
                     "2001:db8:b::1", KEY)
    return [l2(ethernet(INNER)), l2(ethernet(ip4, ETH_IPV4)), l2(ethernet(good)),
            l2(ethernet(bad)), l2(ethernet(bad, tags=qinq)), l2(ethernet(INNER, tags=qinq)),
            l2(ethernet(bad), hmac), l2(ethernet(INNER), hmac)]


SEEDS = _seed_packets()

# Link-layer wrappers for every link type linklayer.py knows, plus one it does not.
WRAP = {
    1: lambda p: ethernet(p),
    -1: lambda p: bytes(12) + b"\x81\x00\x00\x05\x88\xa8\x00\x06\x86\xdd" + p,  # QinQ
    101: lambda p: p,
    229: lambda p: p,
    228: lambda p: p,
    113: lambda p: bytes(14) + b"\x86\xdd" + p,
    276: lambda p: b"\x86\xdd" + bytes(18) + p,
    0: lambda p: (10).to_bytes(4, "little") + p,
    -108: lambda p: (30).to_bytes(4, "big") + p,  # NULL written big-endian (FreeBSD host)
    108: lambda p: (24).to_bytes(4, "big") + p,
    147: lambda p: p,  # a DLT_USER type: unsupported
}


def _linktype(key: int) -> int:
    return {-1: 1, -108: 0}.get(key, key)


def python_verdict(linktype: int, data: bytes, draft04: bool) -> int:
    """What the engine's Python path does with a frame, in the pre-filter's codes (see
    _skim.c): the inspector locates the IPv6 header worth looking at, then the Python fast
    path calls it clean (2) or leaves it to Python (3, also for an HMAC packet: the verdict
    does not batch)."""
    if ipv6_offset_func(linktype) is None:
        return 3  # unsupported link type: Python counts it
    insp = Inspector(Profile.DRAFT04 if draft04 else Profile.RFC8754)
    off = insp.locate(Frame(1, 0.0, linktype, data, len(data)))
    if off < 0:
        return 1 if insp.ipv6_packets else 0
    return 2 if fastpath.fast_srh_py(data, off, draft04) == -1 else 3


# --- per frame -------------------------------------------------------------------------------


@needs_native
@pytest.mark.parametrize("wrap", sorted(WRAP))
def test_every_seed_gets_the_python_verdict(wrap: int) -> None:
    linktype = _linktype(wrap)
    seen = set()
    for packet in SEEDS:
        data = WRAP[wrap](packet)
        for draft04 in (True, False):
            want = python_verdict(linktype, data, draft04)
            assert native.verdict(linktype, data, draft04) == want, (wrap, data.hex())
            seen.add(want)
    if linktype in (1, 101, 229, 113, 276, 0, 108):
        assert seen == {1, 2, 3}  # the seeds exercise skipping, clean SRHs and the slow path
    if linktype == 228:
        assert seen == {0}


mutation = st.tuples(st.integers(0, 400), st.integers(0, 255))


@needs_native
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, len(SEEDS) - 1),
    wrap=st.sampled_from(sorted(WRAP)),
    mutations=st.lists(mutation, max_size=4),
    cut=st.one_of(st.none(), st.integers(0, 400)),
    draft04=st.booleans(),
)
def test_mutated_frames_get_the_python_verdict(seed, wrap, mutations, cut, draft04) -> None:
    data = bytearray(WRAP[wrap](SEEDS[seed]))
    for at, value in mutations:
        if at < len(data):
            data[at] = value
    frame = bytes(data[:cut] if cut is not None else data)
    linktype = _linktype(wrap)
    assert native.verdict(linktype, frame, draft04) == python_verdict(linktype, frame, draft04)
    fn = ipv6_offset_func(linktype)
    off = fn(frame) if fn else -1
    if off >= 0:
        for at in (off, max(off - 3, 0), off + 2):  # also offsets that are wrong on purpose
            assert native.fast_srh(frame, at, draft04) == fastpath.fast_srh_py(frame, at, draft04)
            if at + 40 <= len(frame):
                assert native.cache_key(frame, at) == verdict_key(frame, at)


@needs_native
@pytest.mark.parametrize("off", [-1, -(2**63), 2**63 - 1, 2**63 - 48, 2**62, 10**9])
def test_fast_srh_rejects_offsets_outside_the_frame(off: int) -> None:
    """Offsets come from Python: none may overflow a bounds check (one used to crash)."""
    assert native.fast_srh(SEEDS[0], off, True) == -2
    assert fastpath.fast_srh_py(SEEDS[0], off, True) == -2 if off >= 0 else True


@needs_native
def test_skim_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        native.skim_pcap(b"", 0, 0, 0, False, -1, 1, True, 0, None)
    with pytest.raises(ValueError):
        native.skim_pcap(b"", -1, 0, 0, False, 1, 1, True, 0, None)
    with pytest.raises(TypeError):
        native.skim_pcap(b"", 0, 0, 0, False, 1, 1, True, 0, ())


# --- per reader ------------------------------------------------------------------------------


def _frames(count: int, linktype: int = 1) -> list[Frame]:
    """A mix whose runs of skippable frames are broken by frames that need Python."""
    out = []
    for i in range(count):
        packet = SEEDS[(i * 7) % len(SEEDS)]
        data = WRAP[linktype](packet)
        out.append(Frame(i + 1, 1_700_000_000 + i / 1000, linktype, data, len(data)))
    return out


def _audit(paths: list[Path], profile: Profile = Profile.DRAFT04) -> dict[str, object]:
    auditor = Auditor(profile, Keyring([KEY]))
    return report_dict(auditor.audit_files([str(p) for p in paths]))


def _audit_both(monkeypatch: pytest.MonkeyPatch, paths: list[Path],
                profile: Profile = Profile.DRAFT04) -> dict[str, object]:
    fast = _audit(paths, profile)
    with monkeypatch.context() as m:
        m.setattr(skim, "native", None)
        m.setattr("srinspect.engine.fast_srh", fastpath.fast_srh_py)
        pure = _audit(paths, profile)
    assert fast == pure
    return fast


@needs_native
@pytest.mark.parametrize("profile", list(PACKET_PROFILES))
def test_l2_encapsulation_audit_is_unchanged(tmp_path, monkeypatch, profile) -> None:
    """Next Header 143: the same report with and without the pre-filter, and the faulty
    SRv6 packet inside the Ethernet frame is found (not hidden as a clean outer SRH)."""
    l2 = _l2_seeds(SEEDS[0], SEEDS[2])
    path = tmp_path / "l2.pcap"
    write_pcap(path, [Frame(i + 1, 1.0 + i, 1, ethernet(p), len(p) + 14)
                      for i, p in enumerate(l2 * 50)], 1)
    rep = _audit_both(monkeypatch, [path], profile)
    by_rule = rep["summary"]["by_rule"]  # type: ignore[index]
    assert by_rule.get("srh.segleft.range") == 3 * 50, by_rule
    tcpdump = EXTERNAL / "tcpdump" / "ipv6-srh-ipproto-ether.pcap"
    assert _audit_both(monkeypatch, [tcpdump], profile)["summary"]["srh_packets"] == 1  # type: ignore[index]


@needs_native
@pytest.mark.parametrize("profile", list(PACKET_PROFILES))
def test_audit_of_every_sample_capture_is_unchanged(monkeypatch, profile) -> None:
    rep = _audit_both(monkeypatch, CAPTURES, profile)
    assert rep["summary"]["packets"] > 0  # type: ignore[index]


@needs_native
@pytest.mark.parametrize("linktype", [1, 101, 113, 276, 0, 108, 147])
def test_pcap_audit_is_unchanged_per_link_type(tmp_path, monkeypatch, linktype) -> None:
    path = tmp_path / "mix.pcap"
    write_pcap(path, _frames(3000, linktype), linktype)
    rep = _audit_both(monkeypatch, [path])
    summary = rep["summary"]
    assert summary["packets"] == 3000  # type: ignore[index]
    if linktype != 147:
        assert summary["findings"] > 0 and summary["srh_packets"] > 1000  # type: ignore[index]


def _pcapng(path: Path, frames: list[Frame], linktypes: tuple[int, ...] = (1, 113, 147),
            comment_every: int = 5) -> Path:
    with path.open("wb") as out:
        w = PcapngWriter(out)
        for lt in linktypes:
            w.add_interface(lt)
        for i, f in enumerate(frames):
            iface = i % len(linktypes)
            lt = linktypes[iface]
            data = WRAP[lt](SEEDS[(i * 7) % len(SEEDS)])
            frame = Frame(f.number, f.ts, lt, data, len(data), iface)
            w.write(frame, comments=[f"c{i}"] if i % comment_every == 0 else ())
    return path


@needs_native
def test_pcapng_audit_is_unchanged_across_interfaces(tmp_path, monkeypatch) -> None:
    path = _pcapng(tmp_path / "mix.pcapng", _frames(3000))
    rep = _audit_both(monkeypatch, [path])
    assert rep["summary"]["packets"] == 3000  # type: ignore[index]
    assert any("147" in n for n in rep["files"][0]["notes"])  # type: ignore[index]


@needs_native
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(kind=st.sampled_from(["pcap", "pcapng"]),
       damage=st.lists(st.tuples(st.integers(0, 30_000), st.integers(0, 255)), min_size=1,
                       max_size=6),
       cut=st.one_of(st.none(), st.integers(24, 30_000)))
def test_damaged_files_stop_at_the_same_byte(tmp_path_factory, monkeypatch, kind, damage,
                                             cut) -> None:
    """Whatever the damage, the pre-filter never reads past what Python would reject."""
    tmp = tmp_path_factory.mktemp("dmg")
    src = tmp / f"in.{kind}"
    if kind == "pcap":
        write_pcap(src, _frames(200), 1)
    else:
        _pcapng(src, _frames(200), comment_every=3)
    data = bytearray(src.read_bytes())
    for at, value in damage:
        if at < len(data):
            data[at] = value
    src.write_bytes(bytes(data[:cut]))
    _audit_both(monkeypatch, [src])


@needs_native
def test_malformed_epb_option_is_left_to_python(tmp_path, monkeypatch) -> None:
    """An EPB whose option overruns its block: the reader's error, at that block."""
    path = _pcapng(tmp_path / "opt.pcapng", _frames(50), linktypes=(1,), comment_every=1000)
    data = bytearray(path.read_bytes())
    # Give the 30th EPB an option area claiming more than the block holds.
    pos, count = 0, 0
    while pos < len(data):
        btype, blen = struct.unpack_from("<II", data, pos)
        if btype == 6:
            count += 1
            if count == 30:
                caplen = struct.unpack_from("<I", data, pos + 20)[0]
                opt = pos + 28 + ((caplen + 3) & ~3)
                data[opt:opt] = struct.pack("<HH", 1, 200) + b"abcd"
                struct.pack_into("<I", data, pos + 4, blen + 8)
                struct.pack_into("<I", data, pos + blen + 8 - 4, blen + 8)
                break
        pos += blen
    path.write_bytes(bytes(data))
    rep = _audit_both(monkeypatch, [path])
    assert rep["files"][0]["status"] == "stopped"  # type: ignore[index]
    assert rep["files"][0]["packets"] == 29  # type: ignore[index]
    assert "overruns" in rep["files"][0]["error"]  # type: ignore[index]


@needs_native
@pytest.mark.parametrize("use_native", [True, False])
def test_reader_limit_stops_before_the_next_unit(monkeypatch, use_native) -> None:
    """Records starting at or after ``limit`` belong to the next work unit: not read."""
    if not use_native:
        monkeypatch.setattr(skim, "native", None)
    frames = _frames(100)
    buf = io.BytesIO()
    path_bytes = _pcap_bytes(frames)
    starts = []
    pos = 24
    for f in frames:
        starts.append(pos)
        pos += 16 + len(f.data)
    limit = starts[60] - 5  # inside record 59's bytes: record 60 is the first not read
    buf = io.BytesIO(path_bytes[4:])
    reader = PcapReader(buf, head=path_bytes[:4])
    reader.limit = limit
    insp = Inspector()
    found = [f.frame for checked in AuditEngine(insp).results(reader) for f in checked.findings]
    assert insp.packets == 60
    assert reader.next_offset == starts[60]
    assert found and max(found) <= 60


def _pcap_bytes(frames: list[Frame]) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]
    for f in frames:
        out.append(struct.pack("<IIII", int(f.ts), 0, len(f.data), f.orig_len) + f.data)
    return b"".join(out)


@needs_native
def test_progress_is_reported_while_the_prefilter_consumes_everything(tmp_path) -> None:
    """A capture of only skippable frames still moves the progress bar."""
    plain = ethernet(INNER)
    frames = [Frame(i + 1, 0.0, 1, plain, len(plain)) for i in range(150_000)]
    path = tmp_path / "plain.pcap"
    write_pcap(path, frames, 1)
    calls: list[int] = []
    auditor = Auditor()
    auditor.on_progress = lambda file, packets, nbytes: calls.append(packets)
    auditor.audit_files([str(path)])
    assert auditor.report.packets == 150_000
    assert len(calls) >= 2 and calls == sorted(calls) and calls[-1] <= 150_000


def _hmac_capture(path: Path, count: int, faulty_every: int) -> Path:
    """Simple draft-04 HMAC packets (key unknown: one finding each), every
    ``faulty_every``-th frame a faulty SRH instead; pcapng with packet comments."""
    hmac_pkt, faulty = ethernet(SEEDS[4]), ethernet(SEEDS[2])
    frames = [Frame(i + 1, 0.0, 1, faulty if i % faulty_every == faulty_every - 1 else hmac_pkt,
                    len(hmac_pkt)) for i in range(count)]
    if path.suffix == ".pcap":
        write_pcap(path, frames, 1)
        return path
    with path.open("wb") as out:
        w = PcapngWriter(out)
        w.add_interface(1)
        for i, f in enumerate(frames):
            w.write(f, comments=["c"] if i % 7 == 0 else ())
    return path


@needs_native
@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_hmac_packets_are_batched_in_frame_order(tmp_path, kind) -> None:
    """Simple draft-04 HMAC SRHs leave the C loop as a batch, verified together (one
    Checker per run), not one Frame at a time; the faulty frames that need the decoder
    still come out in between, in order."""
    path = _hmac_capture(tmp_path / f"hmac.{kind}", 500, 50)
    insp = Inspector()
    with open_capture(path) as reader:
        results = list(AuditEngine(insp, cache=False).results(reader))
    batches = [r for r in results if not isinstance(r, PacketResult)]
    decoded = [r.frame.number for r in results if isinstance(r, PacketResult)]
    assert decoded == list(range(50, 501, 50))
    assert sum(len(b.hmacs) for b in batches) == 490 and len(batches) < 20
    frames = [f.frame for r in results for f in r.findings]
    assert sorted(set(frames)) == list(range(1, 501)) and frames == sorted(frames)
    assert (insp.packets, insp.ipv6_packets, insp.srh_packets) == (500, 500, 500)

    # with the verdict cache, the repeated faulty SRH is decoded once; its repeats are
    # recorded from the cache in C, with the same findings on the same frames, in order
    cached = Inspector()
    with open_capture(path) as reader:
        again = list(AuditEngine(cached).results(reader))
    assert [r.frame.number for r in again if isinstance(r, PacketResult)] == [50]
    assert [f for r in again for f in r.findings] == [f for r in results for f in r.findings]
    assert sum(len(r.hmacs) for r in again) == 490
    assert (cached.packets, cached.ipv6_packets, cached.srh_packets) == (500, 500, 500)


@needs_native
def test_an_audit_resumed_on_the_same_reader_misses_no_packet(tmp_path) -> None:
    """A loop that stops and asks the engine again resumes the reader's generator, and the
    HMAC packets the pre-filter had set aside are verified before the stop."""
    path = _hmac_capture(tmp_path / "resume.pcap", 100, 10)
    engine = AuditEngine(Inspector())
    frames: list[int] = []
    with open_capture(path) as reader:
        for checked in engine.results(reader):
            frames += [f.frame for f in checked.findings]
            if isinstance(checked, PacketResult):
                break
        for checked in engine.results(reader):
            frames += [f.frame for f in checked.findings]
    assert sorted(set(frames)) == list(range(1, 101))
    assert engine.inspector.packets == 100
