"""Reports: the live progress line, the text table, JSON and JUnit XML.

All three come from the same ``Run``; case IDs, rule IDs and levels are the catalogue's, so
a JUnit test name, a JSON entry and a line of ``conformance list`` always agree.
JUnit mapping: a failed MUST or SHOULD is a ``<failure>`` (its type says which), SKIP is
``<skipped>``, INCONCLUSIVE and ERROR are ``<error>``; informational (unspecified) cases
never fail the XML and carry their verdict in ``system-out`` and a property.
"""

from __future__ import annotations

import contextlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from srinspect.rules import Profile

from .case import Case, CaseResult
from .cases import CASES
from .model import Level, Verdict
from .runner import Run
from .score import score


def progress_line(result: CaseResult, done: int, total: int) -> str:
    width = len(str(total))
    note = result.observed or result.detail
    return (f"[{done:>{width}}/{total}] {result.profile:<8} {result.case.id:<26} "
            f"{result.level!s:<11} {result.verdict!s:<12} {result.duration * 1000:5.0f} ms  "
            f"{_clip(note, 60)}")


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def render_list(cases: Sequence[Case]) -> str:
    lines = [f"{'CASE':<26} {'RULE':<24} {'LEVEL (draft-04/rfc8754/rfc8986)':<34} "
             f"{'NEEDS':<32} SUMMARY"]
    for c in cases:
        levels = "/".join(str(c.levels[p]) if p in c.levels else "-" for p in Profile)
        needs = ",".join(sorted(c.needs)) or "-"
        origin = f"  [{_relative(c.source)}]" if c.source else ""
        lines.append(f"{c.id:<26} {c.rule:<24} {levels:<34} {_clip(needs, 32):<32} "
                     f"{c.summary}{origin}")
    users = sum(1 for c in cases if c.source)
    lines.append(f"{len(cases)} cases" + (f" ({users} from case files)" if users else ""))
    return "\n".join(lines) + "\n"


def _relative(source: str) -> str:
    """FILE:LINE relative to the working directory when the file is below it."""
    path, _, line = source.rpartition(":")
    with contextlib.suppress(ValueError):
        path = str(Path(path).relative_to(Path.cwd()))
    return f"{path}:{line}"


def list_json(cases: Sequence[Case]) -> str:
    data = [{"id": c.id, "rule": c.rule, "levels": {str(p): str(lv) for p, lv in
                                                    c.levels.items()},
             "profiles": [str(p) for p in c.profiles], "needs": sorted(c.needs),
             "summary": c.summary, "ref": c.ref, "source": c.source or None} for c in cases]
    return json.dumps(data, indent=2) + "\n"


def render_text(run: Run) -> str:
    out = [f"DUT: {dut_line(run.dut)}", ""]
    out.append(f"{'PROFILE':<9} {'CASE':<26} {'RULE':<24} {'LEVEL':<11} {'VERDICT':<12} "
               "OBSERVED")
    for r in run.results:
        note = r.observed or r.detail
        out.append(f"{r.profile!s:<9} {r.case.id:<26} {r.case.rule:<24} {r.level!s:<11} "
                   f"{r.verdict!s:<12} {note}")
    problems = [r for r in run.results if r.verdict not in (Verdict.PASS, Verdict.SKIP)]
    if problems:
        out += ["", "Not passed (expected / observed / detail):"]
        for r in problems:
            out.append(f"  {r.profile} {r.case.id} [{r.level} {r.verdict}]")
            out.append(f"      expected: {r.expected or '-'}")
            out.append(f"      observed: {r.observed or '-'}")
            if r.detail:
                out.append(f"      detail:   {r.detail}")
    notes = [r for r in run.results if r.verdict is Verdict.PASS and
             r.detail.startswith("note")]
    if notes:
        out += ["", "Notes on passed cases:"]
        out += [f"  {r.profile} {r.case.id}: {r.detail}" for r in notes]
    skipped = [r for r in run.results if r.verdict is Verdict.SKIP]
    if skipped:
        out += ["", "Skipped:"]
        out += [f"  {r.profile} {r.case.id}: {r.detail}" for r in skipped]
    out += ["", "Scores (MUST and SHOULD: passed/applicable; unspecified = informational):"]
    for profile, s in score(run.results).items():
        info = ", ".join(f"{v} {k}" for k, v in sorted(s.informational.items())) or "none"
        out.append(f"  {profile:<9} MUST {s.must!s:<7} SHOULD {s.should!s:<7} "
                   f"informational: {info}; skipped {s.verdicts.get('SKIP', 0)}")
    out.append("")
    out.append(timing(run))
    return "\n".join(out) + "\n"


def timing(run: Run) -> str:
    total = f" ({run.total:.2f} s in total with DUT setup and teardown)" if run.total else ""
    return f"{len(run.results)} case runs in {run.elapsed:.2f} s{total}"


