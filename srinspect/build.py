"""Pure byte builders for whole test packets around an SRH (no scapy, no I/O).

Used by the crafted sample captures, the tests and the conformance suite wherever exact
bytes matter; fields are written as given (``payload_length`` may lie on purpose).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Sequence

from .keys import Key, compute_draft04, compute_rfc8754, hmac_text_draft04, hmac_text_rfc8754
from .rules import Profile
from .srh import FLAG_H, SrhSpec, hmac_tlv, padding_tlv, push_srh, resolve
from .wire import parse_ip6

ETH_IPV6 = 0x86DD
ETH_IPV4 = 0x0800
NH_ETHERNET = 143  # SRv6 L2 encapsulation: an Ethernet frame follows (RFC 8986)


def addr(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else parse_ip6(value)


def ipv6_header(src: str | bytes, dst: str | bytes, next_header: int, payload_length: int,
                hop_limit: int = 64, traffic_class: int = 0, flow_label: int = 0) -> bytes:
    vtf = (6 << 28) | (traffic_class << 20) | flow_label
    return struct.pack("!IHBB", vtf, payload_length, next_header, hop_limit) + addr(src) + \
        addr(dst)


def ipv6_packet(src: str | bytes, dst: str | bytes, next_header: int, payload: bytes,
                hop_limit: int = 64, payload_length: int | None = None) -> bytes:
    plen = len(payload) if payload_length is None else payload_length
    return ipv6_header(src, dst, next_header, plen, hop_limit) + payload


def internet_checksum(data: bytes) -> int:
    """The RFC 1071 one's-complement sum (IPv4 header, UDP, ICMPv6 with their pseudo-headers)."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _pseudo(src: bytes, dst: bytes, length: int, proto: int) -> bytes:
    return src + dst + struct.pack("!IxxxB", length, proto)


def udp(src: str | bytes, dst: str | bytes, sport: int, dport: int, payload: bytes) -> bytes:
    """A UDP datagram with its checksum over the IPv6 pseudo-header (src/dst of the packet)."""
    length = 8 + len(payload)
    head = struct.pack("!HHHH", sport, dport, length, 0)
    csum = internet_checksum(_pseudo(addr(src), addr(dst), length, 17) + head + payload) or 0xFFFF
    return struct.pack("!HHHH", sport, dport, length, csum) + payload


def icmpv6_echo(src: str | bytes, dst: str | bytes, ident: int, seq: int, payload: bytes,
                reply: bool = False) -> bytes:
    msg = struct.pack("!BBHHH", 129 if reply else 128, 0, 0, ident, seq) + payload
    csum = internet_checksum(_pseudo(addr(src), addr(dst), len(msg), 58) + msg)
    return msg[:2] + struct.pack("!H", csum) + msg[4:]


def ethernet(payload: bytes, ethertype: int = ETH_IPV6, src: bytes = b"\x02\x00\x00\x00\x00\x01",
             dst: bytes = b"\x02\x00\x00\x00\x00\x02", tags: Sequence[bytes] = ()) -> bytes:
    """An Ethernet II frame; ``tags`` (``vlan_tag``) go between the MACs and the EtherType,
    outermost first."""
    return dst + src + b"".join(tags) + struct.pack("!H", ethertype) + payload


def vlan_tag(vid: int, pcp: int = 0, dei: int = 0, tpid: int = 0x8100) -> bytes:
    """One 4-byte VLAN tag: 0x8100 802.1Q (C-tag), 0x88a8 802.1ad (S-tag of QinQ)."""
    return struct.pack("!HH", tpid, (pcp << 13) | (dei << 12) | vid)


def ipv4_packet(src: str, dst: str, protocol: int, payload: bytes, ttl: int = 64,
                tos: int = 0, ident: int = 0) -> bytes:
    """An IPv4 packet (20-byte header, DF set) with a correct header checksum."""
    head = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(payload), ident, 0x4000, ttl,
                       protocol, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return head[:10] + struct.pack("!H", internet_checksum(head)) + head[12:] + payload


def udp4(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    """A UDP datagram with its checksum over the IPv4 pseudo-header."""
    length = 8 + len(payload)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!xBH", 17, length)
    head = struct.pack("!HHHH", sport, dport, length, 0)
    csum = internet_checksum(pseudo + head + payload) or 0xFFFF
    return struct.pack("!HHHH", sport, dport, length, csum) + payload


def srv6_packet(src: str | bytes, srh: bytes | SrhSpec, inner: bytes, *,
                dst: str | bytes | None = None, hop_limit: int = 64,
                payload_length: int | None = None) -> bytes:
    """Outer IPv6 + SRH + ``inner``; the DA defaults to Segment List[SL] of ``srh``."""
    if isinstance(srh, SrhSpec):
        spec = resolve(srh)
        assert spec.segments_left is not None
        if dst is None and spec.segments_left < len(spec.segments):
            dst = spec.segments[spec.segments_left]
        srh = push_srh(spec)
    if dst is None:
        raise ValueError("dst is needed when the SRH is given as bytes")
    return ipv6_packet(src, dst, 43, srh + inner, hop_limit, payload_length)


def with_hmac(spec: SrhSpec, source: str | bytes, key: Key, *,
              profile: Profile = Profile.DRAFT04, key_id: int | None = None,
              d_bit: bool = False, corrupt: bool = False, set_h: bool = True) -> SrhSpec:
    """``spec`` with a correct HMAC TLV appended (and, for draft-04, the H flag set).

    The HMAC covers the resolved fields, so give segments/flags first. For RFC 8754 the TLV
    is placed at an 8-byte boundary with a PadN in front when needed. ``corrupt`` flips one
    bit of the MAC, for negative tests; ``set_h=False`` leaves the H flag clear (draft-04).
    """
    kid = key.key_id if key_id is None else key_id
    flags = spec.flags | (FLAG_H if profile is Profile.DRAFT04 and set_h else 0)
    base = resolve(SrhSpec(spec.segments, spec.segments_left, spec.first_segment, None, flags,
                           spec.reserved, spec.next_header, spec.routing_type, spec.tlvs))
    segs = [addr(s) for s in base.segments]
    assert base.first_segment is not None
    tlvs = list(base.tlvs)
    if profile is Profile.DRAFT04:
        text = hmac_text_draft04(addr(source), base.first_segment, flags, kid, segs)
        mac = compute_draft04(key, text)
    else:
        used = sum(len(t) for t in tlvs) % 8
        if used:
            tlvs.append(padding_tlv(8 - used) if 8 - used >= 2 else b"\x00")
        text = hmac_text_rfc8754(addr(source), base.first_segment, flags,
                                 0x8000 if d_bit else 0, kid, segs)
        mac = compute_rfc8754(key, text)
    if corrupt:
        mac = bytes([mac[0] ^ 0x01]) + mac[1:]
    tlvs.append(hmac_tlv(kid, mac, d_bit=d_bit))
    return SrhSpec(segs, base.segments_left, base.first_segment, spec.hdr_ext_len, flags,
                   spec.reserved, spec.next_header, spec.routing_type, tuple(tlvs))


def inner_udp(src: str, dst: str, payload: bytes = b"srinspect", sport: int = 40000,
              dport: int = 5201) -> bytes:
    """An inner IPv6/UDP packet, for encap-mode test packets."""
    return ipv6_packet(src, dst, 17, udp(src, dst, sport, dport, payload))


def segments_spec(segments: Sequence[str], **fields: object) -> SrhSpec:
    return SrhSpec(segments, **fields)  # type: ignore[arg-type]
