"""What an audit reports, and how pieces of it become exactly the report one process makes.

A sequential audit records its results as they come (``AuditReport.record``). Parallel and
Dask audits get pieces: files audited elsewhere (an AuditReport each) and the units of
split files (a ``UnitResult`` each, frames numbered from the unit's start). ``UnitMerge``
folds a file's units together, and only when they tile the file exactly;
``AuditReport.merge`` appends a piece after everything already there. These two are the
whole of the promise that ``--workers N`` and ``--scheduler`` give ``--workers 1``'s report:
the same findings in the same order, the same counts, the same ``--max-findings`` cut.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from operator import attrgetter

from ..findings import HMAC_MISMATCH, HMAC_UNKNOWN_KEY, HMAC_VERIFIED, Checked, Finding, FindingRow
from ..rules import Profile, Severity
from .findingstore import FindingStore, append_rows, open_and_unlink
from .inputs import input_size
from .split import WorkUnit

_STATUS = attrgetter("status")  # an HmacCheck's status, for Counter.update

STATUS_OK = "ok"
STATUS_STOPPED = "stopped"  # read up to a damaged or cut record, audited what came before
STATUS_UNREADABLE = "unreadable"  # not a capture at all, or cannot be opened
STATUS_INTERRUPTED = "interrupted"  # Ctrl-C: audited up to here, the rest not read

#: Findings a worker keeps in memory before it spills them to its row file (and a whole
#: file's report sends home in a row file rather than pickled).
SPILL_ROWS = 20_000


@dataclass(slots=True)
class FileReport:
    """Per-file totals and how reading ended."""

    file: str
    packets: int = 0
    srh_packets: int = 0
    findings: int = 0
    status: str = STATUS_OK
    error: str | None = None
    stopped_at: int | None = None
    notes: list[str] = field(default_factory=list)
    compressed: bool = False  # gzip: ``stopped_at`` counts bytes of the decompressed capture

    def to_dict(self) -> dict[str, object]:
        return {"file": self.file, "packets": self.packets, "srh_packets": self.srh_packets,
                "findings": self.findings, "status": self.status, "error": self.error,
                "stopped_at": self.stopped_at, "compressed": self.compressed,
                "notes": self.notes}

    @property
    def where(self) -> str:
        """Where reading stopped, saying which stream the offset counts (empty if it did
        not stop)."""
        if self.stopped_at is None:
            return ""
        stream = " of the decompressed capture" if self.compressed else ""
        return f"at byte {self.stopped_at}{stream}"


@dataclass(slots=True)
class AuditReport:
    """Everything an audit produced; the sinks render it. Findings are counted in full and
    listed up to ``max_findings``."""

    profile: Profile
    files: list[FileReport] = field(default_factory=list)
    findings: FindingStore = field(default_factory=FindingStore)
    by_rule: Counter[str] = field(default_factory=Counter)
    by_severity: Counter[str] = field(default_factory=Counter)
    hmac: Counter[str] = field(default_factory=Counter)
    rule_counts_by_file: Counter[tuple[str, str]] = field(default_factory=Counter)
    max_findings: int | None = None

    @property
    def packets(self) -> int:
        return sum(f.packets for f in self.files)

    @property
    def srh_packets(self) -> int:
        return sum(f.srh_packets for f in self.files)

    @property
    def findings_dropped(self) -> int:
        """Findings counted but not listed (``max_findings``)."""
        return sum(self.by_rule.values()) - len(self.findings)

    @property
    def worst(self) -> Severity | None:
        present = [s for s in Severity if self.by_severity.get(s.label)]
        return max(present) if present else None

    @property
    def interrupted(self) -> bool:
        return any(f.status == STATUS_INTERRUPTED for f in self.files)

    @property
    def input_problem(self) -> bool:
        return any(f.status != STATUS_OK for f in self.files)

    def summary_dict(self) -> dict[str, object]:
        return {
            "files": len(self.files),
            "packets": self.packets,
            "srh_packets": self.srh_packets,
            "findings": sum(self.by_rule.values()),
            "findings_listed": len(self.findings),
            "by_rule": dict(sorted(self.by_rule.items())),
            "by_severity": {s.label: self.by_severity.get(s.label, 0) for s in
                            sorted(Severity, reverse=True)},
            "hmac": {"verified": self.hmac.get(HMAC_VERIFIED, 0),
                     "mismatch": self.hmac.get(HMAC_MISMATCH, 0),
                     "unknown_key": self.hmac.get(HMAC_UNKNOWN_KEY, 0)},
        }

    # --- recording, as an audit goes -------------------------------------------------------

    def record(self, fr: FileReport, checked: Checked) -> None:
        """Count the HMAC results and findings of one packet (or one HMAC batch) of file
        ``fr``, listing the findings while ``max_findings`` allows. The audit's hot path."""
        hmacs = checked.hmacs
        if hmacs:
            if len(hmacs) == 1:
                self.hmac[hmacs[0].status] += 1
            else:  # a batch: thousands of results, counted in C
                self.hmac.update(map(_STATUS, hmacs))
        findings = checked.findings
        if not findings:
            return
        cap, store, file = self.max_findings, self.findings, fr.file
        by_rule, by_severity, per_file = self.by_rule, self.by_severity, self.rule_counts_by_file
        for finding in findings:
            if cap is None or len(store) < cap:
                store.append((file, finding))
            rule = finding.rule
            by_rule[rule] += 1
            by_severity[finding.severity.label] += 1
            per_file[(file, rule)] += 1
        fr.findings += len(findings)

    # --- putting pieces together ----------------------------------------------------------

    def merge(self, part: AuditReport) -> None:
        """Append ``part``, the report of files audited elsewhere that come after every file
        here: its files and counts, and its findings as far as ``max_findings`` still lists
        them. ``part`` hands its findings over (worker row files unread) and keeps none."""
        self.findings.take(part.findings, self.room())
        self.files.extend(part.files)
        self.by_rule.update(part.by_rule)
        self.by_severity.update(part.by_severity)
        self.hmac.update(part.hmac)
        self.rule_counts_by_file.update(part.rule_counts_by_file)

    def adopt_rows(self, path: str, file: str, shift: int, count: int) -> None:
        """List the first ``count`` findings of a worker's row file (``append_rows``) as
        findings of ``file``, frames moved by ``shift``, as far as ``max_findings`` allows.
        The file's name is gone afterwards either way."""
        room = self.room()
        self.findings.adopt_rows(open_and_unlink(path), file, shift,
                                 count if room is None else min(count, room))

    def room(self) -> int | None:
        """How many more findings may be listed (None: no limit)."""
        if self.max_findings is None:
            return None
        return max(self.max_findings - len(self.findings), 0)


