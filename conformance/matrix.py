"""One catalogue on several kernels: a column per kernel, and the cases that differ.

Each kernel's run is a complete ``Run`` (scores, evidence, DUT facts); the matrix only lines
them up by (profile, case). Text shows every case with one verdict column per kernel, then
the differences with each kernel's reason; JSON keeps every kernel's full report plus the
differences; JUnit has one suite per profile and kernel (``report.render_junit_runs``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .model import Verdict
from .report import dut_line, render_json
from .runner import Run
from .score import score


@dataclass(frozen=True, slots=True)
class KernelRun:
    label: str  # column heading: "host" or the image's release
    run: Run


def _by_case(run: Run) -> dict[tuple[str, str], Any]:
    return {(str(r.profile), r.case.id): r for r in run.results}


def rows(runs: Sequence[KernelRun]) -> list[tuple[str, str, str]]:
    """(profile, case, level) in the order of the first run, then any only later runs have."""
    seen: dict[tuple[str, str], str] = {}
    for kr in runs:
        for r in kr.run.results:
            seen.setdefault((str(r.profile), r.case.id), str(r.level))
    return [(p, c, lv) for (p, c), lv in seen.items()]


def differences(runs: Sequence[KernelRun]) -> list[dict[str, Any]]:
    """Cases whose verdict is not the same on every kernel."""
    tables = [(kr.label, _by_case(kr.run)) for kr in runs]
    out = []
    for profile, case, level in rows(runs):
        verdicts = {label: t.get((profile, case)) for label, t in tables}
        kinds = {str(r.verdict) if r else "-" for r in verdicts.values()}
        if len(kinds) > 1:
            out.append({"profile": profile, "id": case, "level": level, "kernels": {
                label: ({"verdict": str(r.verdict), "observed": r.observed,
                         "detail": r.detail} if r else None)
                for label, r in verdicts.items()}})
    return out


def render_text(runs: Sequence[KernelRun]) -> str:
    labels = [kr.label for kr in runs]
    width = max(12, *(len(lb) for lb in labels))
    out = ["Kernels:"]
    out += [f"  {kr.label:<{width}} {dut_line(kr.run.dut)}" for kr in runs]
    out.append("")
    out.append(f"{'PROFILE':<9} {'CASE':<26} {'LEVEL':<11} "
               + " ".join(f"{lb:<{width}}" for lb in labels))
    tables = [_by_case(kr.run) for kr in runs]
    for profile, case, level in rows(runs):
        cells = [str(t[(profile, case)].verdict) if (profile, case) in t else "-"
                 for t in tables]
        out.append(f"{profile:<9} {case:<26} {level:<11} "
                   + " ".join(f"{c:<{width}}" for c in cells))
    diffs = differences(runs)
    out += ["", f"Cases whose verdicts differ: {len(diffs)}"]
    for d in diffs:
        out.append(f"  {d['profile']} {d['id']} [{d['level']}]")
        for label, r in d["kernels"].items():
            note = "not run" if r is None else (r["observed"] or r["detail"] or "")
            verdict = "-" if r is None else r["verdict"]
            out.append(f"      {label:<{width}} {verdict:<12} {note}")
    out += ["", "Scores (MUST and SHOULD: passed/applicable):"]
    for kr in runs:
        for profile, s in score(kr.run.results).items():
            out.append(f"  {kr.label:<{width}} {profile:<9} MUST {s.must!s:<7} "
                       f"SHOULD {s.should!s:<7} skipped {s.verdicts.get(str(Verdict.SKIP), 0)}")
    return "\n".join(out) + "\n"


def render_json_matrix(runs: Sequence[KernelRun]) -> str:
    data = {"kernels": [{"label": kr.label, **json.loads(render_json(kr.run))} for kr in runs],
            "differences": differences(runs)}
    return json.dumps(data, indent=2) + "\n"
