"""Segment Routing Header framing: pull (decode) and push (encode), with no judgement.

Decoding never trusts one length field over another: ``pull_srh`` reports what each field
says and what the bytes allow, and the validator decides what is wrong. Encoding is two
visible steps (scapy's self-filling fields are what we avoid): ``resolve()`` derives the
fields the caller left as ``None``, ``push_srh()`` writes exactly what it is given, including
deliberately wrong headers for the conformance suite.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from .errors import BuildError
from .wire import Truncated, parse_ip6

ROUTING_HEADER = 43
ROUTING_TYPE_SRH = 4

SRH_FIXED = struct.Struct("!BBBBBBH")  # nh, hdr_ext_len, routing_type, sl, fs, flags, reserved
SEGMENT_SIZE = 16  # a Segment List entry: one IPv6 address

# draft-04 s3 flags (bit masks on the flags byte)
FLAG_CLEANUP_02 = 0x80  # -02's Clean-up flag, unused in draft-04
FLAG_P = 0x40  # protected
FLAG_O = 0x20  # OAM
FLAG_A = 0x10  # alert
FLAG_H = 0x08  # HMAC
FLAGS_UNUSED_DRAFT04 = 0x87
FLAGS_UNUSED_RFC8754 = 0xFF  # RFC 8754 s2 defines no flag
FLAG_NAMES: dict[int, str] = {
    FLAG_CLEANUP_02: "C (unused)",
    FLAG_P: "P (protected)",
    FLAG_O: "O (OAM)",
    FLAG_A: "A (alert)",
    FLAG_H: "H (HMAC)",
    0x04: "unused 0x04",
    0x02: "unused 0x02",
    0x01: "unused 0x01",
}

# TLV types (section 2 of the spec)
TLV_PAD1 = 0  # RFC 8754 only: one byte, no Length
TLV_INGRESS = 1
TLV_EGRESS = 2
TLV_OPAQUE = 3
TLV_PADDING = 4  # draft-04 Padding, RFC 8754 PadN
TLV_HMAC = 5
TLV_NAMES_DRAFT04 = {1: "Ingress Node", 2: "Egress Node", 3: "Opaque Container", 4: "Padding",
                     5: "HMAC"}
TLV_NAMES_RFC8754 = {0: "Pad1", 4: "PadN", 5: "HMAC", 1: "Reserved (Ingress Node)",
                     2: "Reserved (Egress Node)", 3: "Reserved (Opaque Container)",
                     6: "Reserved"}
HMAC_TLV_SIZE_DRAFT04 = 40  # type + length + reserved(2) + key id(4) + HMAC(32)
#: The TLV Length values each profile allows (Length counts the bytes after type and length):
#: the validator's srh.tlv.length rule and the fast paths' layout checks read these.
NODE_TLV_LENGTH = 18  # Ingress, Egress, Opaque: reserved, flags, one address
NODE_ADDRESS_AT = 4  # the address, from the TLV's first byte
TLV_LENGTHS_DRAFT04: dict[int, frozenset[int]] = {
    TLV_INGRESS: frozenset({NODE_TLV_LENGTH}),
    TLV_EGRESS: frozenset({NODE_TLV_LENGTH}),
    TLV_OPAQUE: frozenset({NODE_TLV_LENGTH}),
    TLV_PADDING: frozenset(range(1, 8)),
    TLV_HMAC: frozenset({HMAC_TLV_SIZE_DRAFT04 - 2}),
}
TLV_LENGTHS_RFC8754: dict[int, frozenset[int]] = {
    TLV_PADDING: frozenset(range(0, 6)),
    TLV_HMAC: frozenset({14, 22, 30, 38}),
}

#: Where each fixed field sits in the SRH: (offset from its first byte, size). The views ask
#: ``Srh.value(name)``, so a field the capture (or the Payload Length) cut off is shown as not
#: captured, never as the zero ``pull_srh_partial`` fills in for the validator's sake.
SRH_FIELDS: dict[str, tuple[int, int]] = {
    "next_header": (0, 1), "hdr_ext_len": (1, 1), "routing_type": (2, 1),
    "segments_left": (3, 1), "first_segment": (4, 1), "flags": (5, 1), "reserved": (6, 2),
}


@dataclass(slots=True)
class Tlv:
    """One TLV as found on the wire. ``offset`` is absolute (from the frame start).

    ``length`` is None for a Pad1 (RFC 8754), which has no Length byte. ``complete`` is False
    when the TLV (or its Length byte) runs past the end of the SRH; ``value`` then holds only
    the bytes that are there.
    """

    type: int
    offset: int
    length: int | None
    value: bytes
    complete: bool = True

    @property
    def size(self) -> int:
        """Bytes the TLV occupies on the wire (as declared)."""
        if self.length is None:
            return 1
        return 2 + self.length

    @property
    def value_offset(self) -> int:
        return self.offset + (1 if self.length is None else 2)

    def hmac_fields(self) -> tuple[int, int, int, bytes] | None:
        """(D bit, reserved 15 bits, key id, HMAC bytes) of an HMAC TLV, or None if too short."""
        if self.type != TLV_HMAC or len(self.value) < 6:
            return None
        word, key_id = struct.unpack_from("!HI", self.value, 0)
        return word >> 15, word & 0x7FFF, key_id, bytes(self.value[6:])

    def node_address(self) -> bytes | None:
        """The address of an Ingress/Egress/Opaque TLV (reserved, flags, 16 bytes)."""
        if len(self.value) < 18:
            return None
        return bytes(self.value[2:18])


@dataclass(slots=True)
class Srh:
    """A decoded SRH. Offsets are absolute in the frame.

    ``segments`` holds the entries of Segment List[0..FS] that lie inside both the header
    (by Hdr Ext Len) and the captured bytes; fewer than FS+1 means the list does not fit.
    ``limit`` is where the bytes available to this header end (captured data or IPv6
    payload, whichever comes first).
    """

    offset: int
    next_header: int
    hdr_ext_len: int
    routing_type: int
    segments_left: int
    first_segment: int
    flags: int
    reserved: int
    segments: list[bytes]
    limit: int
    tlvs: list[Tlv] = field(default_factory=list)

    @property
    def length(self) -> int:
        return (self.hdr_ext_len + 1) * 8

    @property
    def end(self) -> int:
        return self.offset + self.length

    @property
    def tag(self) -> int:
        """RFC 8754's name for the Reserved field."""
        return self.reserved

    @property
    def last_entry(self) -> int:
        """RFC 8754's name for First Segment."""
        return self.first_segment

    @property
    def list_end(self) -> int:
        """Where the segment list ends if it has FS+1 entries (the TLV area starts here)."""
        return self.offset + SRH_FIXED.size + SEGMENT_SIZE * (self.first_segment + 1)

    def captured(self, name: str) -> bool:
        """Whether the bytes of fixed field ``name`` (see SRH_FIELDS) are in the packet."""
        rel, size = SRH_FIELDS[name]
        return self.offset + rel + size <= self.limit

    def value(self, name: str) -> int | None:
        """Fixed field ``name``, or None when its bytes were not captured."""
        return getattr(self, name) if self.captured(name) else None

    @property
    def not_captured(self) -> list[str]:
        """The fixed fields cut off, in wire order (empty for a whole fixed part)."""
        return [name for name in SRH_FIELDS if not self.captured(name)]

    def segment_offset(self, index: int) -> int:
        return self.offset + SRH_FIXED.size + SEGMENT_SIZE * index

    def flag_names(self) -> list[str]:
        return [name for bit, name in FLAG_NAMES.items() if self.flags & bit]


