"""RFC 9800 C-SIDs: the arithmetic, the formats, the rules on the crafted
C-SID frames, the decode view, and the pre-filter handing every SRH packet to the validator
when formats are configured (and nothing changing without them)."""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from srinspect import csid, skim
from srinspect.audit.sequential import Auditor
from srinspect.build import ethernet, inner_udp, srv6_packet
from srinspect.cli.main import main
from srinspect.csid import CsidFormat, CsidFormats, parse_format
from srinspect.engine import AuditEngine
from srinspect.frame import Frame
from srinspect.inspector import Inspector
from srinspect.locators import ConfigError
from srinspect.rules import PACKET_PROFILES, RULES, Profile
from srinspect.sources import open_capture
from srinspect.srh import SrhSpec

REPO = Path(__file__).resolve().parents[2]
CSID_PCAP = REPO / "pcaps" / "crafted-csid.pcapng"
CSID_TOML = REPO / "pcaps" / "crafted-csid.toml"
LABEL = re.compile(r"expect=(?P<expect>\S+) profile=(?P<profile>\S+) \| (?P<why>.*)")
FMT = parse_format("2001:db8::/32/16")
FORMATS = CsidFormats([FMT])


def a(text: str) -> bytes:
    return ipaddress.IPv6Address(text).packed


# --- arithmetic ------------------------------------------------------------------------------

def test_shift_matches_the_rfc_example_shape() -> None:
    """RFC 9800 s4.1.1: block kept, the rest one C-SID to the left, zeros from the right."""
    assert csid.shift(a("2001:db8:c51:f:a1::"), 32, 16) == a("2001:db8:f:a1::")
    assert csid.next_shift(a("2001:db8:a1::"), FMT) is None  # last C-SID: SRH step
    assert csid.csids(a("2001:db8:100:200:300::"), FMT) == (0x100, 0x200, 0x300, 0, 0, 0)
    assert csid.sids(a("2001:db8:100:200::"), FMT) == (a("2001:db8:100::"), a("2001:db8:200::"))


formats = st.builds(lambda b, c: CsidFormat(b, c), st.integers(1, 120), st.integers(1, 64)
                    ).filter(lambda f: f.block_bits + f.csid_bits <= 128)
addrs = st.binary(min_size=16, max_size=16)


@given(formats, addrs)
def test_shift_keeps_the_block_and_drops_one_csid(fmt: CsidFormat, addr: bytes) -> None:
    out = csid.shift(addr, fmt.block_bits, fmt.csid_bits)
    value, shifted = int.from_bytes(addr, "big"), int.from_bytes(out, "big")
    assert shifted & fmt.block_mask == value & fmt.block_mask
    rest = 128 - fmt.block_bits
    assert shifted & ((1 << rest) - 1) == (value << fmt.csid_bits) & ((1 << rest) - 1)


@given(formats, addrs)
def test_shifts_from_counts_the_shifts(fmt: CsidFormat, addr: bytes) -> None:
    current, k = addr, 0
    while current is not None and k < fmt.slots:
        assert csid.shifts_from(addr, current, fmt) is not None
        assert csid.shifts_from(addr, current, fmt) <= k
        current, k = csid.next_shift(current, fmt), k + 1


@given(formats, addrs)
def test_a_well_formed_container_shifts_once_per_csid(fmt: CsidFormat, addr: bytes) -> None:
    """Without a gap, the DA walks through exactly the container's non-zero C-SIDs."""
    if csid.gap(addr, fmt) is not None or not csid.csids(addr, fmt) or \
            csid.csids(addr, fmt)[0] == 0:
        return
    steps, current = 1, addr
    while (current := csid.next_shift(current, fmt)) is not None:  # type: ignore[assignment]
        steps += 1
    assert steps == len(csid.sids(addr, fmt))


@pytest.mark.parametrize("text", ["32", "32/0", "0/16", "120/16", "x/16", "2001:db8::/33/16x",
                                  "2001:db8::1/32/16", "10.0.0.0/8/16", "", "32/16/8/4"])
def test_bad_formats_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_format(text)


def test_formats_pick_the_longest_block() -> None:
    fmts = CsidFormats([parse_format("32/16"), parse_format("2001:db8:5::/48/16")])
    assert fmts.find(a("2001:db8:5:1::")).block_bits == 48  # type: ignore[union-attr]
    assert fmts.find(a("2001:db9::1")).prefix is None  # type: ignore[union-attr]
    with pytest.raises(ConfigError):
        CsidFormats([parse_format("32/16"), parse_format("48/16")])


def test_config_key() -> None:
    assert csid.parse_config('[srv6]\ncsid = ["2001:db8::/32/16"]\n') == [FMT]
    assert csid.parse_config('[srv6]\nlocators = ["fc00::/16"]\n') == []
    with pytest.raises(ConfigError):
        csid.parse_config('[srv6]\ncsid = [32]\n')


# --- rules on the crafted frames ---------------------------------------------------------------

def _crafted() -> list[tuple[Frame, str, str]]:
    with open_capture(CSID_PCAP) as reader:
        out = []
        for frame in reader:
            m = LABEL.fullmatch(frame.comment or "")
            assert m, frame.comment
            out.append((frame, m["expect"], m["why"]))
        return out


