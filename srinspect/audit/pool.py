"""Parallel audits: work units in a process pool, merged into the sequential result.

Workers audit units (split.py) and return compact results with unit-relative frame numbers
(report.UnitResult); the merge (report.UnitMerge) walks each file's units in order, checks
that they tile the file exactly, renumbers frames and adds counts. A file whose units do not
tile (a resync that went astray, damage, an interface declared mid-file) is audited again in
one piece, so ``--workers N`` always gives what ``--workers 1`` gives: same findings, same
order, same counts.

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

from ..engine import AuditEngine
from ..errors import CaptureFormatError
from ..inspector import Inspector, InspectorBug
from ..keys import Keyring
from ..rules import Profile
from ..sources.pcap import PcapReader
from ..sources.pcapng import PcapngReader
from .inputs import input_size, open_input
from .report import (
    STATUS_INTERRUPTED,
    AuditReport,
    FileReport,
    UnitMerge,
    UnitResult,
    WholeResult,
    pack_whole,
    unpack_whole,
)
from .sequential import Auditor
from .split import MIN_UNIT, WorkUnit, plan_file, sync_offset

PARALLEL_MIN_BYTES = 16 << 20  # below this, process start-up costs more than it saves

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
            for checked in AuditEngine(insp).results(reader):
                res.record(checked, cap)
        except (CaptureFormatError, InspectorBug):
            res.ok = False  # the sequential re-run reports the damage, or the bug in a note
            return
        res.end = reader.next_offset + shift if reader.next_offset is not None else size
        res.frames = insp.packets - packets_before
        res.srh_packets = insp.srh_packets - before
        if sum(insp.unsupported_linktypes.values()) != unsupported:
            res.ok = False  # the sequential re-run writes the per-file link type note
            return
        if isinstance(reader, PcapngReader):
            res.state = (reader.sections, tuple(
                (i.linktype, i.ts_divisor, i.ts_offset) for i in reader.interfaces))


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
            seq.report.merge(unpack_whole(whole_reports[index]))
        elif not _merge_units(seq.report, path, by_file.get(index, [])):
            seq.audit_file(path)  # units did not tile the file: redo it in one piece
    return seq.report


def _interrupted(seq: Auditor, paths: list[str], whole_reports: dict[int, WholeResult],
                 by_file: dict[int, list[UnitResult]], split: list[WorkUnit]) -> AuditReport:
    planned = Counter(u.file_index for u in split)
    for index, path in enumerate(paths):
        done = by_file.get(index, [])
        if index in whole_reports:
            seq.report.merge(unpack_whole(whole_reports[index]))
        elif planned[index] and len(done) == planned[index] and \
                _merge_units(seq.report, path, done):
            pass
        else:
            seq.report.files.append(FileReport(path, status=STATUS_INTERRUPTED,
                                               error="interrupted before it was audited"))
    return seq.report


def _audit_whole(unit: WorkUnit, profile: Profile, keyring: Keyring | None,
                 max_findings: int | None, spill_dir: str | None = None) -> WholeResult:
    """A file that cannot be cut (gzip, small), audited in one piece. Its findings come back
    in a row file when there are many (``pack_whole``), not pickled in the report."""
    report = Auditor(profile, keyring, max_findings=max_findings).audit_files([unit.path])
    rows = None if spill_dir is None else os.path.join(
        spill_dir, f"whole-{unit.file_index}-{os.getpid()}.rows")
    return pack_whole(report, rows)


def _merge_units(into: AuditReport, path: str, results: list[UnitResult]) -> bool:
    """Merge a split file's units into ``into`` if they tile it (``UnitMerge``)."""
    merge = UnitMerge(path, into)
    ordered = sorted(results, key=lambda r: r.unit.unit_index)
    return all(merge.add(r) for r in ordered) and merge.commit(into)
