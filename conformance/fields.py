"""Packets as named fields, and the field-by-field diff behind every "forwarded" verdict.

``packet_fields`` names every byte of a packet: the fixed IPv6 fields, each SRH field and
segment, the TLV area, other extension headers raw, an encapsulated packet recursively under
``inner.``, and whatever is left as ``payload``/``rest``/``trailer``. IPv4 packets (what
End.DX4/End.DT4 forward) and Ethernet frames behind Next Header 143 (H.Encaps.L2) are named
field by field too. So two packets whose fields
all match are byte-identical, and a difference is reported by the field it is in rather than
as a byte offset. Decoding goes through the core (``srinspect.ipv6``), which never raises on
malformed headers: a transit case forwards malformed SRHs and must still be diffable.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

from srinspect.ipv6 import (
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    NH_ETHERNET,
    NH_IPV4,
    NH_IPV6,
    pull_ipv4,
    pull_ipv6,
)
from srinspect.linklayer import ETHERNET_HEADER, ethernet_payload
from srinspect.srh import ROUTING_HEADER, ROUTING_TYPE_SRH, Srh
from srinspect.wire import ip4, ip6, parse_ip6

MAX_DEPTH = 3




def packet_fields(data: bytes) -> dict[str, str]:
    """Every field of an IPv6 (or IPv4) packet, by name, in wire order."""
    out: dict[str, str] = {}
    if data[:1] and data[0] >> 4 == 4:
        _ipv4(data, 0, len(data), "", out)
    else:
        _ipv6(data, 0, len(data), "", out, 0)
    return out


def _ipv4(buf: bytes, off: int, end: int, prefix: str, out: dict[str, str]) -> None:
    ip = pull_ipv4(buf, off, end)
    if ip is None:
        out[prefix + "bytes"] = buf[off:end].hex()
        return
    p = prefix + "ipv4."
    out[p + "ihl"] = str(ip.ihl)
    out[p + "tos"] = str(ip.tos)
    out[p + "total_length"] = str(ip.total_length)
    out[p + "id"] = str(ip.ident)
    out[p + "flags_fragment"] = f"0x{ip.frag:04x}"
    out[p + "ttl"] = str(ip.ttl)
    out[p + "protocol"] = str(ip.protocol)
    out[p + "checksum"] = f"0x{ip.checksum:04x}"
    out[p + "src"] = ip4(ip.src)
    out[p + "dst"] = ip4(ip.dst)
    if ip.upper_offset < ip.limit:
        out[prefix + "payload"] = buf[ip.upper_offset : ip.limit].hex()
    if ip.limit < end:
        out[prefix + "trailer"] = buf[ip.limit : end].hex()


def _ethernet(buf: bytes, off: int, end: int, prefix: str, out: dict[str, str],
              depth: int) -> None:
    """The Ethernet frame an L2 service carries (Next Header 143), then its IP packet."""
    frame = buf[off:end]
    ethertype, payload = ethernet_payload(frame)
    if len(ethertype) < 2:
        out[prefix + "payload"] = frame.hex()
        return
    p = prefix + "eth."
    out[p + "dst"] = frame[:6].hex(":")
    out[p + "src"] = frame[6:12].hex(":")
    if payload > ETHERNET_HEADER:
        out[p + "tags"] = frame[ETHERNET_HEADER - 2 : payload - 2].hex()
    out[p + "type"] = f"0x{ethertype.hex()}"
    kind = int.from_bytes(ethertype, "big")
    if kind == ETHERTYPE_IPV6:
        _ipv6(buf, off + payload, end, prefix, out, depth + 1)
    elif kind == ETHERTYPE_IPV4:
        _ipv4(buf, off + payload, end, prefix, out)
    else:
        out[prefix + "payload"] = frame[payload:].hex()


def _ipv6(buf: bytes, off: int, end: int, prefix: str, out: dict[str, str], depth: int) -> None:
    ip = pull_ipv6(buf, off, end, pad1=False)
    if ip is None:
        out[prefix + "bytes"] = buf[off:end].hex()
        return
    p = prefix + "ipv6."
    out[p + "traffic_class"] = str(ip.traffic_class)
    out[p + "flow_label"] = hex(ip.flow_label)
    out[p + "payload_length"] = str(ip.payload_length)
    out[p + "next_header"] = str(ip.next_header)
    out[p + "hop_limit"] = str(ip.hop_limit)
    out[p + "src"] = ip6(ip.src)
    out[p + "dst"] = ip6(ip.dst)
    srhs = {s.offset: s for s in ip.srhs}
    limit = ip.limit
    pos = off + 40
    nsrh = 0
    for i, ext in enumerate(ip.chain):
        srh = srhs.get(ext.offset)
        if ext.kind == ROUTING_HEADER and ext.routing_type == ROUTING_TYPE_SRH and srh:
            name = prefix + ("srh." if nsrh == 0 else f"srh{nsrh + 1}.")
            _srh(buf, srh, limit, name, out)
            nsrh += 1
        else:
            out[f"{prefix}ext{i}.{ext.name.lower().replace(' ', '_')}"] = \
                buf[ext.offset : min(ext.offset + ext.length, limit)].hex()
        pos = min(ext.offset + ext.length, limit)
    if ip.upper == NH_IPV6 and depth < MAX_DEPTH:
        _ipv6(buf, ip.upper_offset, limit, prefix + "inner.", out, depth + 1)
    elif ip.upper == NH_IPV4:
        _ipv4(buf, ip.upper_offset, limit, prefix + "inner.", out)
    elif ip.upper == NH_ETHERNET and depth < MAX_DEPTH:
        _ethernet(buf, ip.upper_offset, limit, prefix + "inner.", out, depth)
    elif ip.upper >= 0:
        out[prefix + "upper"] = str(ip.upper)
        out[prefix + "payload"] = buf[ip.upper_offset : limit].hex()
    elif pos < limit:
        out[prefix + "rest"] = buf[pos:limit].hex()
    if limit < end:
        out[prefix + "trailer"] = buf[limit:end].hex()


def _srh(buf: bytes, srh: Srh, limit: int, p: str, out: dict[str, str]) -> None:
    out[p + "next_header"] = str(srh.next_header)
    out[p + "hdr_ext_len"] = str(srh.hdr_ext_len)
    out[p + "routing_type"] = str(srh.routing_type)
    out[p + "segments_left"] = str(srh.segments_left)
    out[p + "first_segment"] = str(srh.first_segment)
    out[p + "flags"] = f"0x{srh.flags:02x}"
    out[p + "reserved"] = f"0x{srh.reserved:04x}"
    for i, seg in enumerate(srh.segments):
        out[f"{p}segments[{i}]"] = ip6(seg)
    start = srh.offset + 8 + 16 * len(srh.segments)
    stop = min(srh.end, limit)
    if start < stop:
        out[p + "tlvs"] = buf[start:stop].hex()


@dataclass(frozen=True, slots=True)
class FieldDiff:
    name: str
    expected: str | None
    observed: str | None

    def __str__(self) -> str:
        return f"{self.name}: expected {_show(self.expected)}, got {_show(self.observed)}"


def _show(value: str | None) -> str:
    if value is None:
        return "(absent)"
    return value if len(value) <= 40 else value[:36] + "..."


def ignored(name: str, dont_care: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pat) for pat in dont_care)


def diff(expected: bytes, observed: bytes, dont_care: Iterable[str] = ()) -> list[FieldDiff]:
    """Fields that differ between two packets, skipping the declared don't-care fields
    (glob patterns such as ``ipv6.flow_label`` or ``inner.ipv6.*``)."""
    dont_care = tuple(dont_care)
    diffs = diff_fields(packet_fields(expected), packet_fields(observed), dont_care)
    if not diffs and not dont_care and expected != observed:  # pragma: no cover - safety net
        diffs.append(FieldDiff("bytes", expected.hex(), observed.hex()))
    return diffs


def diff_fields(exp: dict[str, str], obs: dict[str, str],
                dont_care: Iterable[str] = ()) -> list[FieldDiff]:
    """Named fields that differ (``packet_fields`` maps), skipping the don't-care globs."""
    dont_care = tuple(dont_care)
    names = list(exp) + [n for n in obs if n not in exp]
    return [FieldDiff(n, exp.get(n), obs.get(n)) for n in names
            if exp.get(n) != obs.get(n) and not ignored(n, dont_care)]


_HEX_WIDTH = {"flags": 2, "reserved": 4}
_ADDRESS = ("src", "dst")


def canonical(name: str, value: object) -> str:
    """``value`` written the way ``packet_fields`` writes field ``name`` (so a case can say
    ``{"srh.flags": 0x08, "ipv6.dst": "2001:db8::1"}`` and be compared string to string).

    Raises ValueError for a value that cannot be that field (caught where cases load)."""
    last = name.rsplit(".", 1)[-1]
    is_address = last in _ADDRESS or last.startswith("segments[")
    if is_address and isinstance(value, str | bytes):
        return ip6(parse_ip6(value) if isinstance(value, str) else value)
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{name}: {value!r} is not a field value (int, str or bytes)")
    if isinstance(value, str):
        return value
    if last in _HEX_WIDTH:
        return f"0x{value:0{_HEX_WIDTH[last]}x}"
    if last == "flow_label":
        return hex(value)
    return str(value)
