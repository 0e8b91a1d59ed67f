"""Classic pcap reader, plus the chunked-input primitives the pcapng reader shares.

Why a hand-written reader rather than dpkt/scapy: we need (a) no ``seek`` so pipes, stdin and
gzip streams work, (b) every good frame yielded before a typed error on a damaged file, with
the byte offset of the bad record, (c) a bound on every length the file claims, and (d) about
a million frames per second. (d) is why the hot loops keep their cursor in local variables,
read 1 MiB at a time and decode each record header with one precompiled ``Struct``.

Format: draft-ietf-opsawg-pcap (file header section 4, packet record section 5).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

from srinspect import skim as skim_mod
from srinspect.errors import CaptureFormatError
from srinspect.fastnew import frozen_constructor
from srinspect.frame import Frame

if TYPE_CHECKING:
    from srinspect.sources.pcapng import InterfaceStats

#: Bytes asked of the stream per read. Large reads keep the per-frame cost off the syscall path.
CHUNK_SIZE = 1 << 20

#: Records may exceed the snaplen a writer declared (some do), but never this, whatever it says.
MAX_CAPLEN = 16 << 20

#: Floor of the per-file cap, so a file whose header says snaplen 0 ("unknown") or 68 still
#: reads; 262144 is libpcap's MAXIMUM_SNAPLEN.
DEFAULT_CAPLEN_CAP = 262144

MAGIC_MICRO = 0xA1B2C3D4
MAGIC_NANO = 0xA1B23C4D

# File header: magic, version_major, version_minor, thiszone, sigfigs, snaplen, linktype.
_FILE_HDR = {"<": struct.Struct("<IHHiIII"), ">": struct.Struct(">IHHiIII")}
# Record header: ts_sec, ts_frac (usec or nsec), incl_len (caplen), orig_len.
_REC_HDR = {"<": struct.Struct("<IIII"), ">": struct.Struct(">IIII")}
_FILE_HDR_LEN = 24
_REC_HDR_LEN = 16

# Magic as read from the first 4 bytes little-endian -> (byte order, nanosecond timestamps).
_MAGICS: dict[bytes, tuple[str, bool]] = {
    MAGIC_MICRO.to_bytes(4, "little"): ("<", False),
    MAGIC_MICRO.to_bytes(4, "big"): (">", False),
    MAGIC_NANO.to_bytes(4, "little"): ("<", True),
    MAGIC_NANO.to_bytes(4, "big"): (">", True),
}


def is_pcap_magic(head: bytes) -> bool:
    """True when ``head`` starts with one of the four classic pcap magics."""
    return head[:4] in _MAGICS


# --- shared primitives ---------------------------------------------------------------------


class ByteStream(Protocol):
    """Any binary stream: a file, ``sys.stdin.buffer``, a pipe, ``gzip.GzipFile``, BytesIO."""

    def read(self, size: int = -1, /) -> bytes: ...


class ChunkedInput:
    """Pulls large chunks from a binary stream; the readers keep the cursor themselves.

    Only ``read`` (or ``read1``) is used, never ``seek``/``tell``, so pipes and decompressing
    streams work. ``read1`` is preferred because it returns what is available instead of
    blocking until a full chunk arrives, which matters for a live ``tcpdump -w - |`` pipe.
    ``head`` holds bytes the caller already took from the stream to sniff the format.
    """

    __slots__ = ("_read", "_head", "consumed")

    def __init__(self, stream: ByteStream, head: bytes = b"") -> None:
        self._read: Callable[[int], bytes] = getattr(stream, "read1", stream.read)
        self._head = head
        #: Bytes taken from the stream so far (including ``head``): progress, chunk-granular.
        self.consumed = len(head)

    def extend(self, buf: bytes, pos: int, need: int) -> bytes:
        """Return ``buf[pos:]`` followed by more stream data, until ``need`` bytes or EOF.

        The result is shorter than ``need`` only at end of stream. Reads are ``CHUNK_SIZE``
        each, so a record length claimed by the file never sizes an allocation by itself.
        """
        parts = [buf[pos:]]
        have = len(parts[0])
        if self._head:
            parts.append(self._head)
            have += len(self._head)
            self._head = b""
        while have < need:
            chunk = self._read(CHUNK_SIZE)
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
            self.consumed += len(chunk)
        return b"".join(parts) if len(parts) > 1 else parts[0]


#: A packet the pre-filter set aside for HMAC verification: (frame number, frame bytes, IPv6
#: header offset, HMAC TLV offset).
HmacCandidate = tuple[int, bytes, int, int]

#: ``make_frame(number, ts, linktype, data, orig_len, interface=0, comment=None) -> Frame``.
make_frame: Callable[..., Frame] = frozen_constructor(Frame)


# --- classic pcap --------------------------------------------------------------------------


class SkimmingReader:
    """What both readers share around the compiled pre-filter: plain or skimming iteration
    over one generator, the limit where a parallel unit ends, and the counts and HMAC batch
    handed to the consumer. A subclass provides ``_frames_from(draft04)`` (its record or
    block walk; ``draft04`` None means no pre-filter) and ``_skim_supported()``."""

    def _init_skim(self) -> None:
        self._frames: Iterator[Frame | None] | None = None
        #: Records at or after this stream offset are not read (a parallel work unit's end).
        self.limit: int | None = None
        #: Where reading stopped because of ``limit``: the next record's stream offset.
        self.next_offset: int | None = None
        self._skim_counts = [0, 0, 0]  # records, IPv6 packets, clean SRH packets
        self._hmac_batch: list[HmacCandidate] | None = None

    def _frames_from(self, draft04: bool | None) -> Iterator[Frame | None]:
        raise NotImplementedError

    def _skim_supported(self) -> bool:
        raise NotImplementedError

    def __iter__(self) -> Iterator[Frame]:
        if self._frames is None:
            self._frames = self._frames_from(None)
        return self._frames  # type: ignore[return-value] - None only comes from skim()

    def skim(self, draft04: bool, hmac_batch: bool = False) -> Iterator[Frame | None]:
        """Iterate with the compiled pre-filter: records it consumes are only counted
        (``take_skim_counts``); each run of them yields None, so a consumer can report
        progress; every other record is yielded as a Frame, numbered as usual. Falls back
        to plain iteration when the pre-filter is unavailable or the link type unknown.

        ``hmac_batch``: simple draft-04 HMAC SRH packets are consumed too and collected;
        after each None the consumer must take them (``take_hmac_batch``) and verify them
        (``Inspector.fast_hmac``) before the next frame, to keep frame order."""
        if self._frames is None:  # a second call resumes the same generator and batch
            self._hmac_batch = [] if hmac_batch else None
            self._frames = self._frames_from(draft04 if self._skim_supported() else None)
        return self._frames

    def take_skim_counts(self) -> tuple[int, int, int]:
        """(records, IPv6 packets, clean SRH packets) the pre-filter consumed since the last
        call; the consumer adds them to its own counters."""
        counts = tuple(self._skim_counts)
        self._skim_counts[:] = (0, 0, 0)
        return counts  # type: ignore[return-value]

    def take_hmac_batch(self) -> list[HmacCandidate]:
        """The HMAC packets consumed since the last call: (number, frame bytes, IPv6 offset,
        HMAC TLV offset) each, in frame order."""
        batch = self._hmac_batch
        if not batch:
            return []
        items = batch[:]
        batch.clear()
        return items


class PcapReader(SkimmingReader):
    """Frames of one classic pcap stream, read front to back exactly once.

    The file header is read in the constructor (so ``linktype`` is known before the first
    frame); records are read lazily by iterating. Iterating again resumes where it stopped,
    like a file object.
    """

    format = "pcap"

    def __init__(self, stream: ByteStream, *, head: bytes = b"") -> None:
        self._input = ChunkedInput(stream, head)
        hdr = self._input.extend(b"", 0, _FILE_HDR_LEN)
        if len(hdr) < _FILE_HDR_LEN:
            raise CaptureFormatError(
                f"truncated pcap file header ({len(hdr)} of {_FILE_HDR_LEN} bytes)"
            )
        try:
            order, nano = _MAGICS[hdr[:4]]
        except KeyError:
            raise CaptureFormatError(f"not a pcap file (magic {hdr[:4].hex()})") from None
        _, major, minor, _, _, snaplen, linktype = _FILE_HDR[order].unpack_from(hdr, 0)
        self.byteorder = order
        self.nanosecond = nano
        self.version = (major, minor)
        self.snaplen = snaplen
        # Bits 16-31 carry FCS length and reserved flags (draft-ietf-opsawg-pcap s4).
        self.linktype = linktype & 0xFFFF
        #: Largest caplen accepted: max(snaplen, 256 KiB), never above 16 MiB.
        self.caplen_cap = min(max(snaplen, DEFAULT_CAPLEN_CAP), MAX_CAPLEN)
        self._rest = hdr[_FILE_HDR_LEN:]
        self._init_skim()

    @property
    def bytes_read(self) -> int:
        """Bytes taken from the stream so far; advances a chunk at a time."""
        return self._input.consumed

    @property
    def linktypes(self) -> set[int]:
        """Link types seen so far: a pcap file has exactly one."""
        return {self.linktype}

    @property
    def interface_stats(self) -> dict[int, InterfaceStats]:
        """Always empty: classic pcap has no interface statistics."""
        return {}

    def _skim_supported(self) -> bool:
        return skim_mod.supports(self.linktype)

    def _frames_from(self, draft04: bool | None) -> Iterator[Frame | None]:
        return self._records(draft04)

    def _records(self, draft04: bool | None) -> Iterator[Frame | None]:
        """Yield each record; raise CaptureFormatError at the first bad or cut one.

        ``draft04`` None: no pre-filter; otherwise the profile the pre-filter checks for.
        """
        skim = skim_mod.native.skim_pcap if draft04 is not None else None  # type: ignore[union-attr]
        counts = self._skim_counts
        batch = self._hmac_batch
        big = self.byteorder == ">"
        limit = self.limit if self.limit is not None else 1 << 62
        unpack = _REC_HDR[self.byteorder].unpack_from
        extend = self._input.extend
        make = make_frame
        linktype = self.linktype
        div = 1_000_000_000 if self.nanosecond else 1_000_000
        cap = self.caplen_cap
        buf = self._rest
        self._rest = b""
        base = _FILE_HDR_LEN  # stream offset of buf[0]
        pos = 0
        end = len(buf)
        number = 0
        while True:
            if skim is not None and end - pos >= _REC_HDR_LEN:
                pos, records, ipv6, srh = skim(
                    buf, pos, end, limit - base, big, cap, linktype, draft04, number, batch
                )
                if records:
                    number += records
                    counts[0] += records
                    counts[1] += ipv6
                    counts[2] += srh
                    yield None
            if base + pos >= limit:
                self.next_offset = base + pos
                return
            if end - pos < _REC_HDR_LEN:
                buf, base, pos, end = refill(extend, buf, base, pos, _REC_HDR_LEN, number)
                if end == 0:
                    return
                if end < _REC_HDR_LEN:
                    raise CaptureFormatError(
                        f"truncated record header ({end} of {_REC_HDR_LEN} bytes)",
                        offset=base,
                        frames=number,
                    )
            sec, frac, caplen, orig_len = unpack(buf, pos)
            if caplen > cap:
                raise CaptureFormatError(
                    f"record caplen {caplen} exceeds the limit {cap} (snaplen {self.snaplen})",
                    offset=base + pos,
                    frames=number,
                )
            stop = pos + _REC_HDR_LEN + caplen
            if stop > end:
                need = _REC_HDR_LEN + caplen
                buf, base, pos, end = refill(extend, buf, base, pos, need, number)
                stop = need
                if stop > end:
                    raise CaptureFormatError(
                        f"truncated record (caplen {caplen}, {end - _REC_HDR_LEN} bytes left)",
                        offset=base,
                        frames=number,
                    )
            number += 1
            yield make(
                number, (sec * div + frac) / div, linktype, buf[pos + _REC_HDR_LEN : stop], orig_len
            )
            pos = stop


def refill(
    extend: Callable[[bytes, int, int], bytes],
    buf: bytes,
    base: int,
    pos: int,
    need: int,
    frames: int,
) -> tuple[bytes, int, int, int]:
    """Move the unread tail of ``buf`` to the front and read until ``need`` bytes are held.

    Returns ``(buf, base, pos=0, len(buf))``. A stream-level CaptureFormatError (a bad gzip
    stream) is re-raised with the offset of the record being read and the frame count.
    """
    base += pos
    try:
        buf = extend(buf, pos, need)
    except CaptureFormatError as exc:
        raise CaptureFormatError(exc.message, offset=base, frames=frames) from exc
    return buf, base, 0, len(buf)
