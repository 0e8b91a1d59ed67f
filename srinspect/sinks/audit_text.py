"""The human summary of an audit: counts per rule, the findings, then per-file totals."""

from __future__ import annotations

from collections.abc import Iterator

from ..audit.report import STATUS_OK, AuditReport
from ..rules import RULES


def render_text(report: AuditReport) -> str:
    return "".join(iter_text(report))


def iter_text(report: AuditReport) -> Iterator[str]:
    """The report line by line; findings stream from the store without a full copy."""
    s = report.summary_dict()
    hm = s["hmac"]
    assert isinstance(hm, dict)
    lines = [
        f"srinspect audit, profile {report.profile}: {s['files']} file(s), {s['packets']} "
        f"packets, {s['srh_packets']} with an SRH",
        f"HMAC: {hm['verified']} verified, {hm['mismatch']} mismatch, "
        f"{hm['unknown_key']} unknown key",
        "",
    ]
    if report.by_rule:
        lines.append("Findings by rule:")
        for rule_id, count in sorted(
            report.by_rule.items(), key=lambda kv: (-RULES[kv[0]].severity, kv[0])
        ):
            rule = RULES[rule_id]
            lines.append(f"  {rule.severity.label:<8} {rule_id:<28} {count:>8}")
        lines.append("")
        lines.append("Findings:")
        yield from (line + "\n" for line in lines)
        lines = []
        for file, f in report.findings:
            yield (
                f"  {file} frame {f.frame}: {f.severity.label} {f.rule} at offset "
                f"{f.offset}: {f.message} [{f.ref}]\n"
            )
        if report.findings_dropped:
            lines.append(
                f"  ... {report.findings_dropped} more not listed (--max-findings); "
                "the counts above are exact"
            )
        lines.append("")
    else:
        lines += ["No findings.", ""]
    lines.append("Files:")
    for fr in report.files:
        state = (
            "complete"
            if fr.status == STATUS_OK
            else (
                f"{fr.status.upper()}: {fr.error}"
                + (f" (stopped {fr.where})" if fr.where else "")
            )
        )
        lines.append(
            f"  {fr.file}: {fr.packets} packets, {fr.srh_packets} SRH, "
            f"{fr.findings} findings, {state}"
        )
        lines.extend(f"    note: {note}" for note in fr.notes)
    yield from (line + "\n" for line in lines)
