"""Where the IPv6 header starts in a frame, per link type.

The readers yield frames undecoded (as dpkt's do); this module is the one place that knows
link layers. ``ipv6_offset_func(linktype)`` is looked up once per file (or interface) and the
returned function runs once per packet, so each is a couple of slice comparisons with no
branching on link type inside. Slices never raise on short frames: a frame too short to
hold its link header simply does not match, and the function returns -1.

An offset is returned as soon as the link header says "IPv6", even if the IPv6 header after
it is cut short: that is a truncated packet, which the IPv6 decoder reports as a finding,
not a non-IPv6 frame to skip silently.

Link-type numbers: https://www.tcpdump.org/linktypes.html
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .fields import Field, Header, uncaptured

LINKTYPE_NULL = 0  # BSD loopback: 4-byte address family in the *capturing host's* byte order
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101  # raw IPv4 or IPv6, told apart by the version nibble
LINKTYPE_LOOP = 108  # OpenBSD loopback: like NULL, but the family is in network byte order
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

# Where each link header puts what this module reads (byte offsets and sizes). The compiled
# pre-filter is built with these very numbers (srinspect/_gen/skim_consts.py).
ETHERTYPE_IPV6 = b"\x86\xdd"
ETHERTYPE_AT = 12  # Ethernet II: after the destination and source MACs
ETHERNET_HEADER = 14
# 802.1Q, 802.1ad (QinQ) and the pre-standard 0x9100 QinQ tag: TPID then a 2-byte TCI.
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
VLAN_TAG = 4
VLAN_TCI = 2
SLL_HEADER, SLL_PROTOCOL_AT = 16, 14  # Linux cooked v1: the protocol ends the header
SLL2_HEADER, SLL2_PROTOCOL_AT = 20, 0  # Linux cooked v2: the protocol starts it
FAMILY_HEADER = 4  # NULL and LOOP: the address family is the whole link header
# AF_INET6 differs per OS: Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30.
AF_INET6_VALUES = (10, 24, 28, 30)

_VLAN_TPIDS = frozenset(tpid.to_bytes(2, "big") for tpid in VLAN_TPIDS)
_NULL_INET6 = frozenset(
    v.to_bytes(FAMILY_HEADER, order) for v in AF_INET6_VALUES for order in ("little", "big")
)
_LOOP_INET6 = frozenset(v.to_bytes(FAMILY_HEADER, "big") for v in AF_INET6_VALUES)
_FAMILY = slice(0, FAMILY_HEADER)
_SLL_PROTOCOL = slice(SLL_PROTOCOL_AT, SLL_PROTOCOL_AT + 2)
_SLL2_PROTOCOL = slice(SLL2_PROTOCOL_AT, SLL2_PROTOCOL_AT + 2)

OffsetFunc = Callable[[bytes], int]


def ethernet_payload(data: bytes, start: int = 0) -> tuple[bytes, int]:
    """(EtherType, payload offset) of the Ethernet II frame at ``start``, past any number
    of VLAN/QinQ tags (the loop ends with the frame). The EtherType is shorter than 2 bytes
    when the frame is cut before it. The one Ethernet walk: the outer link layer, the
    detail view (``pull_ethernet``) and SRv6 L2 encapsulation (Next Header 143) use it."""
    ethertype = data[start + ETHERTYPE_AT : start + ETHERNET_HEADER]
    off = start + ETHERNET_HEADER
    while ethertype in _VLAN_TPIDS:
        ethertype = data[off + VLAN_TCI : off + VLAN_TAG]
        off += VLAN_TAG
    return ethertype, off


def _ethernet(data: bytes) -> int:
    """Ethernet II carrying IPv6, behind any VLAN/QinQ tags."""
    ethertype, off = ethernet_payload(data)
    return off if ethertype == ETHERTYPE_IPV6 else -1


def _raw(data: bytes) -> int:
    """RAW: the first nibble is the IP version."""
    return 0 if data[:1] and data[0] >> 4 == 6 else -1


def _ipv4_only(data: bytes) -> int:
    """LINKTYPE_IPV4 never carries IPv6."""
    return -1


def _ipv6_only(data: bytes) -> int:
    """LINKTYPE_IPV6 is IPv6 by definition, whatever the bytes say."""
    return 0


def _linux_sll(data: bytes) -> int:
    """Linux cooked v1: 16-byte header, protocol (EtherType) at offset 14."""
    return SLL_HEADER if data[_SLL_PROTOCOL] == ETHERTYPE_IPV6 else -1


def _linux_sll2(data: bytes) -> int:
    """Linux cooked v2: 20-byte header, protocol (EtherType) at offset 0; a frame shorter
    than the header holds no IPv6 (the offset must stay inside the frame)."""
    if data[_SLL2_PROTOCOL] == ETHERTYPE_IPV6 and len(data) >= SLL2_HEADER:
        return SLL2_HEADER
    return -1


def _null(data: bytes) -> int:
    """BSD NULL: the family is in the capturing host's byte order, unknown here: try both."""
    return FAMILY_HEADER if data[_FAMILY] in _NULL_INET6 else -1


