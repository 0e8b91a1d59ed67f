"""The audit engine: capture records in, what an audit report records out, in frame order.

Why one object: an audit spends most of its time on packets no rule can fire on, and keeps
them away from the full decoder in three layers whose order matters (findings in frame
order, exact counts). The compiled pre-filter (_skim.c) consumes whole records straight
from the readers' buffers and sets simple draft-04 HMAC packets aside; the frames it leaves
to Python get the same decision one by one (``_fastpath.fast_srh``); everything else is
decoded and validated by the Inspector. ``AuditEngine`` is the only code that knows these
layers: it hands the readers the pre-filter (a ``skim.Skimmer``), holds the HMAC batch and
verifies it through the validator's own HMAC judgement (``validate.judge_hmac``), and
counts what it consumed in the Inspector's counters. An audit loop only iterates
``results`` (or, when it must see every frame, ``frames`` or ``packets``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Protocol, TypeVar

from . import skim
from ._fastpath import SKIM_CSID, SKIM_DRAFT04, fast_srh
from .findings import Checked
from .frame import Frame
from .inspector import Inspector, InspectorBug, PacketResult
from .keys import MAC_FIELD_DRAFT04, Key, verify_draft04
from .linklayer import ipv6_offset_func
from .rules import Profile
from .validate import Checker, judge_hmac

#: A packet set aside for HMAC verification: (frame number, frame bytes, IPv6 header offset,
#: HMAC TLV offset).
HmacCandidate = tuple[int, bytes, int, int]

#: Packets between progress calls: often enough for a bar, invisible in the hot loop.
PROGRESS_EVERY = 1 << 16
_NEVER = 1 << 62

#: ``progress(packets)``: the inspector's packet count so far.
Progress = Callable[[int], None]
#: Gets each InspectorBug; the frame it happened on is skipped.
BugHook = Callable[[InspectorBug], None]

R = TypeVar("R")


class Records(Protocol):
    """A capture reader as the engine reads it (``CaptureReader``, ``PcapReader`` ...)."""

    def __iter__(self) -> Iterator[Frame]: ...

    def skim(self, skimmer: skim.Skimmer | None) -> Iterator[Frame | None]: ...


class AuditEngine:
    """Runs captures through one Inspector the way an audit needs them: fast, in frame order,
    with every packet counted. The inspector's profile and C-SID formats are read once,
    here: with C-SID formats every SRH packet goes to the validator (the RFC 9800 rules look
    at every address), so nothing is called clean or batched."""

    def __init__(self, inspector: Inspector) -> None:
        self.inspector = inspector
        self._draft04 = inspector.profile is Profile.DRAFT04
        self._fast = not inspector.csid
        self._mode = (SKIM_DRAFT04 if self._draft04 else 0) | (0 if self._fast else SKIM_CSID)
        self._batch: list[HmacCandidate] = []

    def results(self, reader: Records, progress: Progress | None = None,
                on_bug: BugHook | None = None) -> Iterator[Checked]:
        """What an audit records of ``reader``'s packets, in frame order: a PacketResult for
        each packet the validator looked at that has findings or HMAC results, and a
        ``validate.Checker`` for each run of HMAC packets verified together. Packets with
        nothing to record are only counted. ``on_bug`` gets each InspectorBug and the run
        goes on (without it, the bug ends the run)."""
        insp, batch = self.inspector, self._batch
        batch.clear()  # what an interrupted run left is not this reader's
        judge, verify = self._judge, self._verify
        due = insp.packets + PROGRESS_EVERY if progress is not None else _NEVER
        for frame in reader.skim(self.skimmer()):  # None: a run the pre-filter consumed
            if frame is not None:
                try:
                    result = judge(frame)
                except InspectorBug as bug:
                    _report_bug(bug, on_bug)
                    continue
                if result is not None:
                    yield result
            if batch:
                yield verify()
            if insp.packets >= due and progress is not None:
                progress(insp.packets)
                due = insp.packets + PROGRESS_EVERY

    def skimmer(self) -> skim.Skimmer | None:
        """The compiled pre-filter as the readers call it, bound to this engine: it counts
        what it consumes in the inspector and sets HMAC packets aside in the batch. None
        when it is not built (or SRINSPECT_PURE is set)."""
        native = skim.native
        if native is None:
            return None
        return _Prefilter(native, self._mode, self._batch, self.inspector)

    def frames(self, reader: Records, progress: Progress | None = None,
               on_bug: BugHook | None = None) -> Iterator[tuple[Frame, Checked | None]]:
        """Every frame of ``reader`` with what an audit records of it (``judge``), for
        per-frame sinks (``--annotate``). The compiled pre-filter stays out: it would
        consume frames the sink must see."""
        return self._each(reader, self.judge, progress, on_bug)

    def packets(self, reader: Records, progress: Progress | None = None,
                on_bug: BugHook | None = None) -> Iterator[tuple[Frame, PacketResult | None]]:
        """Every frame of ``reader`` with its full decode (``Inspector.feed``), for views of
        each SRv6 packet (``decode``): no fast path at all."""
        return self._each(reader, self.inspector.feed, progress, on_bug)

    def judge(self, frame: Frame) -> Checked | None:
        """What an audit records of one frame, or None for nothing: the fast path's decision,
        an HMAC packet verified at once, else the validator's findings."""
        result = self._judge(frame)
        if result is None and self._batch:
            return self._verify()
        return result

    def _judge(self, frame: Frame) -> PacketResult | None:
        """One frame the pre-filter left to Python: counted; a clean simple SRH (the same
        decision as the pre-filter's) goes no further, a simple draft-04 HMAC SRH joins the
        batch; anything else the validator checks. A result only when there is something
        to record."""
        insp = self.inspector
        off = insp.locate(frame)
        if off < 0:
            return None
        if self._fast:
            tlv = fast_srh(frame.data, off, self._draft04)
            if tlv != -2:
                insp.srh_packets += 1
                if tlv >= 0:
                    self._batch.append((frame.number, frame.data, off, tlv))
                return None
        result = insp.decode(frame, off, False)
        if result is None or not (result.findings or result.hmacs):
            return None
        return result

    def _verify(self) -> Checker:
        """Verify the batch of simple draft-04 HMAC SRHs (their only TLV is ``tlvs[0]``, the
        HMAC TLV) straight from their bytes, in frame order, and empty it. One Checker
        collects all of them: the validator's own judgement, without decoding each one."""
        insp = self.inspector
        checker = Checker(0, insp.profile, insp.keyring)
        key_of = checker.key
        for number, data, off, tlv in self._batch:
            srh = off + 40
            key_id = int.from_bytes(data[tlv + 4 : tlv + 8], "big")
            key = key_of(key_id)
            checker.frame = number
            judge_hmac(checker, srh, tlv, key_id, MAC_FIELD_DRAFT04, key,
                       None if key is None else _mismatch(key, key_id, data, off, tlv),
                       "tlvs[0]")
        self._batch.clear()
        return checker

    def _each(self, reader: Records, judge: Callable[[Frame], R | None],
              progress: Progress | None, on_bug: BugHook | None
              ) -> Iterator[tuple[Frame, R | None]]:
        insp = self.inspector
        self._batch.clear()
        due = insp.packets + PROGRESS_EVERY if progress is not None else _NEVER
        for frame in reader:
            try:
                result = judge(frame)
            except InspectorBug as bug:
                _report_bug(bug, on_bug)
                continue
            yield frame, result
            if insp.packets >= due and progress is not None:
                progress(insp.packets)
                due = insp.packets + PROGRESS_EVERY


