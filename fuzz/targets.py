"""The fuzzing invariants as plain functions: the atheris scripts call them with mutated
bytes, and tests/fuzz replays the seed corpus and every input that once broke something.

``check_inspector``: for any bytes, ``Inspector.feed`` returns None or a PacketResult and
never raises, nor does the audit engine's fast path; every finding lies inside the frame;
the detail tree and JSON view build.
``check_reader``: any byte stream yields frames then ends or raises CaptureFormatError.
Both also hold the compiled pre-filter (srinspect._skim, when built) to the Python path:
the same verdict per frame, and the same records, counts and error per stream.
"""

from __future__ import annotations

import io

from srinspect import _fastpath as fastpath
from srinspect import skim
from srinspect.dissect import packet_dict, packet_tree, render_tree
from srinspect.engine import AuditEngine
from srinspect.errors import CaptureFormatError
from srinspect.frame import Frame
from srinspect.inspector import Inspector, PacketResult
from srinspect.keys import Key, Keyring
from srinspect.linklayer import ipv6_offset_func
from srinspect.rules import Profile
from srinspect.sources import from_stream

LINKTYPES = (1, 101, 229, 113, 276, 0, 228, 147)
KEYS = Keyring([Key(1, "sha256", b"fuzz-key-1"), Key(2, "sha1", b"fuzz-key-2")])
INSPECTORS = {p: Inspector(p, KEYS) for p in Profile}
ENGINES = {p: AuditEngine(insp) for p, insp in INSPECTORS.items()}
MAX_FRAMES = 10_000


def check_inspector(data: bytes) -> None:
    """First byte: bit 7 profile, bits 0-2 link type, bits 3-6 how much was "snaplen-cut"."""
    if len(data) < 2:
        return
    ctl, body = data[0], data[1:]
    profile = Profile.RFC8754 if ctl & 0x80 else Profile.DRAFT04
    frame = Frame(1, 0.0, LINKTYPES[ctl & 0x07], body, len(body) + (ctl >> 3 & 0x0F) * 7)
    insp = INSPECTORS[profile]
    fast = ENGINES[profile].judge(frame)
    check_verdict(frame, profile)
    result = insp.feed(frame)
    if result is None:
        assert fast is None
        return
    assert isinstance(result, PacketResult)
    for f in result.findings:
        assert 0 <= f.offset <= len(body), f
        assert f.offset + f.length <= len(body) + 1, f
    render_tree(packet_tree(result, profile))
    packet_dict(result, "fuzz", profile)


def check_verdict(frame: Frame, profile: Profile) -> None:
    """The pre-filter's per-frame decision is the one the audit engine's Python path makes:
    the inspector locates an IPv6 header worth looking at, the fast path calls it clean."""
    if skim.native is None:
        return
    draft04 = profile is Profile.DRAFT04
    data = frame.data
    fn = ipv6_offset_func(frame.linktype)
    if fn is None:
        want = 3
    else:
        insp = Inspector(profile)
        off = insp.locate(frame)
        if off < 0:
            want = 1 if insp.ipv6_packets else 0
        else:
            want = 2 if fastpath.fast_srh_py(data, off, draft04) == -1 else 3
    assert skim.native.verdict(frame.linktype, data, draft04) == want
    if fn is not None and fn(data) >= 0:
        off = fn(data)
        assert skim.native.fast_srh(data, off, draft04) == fastpath.fast_srh_py(data, off, draft04)


def check_reader(data: bytes) -> None:
    plain = _read(data, False)
    if skim.native is not None:
        assert _read(data, True) == plain  # records, their numbers and the error: the same


def _read(data: bytes, skimmed: bool) -> tuple[object, ...]:
    """(frames seen incl. pre-filtered, error) of one stream."""
    numbers: list[int] = []
    error = None
    try:
        reader = from_stream(io.BytesIO(data), name="fuzz")
    except CaptureFormatError as exc:
        return 0, (exc.message, exc.offset, exc.frames)
    counts = Inspector()  # the pre-filter counts the records it consumes here
    try:
        for frame in reader.skim(AuditEngine(counts).skimmer() if skimmed else None):
            if frame is None:
                continue
            assert frame.orig_len >= 0
            numbers.append(frame.number)
            if frame.number >= MAX_FRAMES:
                break
    except CaptureFormatError as exc:
        assert exc.offset >= 0 and exc.frames >= 0
        error = (exc.message, exc.offset, exc.frames)
    if not skimmed:
        assert numbers == list(range(1, len(numbers) + 1))
    return counts.packets + len(numbers), error
