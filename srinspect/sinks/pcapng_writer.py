"""pcapng writer (SHB, IDB, EPB with comments) and a classic pcap helper.

The writer writes exactly what it is given: it never pads a packet, invents a length or
fixes a timestamp (scapy's ``post_build`` lesson), so an annotated copy of a capture keeps
the original bytes. Everything is little-endian with nanosecond timestamps (if_tsresol=9),
so frames read from nanosecond pcaps keep their precision as far as a float allows.

Spec: draft-ietf-opsawg-pcapng (SHB s4.1, IDB s4.2, EPB s4.3, options s3.5).
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Iterable, Sequence
from typing import BinaryIO

from srinspect.frame import Frame

_SHB_TYPE = 0x0A0D0D0A
_IDB_TYPE = 0x00000001
_EPB_TYPE = 0x00000006
_BYTE_ORDER_MAGIC = 0x1A2B3C4D

_OPT_ENDOFOPT = 0
_OPT_COMMENT = 1
_SHB_USERAPPL = 4
_IF_NAME = 2
_IF_TSRESOL = 9

_BLOCK_HDR = struct.Struct("<II")  # block type, total length
_U32 = struct.Struct("<I")
_OPT_HDR = struct.Struct("<HH")  # option code, option length
_SHB_BODY = struct.Struct("<IHHq")  # byte-order magic, major, minor, section length (-1)
_IDB_BODY = struct.Struct("<HHI")  # link type, reserved, snaplen
_EPB_BODY = struct.Struct("<IIIII")  # interface id, ts high, ts low, caplen, orig_len

_MAX_OPTION_LEN = 0xFFFF
_NS_PER_S = 1_000_000_000


def _pad4(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) & 3)


def _option(code: int, value: bytes) -> bytes:
    """One option: code, length, value padded to 32 bits (s3.5)."""
    if len(value) > _MAX_OPTION_LEN:
        raise ValueError(f"option {code} value is {len(value)} bytes, max {_MAX_OPTION_LEN}")
    return _OPT_HDR.pack(code, len(value)) + _pad4(value)


def _options(opts: Sequence[bytes]) -> bytes:
    """The options area: nothing at all when empty, else the options and opt_endofopt."""
    if not opts:
        return b""
    return b"".join(opts) + _OPT_HDR.pack(_OPT_ENDOFOPT, 0)


def _block(block_type: int, body: bytes) -> bytes:
    """Frame a body as a block: type, total length, body, total length again."""
    total = 12 + len(body)
    return _BLOCK_HDR.pack(block_type, total) + body + _U32.pack(total)


def split_ts(ts: float, scale: int) -> tuple[int, int]:
    """Seconds (float) -> ``(whole seconds, fraction in 1/scale units)``, rounded.

    The whole seconds are split off first: subtracting the floor of a float is exact, so
    the fraction carries no error of its own and a reader gets the very same float back.
    """
    if not math.isfinite(ts) or ts < 0:
        raise ValueError(f"timestamp must be a finite number >= 0, not {ts!r}")
    sec = math.floor(ts)
    frac = round((ts - sec) * scale)
    if frac >= scale:  # 0.9999999999 rounds up to the next second
        return sec + 1, frac - scale
    return sec, frac


def ts_to_ns(ts: float) -> int:
    """Seconds (float) -> integer nanoseconds since the epoch (the EPB timestamp at 10**-9)."""
    sec, ns = split_ts(ts, _NS_PER_S)
    return sec * _NS_PER_S + ns


class PcapngWriter:
    """Write one pcapng section to a binary stream (the caller opens and closes it).

    Usage: ``w = PcapngWriter(f); i = w.add_interface(1); w.write(frame, comments=[...])``.
    """

    def __init__(self, stream: BinaryIO, *, user_appl: str | None = "srinspect") -> None:
        self._stream = stream
        self._linktypes: list[int] = []
        opts = [_option(_SHB_USERAPPL, user_appl.encode())] if user_appl else []
        body = _SHB_BODY.pack(_BYTE_ORDER_MAGIC, 1, 0, -1) + _options(opts)
        stream.write(_block(_SHB_TYPE, body))

    def add_interface(self, linktype: int, snaplen: int = 262144, name: str | None = None) -> int:
        """Write an IDB and return its interface index (0, 1, ... in call order)."""
        opts = [_option(_IF_TSRESOL, bytes([9]))]
        if name is not None:
            opts.insert(0, _option(_IF_NAME, name.encode()))
        body = _IDB_BODY.pack(linktype, 0, snaplen) + _options(opts)
        self._stream.write(_block(_IDB_TYPE, body))
        self._linktypes.append(linktype)
        return len(self._linktypes) - 1

    def write(
        self,
        frame_or_data: Frame | bytes,
        *,
        ts: float | None = None,
        interface: int | None = None,
        orig_len: int | None = None,
        comments: Sequence[str] = (),
    ) -> None:
        """Write one EPB with an opt_comment per entry of ``comments``.

        Given a Frame, its ts, interface, orig_len and comment are the defaults (the keyword
        arguments override them; ``comments`` replaces the frame's comment when non-empty).
        Given bytes, ``ts`` is required and ``interface`` defaults to 0. Raises ValueError
        for an undeclared interface, or a Frame whose link type differs from the interface's.
        """
        if isinstance(frame_or_data, Frame):
            frame = frame_or_data
            data = frame.data
            ts = frame.ts if ts is None else ts
            interface = frame.interface if interface is None else interface
            orig_len = frame.orig_len if orig_len is None else orig_len
            if not comments and frame.comment is not None:
                comments = (frame.comment,)
            self._check_interface(interface, frame.linktype)
        else:
            data = bytes(frame_or_data)
            if ts is None:
                raise ValueError("ts is required when writing raw bytes")
            interface = 0 if interface is None else interface
            orig_len = len(data) if orig_len is None else orig_len
            self._check_interface(interface, None)
        ns = ts_to_ns(ts)
        opts = [_option(_OPT_COMMENT, c.encode("utf-8")) for c in comments]
        body = (
            _EPB_BODY.pack(interface, ns >> 32, ns & 0xFFFFFFFF, len(data), orig_len)
            + _pad4(data)
            + _options(opts)
        )
        self._stream.write(_block(_EPB_TYPE, body))

    def _check_interface(self, interface: int, linktype: int | None) -> None:
        if not 0 <= interface < len(self._linktypes):
            raise ValueError(
                f"interface {interface} not declared ({len(self._linktypes)} declared): "
                "call add_interface() first"
            )
        if linktype is not None and linktype != self._linktypes[interface]:
            raise ValueError(
                f"frame link type {linktype} differs from interface {interface}'s "
                f"({self._linktypes[interface]})"
            )

    def flush(self) -> None:
        self._stream.flush()


_PCAP_HDR = struct.Struct("<IHHiIII")  # magic, major, minor, thiszone, sigfigs, snaplen, link
_PCAP_REC = struct.Struct("<IIII")  # ts_sec, ts_frac, caplen, orig_len


def write_pcap(
    path: str | os.PathLike[str],
    frames: Iterable[Frame],
    linktype: int,
    *,
    snaplen: int = 262144,
    nanosecond: bool = False,
) -> int:
    """Write ``frames`` as a little-endian classic pcap file; return the number written.

    Fixtures and exports only: classic pcap has one link type, so each frame's must match.
    """
    scale = _NS_PER_S if nanosecond else 1_000_000
    magic = 0xA1B23C4D if nanosecond else 0xA1B2C3D4
    count = 0
    with open(path, "wb") as out:
        out.write(_PCAP_HDR.pack(magic, 2, 4, 0, 0, snaplen, linktype))
        for frame in frames:
            if frame.linktype != linktype:
                raise ValueError(f"frame {frame.number} has link type {frame.linktype}")
            sec, frac = split_ts(frame.ts, scale)
            out.write(_PCAP_REC.pack(sec, frac, len(frame.data), frame.orig_len))
            out.write(frame.data)
            count += 1
    return count