def _loop(data: bytes) -> int:
    """OpenBSD LOOP: the family is in network byte order."""
    return FAMILY_HEADER if data[_FAMILY] in _LOOP_INET6 else -1


def ipv6_offset_func(linktype: int) -> OffsetFunc | None:
    """The function giving the IPv6 header offset in a frame of ``linktype`` (-1: not IPv6).

    ``None`` means the link type is unsupported; the caller says so once per file rather
    than once per packet.
    """
    link = _LINKS.get(linktype)
    return link.ipv6_offset if link is not None else None


def linktype_name(linktype: int) -> str:
    """Human name for messages, e.g. ``"Ethernet"`` or ``"linktype 147"``."""
    return LINKTYPE_NAMES.get(linktype, f"linktype {linktype}")


# ---------------------------------------------------------------------------------------------
# The link-layer header field by field, for the decode tree and JSON (not the hot path).

ETHERTYPE_NAMES = {0x0800: "IPv4", 0x86DD: "IPv6", 0x0806: "ARP", 0x8100: "802.1Q",
                   0x88A8: "802.1ad", 0x9100: "QinQ", 0x8847: "MPLS", 0x88CC: "LLDP"}
_TPID_NAMES = {0x8100: "802.1Q", 0x88A8: "802.1ad", 0x9100: "802.1Q-in-Q (0x9100)"}
SLL_PACKET_TYPES = {0: "Unicast to us", 1: "Broadcast", 2: "Multicast",
                    3: "Unicast to another host", 4: "Sent by us"}
_AF_NAMES = {2: "IPv4", **dict.fromkeys(AF_INET6_VALUES, "IPv6")}


def mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def ethertype_text(value: int) -> str:
    name = ETHERTYPE_NAMES.get(value)
    return f"{name} (0x{value:04x})" if name else f"0x{value:04x}"


def _num(data: bytes, off: int, size: int) -> int | None:
    """The big-endian number at ``off``, or None when the frame ends before its last byte."""
    return int.from_bytes(data[off : off + size], "big") if off + size <= len(data) else None


def _field(data: bytes, key: str, title: str, off: int, size: int,
           fmt: Callable[[int], str] = str) -> Field:
    value = _num(data, off, size)
    if value is None:
        return uncaptured(key, title, off, size)
    return Field(key, title, value, fmt(value), off, size)


def _mac_field(data: bytes, key: str, title: str, off: int, size: int = 6) -> Field:
    if off + size > len(data):
        return uncaptured(key, title, off, size)
    text = mac_text(data[off : off + size])
    return Field(key, title, text, text, off, size)


def pull_ethernet(data: bytes, start: int = 0) -> Header:
    """Ethernet II at ``start``: MACs, every VLAN tag (PCP, DEI, VID) and the EtherType;
    ``data`` ends where the frame's usable bytes end, so a field past it is not captured."""
    ethertype, payload = ethernet_payload(data, start)
    fields = [_mac_field(data, "dst", "Destination", start),
              _mac_field(data, "src", "Source", start + 6)]
    for tag in range(start + ETHERTYPE_AT, payload - 2, VLAN_TAG):
        tci = _num(data, tag + VLAN_TCI, 2)
        if tci is None:
            break  # the tag's TCI was cut off: no tag to show
        tpid = int.from_bytes(data[tag : tag + 2], "big")
        vlan = {"tpid": tpid, "pcp": tci >> 13, "dei": (tci >> 12) & 1, "id": tci & 0x0FFF}
        fields.append(Field("vlan", _TPID_NAMES.get(tpid, f"0x{tpid:04x}") + " tag", vlan,
                            f"PRI {vlan['pcp']}, DEI {vlan['dei']}, ID {vlan['id']}", tag,
                            VLAN_TAG))
    fields.append(_field(data, "ethertype", "Type", payload - 2, 2, ethertype_text))
    src, dst = fields[1].value, fields[0].value
    summary = f"Src: {src or NOT_CAPTURED}, Dst: {dst or NOT_CAPTURED}"
    return Header("Ethernet II", start, payload - start, tuple(fields), summary, ("vlan",))


NOT_CAPTURED = "not captured"