def _mismatch(key: Key, key_id: int, data: bytes, off: int, tlv: int) -> str | None:
    """``judge_hmac``'s ``why`` for a batched packet: the draft-04 HMAC text is the source,
    First Segment, flags, key id and the Segment List, all read where they lie."""
    srh = off + 40
    ok = verify_draft04(key, data[off + 8 : off + 24], data[srh + 4], data[srh + 5], key_id,
                        (data[srh + 8 : tlv],), data[tlv + 8 : tlv + 40])
    return None if ok else ""


def _report_bug(bug: InspectorBug, on_bug: BugHook | None) -> None:
    if on_bug is None:
        raise bug
    on_bug(bug)


class _Prefilter:
    """The compiled pre-filter as the readers' ``Skimmer``, bound to one engine's mode, HMAC
    batch and counters: the reader passes its container state, this adds the rest."""

    __slots__ = ("_pcap", "_pcapng", "_mode", "_batch", "_counts")

    def __init__(self, native: ModuleType, mode: int, batch: list[HmacCandidate],
                 counts: Inspector) -> None:
        self._pcap = native.skim_pcap
        self._pcapng = native.skim_pcapng
        self._mode = mode
        self._batch = batch
        self._counts = counts

    def supports(self, linktype: int) -> bool:
        """The link types linklayer.py decodes, which the pre-filter walks the same way."""
        return ipv6_offset_func(linktype) is not None

    def pcap(self, buf: bytes, pos: int, end: int, limit: int, big_endian: bool,
             caplen_cap: int, linktype: int, number: int) -> tuple[int, int]:
        return self._counted(self._pcap(buf, pos, end, limit, big_endian, caplen_cap,
                                        linktype, self._mode, number, self._batch))

    def pcapng(self, buf: bytes, pos: int, end: int, limit: int, big_endian: bool,
               linktypes: bytes, number: int) -> tuple[int, int]:
        return self._counted(self._pcapng(buf, pos, end, limit, big_endian, linktypes,
                                          self._mode, number, self._batch))

    def _counted(self, skimmed: tuple[int, int, int, int]) -> tuple[int, int]:
        """Count the consumed records as ``Inspector.feed`` would have (a batched HMAC packet
        is an SRH packet), and tell the reader where to go on."""
        pos, records, ipv6, srh = skimmed
        if records:
            insp = self._counts
            insp.packets += records
            insp.ipv6_packets += ipv6
            insp.srh_packets += srh
        return pos, records
