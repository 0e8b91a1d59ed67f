"""Findings as CSV, one row per finding, for spreadsheets and quick greps."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from ..audit.report import AuditReport

COLUMNS = ("file", "frame", "rule", "severity", "offset", "length", "field", "message", "ref")


def render_csv(report: AuditReport) -> str:
    return "".join(iter_csv(report))


def iter_csv(report: AuditReport) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for file, f in report.findings:
        if out.tell() > 1 << 16:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
        writer.writerow((file, f.frame, f.rule, f.severity.label, f.offset, f.length, f.field,
                         f.message, f.ref))
    yield out.getvalue()
