"""JUnit XML for CI: one test case per rule per file, failures carrying the frames.

A rule fails its test case when it fired with a severity at or above the ``fail_on``
threshold; below it, the case passes and lists the frames in system-out so nothing is
hidden. A file that could not be read completely gets an extra erroring test case.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from ..audit.report import STATUS_OK, AuditReport
from ..findings import Finding
from ..rules import RULES, Severity, rules_for

MAX_FRAMES_LISTED = 200


def _threshold(fail_on: str) -> Severity | None:
    return None if fail_on == "never" else Severity.parse(fail_on)


def render_junit(report: AuditReport, fail_on: str = "error") -> str:
    threshold = _threshold(fail_on)
    per_file: dict[str, dict[str, list[Finding]]] = defaultdict(lambda: defaultdict(list))
    for file, f in report.findings:
        per_file[file][f.rule].append(f)
    suites = ET.Element("testsuites", name="srinspect audit")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for fr in report.files:
        suite = ET.SubElement(suites, "testsuite", name=fr.file)
        counts = {"tests": 0, "failures": 0, "errors": 0}
        readable = ET.SubElement(suite, "testcase", classname=fr.file, name="capture.readable")
        counts["tests"] += 1
        if fr.status != STATUS_OK:
            err = ET.SubElement(readable, "error", type=fr.status,
                                message=f"{fr.error} ({fr.where})")
            err.text = f"{fr.packets} frames were audited before reading stopped"
            counts["errors"] += 1
        for rule in rules_for(report.profile):
            findings = per_file.get(fr.file, {}).get(rule.id, [])
            total = report.rule_counts_by_file.get((fr.file, rule.id), len(findings))
            case = ET.SubElement(suite, "testcase", classname=fr.file, name=rule.id)
            counts["tests"] += 1
            if not total:
                continue
            body = _frames_text(findings, total)
            if threshold is not None and rule.severity >= threshold:
                fail = ET.SubElement(case, "failure", type=rule.severity.label,
                                     message=f"{rule.id} fired {total} time(s): {rule.summary}")
                fail.text = body
                counts["failures"] += 1
            else:
                ET.SubElement(case, "system-out").text = body
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        suites.set(key, str(value))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


def _frames_text(findings: list[Finding], total: int) -> str:
    lines = [f"frame {f.frame} offset {f.offset}: {f.message} [{f.ref}]"
             for f in findings[:MAX_FRAMES_LISTED]]
    if total > len(lines):
        lines.append(f"... {total - len(lines)} more")
    return "\n".join(lines)


__all__ = ["render_junit", "RULES"]
