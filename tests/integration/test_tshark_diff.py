"""Differential test: srinspect's SRH decoding against tshark's, capture by capture.

Wireshark (4.0 here) decodes the SRH fixed fields and the segment list, but no TLVs (spec
section 6), so only those fields are compared: Segments Left, Last Entry/First Segment, Flags,
Tag/Reserved and the segment list, for every SRH of every frame, in wire order.

Occurrence handling: ``-E occurrence=a`` with an aggregator, never ``occurrence=f``. A frame
may hold several routing headers (two SRHs in one chain, or an SRH in the outer and in the
inner packet), and ``ipv6.routing.srh.addr`` occurs once per segment: ``occurrence=f`` would
keep only the first SRH's Segment List[0]. ``ipv6.routing.type`` is extracted alongside
``ipv6.routing.segleft`` (which every routing type has) to keep only the type-4 values; the
SRH-only fields (last entry, flags, tag, addresses) occur only for SRHs; the address list is
split per SRH with each SRH's Last Entry.

Frames are left out of the comparison when srinspect reports ``srh.hdrlen.short``,
``srh.truncated`` or ``capture.snaplen``: there the SRH's bytes are not all there (or Hdr Ext
Len and First Segment disagree), and tshark shows a partial list plus "Malformed Packet" that
cannot be compared field by field. For every other frame, the set of frames with an SRH must
be the same for both tools.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from srinspect.inspector import Inspector, PacketResult
from srinspect.rules import Profile
from srinspect.sources import open_capture
from srinspect.wire import ip6

pytestmark = pytest.mark.tshark

FIELDS = [
    "frame.number",
    "ipv6.routing.type",
    "ipv6.routing.segleft",
    "ipv6.routing.srh.last_entry",
    "ipv6.routing.srh.flags",
    "ipv6.routing.srh.tag",
    "ipv6.routing.srh.addr",
]
# tshark does not dissect what follows the Fragment header of an unreassembled fragment, so an
# SRH behind one (srh.order.fragment) has nothing to be compared with.
SKIP_RULES = frozenset({"srh.hdrlen.short", "srh.truncated", "capture.snaplen",
                        "srh.order.fragment"})


@dataclass(frozen=True)
class SrhFields:
    segments_left: int
    last_entry: int
    flags: int
    tag: int
    segments: tuple[str, ...]


def _split(text: str) -> list[str]:
    return text.split("|") if text else []


def _parse_line(line: str) -> tuple[int, list[SrhFields] | None]:
    """One tshark line; None when its fields do not add up (a malformed SRH)."""
    number, rtypes, segleft, last_entry, flags, tags, addrs = line.split("\t")
    rtype_all, sl_all = _split(rtypes), _split(segleft)
    les, fls, tgs, addr_list = (_split(x) for x in (last_entry, flags, tags, addrs))
    if len(rtype_all) != len(sl_all):
        return int(number), None
    sls = [int(sl) for sl, rt in zip(sl_all, rtype_all, strict=True) if int(rt) == 4]
    if not len(sls) == len(les) == len(fls) == len(tgs):
        return int(number), None
    srhs, pos = [], 0
    for sl, le, fl, tg in zip(sls, les, fls, tgs, strict=True):
        count = int(le) + 1
        srhs.append(SrhFields(sl, int(le), int(fl, 16), int(tg, 16),
                              tuple(addr_list[pos:pos + count])))
        pos += count
    if pos != len(addr_list):
        return int(number), None
    return int(number), srhs


def tshark_srhs(path: Path) -> dict[int, list[SrhFields] | None]:
    """Frame number -> the SRHs tshark decodes in it, in wire order (None: inconsistent)."""
    cmd = ["tshark", "-n", "-r", str(path), "-Y", "ipv6.routing.type==4", "-T", "fields",
           *(arg for f in FIELDS for arg in ("-e", f)),
           "-E", "occurrence=a", "-E", "aggregator=|", "-E", "separator=/t"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return dict(_parse_line(line) for line in proc.stdout.splitlines())


def srinspect_srhs(path: Path) -> tuple[dict[int, list[SrhFields]], set[int]]:
    """Frame number -> the SRHs srinspect decodes; and the frames to leave out."""
    insp = Inspector(Profile.DRAFT04)
    out: dict[int, list[SrhFields]] = {}
    skipped: set[int] = set()
    with open_capture(path) as reader:
        for frame in reader:
            result = insp.feed(frame)
            if not isinstance(result, PacketResult) or not result.has_srh:
                continue
            if any(f.rule in SKIP_RULES for f in result.findings):
                skipped.add(frame.number)
                continue
            out[frame.number] = [
                SrhFields(s.segments_left, s.first_segment, s.flags, s.reserved,
                          tuple(ip6(seg) for seg in s.segments))
                for layer in result.layers for s in layer.srhs]
    return out, skipped


def test_srh_fields_match_tshark(capture_path: Path) -> None:
    ours, skipped = srinspect_srhs(capture_path)
    theirs = tshark_srhs(capture_path)
    for number in skipped:
        theirs.pop(number, None)
    assert sorted(ours) == sorted(theirs), "frames with an SRH differ"
    for number, srhs in ours.items():
        assert srhs == theirs[number], f"{capture_path.name} frame {number}"


def test_the_comparison_covers_real_srhs(wireshark_sample: Path) -> None:
    """Guard against a vacuous pass: the third-party sample has 4 SRH frames to compare."""
    ours, skipped = srinspect_srhs(wireshark_sample)
    theirs = tshark_srhs(wireshark_sample)
    assert sorted(ours) == sorted(theirs) == [2, 5, 6, 9]
    assert not skipped
    assert theirs[2] == [SrhFields(2, 2, 0, 0, ("fc00:2:0:6::1", "fc00:2:0:7::1",
                                                "fc00:2:0:5::1"))]


def test_crafted_capture_has_frames_on_both_sides(pcaps_dir: Path) -> None:
    """The crafted capture exercises flags, reserved and duplicate SRHs in the comparison."""
    ours, skipped = srinspect_srhs(pcaps_dir / "crafted-draft04.pcapng")
    assert {7, 8, 9} <= skipped  # the truncated, snaplen and hdrlen.short frames
    assert len(ours[25]) == 2  # the duplicate-SRH frame: both SRHs compared
    assert ours[13][0].tag == 0x1234 and ours[12][0].flags == 0x80
