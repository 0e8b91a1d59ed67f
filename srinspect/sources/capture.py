"""Open a capture file (or stdin) whatever its format: the one entry point the CLI uses.

The format is told by the magic bytes, read once from the stream and handed on to the reader
(``head``); nothing seeks, so ``-`` (stdin), named pipes and gzip streams work the same as
files. dpkt's ``UniversalReader`` tries each format and ``seek(0)``s on failure, which
cannot work on a pipe and turns a damaged file into a misleading "wrong format" error.
"""

from __future__ import annotations

import gzip
import os
import sys
import zlib
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, Protocol

from srinspect.errors import CaptureFormatError
from srinspect.frame import Frame
from srinspect.sources.pcap import ByteStream, PcapReader, is_pcap_magic
from srinspect.sources.pcapng import BT_SHB, Interface, InterfaceStats, PcapngReader

if TYPE_CHECKING:
    from srinspect.skim import Skimmer

GZIP_MAGIC = b"\x1f\x8b"
PCAPNG_MAGIC = BT_SHB.to_bytes(4, "big")  # 0A 0D 0D 0A, the same in both byte orders
_SNIFF_LEN = 4


class _FormatReader(Protocol):
    """What PcapReader and PcapngReader both provide."""

    format: str

    @property
    def bytes_read(self) -> int: ...

    @property
    def linktypes(self) -> set[int]: ...

    def __iter__(self) -> Iterator[Frame]: ...

    def skim(self, skimmer: Skimmer | None) -> Iterator[Frame | None]: ...


class CaptureReader:
    """An open capture: iterate it for Frames; use it as a context manager to close it.

    ``name`` is the path (``"<stdin>"`` for ``-``), ``format`` is ``"pcap"`` or ``"pcapng"``,
    ``compressed`` tells whether it was gzip. ``bytes_read`` counts bytes of the
    decompressed stream taken so far (for progress; it moves a chunk at a time).
    ``linktypes`` and ``interface_stats`` grow while iterating (pcapng declares
    interfaces as it goes). Iteration is single-pass, like a file: a second loop resumes.
    """

    def __init__(
        self, name: str, reader: _FormatReader, *, compressed: bool, closer: BinaryIO | None
    ) -> None:
        self.name = name
        self.format = reader.format
        self.compressed = compressed
        self._reader = reader
        self._closer = closer

    @property
    def bytes_read(self) -> int:
        return self._reader.bytes_read

    @property
    def linktypes(self) -> set[int]:
        return set(self._reader.linktypes)

    @property
    def interface_stats(self) -> dict[int, InterfaceStats]:
        """Latest pcapng ISB counters per interface; always empty for classic pcap."""
        return dict(getattr(self._reader, "interface_stats", {}))

    @property
    def interfaces(self) -> list[Interface]:
        """pcapng interfaces (IDBs) of the current section so far; empty for classic pcap.

        Live captures map interface indexes to names through these (dumpcap writes if_name).
        """
        return list(getattr(self._reader, "interfaces", ()))

    def __iter__(self) -> Iterator[Frame]:
        # The reader's own generator, not a wrapper: a wrapping loop would cost ~10% speed.
        return iter(self._reader)

    def skim(self, skimmer: Skimmer | None) -> Iterator[Frame | None]:
        """Iterate letting ``skimmer`` consume records straight from the buffer
        (``PcapReader.skim``): None marks a run of records it consumed."""
        return self._reader.skim(skimmer)

    def close(self) -> None:
        """Close the file if ``open_capture`` opened it; stdin is left open."""
        if self._closer is not None:
            self._closer.close()
            self._closer = None

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        gz = ", gzip" if self.compressed else ""
        return f"<CaptureReader {self.name!r} {self.format}{gz}>"


def open_capture(path: str | os.PathLike[str], *, stdin: ByteStream | None = None) -> CaptureReader:
    """Open ``path`` (``"-"`` = ``stdin``, default ``sys.stdin.buffer``) as a capture.

    Raises CaptureFormatError for an empty file, unknown magic, or a broken file header;
    OSError when the file cannot be opened. Errors in records come later, while iterating.
    """
    if os.fspath(path) == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        return from_stream(stream, name="<stdin>")
    raw = open(path, "rb")  # noqa: SIM115 - CaptureReader owns and closes it
    try:
        return from_stream(raw, name=os.fspath(path), closer=raw)
    except BaseException:
        raw.close()
        raise


def from_stream(
    stream: ByteStream, *, name: str = "<stream>", closer: BinaryIO | None = None
) -> CaptureReader:
    """Sniff and open an already open binary stream (not closed unless given as ``closer``)."""
    head = _read_head(stream)
    compressed = head.startswith(GZIP_MAGIC)
    if compressed:
        stream = _GunzipStream(_Replay(head, stream))
        head = _read_head(stream)
    if not head:
        raise CaptureFormatError("empty file")
    reader: _FormatReader
    if head == PCAPNG_MAGIC:
        reader = PcapngReader(stream, head=head)
    elif is_pcap_magic(head):
        reader = PcapReader(stream, head=head)
    else:
        inner = " inside gzip" if compressed else ""
        raise CaptureFormatError(f"not a pcap or pcapng file (magic {head.hex()}{inner})")
    return CaptureReader(name, reader, compressed=compressed, closer=closer)


def _read_head(stream: ByteStream) -> bytes:
    """Read the first bytes of a stream; a pipe may hand them over a few at a time."""
    read = getattr(stream, "read1", stream.read)
    head = b""
    while len(head) < _SNIFF_LEN:
        more = read(_SNIFF_LEN - len(head))
        if not more:
            break
        head += more
    return head


class _Replay:
    """Gives back the sniffed bytes, then the rest of the stream: an un-read without seek."""

    def __init__(self, head: bytes, stream: ByteStream) -> None:
        self._head = head
        self._read = getattr(stream, "read1", stream.read)
        self.consumed = 0  # bytes handed out: where a gzip error sits in the compressed file

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n < 0:
                n = len(self._head)
            head, self._head = self._head[:n], self._head[n:]
            self.consumed += len(head)
            return head
        data = self._read(n if n >= 0 else 1 << 20)
        self.consumed += len(data)
        return data


class _GunzipStream:
    """A gzip decompressor whose failures are CaptureFormatError, not tracebacks.

    The readers re-raise the error with the offset of the record they were reading, which
    is an offset in the *decompressed* capture; the message names the compressed one too,
    so a 1,000-byte file that stops "at byte 13704" does not look like a contradiction.
    """

    def __init__(self, raw: _Replay) -> None:
        self._raw = raw
        self._gz = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[arg-type]

    def read1(self, n: int = -1) -> bytes:
        try:
            return self._gz.read1(n)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise CaptureFormatError(
                f"bad gzip stream after {self._raw.consumed} bytes of the compressed file: "
                f"{exc}") from exc

    read = read1