def pull_srh(buf: bytes, offset: int, limit: int) -> Srh:
    """Decode the fixed part and the segment list of the SRH at ``offset``.

    Raises Truncated when not even the 8 fixed bytes are there. TLVs are decoded separately
    (``pull_tlvs``) because their layout depends on the profile.
    """
    if offset + 8 > limit:
        raise Truncated(offset, 8)
    nh, hel, rtype, sl, fs, flags, reserved = SRH_FIXED.unpack_from(buf, offset)
    header_end = min(offset + (hel + 1) * 8, limit)
    count = min(fs + 1, max(0, (header_end - offset - 8) // 16))
    base = offset + 8
    segments = [bytes(buf[base + 16 * i : base + 16 * i + 16]) for i in range(count)]
    return Srh(offset, nh, hel, rtype, sl, fs, flags, reserved, segments, limit)


def pull_tlvs(buf: bytes, start: int, end: int, *, pad1: bool) -> list[Tlv]:
    """Decode the TLVs between ``start`` and ``end`` (both absolute).

    ``pad1`` selects RFC 8754's one-byte Pad1 (type 0). A TLV that runs past ``end`` is
    returned with ``complete=False`` and ends the walk. The count is bounded by the area
    size (at most 2040 bytes), so hostile input cannot make this loop long.
    """
    tlvs: list[Tlv] = []
    pos = start
    while pos < end:
        ttype = buf[pos]
        if pad1 and ttype == TLV_PAD1:
            tlvs.append(Tlv(ttype, pos, None, b""))
            pos += 1
            continue
        if pos + 2 > end:
            tlvs.append(Tlv(ttype, pos, None, b"", complete=False))
            break
        length = buf[pos + 1]
        stop = pos + 2 + length
        if stop > end:
            tlvs.append(Tlv(ttype, pos, length, bytes(buf[pos + 2 : end]), complete=False))
            break
        tlvs.append(Tlv(ttype, pos, length, bytes(buf[pos + 2 : stop])))
        pos = stop
    return tlvs


# ---------------------------------------------------------------------------------------------
# Encoding


def _addr(value: str | bytes) -> bytes:
    if isinstance(value, bytes | bytearray):
        if len(value) != 16:
            raise BuildError(f"an IPv6 address is 16 bytes, got {len(value)}")
        return bytes(value)
    try:
        return parse_ip6(value)
    except ValueError as exc:
        raise BuildError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class SrhSpec:
    """What a caller wants on the wire. ``None`` fields are derived by ``resolve()``.

    ``segments`` is in wire order: [0] is the final destination (the list is stored reversed).
    ``tlvs`` is a sequence of already encoded TLVs (see ``tlv()`` and friends).
    """

    segments: Sequence[str | bytes]
    segments_left: int | None = None
    first_segment: int | None = None
    hdr_ext_len: int | None = None
    flags: int = 0
    reserved: int = 0
    next_header: int = 41
    routing_type: int = ROUTING_TYPE_SRH
    tlvs: Sequence[bytes] = ()


def resolve(spec: SrhSpec) -> SrhSpec:
    """A copy of ``spec`` with every field concrete: FS = n-1, SL = FS, HEL from the length.

    Raises BuildError when HEL must be derived but the header is not a multiple of 8 bytes
    (add padding TLVs, or give ``hdr_ext_len`` explicitly to build a wrong header on purpose).
    """
    segments = tuple(_addr(s) for s in spec.segments)
    fs = spec.first_segment if spec.first_segment is not None else max(len(segments) - 1, 0)
    sl = spec.segments_left if spec.segments_left is not None else fs
    hel = spec.hdr_ext_len
    if hel is None:
        size = 8 + 16 * len(segments) + sum(len(t) for t in spec.tlvs)
        if size % 8:
            raise BuildError(f"SRH of {size} bytes is not a multiple of 8: add padding TLVs")
        hel = size // 8 - 1
    for name, value in (("segments_left", sl), ("first_segment", fs), ("hdr_ext_len", hel),
                        ("flags", spec.flags), ("next_header", spec.next_header),
                        ("routing_type", spec.routing_type)):
        if not 0 <= value <= 255:
            raise BuildError(f"{name}={value} does not fit in one byte")
    if not 0 <= spec.reserved <= 0xFFFF:
        raise BuildError(f"reserved={spec.reserved} does not fit in two bytes")
    return replace(spec, segments=segments, first_segment=fs, segments_left=sl, hdr_ext_len=hel,
                   tlvs=tuple(bytes(t) for t in spec.tlvs))


def push_srh(spec: SrhSpec) -> bytes:
    """The SRH bytes for ``spec``, resolved first; fields are written exactly as given."""
    spec = resolve(spec)
    assert spec.hdr_ext_len is not None and spec.segments_left is not None  # resolved
    assert spec.first_segment is not None
    head = SRH_FIXED.pack(spec.next_header, spec.hdr_ext_len, spec.routing_type,
                          spec.segments_left, spec.first_segment, spec.flags, spec.reserved)
    return head + b"".join(_addr(s) for s in spec.segments) + b"".join(spec.tlvs)


def tlv(ttype: int, value: bytes, length: int | None = None) -> bytes:
    """A generic TLV; ``length`` overrides the Length byte (to build malformed TLVs)."""
    declared = len(value) if length is None else length
    if not (0 <= ttype <= 255 and 0 <= declared <= 255):
        raise BuildError("TLV type and length are one byte each")
    return bytes((ttype, declared)) + bytes(value)


def pad1() -> bytes:
    """RFC 8754 Pad1: a single zero byte."""
    return b"\x00"


def padding_tlv(total: int) -> bytes:
    """A Padding/PadN TLV occupying ``total`` bytes (2..9 draft-04, 2..7 RFC 8754)."""
    if total < 2:
        raise BuildError("a Padding TLV takes at least 2 bytes; use pad1() for one")
    return tlv(TLV_PADDING, bytes(total - 2))


def node_tlv(ttype: int, address: str | bytes, flags: int = 0) -> bytes:
    """Ingress (1), Egress (2) or Opaque (3) TLV: reserved(1) flags(1) address(16)."""
    return tlv(ttype, bytes((0, flags)) + _addr(address))


def hmac_tlv(key_id: int, mac: bytes, *, d_bit: bool = False, reserved: int = 0) -> bytes:
    """HMAC TLV: Type 5, Length 6+len(mac), D bit + 15 reserved bits, key id, HMAC.

    Byte-exact per draft-04 s3.1.5 and RFC 8754 s2.1.2 (scapy 2.8 writes a 2-byte Length).
    """
    word = (0x8000 if d_bit else 0) | (reserved & 0x7FFF)
    return tlv(TLV_HMAC, struct.pack("!HI", word, key_id) + bytes(mac))
