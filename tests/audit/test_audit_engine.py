"""What the audit loops rely on the engine for beyond the pre-filter (tests/unit/test_skim.py):
a codec bug on one frame costs that frame only. The sequential audit notes it and goes on,
every hook skips that frame alike, and a parallel audit, whose unit cannot finish, gives the
sequential report all the same (the file is audited again in one piece)."""

from __future__ import annotations

from pathlib import Path

import pytest

from srinspect.audit.pool import audit_parallel
from srinspect.audit.sequential import Auditor
from srinspect.build import ethernet, inner_udp, srv6_packet
from srinspect.engine import AuditEngine
from srinspect.frame import Frame
from srinspect.inspector import Inspector, InspectorBug
from srinspect.rules import Profile
from srinspect.sinks.audit_json import report_dict
from srinspect.sinks.pcapng_writer import write_pcap
from srinspect.sources import open_capture
from srinspect.srh import SrhSpec

SEGS = ["2001:db8:f::1", "2001:db8:3::1", "2001:db8:2::1"]
FAULTY = ethernet(srv6_packet("2001:db8:a::1", SrhSpec(SEGS, segments_left=5),
                              inner_udp("2001:db8:a::100", "2001:db8:f::100"), dst=SEGS[1]))
BROKEN = 7  # the frame the codec "crashes" on


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    """Every frame has one finding (srh.segleft.range), so a lost frame shows."""
    path = tmp_path / "faulty.pcap"
    write_pcap(path, [Frame(i, 1.0 + i, 1, FAULTY, len(FAULTY)) for i in range(1, 3001)], 1)
    return path


@pytest.fixture
def codec_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    real = Inspector._decode

    def decode(self: Inspector, frame: Frame, data: bytes, off: int, detail: bool = True):  # noqa: ANN202
        if frame.number == BROKEN:
            raise ValueError("boom")
        return real(self, frame, data, off, detail)

    monkeypatch.setattr(Inspector, "_decode", decode)
    # every frame is the same packet: with the verdict cache only the first would be decoded
    monkeypatch.setenv("SRINSPECT_VERDICT_CACHE", "0")


@pytest.mark.usefixtures("codec_bug")
def test_a_codec_bug_costs_one_frame_and_is_noted(capture: Path) -> None:
    report = Auditor().audit_files([str(capture)])
    fr = report.files[0]
    assert fr.status == "ok" and fr.packets == 3000
    assert fr.notes == [f"internal error decoding frame {BROKEN}: ValueError('boom') "
                        "(please report)"]
    assert [f.frame for _, f in report.findings] == [n for n in range(1, 3001) if n != BROKEN]


@pytest.mark.usefixtures("codec_bug")
def test_hooks_skip_the_frame_too(capture: Path) -> None:
    seen: list[int] = []
    Auditor(on_frame=lambda frame, findings: seen.append(frame.number)).audit_files(
        [str(capture)])
    decoded: list[int] = []
    Auditor(on_packet=lambda file, result: decoded.append(result.frame.number)).audit_files(
        [str(capture)])
    assert seen == decoded == [n for n in range(1, 3001) if n != BROKEN]


@pytest.mark.usefixtures("codec_bug")
def test_without_a_bug_hook_the_bug_ends_the_run(capture: Path) -> None:
    with open_capture(capture) as reader, pytest.raises(InspectorBug) as bug:
        for _ in AuditEngine(Inspector()).results(reader):
            pass
    assert bug.value.frame == BROKEN


@pytest.mark.usefixtures("codec_bug")
def test_parallel_audit_redoes_the_unit_and_matches(capture: Path) -> None:
    """The workers (forked: the broken codec is theirs too) give up on the unit holding the
    frame; the merge audits the file again here, note included."""
    seq = report_dict(Auditor(Profile.DRAFT04).audit_files([str(capture)]))
    par = report_dict(audit_parallel([str(capture)], 2, Profile.DRAFT04, None,
                                     min_unit=16 << 10))
    assert par == seq
    assert seq["files"][0]["notes"]  # type: ignore[index]