def _sll(data: bytes) -> Header:
    """Linux cooked v1 (16 bytes): packet type, ARPHRD type, address length, address (8
    bytes, the first ``length`` of them used) and protocol."""
    halen = _num(data, 4, 2)
    fields = (_field(data, "packet_type", "Packet type", 0, 2, _pkttype_text),
              _field(data, "hatype", "Link-layer address type", 2, 2),
              _field(data, "halen", "Link-layer address length", 4, 2),
              _mac_field(data, "address", "Source", 6, min(halen or 0, 8) or 8),
              _field(data, "protocol", "Protocol", SLL_PROTOCOL_AT, 2, ethertype_text))
    return Header("Linux cooked capture v1", 0, SLL_HEADER, fields,
                  f"{_pkttype_text(_num(data, 0, 2))}, Src: {fields[3].text or NOT_CAPTURED}")


def _sll2(data: bytes) -> Header:
    """Linux cooked v2 (20 bytes): protocol, reserved, interface index, ARPHRD type, packet
    type, address length, address."""
    halen = _num(data, 11, 1)
    fields = (_field(data, "protocol", "Protocol", SLL2_PROTOCOL_AT, 2, ethertype_text),
              _field(data, "reserved", "Reserved", 2, 2),
              _field(data, "ifindex", "Interface index", 4, 4),
              _field(data, "hatype", "Link-layer address type", 8, 2),
              _field(data, "packet_type", "Packet type", 10, 1, _pkttype_text),
              _field(data, "halen", "Link-layer address length", 11, 1),
              _mac_field(data, "address", "Source", 12, min(halen or 0, 8) or 8))
    return Header("Linux cooked capture v2", 0, SLL2_HEADER, fields,
                  f"{_pkttype_text(_num(data, 10, 1))}, interface index {fields[2].value}")


def _pkttype_text(value: int | None) -> str:
    if value is None:
        return NOT_CAPTURED
    return f"{SLL_PACKET_TYPES.get(value, 'Unknown')} ({value})"


def _family(data: bytes, order: str) -> Header:
    """BSD NULL (host byte order: the value that is a known family wins) or LOOP (network
    order): a 4-byte address family."""
    name = "Null/Loopback" if order == "host" else "OpenBSD loopback"
    if len(data) < FAMILY_HEADER:
        return Header(name, 0, FAMILY_HEADER,
                      (uncaptured("family", "Family", 0, FAMILY_HEADER),))
    big, little = int.from_bytes(data[_FAMILY], "big"), int.from_bytes(data[_FAMILY], "little")
    value = big if order == "big" or big in _AF_NAMES or little not in _AF_NAMES else little
    text = f"{_AF_NAMES.get(value, 'Unknown')} ({value})"
    return Header(name, 0, FAMILY_HEADER,
                  (Field("family", "Family", value, text, 0, FAMILY_HEADER),), text)


def _raw_header(data: bytes) -> Header:
    return Header("Raw packet data", 0, 0, (), "no link-layer header")


def pull_link(linktype: int, data: bytes) -> Header | None:
    """The link-layer header of a frame, field by field; None for an unsupported type."""
    link = _LINKS.get(linktype)
    return link.pull(data) if link is not None else None


# ---------------------------------------------------------------------------------------------
# The supported link types: one row each, everything this module knows about the type.


@dataclass(frozen=True, slots=True)
class _Link:
    name: str
    ipv6_offset: OffsetFunc
    pull: Callable[[bytes], Header]


_LINKS: dict[int, _Link] = {
    LINKTYPE_NULL: _Link("NULL (BSD loopback)", _null, lambda d: _family(d, "host")),
    LINKTYPE_ETHERNET: _Link("Ethernet", _ethernet, pull_ethernet),
    LINKTYPE_RAW: _Link("RAW (raw IP)", _raw, _raw_header),
    LINKTYPE_LOOP: _Link("LOOP (OpenBSD loopback)", _loop, lambda d: _family(d, "big")),
    LINKTYPE_LINUX_SLL: _Link("LINUX_SLL (Linux cooked v1)", _linux_sll, _sll),
    LINKTYPE_IPV4: _Link("IPV4 (raw IPv4)", _ipv4_only, _raw_header),
    LINKTYPE_IPV6: _Link("IPV6 (raw IPv6)", _ipv6_only, _raw_header),
    LINKTYPE_LINUX_SLL2: _Link("LINUX_SLL2 (Linux cooked v2)", _linux_sll2, _sll2),
}

#: Human names of the supported link types (the audit report's notes use them).
LINKTYPE_NAMES: dict[int, str] = {linktype: link.name for linktype, link in _LINKS.items()}
