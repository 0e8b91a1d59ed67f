"""Reports (text, JSON, JUnit) and the CLI surface that needs no root."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from conformance.case import CaseResult
from conformance.cases import BY_ID, CASES
from conformance.model import Verdict
from conformance.report import render_json, render_junit, render_list, render_text
from conformance.runner import Run
from srinspect.rules import Profile

RESULTS = [
    ("transit-valid", Profile.DRAFT04, Verdict.PASS, ""),
    ("hmac-invalid-icmp", Profile.DRAFT04, Verdict.FAIL, ""),
    ("sr-disabled-sl0", Profile.DRAFT04, Verdict.FAIL, ""),
    ("segleft-reduced", Profile.DRAFT04, Verdict.FAIL, ""),  # unspecified: informational
    ("end-psp", Profile.RFC8986, Verdict.SKIP, "seg6local:End.PSP: kernel refused the route"),
    ("end", Profile.RFC8986, Verdict.INCONCLUSIVE, "no barrier packet came back"),
]


def sample_run() -> Run:
    run = Run({"adapter": "linux", "kernel": "6.18-test"}, [Profile.DRAFT04, Profile.RFC8986],
              elapsed=1.25, total=1.5)
    for case_id, profile, verdict, detail in RESULTS:
        run.results.append(CaseResult(BY_ID[case_id], profile, verdict, expected="x",
                                      observed="dropped silently", detail=detail,
                                      duration=0.01))
    return run


def test_json_report_shape() -> None:
    doc = json.loads(render_json(sample_run()))
    assert doc["dut"]["kernel"] == "6.18-test"
    assert doc["profile"] == "all"
    assert doc["score"]["draft-04"]["MUST"] == {"passed": 1, "applicable": 2}
    assert doc["score"]["draft-04"]["SHOULD"] == {"passed": 0, "applicable": 1}
    assert doc["score"]["draft-04"]["informational"] == {"FAIL": 1}
    case = doc["cases"][1]
    assert {"id", "rule", "level", "verdict", "expected", "observed", "detail"} <= set(case)
    assert (case["id"], case["rule"], case["level"]) == ("hmac-invalid-icmp",
                                                         "node.hmac.invalid", "SHOULD")


def test_junit_parses_and_maps_verdicts(tmp_path: Path) -> None:
    path = tmp_path / "report.xml"
    path.write_text(render_junit(sample_run()))
    xml = JUnitXml.fromfile(str(path))
    suites = {s.name: s for s in xml}
    assert set(suites) == {"conformance.draft-04", "conformance.rfc8986"}
    d04 = {c.name: c for c in suites["conformance.draft-04"]}
    assert d04["transit-valid"].is_passed
    assert isinstance(d04["hmac-invalid-icmp"].result[0], Failure)
    assert d04["hmac-invalid-icmp"].result[0].type == "SHOULD"
    assert d04["sr-disabled-sl0"].result[0].type == "MUST"
    assert d04["segleft-reduced"].is_passed  # informational never fails the XML
    assert d04["transit-valid"].classname == "conformance.draft-04.node.transit.unchanged"
    r86 = {c.name: c for c in suites["conformance.rfc8986"]}
    assert isinstance(r86["end-psp"].result[0], Skipped)
    assert isinstance(r86["end"].result[0], Error)
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (6, 2, 1, 1)


def test_text_report_has_table_scores_and_time() -> None:
    text = render_text(sample_run())
    assert "draft-04  MUST 1/2" in text and "SHOULD 0/1" in text
    assert "6 case runs in 1.25 s (1.50 s in total" in text
    assert "kernel 6.18-test" in text
    assert "end-psp: seg6local:End.PSP: kernel refused the route" in text


def test_list_shows_every_case() -> None:
    text = render_list(CASES)
    assert f"{len(CASES)} cases" in text
    for case in CASES:
        assert case.id in text


def test_cli_list(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("conformance", "list", "--format", "json")
    assert r.rc == 0
    data = json.loads(r.out)
    assert len(data) == len(CASES)
    assert data[0]["levels"]["draft-04"] == "MUST"
    r = run_cli("conformance", "list", "--profile", "rfc8986")
    assert "end-b6-encaps" in r.out and "transit-valid" not in r.out


def test_run_without_root_is_a_setup_error(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    r = run_cli("conformance", "run", "--case", "transit-valid")
    assert r.rc == 2
    assert "needs root" in r.err


def test_run_with_unknown_case_is_a_usage_error(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("conformance", "run", "--case", "no-such-case")
    assert r.rc == 2 and "no case matches" in r.err


def test_ports_needs_its_arguments(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("conformance", "run", "--dut", "ports", "--tx", "eth9")
    assert r.rc == 2 and "--dut-config" in r.err
