"""Just enough neighbour discovery (RFC 4861) for the ports adapter.

A foreign DUT must resolve the tester's addresses before it can answer or forward to them,
and the tester needs the DUT's MAC before it can send. The linux adapter avoids all of this
with permanent neighbour entries; a real device gets real NS/NA: ``parse_ns`` recognises a
solicitation, ``advert`` answers it, ``solicit`` asks for the DUT's MAC.
"""

from __future__ import annotations

import struct

from srinspect.wire import parse_ip6

from .link import ethernet

NS, NA = 135, 136
OPT_SLLA, OPT_TLLA = 1, 2
NA_SOLICITED_OVERRIDE = 0x60000000
ALL_NODES = parse_ip6("ff02::1")


def _checksum(src: bytes, dst: bytes, msg: bytes) -> int:
    data = src + dst + struct.pack("!IxxxB", len(msg), 58) + msg
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _icmp(src: bytes, dst: bytes, msg: bytes) -> bytes:
    msg = msg[:2] + struct.pack("!H", _checksum(src, dst, msg)) + msg[4:]
    return struct.pack("!IHBB", 6 << 28, len(msg), 58, 255) + src + dst + msg


def solicited_node(target: bytes) -> bytes:
    return parse_ip6("ff02::1:ff00:0")[:13] + target[13:]


def multicast_mac(ip6: bytes) -> bytes:
    return b"\x33\x33" + ip6[12:]


def solicit(src_mac: bytes, src: bytes, target: bytes) -> bytes:
    """An Ethernet frame with a Neighbor Solicitation for ``target``."""
    dst = solicited_node(target)
    msg = struct.pack("!BBHI", NS, 0, 0, 0) + target + bytes((OPT_SLLA, 1)) + src_mac
    return ethernet(multicast_mac(dst), src_mac, _icmp(src, dst, msg))


def advert(src_mac: bytes, dst_mac: bytes, target: bytes, dst: bytes) -> bytes:
    """An Ethernet frame with a solicited Neighbor Advertisement for ``target``."""
    msg = struct.pack("!BBHI", NA, 0, 0, NA_SOLICITED_OVERRIDE) + target + \
        bytes((OPT_TLLA, 1)) + src_mac
    return ethernet(dst_mac, src_mac, _icmp(target, dst or ALL_NODES, msg))


def parse_ns(frame: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(sender MAC, sender IPv6 source, target) of a Neighbor Solicitation frame."""
    if len(frame) < 14 + 40 + 24 or frame[12:14] != b"\x86\xdd":
        return None
    ip = frame[14:]
    if ip[6] != 58 or ip[40] != NS:
        return None
    return frame[6:12], ip[8:24], ip[48:64]


def parse_na(frame: bytes) -> tuple[bytes, bytes] | None:
    """(target, link-layer address) of a Neighbor Advertisement frame."""
    if len(frame) < 14 + 40 + 24 or frame[12:14] != b"\x86\xdd":
        return None
    ip = frame[14:]
    if ip[6] != 58 or ip[40] != NA:
        return None
    target = ip[48:64]
    pos = 64
    while pos + 8 <= len(ip):
        otype, olen = ip[pos], ip[pos + 1]
        if olen == 0:
            break
        if otype == OPT_TLLA:
            return target, ip[pos + 2 : pos + 8]
        pos += 8 * olen
    return target, frame[6:12]
