"""The audit engine: capture records in, what an audit report records out, in frame order.

Why one object: an audit spends most of its time on packets no rule can fire on, or on
repeats of a packet it has judged before, and keeps them away from the full decoder in
layers whose order matters (findings in frame order, exact counts):

1. the compiled pre-filter (_skim.c) consumes whole records straight from the readers'
   buffers: packets that are not SRv6, SRv6 packets it proves clean (``_fastpath``), and
   repeats of a header chain whose verdict is memoised (``verdicts``): a clean one is only
   counted, runs of an HMAC-only one join the batch as ``(results, count)``, one with
   findings as ``(number, verdict)``; draft-04 packets whose only open question is their
   HMAC join it as candidates;
2. the frames it leaves to Python get the same decisions one by one (``_judge``);
3. everything else is decoded and validated by the Inspector, and its verdict memoised.

``AuditEngine`` is the only code that knows these layers: it hands the readers the
pre-filter (a ``skim.Skimmer``), holds the batch and the verdict cache, verifies HMAC
candidates through the validator's own HMAC judgement (``validate.judge_hmac``), and counts
what it consumed in the Inspector's counters. An audit loop only iterates ``results`` (or,
when it must see every frame, ``frames`` or ``packets``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Protocol, TypeVar

from . import skim
from ._fastpath import SKIM_CSID, SKIM_DRAFT04, fast_srh, hmac_field, simple_chain
from .findings import Checked, HmacCheck
from .frame import Frame
from .inspector import Inspector, InspectorBug, PacketResult
from .keys import MAC_FIELD_DRAFT04, Key, verify_draft04
from .linklayer import ipv6_offset_func
from .rules import Profile
from .srh import SEGMENT_SIZE, SRH_FIXED
from .validate import Checker, judge_hmac
from .verdicts import (
    MISS,
    Cached,
    Verdict,
    VerdictCache,
    add_cached,
    cache_enabled,
    verdict_key,
)

#: A packet set aside for HMAC verification: (frame number, frame bytes, IPv6 header offset,
#: SRH offset, HMAC TLV offset, verdict key or None); a memoised verdict with findings to
#: record: (frame number, Verdict); or a run of repeats of a memoised HMAC-only verdict:
#: (its HMAC results, how many packets).
HmacCandidate = tuple[int, bytes, int, int, int, bytes | None]
BatchItem = HmacCandidate | tuple[int, Verdict] | tuple[tuple[HmacCheck, ...], int]

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

    def __init__(self, inspector: Inspector, cache: VerdictCache | None | bool = True,
                 ) -> None:
        """``cache``: True for a cache of its own (unless ``SRINSPECT_VERDICT_CACHE=0``),
        False or None for none, or a cache to use (one per inspector settings)."""
        self.inspector = inspector
        self._draft04 = inspector.profile is Profile.DRAFT04
        self._fast = not inspector.csid
        self._mode = (SKIM_DRAFT04 if self._draft04 else 0) | (0 if self._fast else SKIM_CSID)
        self._batch: list[BatchItem] = []
        if cache is True:
            cache = VerdictCache() if cache_enabled() else None
        self.cache = cache if isinstance(cache, VerdictCache) else None  # an empty one is falsy

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
        return _Prefilter(native, self._mode, self._batch, self.inspector,
                          self.cache.table if self.cache is not None else None)

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

    def _judge(self, frame: Frame) -> Checked | None:
        """One frame the pre-filter left to Python: counted; a clean SRH (the same decision
        as the pre-filter's) goes no further; a memoised verdict is recorded as it is; a
        draft-04 HMAC packet otherwise clean joins the batch; anything else the validator
        checks, and its verdict is memoised. A result only when there is something to
        record."""
        insp = self.inspector
        off = insp.locate(frame)
        if off < 0:
            return None
        data = frame.data
        tlv = fast_srh(data, off, self._draft04) if self._fast else -2
        if tlv == -1:
            insp.srh_packets += 1
            return None
        cache = self.cache
        key = verdict_key(data, off) if cache is not None else None
        if key is not None:
            verdict = cache.get(key)  # type: ignore[union-attr]
            if verdict is not MISS:
                insp.srh_packets += 1
                if verdict is None:
                    return None
                checker = Checker(frame.number, insp.profile, insp.keyring)
                add_cached(verdict, checker.findings, checker.hmacs, frame.number)  # type: ignore[arg-type]
                return checker
        if tlv >= 0:
            insp.srh_packets += 1
            srh = simple_chain(data, off)[0]  # type: ignore[index]
            self._batch.append((frame.number, data, off, srh, tlv, key))
            return None
        result = insp.decode(frame, off, False)
        if result is None:
            return None
        if key is not None:
            cache.put(key, result.findings, result.hmacs, insp.srh_packets)  # type: ignore[union-attr]
        if not (result.findings or result.hmacs):
            return None
        return result

    def _verify(self) -> Checker:
        """Record the batch, in frame order, and empty it: memoised verdicts as they are,
        HMAC candidates (clean but for their HMAC) verified straight from their bytes
        through the validator's own judgement, their verdicts memoised. One Checker collects
        all of them, without an object per packet."""
        insp = self.inspector
        checker = Checker(0, insp.profile, insp.keyring)
        findings, hmacs, cache = checker.findings, checker.hmacs, self.cache
        key_of = checker.key
        for item in self._batch:
            head = item[0]
            if head.__class__ is tuple:  # a run of an HMAC-only verdict: only counts matter
                hmacs.extend(head * item[1])  # type: ignore[operator]
                continue
            if len(item) == 2:
                item[1].add_to(findings, hmacs, head)  # type: ignore[union-attr]
                continue
            number, data, off, srh, tlv, vkey = item  # type: ignore[misc]
            key_id = int.from_bytes(data[tlv + 4 : tlv + 8], "big")
            key = key_of(key_id)
            why = None if key is None else _mismatch(key, key_id, data, off, srh, tlv)
            checker.frame = number
            found = len(findings)
            judge_hmac(checker, srh, tlv, key_id, MAC_FIELD_DRAFT04, key, why,
                       "tlvs[0]" if key is not None and why is None else
                       hmac_field(data, srh, tlv))
            if vkey is not None and cache is not None:  # judge_hmac added one HMAC result
                if len(findings) > found:
                    cache.put(vkey, findings[found:], hmacs[-1:], insp.srh_packets)
                else:
                    cache.put_hmac(vkey, hmacs[-1], insp.srh_packets)
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


def _mismatch(key: Key, key_id: int, data: bytes, off: int, srh: int, tlv: int,
              ) -> str | None:
    """``judge_hmac``'s ``why`` for a batched packet: the draft-04 HMAC text is the source,
    First Segment, flags, key id and the Segment List, all read where they lie."""
    fs = data[srh + 4]
    start = srh + SRH_FIXED.size
    ok = verify_draft04(key, data[off + 8 : off + 24], fs, data[srh + 5], key_id,
                        (data[start : start + SEGMENT_SIZE * (fs + 1)],),
                        data[tlv + 8 : tlv + 40])
    return None if ok else ""


def _report_bug(bug: InspectorBug, on_bug: BugHook | None) -> None:
    if on_bug is None:
        raise bug
    on_bug(bug)


class _Prefilter:
    """The compiled pre-filter as the readers' ``Skimmer``, bound to one engine's mode, HMAC
    batch and counters: the reader passes its container state, this adds the rest."""

    __slots__ = ("_pcap", "_pcapng", "_mode", "_batch", "_counts", "_cache")

    def __init__(self, native: ModuleType, mode: int, batch: list[BatchItem],
                 counts: Inspector, cache: dict[bytes, Cached] | None) -> None:
        self._pcap = native.skim_pcap
        self._pcapng = native.skim_pcapng
        self._mode = mode
        self._batch = batch
        self._counts = counts
        self._cache = cache

    def supports(self, linktype: int) -> bool:
        """The link types linklayer.py decodes, which the pre-filter walks the same way."""
        return ipv6_offset_func(linktype) is not None

    def pcap(self, buf: bytes, pos: int, end: int, limit: int, big_endian: bool,
             caplen_cap: int, linktype: int, number: int) -> tuple[int, int]:
        return self._counted(self._pcap(buf, pos, end, limit, big_endian, caplen_cap,
                                        linktype, self._mode, number, self._batch,
                                        self._cache))

    def pcapng(self, buf: bytes, pos: int, end: int, limit: int, big_endian: bool,
               linktypes: bytes, number: int) -> tuple[int, int]:
        return self._counted(self._pcapng(buf, pos, end, limit, big_endian, linktypes,
                                          self._mode, number, self._batch, self._cache))

    def _counted(self, skimmed: tuple[int, int, int, int]) -> tuple[int, int]:
        """Count the consumed records as ``Inspector.feed`` would have (a batched or memoised
        packet is an SRH packet), and tell the reader where to go on."""
        pos, records, ipv6, srh = skimmed
        if records:
            insp = self._counts
            insp.packets += records
            insp.ipv6_packets += ipv6
            insp.srh_packets += srh
        return pos, records
