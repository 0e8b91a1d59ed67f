"""Kernel matrix reports, a JSON report read back into a Run, and the run with no kernel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from junitparser import JUnitXml

from conformance.case import CaseResult
from conformance.cases import BY_ID
from conformance.matrix import KernelRun, differences, render_json_matrix, render_text
from conformance.model import Verdict
from conformance.report import render_json, render_junit_runs, run_from_json
from conformance.runner import Run
from srinspect.rules import Profile

CASE_IDS = ("transit-valid", "headend-encap", "sr-disabled-sl0")


def run_with(kernel: str, verdicts: dict[str, Verdict]) -> Run:
    run = Run({"adapter": "linux", "kernel": kernel}, [Profile.DRAFT04], elapsed=0.5)
    for case_id in CASE_IDS:
        run.results.append(CaseResult(BY_ID[case_id], Profile.DRAFT04, verdicts[case_id],
                                      expected="e", observed=f"seen on {kernel}",
                                      detail=f"why on {kernel}", duration=0.01))
    return run


def two_kernels() -> list[KernelRun]:
    old = run_with("6.1", {"transit-valid": Verdict.PASS, "headend-encap": Verdict.SKIP,
                           "sr-disabled-sl0": Verdict.FAIL})
    new = run_with("6.12", {"transit-valid": Verdict.PASS, "headend-encap": Verdict.PASS,
                            "sr-disabled-sl0": Verdict.FAIL})
    return [KernelRun("6.1", old), KernelRun("6.12", new)]


def test_differences_are_exactly_the_cases_whose_verdicts_differ() -> None:
    diffs = differences(two_kernels())
    assert [d["id"] for d in diffs] == ["headend-encap"]
    assert diffs[0]["kernels"]["6.1"]["verdict"] == "SKIP"
    assert diffs[0]["kernels"]["6.12"]["verdict"] == "PASS"


def test_matrix_text_has_a_column_per_kernel_then_the_differences() -> None:
    text = render_text(two_kernels())
    header = next(ln for ln in text.splitlines() if ln.startswith("PROFILE"))
    assert header.split()[-2:] == ["6.1", "6.12"]
    row = next(ln for ln in text.splitlines() if ln.startswith("draft-04  headend-encap"))
    assert row.split()[-2:] == ["SKIP", "PASS"]
    assert "Cases whose verdicts differ: 1" in text
    assert "why on 6.1" not in text.split("Cases whose")[0]
    assert "seen on 6.1" in text.split("Cases whose")[1]


def test_matrix_json_keeps_a_full_report_per_kernel() -> None:
    doc = json.loads(render_json_matrix(two_kernels()))
    assert [k["label"] for k in doc["kernels"]] == ["6.1", "6.12"]
    assert doc["kernels"][0]["dut"]["kernel"] == "6.1"
    assert len(doc["kernels"][1]["cases"]) == len(CASE_IDS)
    assert [d["id"] for d in doc["differences"]] == ["headend-encap"]


def test_matrix_junit_has_a_suite_per_kernel(tmp_path: Path) -> None:
    path = tmp_path / "m.xml"
    path.write_text(render_junit_runs([(kr.label, kr.run) for kr in two_kernels()]))
    names = [s.name for s in JUnitXml.fromfile(str(path))]
    assert names == ["conformance.draft-04@6.1", "conformance.draft-04@6.12"]


def test_a_json_report_reads_back_into_the_same_run() -> None:
    run = two_kernels()[0].run
    run.dut["guest"] = {"image": "/boot/vmlinuz-x", "accelerator": "tcg", "boot_s": 17.5}
    back = run_from_json(json.loads(render_json(run)))
    assert render_json(back) == render_json(run)
    assert [(r.case.id, r.verdict) for r in back.results] == \
        [(r.case.id, r.verdict) for r in run.results]


def test_unknown_case_in_a_report_is_an_error() -> None:
    doc = json.loads(render_json(two_kernels()[0].run))
    doc["cases"][0]["id"] = "no-such-case"
    with pytest.raises(ValueError, match="no-such-case"):
        run_from_json(doc)


@pytest.mark.netns
def test_no_kernel_anywhere_skips_every_case_with_the_reason(
        run_cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore
    """Host without SRv6 (forced) and no image to boot: SKIP everything, say how, exit 2."""
    from srinspect.kernel import choice

    monkeypatch.setenv("SRINSPECT_FORCE_GUEST", "1")
    monkeypatch.setattr(choice.images, "installed", lambda boot=None: [])
    out = tmp_path / "r.json"
    res = run_cli("conformance", "run", "--case", "transit-*", "--format", "json",
                  "-o", out)
    assert res.rc == 2
    assert "nothing tested" in res.err and "linux-image-amd64" in res.err
    doc = json.loads(out.read_text())
    assert doc["cases"] and {c["verdict"] for c in doc["cases"]} == {"SKIP"}
    assert all("no guest can be booted" in c["detail"] for c in doc["cases"])