@dataclass(slots=True)
class UnitResult:
    """What one worker found in one unit; frame numbers are relative to the unit."""

    unit: WorkUnit
    first: int = -1  # file offset of the first record the unit owns
    end: int = -1  # file offset of the first record after the unit (its successor's first)
    frames: int = 0
    srh_packets: int = 0
    findings: list[FindingRow] = field(default_factory=list)  # Finding.to_row(): cheap pickle
    kept: int = 0  # findings kept (in ``findings`` or in the row file)
    spill_dir: str | None = None  # where to spill findings past SPILL_ROWS (None: keep all)
    findings_file: str | None = None  # the row file (findingstore.append_rows), if written
    by_rule: Counter[str] = field(default_factory=Counter)
    by_severity: Counter[str] = field(default_factory=Counter)
    hmac: Counter[str] = field(default_factory=Counter)
    ok: bool = True  # False: the unit could not be audited on its own; redo the file
    state: tuple[object, ...] = ()  # pcapng interface table at the end (must not change)

    def record(self, checked: Checked, cap: int | None) -> None:
        """``AuditReport.record`` on a worker: counts in full, findings as rows, up to
        ``cap`` of them."""
        self.hmac.update(map(_STATUS, checked.hmacs))
        for finding in checked.findings:
            self.by_rule[finding.rule] += 1
            self.by_severity[finding.severity.label] += 1
            self.keep(finding.to_row(), cap)

    def keep(self, row: FindingRow, cap: int | None) -> None:
        """Keep a finding (up to ``cap``); past SPILL_ROWS, batches go to the row file so a
        worker's memory stays flat on units with millions of findings."""
        if cap is not None and self.kept >= cap:
            return
        self.findings.append(row)
        self.kept += 1
        if self.spill_dir is not None and len(self.findings) >= SPILL_ROWS:
            self.spill()

    def spill(self) -> None:
        if not self.findings:
            return
        if self.findings_file is None:
            u = self.unit
            self.findings_file = os.path.join(
                self.spill_dir or "", f"unit-{u.file_index}-{u.unit_index}-{os.getpid()}.rows")
        append_rows(self.findings_file, self.findings)
        self.findings = []


