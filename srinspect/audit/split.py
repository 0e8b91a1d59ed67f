"""Cutting capture files into work units on record boundaries, for parallel audits.

A unit is a byte range [start, stop) of one file: it owns the records that *start* inside
it. Its worker finds the first record boundary at or after ``start`` by resynchronising:
the candidate offset must begin a chain of plausible records (pcap) or blocks whose trailing
length repeats the leading one (pcapng). The worker then reads until the first record that
starts at or after ``stop`` and reports that offset, so the merge can check that each unit
ended exactly where the next one began. Any disagreement (or a damaged file) makes the merge
re-audit that file in one piece, so a parallel result is always the sequential result.

Compressed files and stdin cannot be cut; they are one unit each.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..sources.pcap import _FILE_HDR, _MAGICS, _REC_HDR, DEFAULT_CAPLEN_CAP, MAX_CAPLEN
from ..sources.pcapng import BT_EPB, BT_IDB, BT_SHB, MAX_BLOCK_LEN
from .inputs import input_size, open_input

MIN_UNIT = 32 << 20  # smaller pieces cost more in process overhead than they gain
SYNC_WINDOW = 1 << 20  # bytes scanned for a boundary before giving up
CHAIN = 8  # consecutive plausible records that confirm a boundary
CHAIN_BYTES = 4 << 20  # read past the window so a chain of large records can be checked
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_PCAPNG_TYPES = frozenset({1, 2, 3, 4, 5, 6, 10, 0x0BAD, 0x40000BAD})


@dataclass(frozen=True, slots=True)
class WorkUnit:
    """One piece of audit work; ``prefix`` is the file header the worker's reader needs."""

    path: str
    file_index: int
    unit_index: int
    start: int
    stop: int
    kind: str  # "whole", "pcap" or "pcapng"
    prefix: bytes = b""
    byteorder: str = "<"


def plan_file(path: str, file_index: int, pieces: int, min_unit: int = MIN_UNIT) -> list[WorkUnit]:
    """Units for one file: several for a large uncompressed pcap/pcapng, else one."""
    whole = [WorkUnit(path, file_index, 0, 0, 0, "whole")]
    if path == "-" or pieces < 2:
        return whole
    try:
        size = input_size(path)
        with open_input(path) as f:
            head = f.read(1 << 16)
    except OSError:
        return whole  # the sequential reader will report the problem
    count = min(pieces, size // max(min_unit, 1))
    if count < 2:
        return whole
    if head[:4] in _MAGICS and len(head) >= 24:
        prefix, order, kind = head[:24], _MAGICS[head[:4]][0], "pcap"
    elif head[:4] == PCAPNG_MAGIC:
        found = _pcapng_prefix(head)
        if found is None:
            return whole
        prefix, order = found
        kind = "pcapng"
    else:
        return whole
    step = size // count
    bounds = [len(prefix)] + [i * step for i in range(1, count)] + [size]
    return [WorkUnit(path, file_index, i, bounds[i], bounds[i + 1], kind, prefix, order)
            for i in range(count)]


def _pcapng_prefix(head: bytes) -> tuple[bytes, str] | None:
    """The SHB and IDBs before the first other block, and the byte order; None if odd."""
    order = "<" if head[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    hdr = struct.Struct(order + "II")
    pos = 0
    while pos + 8 <= len(head):
        btype, blen = hdr.unpack_from(head, pos)
        if btype not in (BT_SHB, BT_IDB):
            break
        if blen < 12 or blen & 3 or pos + blen > len(head):
            return None
        if btype == BT_SHB and pos:
            return None  # a second section right away: not worth splitting
        pos += blen
    return (head[:pos], order) if pos else None


def sync_offset(f, unit: WorkUnit, size: int) -> int:  # noqa: ANN001 - binary file
    """The first record boundary at or after ``unit.start`` (``size`` if none before EOF).

    The first unit starts right after the prefix, a known boundary.
    """
    if unit.unit_index == 0:
        return unit.start
    f.seek(unit.start)
    window = f.read(SYNC_WINDOW + CHAIN_BYTES)
    check = _pcap_chain if unit.kind == "pcap" else _pcapng_chain
    for delta in range(min(SYNC_WINDOW, len(window))):
        if check(window, delta, unit, size - unit.start):
            return unit.start + delta
    return -1  # no boundary found: the merge falls back to a sequential audit


def _pcap_chain(buf: bytes, pos: int, unit: WorkUnit, remaining: int) -> bool:
    rec = _REC_HDR[unit.byteorder]
    snaplen = _FILE_HDR[unit.byteorder].unpack_from(unit.prefix, 0)[5]
    cap = min(max(snaplen, DEFAULT_CAPLEN_CAP), MAX_CAPLEN)
    div = 1_000_000_000 if _MAGICS[unit.prefix[:4]][1] else 1_000_000
    prev_sec = None
    for _ in range(CHAIN):
        if pos == remaining:
            return True  # the chain ends exactly at end of file
        if pos + 16 > len(buf):
            return False
        sec, frac, caplen, orig = rec.unpack_from(buf, pos)
        if caplen > cap or orig < caplen or frac >= div:
            return False
        if prev_sec is not None and abs(sec - prev_sec) > 86400:
            return False
        prev_sec = sec
        pos += 16 + caplen
    return True


def _pcapng_chain(buf: bytes, pos: int, unit: WorkUnit, remaining: int) -> bool:
    hdr = struct.Struct(unit.byteorder + "II")
    u32 = struct.Struct(unit.byteorder + "I")
    for _ in range(CHAIN):
        if pos == remaining:
            return True
        if pos + 12 > len(buf):
            return False
        btype, blen = hdr.unpack_from(buf, pos)
        if btype not in _PCAPNG_TYPES or blen < 12 or blen & 3 or blen > MAX_BLOCK_LEN:
            return False
        if btype == BT_EPB and blen < 32:
            return False
        if pos + blen > len(buf) or u32.unpack_from(buf, pos + blen - 4)[0] != blen:
            return False
        pos += blen
    return True
