"""CI-facing outputs: annotated pcapng read back by tshark, JUnit read by junitparser, CSV,
--fail-on and --max-findings through the real CLI."""

from __future__ import annotations

import csv
import io
import json
import pickle
import shutil
import subprocess
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from junitparser import Failure, JUnitXml

from srinspect.findings import Finding
from srinspect.rules import Severity
from srinspect.sinks.audit_json import finding_dict, finding_json

REPO = Path(__file__).resolve().parents[2]
CRAFTED = REPO / "pcaps" / "crafted-draft04.pcapng"
KEYS = REPO / "pcaps" / "crafted-keys.toml"


def srinspect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "srinspect", *args], capture_output=True,
                          text=True, check=False)


def _findings() -> list[dict[str, object]]:
    proc = srinspect("audit", "--keys", str(KEYS), "--format", "json", str(CRAFTED))
    return json.loads(proc.stdout)["findings"]


@pytest.mark.tshark
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_annotated_pcapng_opens_in_tshark_with_comments_on_the_right_frames(
        tmp_path: Path) -> None:
    out = tmp_path / "annotated.pcapng"
    proc = srinspect("audit", "--keys", str(KEYS), "--annotate", str(out), str(CRAFTED))
    assert proc.returncode == 1 and out.exists(), proc.stderr
    tshark = subprocess.run(["tshark", "-r", str(out), "-T", "fields", "-e", "frame.number",
                             "-e", "frame.comment", "-E", "occurrence=a", "-E",
                             "aggregator=|"], capture_output=True, text=True, check=True)
    comments: dict[int, list[str]] = {}
    for line in tshark.stdout.splitlines():
        number, _, text = line.partition("\t")
        comments[int(number)] = [c for c in text.split("|") if c.startswith("srinspect ")]
    assert len(comments) == 28  # every input frame is in the output
    expected: dict[int, list[str]] = defaultdict(list)
    for f in _findings():
        expected[int(f["frame"])].append(str(f["rule"]))  # type: ignore[arg-type]
    assert expected
    for frame in range(1, 29):
        rules = [c.split()[2].rstrip(":") for c in comments[frame]]
        assert rules == expected.get(frame, []), frame
    # the original labels survive next to the findings
    assert "expect=srh.segleft.range" in tshark.stdout


def test_junit_parses_and_fails_exactly_the_error_rules(tmp_path: Path) -> None:
    out = tmp_path / "audit.xml"
    proc = srinspect("audit", "--keys", str(KEYS), "--format", "junit", "-o", str(out),
                     str(CRAFTED))
    assert proc.returncode == 1
    xml = JUnitXml.fromfile(str(out))
    suites = list(xml)
    assert [s.name for s in suites] == [str(CRAFTED)]
    failed = {case.name for case in suites[0] if any(isinstance(r, Failure)
                                                     for r in case.result)}
    errors = {f["rule"] for f in _findings() if f["severity"] == "error"}
    assert failed == errors
    names = {case.name for case in suites[0]}
    assert "srh.segment.invalid" in names and "capture.readable" in names
    # --fail-on warning turns warnings into failures too
    srinspect("audit", "--keys", str(KEYS), "--format", "junit", "--fail-on", "warning",
              "-o", str(out), str(CRAFTED))
    failed_w = {c.name for c in JUnitXml.fromfile(str(out)).__iter__().__next__()
                if c.result}
    assert "srh.da.mismatch" in failed_w and errors <= failed_w


def test_csv_has_one_row_per_finding() -> None:
    proc = srinspect("audit", "--keys", str(KEYS), "--format", "csv", str(CRAFTED))
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [(int(r["frame"]), r["rule"]) for r in rows] == [
        (int(f["frame"]), f["rule"]) for f in _findings()]  # type: ignore[arg-type]


def test_fail_on_and_max_findings() -> None:
    assert srinspect("audit", "--fail-on", "never", str(CRAFTED)).returncode == 0
    proc = srinspect("audit", "--keys", str(KEYS), "--format", "json", "--max-findings", "3",
                     str(CRAFTED))
    data = json.loads(proc.stdout)
    assert len(data["findings"]) == 3
    assert data["summary"]["findings"] == len(_findings())
    assert sum(data["summary"]["by_rule"].values()) == len(_findings())


_text = st.text(st.characters(codec="utf-8"), max_size=40)
_finding = st.builds(
    Finding, rule=_text, severity=st.sampled_from(list(Severity)),
    frame=st.integers(0, 2**40), offset=st.integers(0, 2**20), length=st.integers(0, 2**16),
    message=_text, ref=_text, field=_text, srh=st.integers(-1, 2**16))


@given(file=_text, f=_finding, shift=st.integers(0, 2**30))
def test_finding_json_is_json_dumps_of_the_dict(file: str, f: Finding, shift: int) -> None:
    """The hand-formatted line is exactly what json.dumps gives (quotes, unicode, escapes)."""
    assert finding_json(file, f) == json.dumps(finding_dict(file, f))
    back = Finding.from_row(f.to_row(), shift)
    assert back == replace(f, frame=f.frame + shift)
    assert pickle.loads(pickle.dumps(f.to_row())) == f.to_row()