class UnitMerge:
    """One split file's unit results, folded in unit order into a report of that file which
    joins the audit's report only if the units tiled the file: each began where the one
    before ended, the last ended at the end of the file, and the pcapng interface table was
    the same throughout. Anything else (a resync gone astray, damage, an interface declared
    mid-file) and the caller audits the file again in one piece. Incremental, so a Dask
    client folds units as they arrive and never holds a whole file's findings at once.
    """

    def __init__(self, path: str, into: AuditReport) -> None:
        self.fr = FileReport(path, status=STATUS_OK)
        self.part = AuditReport(into.profile, [self.fr], max_findings=into.room())
        self.end: int | None = None
        self.state: tuple[object, ...] | None = None
        self.ok = True

    def add(self, r: UnitResult) -> bool:
        """Fold in the next unit; False when the units cannot make up the file."""
        if not r.ok or (self.end is not None and r.first != self.end):
            self.ok = False
        elif r.frames:
            if self.state is None:
                self.state = r.state
            elif r.state != self.state:
                self.ok = False
        if not self.ok:
            return False
        self.end = r.end
        self._fold(r)
        return True

    def _fold(self, r: UnitResult) -> None:
        part, fr = self.part, self.fr
        path, shift = fr.file, fr.packets  # the unit's frames come after those folded so far
        for row in r.findings[: part.room()]:
            part.findings.append((path, Finding.from_row(row, shift)))
        if r.findings_file is not None:
            part.adopt_rows(r.findings_file, path, shift, r.kept)
        part.by_rule.update(r.by_rule)
        part.by_severity.update(r.by_severity)
        part.hmac.update(r.hmac)
        part.rule_counts_by_file.update({(path, rule): n for rule, n in r.by_rule.items()})
        fr.findings += sum(r.by_rule.values())
        fr.packets += r.frames
        fr.srh_packets += r.srh_packets

    def commit(self, into: AuditReport) -> bool:
        """Merge the file into ``into`` if the last unit ended at the end of the file."""
        try:
            size = input_size(self.fr.file)
        except OSError:
            return False  # gone meanwhile: the whole-file re-audit reports it
        if not self.ok or self.end != size:
            return False
        into.merge(self.part)
        return True


#: A whole file's report as a worker sends it home: the report, and the row file (path, file
#: name, count) holding its findings when there were many, in which case its store is empty.
WholeResult = tuple[AuditReport, tuple[str, str, int] | None]


def pack_whole(report: AuditReport, rows_path: str | None) -> WholeResult:
    """A worker's whole-file report, ready to send: past SPILL_ROWS findings (and with a
    ``rows_path`` to write), they travel in a row file rather than pickled one by one."""
    if rows_path is None or len(report.findings) <= SPILL_ROWS:
        return report, None
    batch: list[FindingRow] = []
    for _file, f in report.findings:
        batch.append(f.to_row())
        if len(batch) >= SPILL_ROWS:
            append_rows(rows_path, batch)
            batch = []
    if batch:
        append_rows(rows_path, batch)
    rows = (rows_path, report.files[0].file, len(report.findings))
    report.findings = FindingStore()
    return report, rows


def unpack_whole(result: WholeResult) -> AuditReport:
    """The report ``pack_whole`` sent, its findings back in its store (the row file unread)."""
    report, rows = result
    if rows is not None:
        path, file, count = rows
        report.adopt_rows(path, file, 0, count)
    return report
