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

from srinspect.errors import CaptureFormatError
from srinspect.fastnew import frozen_constructor
from srinspect.frame import Frame

if TYPE_CHECKING:
    from srinspect.skim import Skimmer

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


#: ``make_frame(number, ts, linktype, data, orig_len, interface=0, comment=None) -> Frame``.
make_frame: Callable[..., Frame] = frozen_constructor(Frame)


# --- classic pcap --------------------------------------------------------------------------


class SkimmingReader:
    """What both readers share: plain iteration, or iteration that lets a ``Skimmer`` (the
    audit engine) consume records straight from the buffer, over one generator; and the
    limit where a parallel work unit ends. A subclass provides ``_frames_from(skimmer)``,
    its record or block walk (``skimmer`` None: every record becomes a Frame)."""

    def _init_skim(self) -> None:
        self._frames: Iterator[Frame | None] | None = None
        #: Records at or after this stream offset are not read (a parallel work unit's end).
        self.limit: int | None = None
        #: Where reading stopped because of ``limit``: the next record's stream offset.
        self.next_offset: int | None = None

    def _frames_from(self, skimmer: Skimmer | None) -> Iterator[Frame | None]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[Frame]:
        if self._frames is None:
            self._frames = self._frames_from(None)
        return self._frames  # type: ignore[return-value] - None only comes from skim()

    def skim(self, skimmer: Skimmer | None) -> Iterator[Frame | None]:
        """Iterate letting ``skimmer`` consume the records it can straight from the buffer:
        each run of records it consumed yields None (its owner then acts on them: what it
        set aside, progress), every other record a Frame, numbered as if all had been
        yielded. A second call resumes the same generator, like a second ``for`` loop."""
        if self._frames is None:
            self._frames = self._frames_from(skimmer)
        return self._frames

    def _past_limit(self, offset: int, limit: int) -> bool:
        """Whether the record at stream ``offset`` belongs to the next work unit (starts at
        or after ``limit``); if so, remember it as where that unit takes over."""
        if offset < limit:
            return False
        self.next_offset = offset
        return True


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

    def _frames_from(self, skimmer: Skimmer | None) -> Iterator[Frame | None]:
        return self._records(skimmer)

    def _records(self, skimmer: Skimmer | None) -> Iterator[Frame | None]:
        """Yield each record (None for each run ``skimmer`` consumed); raise
        CaptureFormatError at the first bad or cut one."""
        skim = skimmer.pcap if skimmer is not None and skimmer.supports(self.linktype) else None
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
                pos, records = skim(buf, pos, end, limit - base, big, cap, linktype, number)
                if records:
                    number += records
                    yield None
            if self._past_limit(base + pos, limit):
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