def dut_line(dut: dict[str, Any]) -> str:
    parts = [str(dut.get("adapter", "?"))]
    if "kernel" in dut:
        parts.append(f"kernel {dut['kernel']}")
    guest = dut.get("guest")
    if guest:
        parts.append(f"in a guest booted from {guest['image']}, {guest['accelerator'].upper()}, "
                     f"boot {guest['boot_s']:.1f} s")
    elif "kernel" in dut:
        parts.append("on the host")
    ports: dict[str, str] = dut.get("ports", {})
    if ports:
        parts.append("ports " + ", ".join(f"{k}={v}" for k, v in ports.items()))
    return "; ".join(parts)


def render_json(run: Run) -> str:
    profile = str(run.profiles[0]) if len(run.profiles) == 1 else "all"
    data = {
        "dut": run.dut,
        "profile": profile,
        "profiles": [str(p) for p in run.profiles],
        "score": {str(p): s.to_dict() for p, s in score(run.results).items()},
        "elapsed_s": round(run.elapsed, 3),
        "total_s": round(run.total, 3),
        "cases": [r.to_dict() for r in run.results],
    }
    return json.dumps(data, indent=2) + "\n"


def run_from_json(data: dict[str, Any], cases: Sequence[Case] = CASES) -> Run:
    """The ``Run`` a ``render_json`` report describes (a run made in a guest comes back to
    the host this way); a case ID this catalogue does not know is an error."""
    by_id = {c.id: c for c in cases}
    run = Run(dict(data["dut"]), [Profile(p) for p in data["profiles"]])
    for entry in data["cases"]:
        case = by_id.get(entry["id"])
        if case is None:
            raise ValueError(f"the report names case {entry['id']!r}, unknown here")
        run.results.append(CaseResult(
            case, Profile(entry["profile"]), Verdict(entry["verdict"]),
            entry.get("expected", ""), entry.get("observed", ""), entry.get("detail", ""),
            entry.get("duration_ms", 0.0) / 1000, entry.get("evidence")))
    run.elapsed, run.total = data.get("elapsed_s", 0.0), data.get("total_s", 0.0)
    return run


def render_junit(run: Run) -> str:
    return render_junit_runs([("", run)])


def render_junit_runs(runs: Sequence[tuple[str, Run]]) -> str:
    """JUnit for one run, or for several (a kernel matrix: ``label`` names each kernel and
    goes into the suite names, ``conformance.<profile>@<label>``)."""
    root = ET.Element("testsuites", name="srinspect conformance",
                      time=f"{sum(run.elapsed for _, run in runs):.3f}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for label, run in runs:
        _junit_suites(root, label, run, totals)
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _junit_suites(root: ET.Element, label: str, run: Run, totals: dict[str, int]) -> None:
    for profile in run.profiles:
        results = [r for r in run.results if r.profile is profile]
        name = f"conformance.{profile}" + (f"@{label}" if label else "")
        suite = ET.SubElement(root, "testsuite", name=name)
        props = ET.SubElement(suite, "properties")
        for key, value in _flat(run.dut):
            ET.SubElement(props, "property", name=f"dut.{key}", value=str(value))
        counts = {"tests": len(results), "failures": 0, "errors": 0, "skipped": 0}
        for r in results:
            counts_key = _testcase(suite, r)
            if counts_key:
                counts[counts_key] += 1
        suite.set("time", f"{sum(r.duration for r in results):.3f}")
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value


def _flat(info: dict[str, Any], prefix: str = "") -> list[tuple[str, str | int | float | bool]]:
    """Scalar DUT facts as dotted names (``guest.image``), for JUnit properties."""
    out: list[tuple[str, str | int | float | bool]] = []
    for key, value in info.items():
        if isinstance(value, dict):
            out += _flat(value, f"{prefix}{key}.")
        elif isinstance(value, str | int | float | bool):
            out.append((f"{prefix}{key}", value))
    return out


def _testcase(suite: ET.Element, r: CaseResult) -> str | None:
    tc = ET.SubElement(suite, "testcase", classname=f"conformance.{r.profile}.{r.case.rule}",
                       name=r.case.id, time=f"{r.duration:.3f}")
    props = ET.SubElement(tc, "properties")
    for name, value in (("rule", r.case.rule), ("level", str(r.level)),
                        ("verdict", str(r.verdict))):
        ET.SubElement(props, "property", name=name, value=value)
    message = f"expected {r.expected}; observed {r.observed}".strip()
    out = ET.SubElement(tc, "system-out")
    out.text = f"{message}\n{r.detail}".strip() + ("\nevidence: " + r.evidence
                                                   if r.evidence else "")
    if r.verdict is Verdict.SKIP:
        ET.SubElement(tc, "skipped", message=r.detail)
        return "skipped"
    if r.verdict in (Verdict.INCONCLUSIVE, Verdict.ERROR):
        err = ET.SubElement(tc, "error", type=str(r.verdict), message=r.detail or message)
        err.text = r.detail
        return "errors"
    if r.verdict is Verdict.FAIL and r.level is not Level.UNSPECIFIED:
        fail = ET.SubElement(tc, "failure", type=str(r.level), message=message)
        fail.text = r.detail
        return "failures"
    return None
