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

LINKTYPE_NULL = 0  # BSD loopback: 4-byte address family in the *capturing host's* byte order
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101  # raw IPv4 or IPv6, told apart by the version nibble
LINKTYPE_LOOP = 108  # OpenBSD loopback: like NULL, but the family is in network byte order
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

LINKTYPE_NAMES: dict[int, str] = {
    LINKTYPE_NULL: "NULL (BSD loopback)",
    LINKTYPE_ETHERNET: "Ethernet",
    LINKTYPE_RAW: "RAW (raw IP)",
    LINKTYPE_LOOP: "LOOP (OpenBSD loopback)",
    LINKTYPE_LINUX_SLL: "LINUX_SLL (Linux cooked v1)",
    LINKTYPE_IPV4: "IPV4 (raw IPv4)",
    LINKTYPE_IPV6: "IPV6 (raw IPv6)",
    LINKTYPE_LINUX_SLL2: "LINUX_SLL2 (Linux cooked v2)",
}

ETHERTYPE_IPV6 = b"\x86\xdd"
# 802.1Q, 802.1ad (QinQ) and the pre-standard 0x9100 QinQ tag; each tag is 4 bytes.
_VLAN_TPIDS = frozenset({b"\x81\x00", b"\x88\xa8", b"\x91\x00"})

# AF_INET6 differs per OS: Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30.
_AF_INET6_VALUES = (10, 24, 28, 30)
_NULL_INET6 = frozenset(
    v.to_bytes(4, order) for v in _AF_INET6_VALUES for order in ("little", "big")
)
_LOOP_INET6 = frozenset(v.to_bytes(4, "big") for v in _AF_INET6_VALUES)

OffsetFunc = Callable[[bytes], int]


def _ethernet(data: bytes) -> int:
    """Ethernet II, skipping any number of VLAN/QinQ tags (the loop ends with the frame)."""
    ethertype = data[12:14]
    off = 14
    while ethertype in _VLAN_TPIDS:
        ethertype = data[off + 2 : off + 4]
        off += 4
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
    return 16 if data[14:16] == ETHERTYPE_IPV6 else -1


def _linux_sll2(data: bytes) -> int:
    """Linux cooked v2: 20-byte header, protocol (EtherType) at offset 0; a frame shorter
    than the header holds no IPv6 (the offset must stay inside the frame)."""
    return 20 if data[0:2] == ETHERTYPE_IPV6 and len(data) >= 20 else -1


def _null(data: bytes) -> int:
    """BSD NULL: the family is in the capturing host's byte order, unknown here: try both."""
    return 4 if data[0:4] in _NULL_INET6 else -1


def _loop(data: bytes) -> int:
    """OpenBSD LOOP: the family is in network byte order."""
    return 4 if data[0:4] in _LOOP_INET6 else -1


_OFFSET_FUNCS: dict[int, OffsetFunc] = {
    LINKTYPE_NULL: _null,
    LINKTYPE_ETHERNET: _ethernet,
    LINKTYPE_RAW: _raw,
    LINKTYPE_LOOP: _loop,
    LINKTYPE_LINUX_SLL: _linux_sll,
    LINKTYPE_IPV4: _ipv4_only,
    LINKTYPE_IPV6: _ipv6_only,
    LINKTYPE_LINUX_SLL2: _linux_sll2,
}


def ipv6_offset_func(linktype: int) -> OffsetFunc | None:
    """The function giving the IPv6 header offset in a frame of ``linktype`` (-1: not IPv6).

    ``None`` means the link type is unsupported; the caller says so once per file rather
    than once per packet.
    """
    return _OFFSET_FUNCS.get(linktype)


def linktype_name(linktype: int) -> str:
    """Human name for messages, e.g. ``"Ethernet"`` or ``"linktype 147"``."""
    return LINKTYPE_NAMES.get(linktype, f"linktype {linktype}")
