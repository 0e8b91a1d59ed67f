"""pcapng reader: sections, per-interface state, EPB/SPB/PB frames and ISB statistics.

Spec: draft-ietf-opsawg-pcapng (block layout s3.1, SHB s4.1, IDB s4.2, EPB s4.3, SPB s4.4,
PB appendix A, ISB s4.6, options s3.5). Lessons from dpkt's reader, which this avoids: it
reads ``blk_len - 8`` bytes on trust, and keeps only the first IDB's link type and timestamp
resolution. Here every block length is checked against ``MAX_BLOCK_LEN`` before anything is
read, and each interface keeps its own link type, resolution and offset. A new SHB starts a
new section: interfaces and statistics are reset, and the byte order may change.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from srinspect.errors import CaptureFormatError
from srinspect.frame import Frame
from srinspect.sources.pcap import ByteStream, ChunkedInput, SkimmingReader, make_frame, refill

if TYPE_CHECKING:
    from srinspect.skim import Skimmer

#: Largest block accepted. Real blocks are a packet plus options; 64 MiB leaves ample room.
MAX_BLOCK_LEN = 64 << 20

BT_SHB = 0x0A0D0D0A  # a palindrome, so it reads the same in both byte orders
BT_IDB = 0x00000001
BT_PB = 0x00000002  # obsolete Packet Block, still written by old tools
BT_SPB = 0x00000003
BT_ISB = 0x00000005
BT_EPB = 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D

OPT_ENDOFOPT = 0
OPT_COMMENT = 1
IF_NAME = 2
IF_TSRESOL = 9
IF_TSOFFSET = 14
# ISB counters (s4.6): option code -> InterfaceStats field name.
_ISB_COUNTERS = {4: "ifrecv", 5: "ifdrop", 6: "filteraccept", 7: "osdrop", 8: "usrdeliv"}

_ORDERS = ("<", ">")
_BLOCK_HDR = {o: struct.Struct(o + "II") for o in _ORDERS}  # block type, total length
_U32 = {o: struct.Struct(o + "I") for o in _ORDERS}
_OPT_HDR = {o: struct.Struct(o + "HH") for o in _ORDERS}  # option code, option length
# EPB head: block type, length, interface id, ts high, ts low, caplen, orig_len.
_EPB_HEAD = {o: struct.Struct(o + "IIIIIII") for o in _ORDERS}
_PB = {o: struct.Struct(o + "HHIIII") for o in _ORDERS}  # if id, drops, ts hi/lo, caplen, len
_IDB = {o: struct.Struct(o + "HHI") for o in _ORDERS}  # link type, reserved, snaplen
_ISB = {o: struct.Struct(o + "III") for o in _ORDERS}  # interface id, ts high, ts low
_SHB_VERSION = {o: struct.Struct(o + "HH") for o in _ORDERS}
_U64 = {o: struct.Struct(o + "Q") for o in _ORDERS}
_I64 = {o: struct.Struct(o + "q") for o in _ORDERS}

_MIN_LEN = {BT_SHB: 28, BT_IDB: 20, BT_PB: 32, BT_SPB: 16, BT_ISB: 24, BT_EPB: 32}


@dataclass(frozen=True, slots=True)
class Interface:
    """One IDB. ``ts_divisor`` is ticks per second (10**6 unless if_tsresol says otherwise)."""

    index: int
    linktype: int
    snaplen: int
    name: str | None = None
    ts_divisor: int = 1_000_000
    ts_offset: int = 0


@dataclass(frozen=True, slots=True)
class InterfaceStats:
    """The latest ISB of one interface; a counter the writer left out is ``None``.

    Field names follow the spec's option names without the ``isb_`` prefix. ``ifdrop`` are
    drops by the interface, ``osdrop`` by the OS (buffer full): what a live capture reports.
    """

    interface: int
    ts: float
    ifrecv: int | None = None
    ifdrop: int | None = None
    filteraccept: int | None = None
    osdrop: int | None = None
    usrdeliv: int | None = None


class _Malformed(Exception):
    """A block is inconsistent; the reader turns it into CaptureFormatError with the offset."""


class PcapngReader(SkimmingReader):
    """Frames of one pcapng stream, read front to back exactly once.

    ``interfaces`` (current section), ``linktypes`` (every section so far) and
    ``interface_stats`` (latest ISB per interface of the current section) grow as blocks
    are read. Iterating again resumes where it stopped, like a file object.
    """

    format = "pcapng"

    def __init__(self, stream: ByteStream, *, head: bytes = b"") -> None:
        self._input = ChunkedInput(stream, head)
        self.interfaces: list[Interface] = []
        self.interface_stats: dict[int, InterfaceStats] = {}
        self.linktypes: set[int] = set()
        self.byteorder = "<"
        self.sections = 0
        self._init_skim()

    @property
    def bytes_read(self) -> int:
        """Bytes taken from the stream so far; advances a chunk at a time."""
        return self._input.consumed

    def _frames_from(self, skimmer: Skimmer | None) -> Iterator[Frame | None]:
        return self._blocks(skimmer)

    def _blocks(self, skimmer: Skimmer | None) -> Iterator[Frame | None]:
        """Walk the blocks; yield a Frame per packet block, raise at the first bad block.

        Hot path: an EPB already whole in the buffer is decoded right here, with one
        ``unpack_from`` for its 28-byte head. Everything else (SHB, IDB, ISB, SPB, length
        errors, refills) takes the slow path below it; an EPB that needed a refill goes round
        the loop again to reach the hot path. Per-interface ``(linktype, ts_divisor,
        ts_offset)`` tuples sit in ``fast``, rebuilt when an SHB or IDB changes them, and so
        are the link types ``skimmer`` (if any) gets to consume records of.
        """
        extend = self._input.extend
        make = make_frame
        epb_type, max_len = BT_EPB, MAX_BLOCK_LEN
        buf = b""
        base = pos = end = 0
        number = 0
        order = "<"
        head = _EPB_HEAD[order].unpack_from
        u32 = _U32[order].unpack_from
        fast: list[tuple[int, int, int]] = []
        in_section = False
        skim = skimmer.pcapng if skimmer is not None else None
        linktypes = b""  # one native int32 per interface, for the skimmer
        limit = self.limit if self.limit is not None else 1 << 62
        while True:
            if skim is not None and end - pos >= 28:
                pos, records = skim(buf, pos, end, limit - base, order == ">", linktypes, number)
                if records:
                    number += records
                    yield None
            if self._past_limit(base + pos, limit):
                return
            if end - pos >= 28:
                btype, blen, ifid, ts_hi, ts_lo, caplen, orig_len = head(buf, pos)
                stop = pos + blen
                if btype == epb_type and stop <= end and 32 <= blen <= max_len and not blen & 3:
                    if u32(buf, stop - 4)[0] != blen:
                        raise self._trailer_error(buf, pos, base, number, order)
                    try:
                        linktype, div, ts_off = fast[ifid]
                    except IndexError:
                        raise self._error(
                            f"EPB for undeclared interface {ifid} ({len(fast)} declared)",
                            base + pos,
                            number,
                        ) from None
                    data_end = pos + 28 + caplen
                    opt_start = data_end + (-caplen & 3)
                    comment = None
                    if opt_start >= stop - 4:
                        if data_end > stop - 4:
                            raise self._error(
                                f"EPB caplen {caplen} overruns block length {blen}",
                                base + pos,
                                number,
                            )
                    else:
                        try:
                            comment = self._first_comment(buf, opt_start, stop - 4, order)
                        except _Malformed as exc:
                            raise self._error(str(exc), base + pos, number) from None
                    number += 1
                    yield make(
                        number,
                        ((ts_hi << 32) | ts_lo) / div + ts_off,
                        linktype,
                        buf[pos + 28 : data_end],
                        orig_len,
                        ifid,
                        comment,
                    )
                    pos = stop
                    continue
            # Slow path: make sure a whole, sane block is buffered, then handle it.
            if end - pos < 12:
                buf, base, pos, end = refill(extend, buf, base, pos, 12, number)
                if end == 0:
                    return
                if end < 12:
                    raise self._error(f"truncated block header ({end} of 12 bytes)", base, number)
            btype, blen = _BLOCK_HDR[order].unpack_from(buf, pos)
            if btype == BT_SHB:
                order = self._byte_order(buf, pos, base, number)
                head = _EPB_HEAD[order].unpack_from
                u32 = _U32[order].unpack_from
                btype, blen = _BLOCK_HDR[order].unpack_from(buf, pos)
                in_section = True
            elif not in_section:
                raise self._error(
                    f"pcapng stream does not start with a Section Header Block "
                    f"(block type 0x{btype:08x})",
                    base + pos,
                    number,
                )
            self._check_length(btype, blen, base + pos, number)
            if pos + blen > end:
                buf, base, pos, end = refill(extend, buf, base, pos, blen, number)
                if blen > end:
                    raise self._error(
                        f"truncated block (type 0x{btype:08x}, length {blen}, {end} bytes left)",
                        base,
                        number,
                    )
            stop = pos + blen
            if u32(buf, stop - 4)[0] != blen:
                raise self._trailer_error(buf, pos, base, number, order)
            if btype == epb_type:
                continue  # whole now: the hot path takes it
            try:
                frame = self._other_block(btype, buf, pos, stop, order, number + 1)
            except _Malformed as exc:
                raise self._error(str(exc), base + pos, number) from None
            if btype in (BT_SHB, BT_IDB):
                fast = [(i.linktype, i.ts_divisor, i.ts_offset) for i in self.interfaces]
                if skimmer is not None:
                    linktypes = skim_links(skimmer, self.interfaces)
            if frame is not None:
                number += 1
                yield frame
            pos = stop

    @staticmethod
    def _error(message: str, offset: int, frames: int) -> CaptureFormatError:
        return CaptureFormatError(message, offset=offset, frames=frames)

    @staticmethod
    def _check_length(btype: int, blen: int, offset: int, frames: int) -> None:
        """Reject a block length before anything is read on its word (s3.1)."""
        minimum = _MIN_LEN.get(btype, 12)
        if blen < minimum or blen & 3 or blen > MAX_BLOCK_LEN:
            raise CaptureFormatError(
                f"bad block length {blen} for block type 0x{btype:08x} (must be a multiple "
                f"of 4, >= {minimum}, <= {MAX_BLOCK_LEN})",
                offset=offset,
                frames=frames,
            )

    @staticmethod
    def _trailer_error(
        buf: bytes, pos: int, base: int, frames: int, order: str
    ) -> CaptureFormatError:
        _, blen = _BLOCK_HDR[order].unpack_from(buf, pos)
        trailer = _U32[order].unpack_from(buf, pos + blen - 4)[0]
        return CaptureFormatError(
            f"block trailer length {trailer} != header length {blen}",
            offset=base + pos,
            frames=frames,
        )

    def _byte_order(self, buf: bytes, pos: int, base: int, frames: int) -> str:
        """Read an SHB's byte-order magic; the block length can only be parsed after it."""
        if _U32["<"].unpack_from(buf, pos + 8)[0] == BYTE_ORDER_MAGIC:
            return "<"
        if _U32[">"].unpack_from(buf, pos + 8)[0] == BYTE_ORDER_MAGIC:
            return ">"
        raise CaptureFormatError(
            f"bad byte-order magic {buf[pos + 8 : pos + 12].hex()} in Section Header Block",
            offset=base + pos,
            frames=frames,
        )

    def _other_block(
        self, btype: int, buf: bytes, pos: int, stop: int, order: str, number: int
    ) -> Frame | None:
        """Handle every block but EPB; return a Frame for SPB/PB, None otherwise.

        Unknown block types (NRB, DSB, custom...) are skipped by their length.
        """
        if btype == BT_SHB:
            self._section(buf, pos, order)
        elif btype == BT_IDB:
            self._interface(buf, pos, stop, order)
        elif btype == BT_SPB:
            return self._simple_packet(buf, pos, stop, order, number)
        elif btype == BT_PB:
            return self._packet(buf, pos, stop, order, number)
        elif btype == BT_ISB:
            self._statistics(buf, pos, stop, order)
        return None

    def _section(self, buf: bytes, pos: int, order: str) -> None:
        """SHB: a new section forgets the previous section's interfaces and statistics."""
        major, minor = _SHB_VERSION[order].unpack_from(buf, pos + 12)
        if major != 1:
            raise _Malformed(f"unsupported pcapng version {major}.{minor}")
        self.byteorder = order
        self.sections += 1
        self.interfaces = []
        self.interface_stats = {}

    def _interface(self, buf: bytes, pos: int, stop: int, order: str) -> None:
        """IDB: link type, snaplen, and the options that change how frames are read."""
        linktype, _, snaplen = _IDB[order].unpack_from(buf, pos + 8)
        name = None
        divisor = 1_000_000
        offset = 0
        for code, start, vend in _options(buf, pos + 16, stop - 4, order):
            if code == IF_NAME and name is None:
                name = buf[start:vend].decode("utf-8", "replace")
            elif code == IF_TSRESOL:
                divisor = _ts_divisor(buf[start:vend])
            elif code == IF_TSOFFSET:
                if vend - start != 8:
                    raise _Malformed(f"if_tsoffset has length {vend - start}, expected 8")
                offset = _I64[order].unpack_from(buf, start)[0]
        self.interfaces.append(
            Interface(len(self.interfaces), linktype, snaplen, name, divisor, offset)
        )
        self.linktypes.add(linktype)

    def _simple_packet(self, buf: bytes, pos: int, stop: int, order: str, number: int) -> Frame:
        """SPB: interface 0, no timestamp (ts 0.0), caplen = min(orig_len, snaplen, room)."""
        if not self.interfaces:
            raise _Malformed("Simple Packet Block before any Interface Description Block")
        iface = self.interfaces[0]
        orig_len = _U32[order].unpack_from(buf, pos + 8)[0]
        caplen = min(orig_len, stop - 4 - (pos + 12))
        if iface.snaplen:
            caplen = min(caplen, iface.snaplen)
        data = buf[pos + 12 : pos + 12 + caplen]
        return make_frame(number, 0.0, iface.linktype, data, orig_len, 0, None)

    def _packet(self, buf: bytes, pos: int, stop: int, order: str, number: int) -> Frame:
        """Obsolete PB: like an EPB with a 16-bit interface id; read so no packet is lost."""
        ifid, _, ts_hi, ts_lo, caplen, orig_len = _PB[order].unpack_from(buf, pos + 8)
        iface = self._declared(ifid, "PB")
        data_end = pos + 28 + caplen
        if data_end > stop - 4:
            raise _Malformed(f"PB caplen {caplen} overruns block length {stop - pos}")
        opt_start = pos + 28 + ((caplen + 3) & ~3)
        comment = self._first_comment(buf, opt_start, stop - 4, order)
        ts = ((ts_hi << 32) | ts_lo) / iface.ts_divisor + iface.ts_offset
        return make_frame(
            number, ts, iface.linktype, buf[pos + 28 : data_end], orig_len, ifid, comment
        )

    def _statistics(self, buf: bytes, pos: int, stop: int, order: str) -> None:
        """ISB: keep the latest counters per interface (for live-capture drop reports)."""
        ifid, ts_hi, ts_lo = _ISB[order].unpack_from(buf, pos + 8)
        iface = self._declared(ifid, "ISB")
        counters: dict[str, int] = {}
        for code, start, vend in _options(buf, pos + 20, stop - 4, order):
            field = _ISB_COUNTERS.get(code)
            if field is not None:
                if vend - start != 8:
                    raise _Malformed(f"ISB option {code} has length {vend - start}, expected 8")
                counters[field] = _U64[order].unpack_from(buf, start)[0]
        ts = ((ts_hi << 32) | ts_lo) / iface.ts_divisor + iface.ts_offset
        self.interface_stats[ifid] = InterfaceStats(ifid, ts, **counters)

    def _declared(self, ifid: int, block: str) -> Interface:
        if ifid >= len(self.interfaces):
            raise _Malformed(
                f"{block} for undeclared interface {ifid} ({len(self.interfaces)} declared)"
            )
        return self.interfaces[ifid]

    @staticmethod
    def _first_comment(buf: bytes, start: int, stop: int, order: str) -> str | None:
        """The first opt_comment of a packet block's options, decoded as UTF-8."""
        for code, vstart, vend in _options(buf, start, stop, order):
            if code == OPT_COMMENT:
                return buf[vstart:vend].decode("utf-8", "replace")
        return None


