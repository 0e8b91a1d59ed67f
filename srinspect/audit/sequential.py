"""Auditing capture files: the loop from a source through the audit engine into a report.

This is an I/O edge (it opens files); the judgement is all in the Inspector, and how the
frames reach it is the engine's business (engine.py). A file that cannot be read further
keeps what was audited before the damage: its status says where reading stopped, and the
other files are still audited.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TypeVar

from ..csid import CsidFormats
from ..engine import AuditEngine, Progress
from ..errors import CaptureFormatError
from ..findings import Checked, Finding
from ..frame import Frame
from ..inspector import Inspector, InspectorBug, PacketResult
from ..keys import Keyring
from ..linklayer import LINKTYPE_NAMES
from ..rules import Profile
from ..sources import CaptureReader, from_stream, open_capture
from .inputs import is_url, open_input
from .report import (
    STATUS_INTERRUPTED,
    STATUS_STOPPED,
    STATUS_UNREADABLE,
    AuditReport,
    FileReport,
)

PacketHook = Callable[[str, PacketResult], None]
FrameHook = Callable[[Frame, list[Finding]], None]
ProgressHook = Callable[[str, int, int], None]  # (file, packets so far, bytes read of file)
C = TypeVar("C", bound=Checked)


class Auditor:
    """Runs files through one Inspector and accumulates an AuditReport."""

    def __init__(self, profile: Profile = Profile.DRAFT04, keyring: Keyring | None = None,
                 on_packet: PacketHook | None = None, max_findings: int | None = None,
                 on_frame: FrameHook | None = None, csid: CsidFormats | None = None) -> None:
        self.inspector = Inspector(profile, keyring, csid=csid)
        self.engine = AuditEngine(self.inspector)
        self.report = AuditReport(profile, max_findings=max_findings)
        self.on_packet = on_packet  # sees every SRv6 packet decoded in full (decode)
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
        srh_before, packets_before = insp.srh_packets, insp.packets
        try:
            with self.open_reader(path) as reader:
                self.reader = reader
                fr.compressed = bool(getattr(reader, "compressed", False))
                self._audit_reader(reader, fr)
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
        """How an input is opened; subclasses open other kinds of input (StreamAuditor)."""
        return open_capture(path)

    def _audit_reader(self, reader: CaptureReader, fr: FileReport) -> None:
        """Every result the engine gives goes into the report; hooks see what they asked for
        (every SRv6 packet decoded in full, or every frame with its findings)."""
        engine, record = self.engine, _uninterrupted(self.report.record)
        progress = self._progress(fr, reader)

        def note(bug: InspectorBug) -> None:
            fr.notes.append(str(bug))

        if self.on_packet is not None:
            self._each(fr, engine.packets(reader, progress, note), self.on_packet)
        elif self.on_frame is not None:
            self._each(fr, engine.frames(reader, progress, note), None)
        else:
            for checked in engine.results(reader, progress, note):
                record(fr, checked)

    def _each(self, fr: FileReport, frames: Iterator[tuple[Frame, C | None]],
              on_packet: Callable[[str, C], None] | None) -> None:
        record, on_frame = _uninterrupted(self.report.record), self.on_frame
        for frame, checked in frames:
            if checked is not None:
                record(fr, checked)
                if on_packet is not None:
                    on_packet(fr.file, checked)
            if on_frame is not None:
                on_frame(frame, checked.findings if checked is not None else [])

    def _progress(self, fr: FileReport, reader: CaptureReader) -> Progress | None:
        hook = self.on_progress
        if hook is None:
            return None
        return lambda packets: hook(fr.file, packets, reader.bytes_read)


Record = Callable[[FileReport, Checked], None]
_SIGINT = frozenset({signal.SIGINT})


def _uninterrupted(record: Record) -> Record:
    """``record`` with Ctrl-C held back while it counts findings: a report interrupted half
    way through a packet's (or a cached run's thousands of) findings would count them in
    ``by_rule`` but not in its file, which a partial report must never do. The signal is
    delivered, and the audit interrupted, right after. Packets without findings (most) are
    recorded as they are: their HMAC counters need no such care."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - not on Linux
        return record
    mask, block, unblock = signal.pthread_sigmask, signal.SIG_BLOCK, signal.SIG_UNBLOCK

    def guarded(fr: FileReport, checked: Checked) -> None:
        if not checked.findings:
            record(fr, checked)
            return
        mask(block, _SIGINT)
        try:
            record(fr, checked)
        finally:
            mask(unblock, _SIGINT)

    return guarded


class StreamAuditor(Auditor):
    """An Auditor whose inputs may be fsspec URLs; local paths open as usual. Only the
    opening differs, so URL and local audits share every other step (the distributed audit
    runs whole files with it)."""

    def open_reader(self, path: str) -> AbstractContextManager[CaptureReader]:
        if not is_url(path):
            return super().open_reader(path)
        return _url_reader(path)


@contextmanager
def _url_reader(path: str) -> Iterator[CaptureReader]:
    raw = open_input(path)
    try:
        with from_stream(raw, name=path, closer=raw) as reader:
            yield reader
    finally:
        raw.close()