@pytest.mark.parametrize("profile", list(PACKET_PROFILES))
def test_each_crafted_csid_frame_fires_its_rule(profile: Profile) -> None:
    insp = Inspector(profile, csid=FORMATS)
    for frame, expect, why in _crafted():
        result = insp.feed(frame)
        assert result is not None, why
        fired = sorted({f.rule for f in result.findings})  # type: ignore[union-attr]
        assert fired == ([] if expect == "valid" else [expect]), why
        for f in result.findings:  # type: ignore[union-attr]
            assert f.ref == RULES[f.rule].ref(profile)


def test_every_csid_rule_has_a_crafted_frame() -> None:
    covered = {expect for _f, expect, _w in _crafted()}
    assert {r.id for r in RULES.values() if r.needs == "csid"} <= covered


def test_without_formats_nothing_changes() -> None:
    """No --csid: the C-SID rules never fire, a shifted DA is srh.da.mismatch as before."""
    insp = Inspector(Profile.RFC8754)
    for frame, _expect, why in _crafted():
        result = insp.feed(frame)
        rules = {f.rule for f in result.findings} if result is not None else set()  # type: ignore[union-attr]
        assert not any(r.startswith("csid.") for r in rules), why
        if "shifted once" in why:
            assert rules == {"srh.da.mismatch"}


def test_audit_with_the_config_file_is_exactly_the_labels(capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    code = main(["audit", "--profile", "rfc8754", "--config", str(CSID_TOML), "--format",
                 "json", "--fail-on", "never", str(CSID_PCAP)])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    got = {(f["frame"], f["rule"]) for f in report["findings"]}
    want = {(fr.number, e) for fr, e, _w in _crafted() if e != "valid"}
    assert got == want


# --- the pre-filter ---------------------------------------------------------------------------

def _clean_container_packet(dst: str = "2001:db8:100:200:300::") -> bytes:
    """A simple SRH packet the pre-filter calls clean, whose DA has a C-SID gap."""
    spec = SrhSpec(["2001:db8:d6::", "2001:db8:100:0:300::"], segments_left=1)
    return ethernet(srv6_packet("2001:db8:a::1", spec, inner_udp("2001:db8:a::100",
                                                                  "2001:db8:f::100")))


@pytest.mark.skipif(skim.native is None, reason="compiled pre-filter not built")
def test_prefilter_sends_srh_packets_to_python_only_with_formats() -> None:
    data = _clean_container_packet()
    for draft04 in (0, 1):
        assert skim.native.verdict(1, data, draft04) == 2  # CLEAN_SRH: as before
        assert skim.native.verdict(1, data, draft04 | 2) == 3  # SLOW: the validator decides
    frame = Frame(1, 0.0, 1, data, len(data))
    assert AuditEngine(Inspector(Profile.DRAFT04)).judge(frame) is None  # clean: nothing to record
    result = AuditEngine(Inspector(Profile.DRAFT04, csid=FORMATS)).judge(frame)
    assert result is not None and [f.rule for f in result.findings] == ["csid.container.gap"]


def test_audit_finds_csid_faults_the_prefilter_would_skip(tmp_path: Path) -> None:
    from srinspect.sinks.pcapng_writer import write_pcap

    path = tmp_path / "gap.pcap"
    data = _clean_container_packet()
    write_pcap(path, [Frame(n, float(n), 1, data, len(data)) for n in (1, 2, 3)], 1)
    plain = Auditor(Profile.DRAFT04).audit_files([str(path)])
    assert plain.srh_packets == 3 and not plain.by_rule
    report = Auditor(Profile.DRAFT04, csid=FORMATS).audit_files([str(path)])
    assert report.srh_packets == 3 and report.by_rule == {"csid.container.gap": 3}


# --- CLI --------------------------------------------------------------------------------------

def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "srinspect", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("value", ["32", "2001:db8::/32/200", "abc/16"])
def test_bad_csid_is_one_line_exit_2(value: str) -> None:
    proc = _cli("decode", "--csid", value, str(CSID_PCAP))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "C-SID" in proc.stderr


def test_bad_config_key_is_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[srv6]\ncsid = ["99/99"]\n')
    proc = _cli("audit", "--config", str(cfg), str(CSID_PCAP))
    assert proc.returncode == 2 and "99/99" in proc.stderr


def test_decode_shows_the_csids_and_the_active_one() -> None:
    proc = _cli("decode", "--csid", "2001:db8::/32/16", "--frame", "2", str(CSID_PCAP))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "C-SIDs (RFC 9800 NEXT-C-SID)" in out
    assert "DA 2001:db8:200:300:: (2001:db8::/32/16): [0200] 0300 0000" in out
    assert "Segment List[2] 2001:db8:100:200:300:: (2001:db8::/32/16): 0100 [0200] 0300" in out
    assert "shift, DA becomes 2001:db8:300::" in out
    proc = _cli("decode", "--csid", "2001:db8::/32/16", "--format", "jsonl", str(CSID_PCAP))
    first = json.loads(proc.stdout.splitlines()[1])
    assert first["csid"]["da"]["active"] == 0
    assert first["csid"]["segments"][2]["active"] == 1
    assert first["csid"]["next"] == {"action": "shift", "da": "2001:db8:300::"}
    plain = _cli("decode", "--format", "jsonl", str(CSID_PCAP))
    assert "csid" not in json.loads(plain.stdout.splitlines()[0])
