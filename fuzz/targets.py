"""The fuzzing invariants as plain functions: the atheris scripts call them with mutated
bytes, and tests/fuzz replays the seed corpus and every input that once broke something.

``check_inspector``: for any bytes, ``Inspector.feed`` returns None, CLEAN or a PacketResult
and never raises; every finding lies inside the frame; the detail tree and JSON view build.
``check_reader``: any byte stream yields frames then ends or raises CaptureFormatError.
Both also hold the compiled pre-filter (srinspect._skim, when built) to the Python path:
the same verdict per frame, and the same records, counts and error per stream.
"""

from __future__ import annotations

import io

from srinspect import _fastpath as fastpath
from srinspect import skim
from srinspect.dissect import packet_dict, packet_tree, render_tree
from srinspect.errors import CaptureFormatError
from srinspect.frame import Frame
from srinspect.inspector import _INTERESTING, CLEAN, Inspector, PacketResult
from srinspect.keys import Key, Keyring
from srinspect.linklayer import ipv6_offset_func
from srinspect.rules import Profile
from srinspect.sources import from_stream

LINKTYPES = (1, 101, 229, 113, 276, 0, 228, 147)
KEYS = Keyring([Key(1, "sha256", b"fuzz-key-1"), Key(2, "sha1", b"fuzz-key-2")])
INSPECTORS = {p: Inspector(p, KEYS) for p in Profile}
MAX_FRAMES = 10_000


def check_inspector(data: bytes) -> None:
    """First byte: bit 7 profile, bits 0-2 link type, bits 3-6 how much was "snaplen-cut"."""
    if len(data) < 2:
        return
    ctl, body = data[0], data[1:]
    profile = Profile.RFC8754 if ctl & 0x80 else Profile.DRAFT04
    frame = Frame(1, 0.0, LINKTYPES[ctl & 0x07], body, len(body) + (ctl >> 3 & 0x0F) * 7)
    insp = INSPECTORS[profile]
    fast = insp.feed(frame, False)
    check_verdict(frame, profile, fast)
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


def check_verdict(frame: Frame, profile: Profile, fast: object) -> None:
    """The pre-filter's per-frame decision is the one ``feed(frame, False)`` made."""
    if skim.native is None:
        return
    draft04 = profile is Profile.DRAFT04
    data = frame.data
    fn = ipv6_offset_func(frame.linktype)
    if fn is None:
        want = 3
    elif fast is CLEAN:
        want = 2
    elif fast is not None:
        want = 3
    else:
        off = fn(data)
        if off < 0 or off + 40 > len(data) or data[off] >> 4 != 6:
            want = 0
        else:
            want = 1 if data[off + 6] not in _INTERESTING else 3
    assert skim.native.verdict(frame.linktype, data, draft04) == want
    if fn is not None and fn(data) >= 0:
        off = fn(data)
        assert skim.native.fast_srh(data, off, draft04) == fastpath.fast_srh_py(data, off, draft04)


def check_reader(data: bytes) -> None:
    plain = _read(data, False)
    if skim.native is not None:
        assert _read(data, True) == plain  # records, their numbers and the error: the same


def _read(data: bytes, skimmed: bool) -> tuple[object, ...]:
    """(frames seen incl. pre-filtered, numbers of yielded frames, error) of one stream."""
    numbers: list[int] = []
    error = None
    try:
        reader = from_stream(io.BytesIO(data), name="fuzz")
    except CaptureFormatError as exc:
        return 0, (exc.message, exc.offset, exc.frames)
    try:
        for frame in reader.skim(True) if skimmed else reader:
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
    return reader.take_skim_counts()[0] + len(numbers), error
