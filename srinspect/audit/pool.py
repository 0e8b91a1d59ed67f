"""Parallel audits: work units in a process pool, merged into the sequential result.

Workers audit units (split.py) and return compact results with unit-relative frame numbers;
the merge walks each file's units in order, checks that they tile the file exactly, renumbers
frames and adds counts. A file whose units do not tile (a resync that went astray, damage, an
interface declared mid-file) is audited again in one piece, so ``--workers N`` always gives
what ``--workers 1`` gives: same findings, same order, same counts.

Keys reach the workers through the pool initializer (pickled in memory, never on disk).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from ..errors import CaptureFormatError
from ..findings import Finding, FindingRow
from ..inspector import CLEAN, FastResult, Inspector, InspectorBug, PacketResult
from ..keys import Keyring
from ..rules import Profile
from ..sources.pcap import PcapReader
from ..sources.pcapng import PcapngReader
from .findingstore import FindingStore, append_rows, open_and_unlink
from .inputs import input_size, open_input
from .sequential import STATUS_INTERRUPTED, STATUS_OK, Auditor, AuditReport, FileReport
from .split import MIN_UNIT, WorkUnit, plan_file, sync_offset

PARALLEL_MIN_BYTES = 16 << 20  # below this, process start-up costs more than it saves


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


SPILL_ROWS = 20_000

_WORKER: dict[str, object] = {}


def _init_worker(profile: Profile, keyring: Keyring | None, max_findings: int | None,
                 spill_dir: str | None = None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _WORKER["inspector"] = Inspector(profile, keyring)
    _WORKER["max_findings"] = max_findings
    _WORKER["spill_dir"] = spill_dir


def audit_unit(unit: WorkUnit) -> UnitResult:
    """Audit one unit in this process (the pool calls it; tests may too)."""
    insp = _WORKER["inspector"]
    assert isinstance(insp, Inspector)
    cap = _WORKER.get("max_findings")
    return audit_unit_with(unit, insp, cap, _WORKER.get("spill_dir"))  # type: ignore[arg-type]


def audit_unit_with(unit: WorkUnit, insp: Inspector, cap: int | None,
                    spill_dir: str | None = None) -> UnitResult:
    """Audit one unit with the given inspector, keeping at most ``cap`` findings; with
    ``spill_dir``, findings past SPILL_ROWS go to a row file there (``findings_file``).

    Separate from ``audit_unit`` so a caller without the pool's per-process globals (a Dask
    task, possibly on a multi-threaded worker) can bring its own Inspector.
    """
    res = UnitResult(unit, spill_dir=spill_dir)
    try:
        _audit_unit(res, unit, insp, cap)
    finally:
        if res.findings_file is not None:
            res.spill()  # the whole list in the file, in order
    return res


def _audit_unit(res: UnitResult, unit: WorkUnit, insp: Inspector, cap: int | None) -> None:
    size = input_size(unit.path)
    unsupported = sum(insp.unsupported_linktypes.values())
    with open_input(unit.path) as f:
        first = sync_offset(f, unit, size)
        if first < 0:
            res.ok = False
            return
        res.first = res.end = first
        if first >= unit.stop:
            return
        f.seek(first)
        reader_cls = PcapReader if unit.kind == "pcap" else PcapngReader
        reader = reader_cls(f, head=unit.prefix)
        shift = first - len(unit.prefix)  # stream offset -> file offset
        reader.limit = unit.stop - shift  # records starting at unit.stop are the next unit's
        before, packets_before = insp.srh_packets, insp.packets
        try:
            for frame in reader.skim(insp.profile is Profile.DRAFT04, hmac_batch=True):
                if frame is None:  # a run the pre-filter consumed: counted below
                    for number, data, off, tlv in reader.take_hmac_batch():
                        _add_result(res, insp.fast_hmac(number, data, off, tlv), cap)
                    continue
                try:
                    result = insp.feed(frame, False)
                except InspectorBug:
                    res.ok = False  # the sequential re-run records it with its note
                    return
                if result is not None and result is not CLEAN:
                    _add_result(res, result, cap)  # type: ignore[arg-type]
        except CaptureFormatError:
            res.ok = False
            return
        finally:
            insp.add_skimmed(*reader.take_skim_counts())
        res.end = reader.next_offset + shift if reader.next_offset is not None else size
        res.frames = insp.packets - packets_before
        res.srh_packets = insp.srh_packets - before
        if sum(insp.unsupported_linktypes.values()) != unsupported:
            res.ok = False  # the sequential re-run writes the per-file link type note
            return
        if isinstance(reader, PcapngReader):
            res.state = (reader.sections, tuple(
                (i.linktype, i.ts_divisor, i.ts_offset) for i in reader.interfaces))


def _add_result(res: UnitResult, result: PacketResult | FastResult, cap: int | None) -> None:
    for check in result.hmacs:
        res.hmac[check.status] += 1
    for finding in result.findings:
        res.by_rule[finding.rule] += 1
        res.by_severity[finding.severity.label] += 1
        res.keep(finding.to_row(), cap)


def plan(paths: Iterable[str], workers: int, min_unit: int = MIN_UNIT) -> list[WorkUnit]:
    pieces = workers * 2
    return [u for i, p in enumerate(paths) for u in plan_file(p, i, pieces, min_unit)]


def worth_parallel(paths: list[str], workers: int) -> bool:
    if workers < 2 or "-" in paths:
        return False
    total = 0
    for p in paths:
        with contextlib.suppress(OSError):
            total += os.path.getsize(p)
    return total >= PARALLEL_MIN_BYTES


def audit_parallel(paths: list[str], workers: int, profile: Profile, keyring: Keyring | None,
                   max_findings: int | None = None,
                   on_unit: Callable[[WorkUnit], None] | None = None,
                   min_unit: int = MIN_UNIT) -> AuditReport:
    """The same report as ``Auditor(...).audit_files(paths)``, computed by ``workers``."""
    spill_dir = tempfile.mkdtemp(prefix="srinspect-units-")  # workers' row files
    try:
        return _audit_parallel(paths, workers, profile, keyring, max_findings, on_unit,
                               min_unit, spill_dir)
    finally:
        shutil.rmtree(spill_dir, ignore_errors=True)  # adopted files were already unlinked


def _audit_parallel(paths: list[str], workers: int, profile: Profile, keyring: Keyring | None,
                    max_findings: int | None, on_unit: Callable[[WorkUnit], None] | None,
                    min_unit: int, spill_dir: str) -> AuditReport:
    units = plan(paths, workers, min_unit)
    seq = Auditor(profile, keyring, max_findings=max_findings)
    by_file: dict[int, list[UnitResult]] = {}
    whole_reports: dict[int, WholeResult] = {}
    pool = ProcessPoolExecutor(workers, initializer=_init_worker,
                               initargs=(profile, keyring, max_findings, spill_dir))
    try:
        whole = [u for u in units if u.kind == "whole"]
        split = [u for u in units if u.kind != "whole"]
        futures = {u: pool.submit(_audit_whole, u, profile, keyring, max_findings, spill_dir)
                   for u in whole}
        for res in pool.map(audit_unit, split):
            by_file.setdefault(res.unit.file_index, []).append(res)
            if on_unit:
                on_unit(res.unit)
        for u, fut in futures.items():
            whole_reports[u.file_index] = fut.result()
            if on_unit:
                on_unit(u)
    except KeyboardInterrupt:
        # Ctrl-C: files finished so far are reported; the others are marked interrupted.
        pool.shutdown(wait=False, cancel_futures=True)
        return _interrupted(seq, paths, whole_reports, by_file, split)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    for index, path in enumerate(paths):
        if index in whole_reports:
            _merge_report(seq.report, *whole_reports[index])
        elif not _merge_units(seq.report, path, by_file.get(index, [])):
            seq.audit_file(path)  # units did not tile the file: redo it in one piece
    report = seq.report
    report.findings_dropped = sum(report.by_rule.values()) - len(report.findings)
    return report


def _interrupted(seq: Auditor, paths: list[str], whole_reports: dict[int, WholeResult],
                 by_file: dict[int, list[UnitResult]], split: list[WorkUnit]) -> AuditReport:
    planned = Counter(u.file_index for u in split)
    for index, path in enumerate(paths):
        done = by_file.get(index, [])
        if index in whole_reports:
            _merge_report(seq.report, *whole_reports[index])
        elif planned[index] and len(done) == planned[index] and \
                _merge_units(seq.report, path, done):
            pass
        else:
            seq.report.files.append(FileReport(path, status=STATUS_INTERRUPTED,
                                               error="interrupted before it was audited"))
    report = seq.report
    report.findings_dropped = sum(report.by_rule.values()) - len(report.findings)
    return report


#: A whole file's report, and the row file (path, file name, count) holding its findings
#: when there were many, in which case the report's own store is empty.
WholeResult = tuple[AuditReport, tuple[str, str, int] | None]


def _audit_whole(unit: WorkUnit, profile: Profile, keyring: Keyring | None,
                 max_findings: int | None, spill_dir: str | None = None) -> WholeResult:
    """A file that cannot be cut (gzip, small), audited in one piece. Its findings come back
    in a row file when there are many (see UnitResult.keep), not pickled in the report."""
    report = Auditor(profile, keyring, max_findings=max_findings).audit_files([unit.path])
    if spill_dir is not None and len(report.findings) > SPILL_ROWS:
        path = os.path.join(spill_dir, f"whole-{unit.file_index}-{os.getpid()}.rows")
        batch: list[FindingRow] = []
        for _file, f in report.findings:
            batch.append(f.to_row())
            if len(batch) >= SPILL_ROWS:
                append_rows(path, batch)
                batch = []
        if batch:
            append_rows(path, batch)
        rows = (path, report.files[0].file, len(report.findings))
        report.findings = FindingStore()
        return report, rows
    return report, None


def _merge_report(into: AuditReport, part: AuditReport,
                  rows: tuple[str, str, int] | None = None) -> None:
    for fr in part.files:
        into.files.append(fr)
    for file, f in part.findings:
        _add_finding(into, file, f)
    if rows is not None:
        path, file, count = rows
        _adopt(into, path, file, 0, count)
    _add_counts(into, part.by_rule, part.by_severity, part.hmac, part.rule_counts_by_file)


def _adopt(into: AuditReport, path: str, file: str, shift: int, count: int) -> None:
    """Take a worker's row file into the report's store, within ``max_findings``."""
    if into.max_findings is not None:
        count = min(count, max(into.max_findings - len(into.findings), 0))
    into.findings.adopt_rows(open_and_unlink(path), file, shift, count)


def _merge_units(into: AuditReport, path: str, results: list[UnitResult]) -> bool:
    results.sort(key=lambda r: r.unit.unit_index)
    if not results or not all(r.ok for r in results):
        return False
    for prev, nxt in zip(results, results[1:], strict=False):
        if prev.end != nxt.first:
            return False
    states = {r.state for r in results if r.frames}
    if len(states) > 1 or results[-1].end != input_size(path):
        return False
    fr = FileReport(path, status=STATUS_OK)
    base = 0
    per_file: Counter[tuple[str, str]] = Counter()
    for r in results:
        for row in r.findings:
            _add_finding(into, path, Finding.from_row(row, base))
        if r.findings_file is not None:
            _adopt(into, r.findings_file, path, base, r.kept)
        for rule, n in r.by_rule.items():
            per_file[(path, rule)] += n
        _add_counts(into, r.by_rule, r.by_severity, r.hmac, Counter())
        fr.findings += sum(r.by_rule.values())
        fr.packets += r.frames
        fr.srh_packets += r.srh_packets
        base += r.frames
    into.rule_counts_by_file.update(per_file)
    into.files.append(fr)
    return True


def _add_finding(into: AuditReport, file: str, f: Finding) -> None:
    if into.max_findings is None or len(into.findings) < into.max_findings:
        into.findings.append((file, f))
    else:
        into.findings_dropped += 1


def _add_counts(into: AuditReport, by_rule: Counter[str], by_severity: Counter[str],
                hmac: Counter[str], per_file: Counter[tuple[str, str]]) -> None:
    into.by_rule.update(by_rule)
    into.by_severity.update(by_severity)
    into.hmac.update(hmac)
    into.rule_counts_by_file.update(per_file)
