"""The fuzzing invariants as plain functions: the atheris scripts call them with mutated
bytes, and tests/fuzz replays the seed corpus and every input that once broke something.

``check_inspector``: for any bytes, ``Inspector.feed`` returns None, CLEAN or a PacketResult
and never raises; every finding lies inside the frame; the detail tree and JSON view build.
``check_reader``: any byte stream yields frames then ends or raises CaptureFormatError.
"""

from __future__ import annotations

import io

from srinspect.dissect import packet_dict, packet_tree, render_tree
from srinspect.errors import CaptureFormatError
from srinspect.frame import Frame
from srinspect.inspector import Inspector, PacketResult
from srinspect.keys import Key, Keyring
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


def check_reader(data: bytes) -> None:
    try:
        for n, frame in enumerate(from_stream(io.BytesIO(data), name="fuzz")):
            assert frame.orig_len >= 0 and frame.number == n + 1
            if n >= MAX_FRAMES:
                break
    except CaptureFormatError as exc:
        assert exc.offset >= 0 and exc.frames >= 0