def _options(buf: bytes, start: int, stop: int, order: str) -> Iterator[tuple[int, int, int]]:
    """Yield ``(code, value_start, value_end)`` for each option in ``buf[start:stop]``.

    Stops at opt_endofopt or the end of the area; a value that overruns the area is an error,
    not something to read past (s3.5: values are padded to 32 bits).
    """
    unpack = _OPT_HDR[order].unpack_from
    while start + 4 <= stop:
        code, length = unpack(buf, start)
        if code == OPT_ENDOFOPT:
            return
        vstart = start + 4
        vend = vstart + length
        if vend > stop:
            raise _Malformed(f"option {code} length {length} overruns its block")
        yield code, vstart, vend
        start = vstart + ((length + 3) & ~3)


def skim_links(skimmer: Skimmer, interfaces: list[Interface]) -> bytes:
    """The interfaces' link types as the skimmer sees them (native int32s): one it does not
    support becomes -1, whose records it never consumes, so Python counts them."""
    return array("i", [i.linktype if skimmer.supports(i.linktype) else -1
                       for i in interfaces]).tobytes()


def _ts_divisor(value: bytes) -> int:
    """if_tsresol (s4.2): MSB clear = 10**-n seconds per tick, MSB set = 2**-n."""
    if len(value) != 1:
        raise _Malformed(f"if_tsresol has length {len(value)}, expected 1")
    n = value[0]
    if n & 0x80:
        return 1 << (n & 0x7F)
    return 10**n
