"""Auditing capture files: the loop from a source through the inspector into a report.

This is an I/O edge (it opens files); the judgement is all in the Inspector. A file that
cannot be read further keeps what was audited before the damage: its status says where
reading stopped, and the other files are still audited.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from ..csid import CsidFormats
from ..errors import CaptureFormatError
from ..findings import HMAC_MISMATCH, HMAC_UNKNOWN_KEY, HMAC_VERIFIED, Finding
from ..frame import Frame
from ..inspector import CLEAN, Inspector, InspectorBug, PacketResult
from ..keys import Keyring
from ..linklayer import LINKTYPE_NAMES
from ..rules import Profile, Severity
from ..sources import CaptureReader, open_capture
from .findingstore import FindingStore

STATUS_OK = "ok"
STATUS_STOPPED = "stopped"  # read up to a damaged or cut record, audited what came before
STATUS_UNREADABLE = "unreadable"  # not a capture at all, or cannot be opened
STATUS_INTERRUPTED = "interrupted"  # Ctrl-C: audited up to here, the rest not read


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
    """Everything an audit produced; the sinks render it."""

    profile: Profile
    files: list[FileReport] = field(default_factory=list)
    findings: FindingStore = field(default_factory=FindingStore)
    by_rule: Counter[str] = field(default_factory=Counter)
    by_severity: Counter[str] = field(default_factory=Counter)
    hmac: Counter[str] = field(default_factory=Counter)
    rule_counts_by_file: Counter[tuple[str, str]] = field(default_factory=Counter)
    max_findings: int | None = None
    findings_dropped: int = 0

    @property
    def packets(self) -> int:
        return sum(f.packets for f in self.files)

    @property
    def srh_packets(self) -> int:
        return sum(f.srh_packets for f in self.files)

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


PacketHook = Callable[[str, PacketResult], None]
FrameHook = Callable[[Frame, list[Finding]], None]
ProgressHook = Callable[[str, int, int], None]  # (file, packets so far, bytes read of file)
PROGRESS_EVERY = 1 << 16  # frames between progress calls: invisible in the hot loop


class Auditor:
    """Runs files through one Inspector and accumulates an AuditReport."""

    def __init__(self, profile: Profile = Profile.DRAFT04, keyring: Keyring | None = None,
                 on_packet: PacketHook | None = None, max_findings: int | None = None,
                 on_frame: FrameHook | None = None, csid: CsidFormats | None = None) -> None:
        self.inspector = Inspector(profile, keyring, csid=csid)
        self.report = AuditReport(profile, max_findings=max_findings)
        self.on_packet = on_packet
        self.on_frame = on_frame  # sees every frame (annotation), so it costs only when set
        self.on_progress: ProgressHook | None = None
        self.interrupted = False  # set by Ctrl-C; the report so far stays valid
        #: the capture being read (hooks look up its pcapng interface names), else None
        self.reader: CaptureReader | None = None

    def audit_files(self, paths: Iterable[str]) -> AuditReport:
        for path in paths:
            if self.interrupted:
                break
            self.audit_file(path)
        return self.report

    def audit_file(self, path: str) -> FileReport:
        name = "<stdin>" if path == "-" else str(path)
        fr = FileReport(name)
        self.report.files.append(fr)
        insp = self.inspector
        insp.unsupported_linktypes.clear()
        detail = self.on_packet is not None  # hooks want every SRv6 packet decoded
        srh_before, packets_before = insp.srh_packets, insp.packets
        try:
            with self.open_reader(path) as reader:
                self.reader = reader
                fr.compressed = bool(getattr(reader, "compressed", False))
                try:
                    if detail or self.on_frame is not None:
                        self._loop_hooked(reader, fr, detail)
                    else:
                        self._loop_fast(reader, fr)
                finally:
                    insp.add_skimmed(*reader.take_skim_counts())
        except CaptureFormatError as exc:
            fr.status = STATUS_STOPPED if insp.packets > packets_before else STATUS_UNREADABLE
            fr.error = exc.message
            fr.stopped_at = exc.offset
        except OSError as exc:
            fr.status = STATUS_UNREADABLE
            fr.error = f"cannot read: {exc.strerror or exc}"
        except KeyboardInterrupt:
            # Ctrl-C: keep what was audited, say where it stopped, let the caller report it.
            self.interrupted = True
            fr.status = STATUS_INTERRUPTED
            fr.error = f"interrupted after {insp.packets - packets_before} frames"
        fr.srh_packets = insp.srh_packets - srh_before
        fr.packets = insp.packets - packets_before
        for linktype, count in sorted(insp.unsupported_linktypes.items()):
            lname = LINKTYPE_NAMES.get(linktype, "unknown")
            fr.notes.append(f"link type {linktype} ({lname}) is not supported: {count} frames "
                            "skipped")
        return fr

    def open_reader(self, path: str) -> AbstractContextManager[CaptureReader]:
        """How an input is opened; subclasses open other kinds of input (audit.inputs: URLs)."""
        return open_capture(path)

    def _loop_fast(self, reader: CaptureReader, fr: FileReport) -> None:
        """The audit's hot loop: the reader's compiled pre-filter consumes what needs no
        Python (None marks such a run), clean packets never leave the inspector."""
        insp = self.inspector
        feed = insp.feed
        record = self._record
        fast_hmac = insp.fast_hmac
        progress = self.on_progress
        next_progress = insp.packets + PROGRESS_EVERY
        for frame in reader.skim(insp.skim_mode, hmac_batch=True):  # type: ignore[arg-type]
            if frame is None:
                for number, data, off, tlv in reader.take_hmac_batch():
                    record(fr, fast_hmac(number, data, off, tlv))  # type: ignore[arg-type]
                if progress is None:
                    continue  # counts are taken once, when the file is done
                insp.add_skimmed(*reader.take_skim_counts())
            else:
                try:
                    result = feed(frame, False)
                except InspectorBug as bug:
                    fr.notes.append(str(bug))
                    continue
                if result is not None and result is not CLEAN:
                    record(fr, result)  # type: ignore[arg-type]
            if progress is not None and insp.packets >= next_progress:
                progress(fr.file, insp.packets, reader.bytes_read)
                next_progress = insp.packets + PROGRESS_EVERY

    def _loop_hooked(self, reader: CaptureReader, fr: FileReport, detail: bool) -> None:
        """Every frame through the inspector (no pre-filter), for per-packet and per-frame
        hooks (decode, annotate), plus progress."""
        insp = self.inspector
        progress, on_frame = self.on_progress, self.on_frame
        count = 0
        for frame in reader:
            count += 1
            if progress is not None and not count % PROGRESS_EVERY:
                progress(fr.file, insp.packets, reader.bytes_read)
            try:
                result = insp.feed(frame, detail)
            except InspectorBug as bug:
                fr.notes.append(str(bug))
                continue
            if result is None or result is CLEAN:
                if on_frame is not None:
                    on_frame(frame, [])
                continue
            self._record(fr, result)  # type: ignore[arg-type]
            if on_frame is not None:
                on_frame(frame, result.findings)  # type: ignore[union-attr]

    def _record(self, fr: FileReport, result: PacketResult) -> None:
        rep = self.report
        for check in result.hmacs:
            rep.hmac[check.status] += 1
        if result.findings:
            self._record_findings(fr, result.findings)
        if self.on_packet is not None:
            self.on_packet(fr.file, result)

    def _record_findings(self, fr: FileReport, findings: list[Finding]) -> None:
        rep = self.report
        cap, store, file = rep.max_findings, rep.findings, fr.file
        by_rule, by_severity, per_file = rep.by_rule, rep.by_severity, rep.rule_counts_by_file
        for finding in findings:
            if cap is None or len(store) < cap:
                store.append((file, finding))
            else:
                rep.findings_dropped += 1
            rule = finding.rule
            by_rule[rule] += 1
            by_severity[finding.severity.label] += 1
            per_file[(file, rule)] += 1
        fr.findings += len(findings)
