"""Machine-readable audit reports: one JSON document, or JSON lines (findings, summary last)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from ..audit import AuditReport
from ..findings import Finding


def finding_dict(file: str, f: Finding) -> dict[str, object]:
    return {
        "file": file,
        "frame": f.frame,
        "rule": f.rule,
        "severity": f.severity.label,
        "message": f.message,
        "offset": f.offset,
        "length": f.length,
        "ref": f.ref,
        "field": f.field,
    }


def report_dict(report: AuditReport) -> dict[str, object]:
    return {
        "profile": str(report.profile),
        "summary": report.summary_dict(),
        "findings": [finding_dict(file, f) for file, f in report.findings],
        "files": [fr.to_dict() for fr in report.files],
    }


def render_json(report: AuditReport) -> str:
    return json.dumps(report_dict(report), indent=2) + "\n"


def iter_jsonl(report: AuditReport) -> Iterator[str]:
    for file, f in report.findings:
        yield json.dumps(finding_dict(file, f))
    yield json.dumps(
        {"summary": report.summary_dict(), "files": [fr.to_dict() for fr in report.files]}
    )


def render_jsonl(report: AuditReport) -> str:
    return "\n".join(iter_jsonl(report)) + "\n"
