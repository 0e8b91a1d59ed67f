"""The transport header behind an IP header (UDP, TCP, ICMPv6/ICMP, SCTP), field by field.

Only for the views (decode tree, JSON): the flow key keeps reading just the ports
(``ipv6.transport_ports``), which agree with these by test. Each field is read only when the
bytes are inside both the capture and the IP packet's length (``limit``); past that it is
declared but not captured (see fields.py), so no view shows a value from missing bytes.
"""

from __future__ import annotations

from collections.abc import Callable

from .fields import Field, Header, uncaptured

TCP_FLAG_NAMES = ((0x100, "AE"), (0x080, "CWR"), (0x040, "ECE"), (0x020, "URG"),
                  (0x010, "ACK"), (0x008, "PSH"), (0x004, "RST"), (0x002, "SYN"),
                  (0x001, "FIN"))
ICMPV6_TYPES = {1: "Destination Unreachable", 2: "Packet Too Big", 3: "Time Exceeded",
                4: "Parameter Problem", 128: "Echo Request", 129: "Echo Reply",
                133: "Router Solicitation", 134: "Router Advertisement",
                135: "Neighbor Solicitation", 136: "Neighbor Advertisement", 137: "Redirect"}
ICMP_TYPES = {0: "Echo Reply", 3: "Destination Unreachable", 5: "Redirect", 8: "Echo Request",
              11: "Time Exceeded", 12: "Parameter Problem"}

# (key, title, offset in the header, size, how to show it) per protocol; wire order.
_Spec = tuple[tuple[str, str, int, int, Callable[[int], str]], ...]


def _hex4(v: int) -> str:
    return f"0x{v:04x}"


def tcp_flags_text(value: int) -> str:
    names = [name for bit, name in TCP_FLAG_NAMES if value & bit]
    return f"0x{value:03x}" + (f" [{', '.join(names)}]" if names else "")


_UDP: _Spec = (("sport", "Source Port", 0, 2, str), ("dport", "Destination Port", 2, 2, str),
               ("length", "Length", 4, 2, str), ("checksum", "Checksum", 6, 2, _hex4))
_TCP: _Spec = (("sport", "Source Port", 0, 2, str), ("dport", "Destination Port", 2, 2, str),
               ("seq", "Sequence Number (raw)", 4, 4, str),
               ("ack", "Acknowledgment Number (raw)", 8, 4, str),
               ("header_length", "Header Length", 12, 1, lambda v: f"{(v >> 4) * 4} bytes"),
               ("flags", "Flags", 12, 2, lambda v: tcp_flags_text(v & 0x1FF)),
               ("window", "Window", 14, 2, str), ("checksum", "Checksum", 16, 2, _hex4))
_SCTP: _Spec = (("sport", "Source Port", 0, 2, str), ("dport", "Destination Port", 2, 2, str),
                ("verification_tag", "Verification Tag", 4, 4, lambda v: f"0x{v:08x}"),
                ("checksum", "Checksum", 8, 4, lambda v: f"0x{v:08x}"))


def _icmp(names: dict[int, str]) -> _Spec:
    return (("type", "Type", 0, 1, lambda v: f"{names.get(v, 'Unknown')} ({v})"),
            ("code", "Code", 1, 1, str), ("checksum", "Checksum", 2, 2, _hex4))


_PROTOCOLS: dict[int, tuple[str, _Spec]] = {
    17: ("User Datagram Protocol", _UDP),
    6: ("Transmission Control Protocol", _TCP),
    58: ("Internet Control Message Protocol v6", _icmp(ICMPV6_TYPES)),
    1: ("Internet Control Message Protocol", _icmp(ICMP_TYPES)),
    132: ("Stream Control Transmission Protocol", _SCTP),
}
# What a raw field value means once decoded (TCP packs two fields in bytes 12-13).
_DECODE: dict[str, Callable[[int], int]] = {"header_length": lambda v: (v >> 4) * 4,
                                            "flags": lambda v: v & 0x1FF}


def pull_transport(buf: bytes, protocol: int, offset: int, limit: int) -> Header | None:
    """The transport header at ``offset`` (None: a protocol not decoded here, or no
    header at all, e.g. behind a non-first fragment)."""
    known = _PROTOCOLS.get(protocol)
    if known is None or offset < 0:
        return None
    name, spec = known
    fields = []
    for key, title, at, size, fmt in spec:
        start = offset + at
        if start + size > limit:
            fields.append(uncaptured(key, title, start, size))
            continue
        raw = int.from_bytes(buf[start : start + size], "big")
        fields.append(Field(key, title, _DECODE.get(key, _same)(raw), fmt(raw), start, size))
    return Header(name, offset, spec[-1][2] + spec[-1][3], tuple(fields), _summary(fields))


def _same(v: int) -> int:
    return v


def _summary(fields: list[Field]) -> str:
    """"Src Port: 1, Dst Port: 2" / "Type: Echo Request (128), Code: 0": what is captured."""
    shown = {"sport": "Src Port", "dport": "Dst Port", "type": "Type", "code": "Code"}
    parts = [f"{shown[f.key]}: {f.text}" for f in fields if f.key in shown and f.captured]
    return ", ".join(parts)
