"""Wireshark-style views of one decoded packet: a detail tree and a JSON-ready dict.

Both come from the same PacketResult; findings are attached to the node of the field they
concern (Finding.field + Finding.srh), so the CLI tree, the JSON and the TUI agree.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from . import csid as csidlib
from .csid import CsidFormats
from .fields import Header
from .findings import Finding, HmacCheck
from .frame import Frame
from .inspector import PacketResult
from .ipv6 import EXT_NAMES, Ipv4, Ipv6, transport_ports
from .linklayer import linktype_name, pull_link
from .rules import Profile
from .srh import TLV_HMAC, TLV_NAMES_DRAFT04, TLV_NAMES_RFC8754, Srh, Tlv
from .transport import pull_transport
from .wire import ip4, ip6

PROTO_NAMES = {0: "Hop-by-Hop", 4: "IPv4", 6: "TCP", 17: "UDP", 41: "IPv6", 43: "Routing",
               44: "Fragment", 51: "AH", 58: "ICMPv6", 59: "No Next Header",
               60: "Destination Options", 1: "ICMP", 132: "SCTP", 143: "Ethernet"}
DSCP_NAMES = {0: "CS0", 8: "CS1", 16: "CS2", 24: "CS3", 32: "CS4", 40: "CS5", 48: "CS6",
              56: "CS7", 10: "AF11", 12: "AF12", 14: "AF13", 18: "AF21", 20: "AF22",
              22: "AF23", 26: "AF31", 28: "AF32", 30: "AF33", 34: "AF41", 36: "AF42",
              38: "AF43", 44: "VOICE-ADMIT", 46: "EF", 1: "LE"}
ECN_NAMES = {0: "Not-ECT", 1: "ECT(1)", 2: "ECT(0)", 3: "CE"}


@dataclass(slots=True)
class Node:
    """A line of the detail tree; ``offset``/``length`` locate its bytes in the frame."""

    label: str
    field: str = ""
    offset: int = -1
    length: int = 0
    children: list[Node] = dataclasses.field(default_factory=list)
    findings: list[Finding] = dataclasses.field(default_factory=list)

    def add(self, label: str, fld: str = "", offset: int = -1, length: int = 0) -> Node:
        node = Node(label, fld, offset, length)
        self.children.append(node)
        return node

    def walk(self, depth: int = 0):  # noqa: ANN201 - generator of (depth, node)
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)


def proto_name(value: int) -> str:
    return PROTO_NAMES.get(value, str(value))


def tlv_name(tlv: Tlv, profile: Profile) -> str:
    names = TLV_NAMES_RFC8754 if profile is Profile.RFC8754 else TLV_NAMES_DRAFT04
    return names.get(tlv.type, "Unknown")


def packet_tree(result: PacketResult, profile: Profile, interface_name: str | None = None,
                csid: CsidFormats | None = None) -> Node:
    """The detail tree of a packet: frame, link layer, every IP header with every SRH field
    and TLV, an L2-encapsulated Ethernet frame, the transport header; findings under their
    field. ``interface_name``: the pcapng interface's name, when the capture gives one."""
    frame = result.frame
    root = Node(f"Frame {frame.number}: {len(frame.data)} bytes captured"
                f" ({frame.orig_len} on the wire), {linktype_name(frame.linktype)}", "", 0,
                len(frame.data))
    _frame_nodes(root, frame, interface_name)
    link = pull_link(frame.linktype, frame.data)
    if link is not None:
        _header_node(root, link, "link")
    hmacs = {h.tlv_offset: h for h in result.hmacs}
    l2 = result.l2
    for depth, ip in enumerate(result.layers):
        if l2 is not None and ip.offset > l2.offset:
            _header_node(root, l2, "l2", "Inner ")
            l2 = None
        _ipv6_node(frame.data, root, ip, hmacs, profile, inner=depth > 0)
    if l2 is not None:
        _header_node(root, l2, "l2", "Inner ")
    if isinstance(result.inner, Ipv4):
        _ipv4_node(frame.data, root, result.inner)
    if csid:
        _csid_node(root, result, csid)
    _attach(root, result.findings)
    return root


def csid_view(result: PacketResult, csid: CsidFormats) -> dict[str, object] | None:
    """The C-SID view of the steering header (csid.view over its DA and first SRH)."""
    srh = result.srh
    segments = srh.segments if srh is not None else ()
    return csidlib.view(result.ip.dst, segments,
                        srh.value("segments_left") if srh is not None else None, csid)


def _csid_node(root: Node, result: PacketResult, csid: CsidFormats) -> None:
    """RFC 9800 C-SIDs of the DA and SRH entries; the active one in brackets."""
    v = csid_view(result, csid)
    if v is None:
        root.add(f"C-SIDs: no address in a C-SID format ({', '.join(map(str, csid.formats))})")
        return
    node = root.add("C-SIDs (RFC 9800 NEXT-C-SID)")
    da = v.get("da")
    if isinstance(da, dict):
        node.add(f"DA {da['address']} ({da['format']}): {_csid_line(da)}", "dst",
                 result.ip.offset + 24, 16)
        nxt = v["next"]
        assert isinstance(nxt, dict)
        text = {"shift": f"shift, DA becomes {nxt['da']}",
                "srh": f"last C-SID: Segments Left {nxt.get('segments_left')}, DA becomes "
                       f"{nxt['da']}",
                "end": "last C-SID of the last container: end of the path"}[str(nxt["action"])]
        node.add(f"Next End with NEXT-C-SID: {text}")
    srh = result.srh
    for entry in v["segments"]:  # type: ignore[attr-defined]
        i = entry["index"]
        node.add(f"Segment List[{i}] {entry['address']} ({entry['format']}): "
                 f"{_csid_line(entry)}", f"segments[{i}]",
                 srh.segment_offset(i) if srh is not None else -1, 16)


def _csid_line(entry: dict[str, object]) -> str:
    values = entry["csids"]
    assert isinstance(values, list)
    active = entry["active"]
    parts = [f"[{v}]" if i == active else str(v) for i, v in enumerate(values)]
    state = "" if active is not None else " (not active)"
    return " ".join(parts) + state


def arrival_time(ts: float) -> tuple[str, str]:
    """(UTC date and time, epoch seconds), both to the microsecond as the capture gives it;
    a timestamp no calendar can show (a damaged pcapng) keeps only its epoch text."""
    seconds = math.floor(ts)
    # ts - seconds is exact (Sterbenz); ts * 1e6 is not: at today's epochs it rounds to a
    # quarter microsecond and can tip a nanosecond pcapng timestamp to the next microsecond.
    micros = seconds * 1_000_000 + round((ts - seconds) * 1_000_000)
    epoch = f"{'-' if micros < 0 else ''}{abs(micros) // 1_000_000}.{abs(micros) % 1_000_000:06d}"
    try:
        when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    except OverflowError:
        return "out of range", epoch
    return when.strftime("%Y-%m-%d %H:%M:%S.%f UTC"), epoch


def _frame_nodes(root: Node, frame: Frame, interface_name: str | None) -> None:
    """What tshark shows under "Frame": when it arrived, where, which encapsulation."""
    when, epoch = arrival_time(frame.ts)
    root.add(f"Arrival Time: {when}", "frame.time")
    root.add(f"Epoch Time: {epoch} seconds", "frame.time_epoch")
    if interface_name is not None:
        root.add(f"Interface: {frame.interface} ({interface_name})", "frame.interface")
    root.add(f"Encapsulation: {linktype_name(frame.linktype)} ({frame.linktype})",
             "frame.linktype")


def _header_node(parent: Node, header: Header, prefix: str, title: str = "") -> Node:
    """A link-layer or transport header: one node, its captured fields below it and, when
    the capture cut some off, one line naming them (as the SRH does)."""
    summary = f", {header.summary}" if header.summary else ""
    length = max(min(header.length, _captured_end(header) - header.offset), 0)
    node = parent.add(f"{title}{header.name}{summary}", prefix, header.offset, length)
    for f in header.fields:
        if f.captured:
            node.add(f"{f.title}: {f.text}", f"{prefix}.{f.key}", f.offset, f.length)
    if header.not_captured:
        titles = ", ".join(f.title for f in header.fields if not f.captured)
        node.add(f"{titles}: {NOT_CAPTURED}", f"{prefix}.not_captured")
    return node


def _captured_end(header: Header) -> int:
    """End of the header's captured fields (a node must not claim bytes that are not there)."""
    ends = [f.offset + f.length for f in header.fields if f.captured]
    return max(ends, default=header.offset + header.length if not header.fields
               else header.offset)


def _tc_node(parent: Node, offset: int, tclass: int, title: str, length: int) -> None:
    dscp, ecn = tclass >> 2, tclass & 3
    node = parent.add(f"{title}: 0x{tclass:02x} (DSCP: {dscp_name(dscp)}, ECN: "
                      f"{ECN_NAMES[ecn]})", "traffic_class", offset, length)
    node.add(f"Differentiated Services Codepoint: {dscp_name(dscp)} ({dscp})", "dscp",
             offset, length)
    node.add(f"Explicit Congestion Notification: {ECN_NAMES[ecn]} ({ecn})", "ecn",
             offset + length - 1, 1)


def dscp_name(dscp: int) -> str:
    return DSCP_NAMES.get(dscp, f"0x{dscp:02x}")


def _ipv6_node(buf: bytes, root: Node, ip: Ipv6, hmacs: dict[int, HmacCheck], profile: Profile,
               inner: bool) -> None:
    title = "Inner IPv6" if inner else "Internet Protocol Version 6"
    node = root.add(f"{title}: {ip6(ip.src)} -> {ip6(ip.dst)}", "inner" if inner else "ipv6",
                    ip.offset, 40)
    node.add("Version: 6", "version", ip.offset, 1)
    _tc_node(node, ip.offset, ip.traffic_class, "Traffic Class", 2)
    node.add(f"Flow Label: 0x{ip.flow_label:05x}", "flow_label", ip.offset + 1, 3)
    node.add(f"Payload Length: {ip.payload_length}", "payload_length", ip.offset + 4, 2)
    node.add(f"Next Header: {proto_name(ip.next_header)} ({ip.next_header})", "next_header",
             ip.offset + 6, 1)
    node.add(f"Hop Limit: {ip.hop_limit}", "hop_limit", ip.offset + 7, 1)
    node.add(f"Source: {ip6(ip.src)}", "src", ip.offset + 8, 16)
    node.add(f"Destination: {ip6(ip.dst)}", "dst", ip.offset + 24, 16)
    srhs = {s.offset: s for s in ip.srhs}
    for ext in ip.chain:
        if ext.offset in srhs:
            _srh_node(node, srhs.pop(ext.offset), ip, hmacs, profile)
        else:
            rt = f", Routing Type {ext.routing_type}" if ext.routing_type is not None else ""
            node.add(f"{EXT_NAMES.get(ext.kind, ext.kind)} header ({ext.length} bytes{rt})",
                     "", ext.offset, ext.length)
    for srh in srhs.values():  # SRHs too short to enter the chain
        _srh_node(node, srh, ip, hmacs, profile)
    _upper_node(buf, node, ip)


def _upper_node(buf: bytes, node: Node, ip: Ipv6 | Ipv4) -> None:
    """The protocol after the IP header (and chain), with its transport header when known."""
    proto = ip.upper if isinstance(ip, Ipv6) else ip.protocol
    if proto < 0:
        return
    _, sport, dport = transport_ports(buf, ip)
    ports = f", {sport} -> {dport}" if (sport or dport) and proto in (6, 17, 132) else ""
    upper = node.add(f"Upper layer: {proto_name(proto)} ({proto}){ports}", "upper",
                     ip.upper_offset, max(ip.limit - ip.upper_offset, 0))
    header = pull_transport(buf, proto, ip.upper_offset, ip.limit)
    if header is not None:
        _header_node(upper, header, "transport")


def _ipv4_node(buf: bytes, root: Node, ip: Ipv4) -> None:
    """The IPv4 packet of an encapsulation (behind Next Header 4 or an inner EtherType)."""
    o = ip.offset
    node = root.add(f"Inner IPv4: {ip4(ip.src)} -> {ip4(ip.dst)}, protocol "
                    f"{proto_name(ip.protocol)}, TTL {ip.ttl}", "inner", o, 20)
    node.add("Version: 4", "version", o, 1)
    node.add(f"Header Length: {ip.ihl} bytes", "ihl", o, 1)
    _tc_node(node, o + 1, ip.tos, "Differentiated Services Field", 1)
    node.add(f"Total Length: {ip.total_length}", "total_length", o + 2, 2)
    node.add(f"Identification: 0x{ip.ident:04x}", "ident", o + 4, 2)
    node.add(f"Flags and Fragment Offset: 0x{ip.frag:04x}", "frag", o + 6, 2)
    node.add(f"Time to Live: {ip.ttl}", "ttl", o + 8, 1)
    node.add(f"Protocol: {proto_name(ip.protocol)} ({ip.protocol})", "protocol", o + 9, 1)
    node.add(f"Header Checksum: 0x{ip.checksum:04x}", "checksum", o + 10, 2)
    node.add(f"Source: {ip4(ip.src)}", "src", o + 12, 4)
    node.add(f"Destination: {ip4(ip.dst)}", "dst", o + 16, 4)
    _upper_node(buf, node, ip)


NOT_CAPTURED = "not captured"


def _srh_node(parent: Node, srh: Srh, ip: Ipv6, hmacs: dict[int, HmacCheck],
              profile: Profile) -> None:
    o = srh.offset
    sl = srh.value("segments_left")
    kept = f", {srh.limit - o} captured" if srh.end > srh.limit else ""
    node = parent.add(f"Segment Routing Header ({srh.length} bytes{kept}, SL "
                      f"{NOT_CAPTURED if sl is None else sl}, {len(srh.segments)} segments)",
                      "srh", o, srh.length)
    node.add(f"Next Header: {proto_name(srh.next_header)} ({srh.next_header})", "next_header",
             o, 1)
    node.add(f"Hdr Ext Len: {srh.hdr_ext_len} ({srh.length} bytes)", "hdr_ext_len", o + 1, 1)
    node.add(f"Routing Type: {srh.routing_type} (Segment Routing)", "routing_type", o + 2, 1)
    if srh.not_captured:  # cut inside the fixed part: name what is missing, show no value
        node.add(f"{', '.join(_field_title(n, profile) for n in srh.not_captured)}: "
                 f"{NOT_CAPTURED} (the packet ends at byte {srh.limit - o} of the SRH)",
                 "not_captured", srh.limit, 0)
        return
    node.add(f"Segments Left: {srh.segments_left}", "segments_left", o + 3, 1)
    node.add(f"{_field_title('first_segment', profile)}: {srh.first_segment}",
             "first_segment", o + 4, 1)
    names = ", ".join(srh.flag_names()) if profile is Profile.DRAFT04 else ""
    node.add(f"Flags: 0x{srh.flags:02x}" + (f" [{names}]" if names else ""), "flags", o + 5, 1)
    node.add(f"{_field_title('reserved', profile)}: 0x{srh.reserved:04x}", "reserved", o + 6, 2)
    seg_node = node.add(f"Segment List ({len(srh.segments)} of {srh.first_segment + 1}"
                        f"{' captured' if len(srh.segments) <= srh.first_segment else ''})",
                        "segments", o + 8, 16 * len(srh.segments))
    for i, seg in enumerate(srh.segments):
        marks = []
        if i == srh.segments_left:
            marks.append("active")
        if i == 0:
            marks.append("final destination")
        if i == srh.first_segment:
            marks.append("first segment")
        suffix = f"  <- {', '.join(marks)}" if marks else ""
        seg_node.add(f"[{i}] {ip6(seg)}{suffix}", f"segments[{i}]", srh.segment_offset(i), 16)
    if srh.tlvs:
        tlv_node = node.add(f"TLVs ({len(srh.tlvs)})", "tlvs", srh.list_end,
                            max(srh.end - srh.list_end, 0))
        for i, tlv in enumerate(srh.tlvs):
            _tlv_node(tlv_node, i, tlv, hmacs.get(tlv.offset), profile, srh.end > srh.limit)


_FIELD_TITLES = {"next_header": "Next Header", "hdr_ext_len": "Hdr Ext Len",
                 "routing_type": "Routing Type", "segments_left": "Segments Left",
                 "first_segment": "First Segment", "flags": "Flags", "reserved": "Reserved"}


def _field_title(name: str, profile: Profile) -> str:
    if profile is Profile.RFC8754:
        return {"first_segment": "Last Entry", "reserved": "Tag"}.get(name, _FIELD_TITLES[name])
    return _FIELD_TITLES[name]


def _tlv_node(parent: Node, index: int, tlv: Tlv, check: HmacCheck | None,
              profile: Profile, cut: bool) -> None:
    """One TLV. ``cut``: the SRH was cut by the capture or the Payload Length, so an
    incomplete last TLV is missing bytes rather than overrunning the SRH; only the
    bytes that are there are shown, labelled as such."""
    size = tlv.size if tlv.complete else 1 + (1 if tlv.length is not None else 0) + len(tlv.value)
    if not tlv.complete and cut:
        length = ("Length not captured" if tlv.length is None
                  else f"Length {tlv.length}, {len(tlv.value)} value bytes captured")
        parent.add(f"[{index}] {tlv_name(tlv, profile)} (type {tlv.type}, {length}) "
                   f"[{NOT_CAPTURED} past here]", f"tlvs[{index}]", tlv.offset, size)
        return
    length = "no Length" if tlv.length is None else f"Length {tlv.length}"
    node = parent.add(f"[{index}] {tlv_name(tlv, profile)} (type {tlv.type}, {length})"
                      + ("" if tlv.complete else " [runs past the SRH]"), f"tlvs[{index}]",
                      tlv.offset, size)
    d = tlv_dict(tlv, profile, check)
    for key in ("address", "flags", "d", "key_id", "hmac", "value"):
        if key in d:
            node.add(f"{key}: {d[key]}", f"tlvs[{index}].{key}")
    if check is not None:
        node.add(f"HMAC status: {check.status}", f"tlvs[{index}].status")


def _attach(root: Node, findings: list[Finding]) -> None:
    """Hang each finding under the node of its field (inside its SRH), else under root."""
    for f in findings:
        target = _find(root, f)
        target.findings.append(f)


def _find(root: Node, f: Finding) -> Node:
    """The node of the finding's field inside its SRH; else the node of that field at the
    finding's offset (e.g. the IPv6 Destination of srh.da.mismatch); else the SRH; else root."""
    srh_node = exact = None
    for _, node in root.walk():
        if node.field == "srh" and node.offset == f.srh:
            for _, sub in node.walk():
                if sub.field == f.field and f.field:
                    return sub
            srh_node = node
        elif exact is None and f.field and node.field == f.field and node.offset == f.offset:
            exact = node
    return exact or srh_node or root


def render_tree(root: Node) -> str:
    lines = []
    for depth, node in root.walk():
        lines.append("    " * depth + node.label)
        for f in node.findings:
            lines.append("    " * (depth + 1) + f"!! {f.severity.label.upper()} {f.rule}: "
                         f"{f.message} [{f.ref}; offset {f.offset}]")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# JSON


def tlv_dict(tlv: Tlv, profile: Profile, check: HmacCheck | None = None,
             cut: bool = False) -> dict[str, object]:
    """A TLV as JSON. ``cut`` (the SRH was cut off): an incomplete TLV gives only its
    captured bytes (``captured_value``), never fields decoded from a part of them."""
    d: dict[str, object] = {"type": tlv.type, "length": tlv.length, "offset": tlv.offset,
                            "name": tlv_name(tlv, profile), "complete": tlv.complete}
    if cut and not tlv.complete:
        d["captured_value"] = tlv.value.hex()
    elif tlv.type == TLV_HMAC and (fields := tlv.hmac_fields()) is not None:
        d_bit, reserved, key_id, mac = fields
        d.update({"d": d_bit, "reserved": reserved, "key_id": key_id, "hmac": mac.hex()})
        if check is not None:
            d["status"] = check.status
    elif tlv.type in (1, 2, 3) and profile is Profile.DRAFT04 and len(tlv.value) >= 18:
        d.update({"flags": tlv.value[1], "address": ip6(tlv.value[2:18])})
    elif tlv.value:
        d["value"] = tlv.value.hex()
    return d


def srh_dict(srh: Srh, profile: Profile, hmacs: dict[int, HmacCheck]) -> dict[str, object]:
    """An SRH as JSON. A fixed field the packet does not hold is null and listed in
    ``not_captured``; ``captured_length`` says how many of its bytes are there."""
    checks = [hmacs[t.offset] for t in srh.tlvs if t.offset in hmacs]
    flags = srh.value("flags")
    cut = srh.end > srh.limit
    return {
        "offset": srh.offset,
        "length": srh.length,
        "captured_length": min(srh.limit, srh.end) - srh.offset,
        "not_captured": srh.not_captured,
        "next_header": srh.value("next_header"),
        "hdr_ext_len": srh.value("hdr_ext_len"),
        "routing_type": srh.value("routing_type"),
        "segments_left": srh.value("segments_left"),
        "first_segment": srh.value("first_segment"),
        "flags": flags,
        "flag_names": srh.flag_names() if profile is Profile.DRAFT04 and flags is not None
        else [],
        "reserved": srh.value("reserved"),
        "segments": [ip6(s) for s in srh.segments],
        "tlvs": [tlv_dict(t, profile, hmacs.get(t.offset), cut) for t in srh.tlvs],
        "hmac": ({"key_id": checks[0].key_id, "status": checks[0].status} if checks else None),
    }


def transport_dict(buf: bytes, ip: Ipv6 | Ipv4) -> dict[str, object] | None:
    """The transport header behind ``ip`` as JSON (null fields: not captured)."""
    proto = ip.upper if isinstance(ip, Ipv6) else ip.protocol
    header = pull_transport(buf, proto, ip.upper_offset, ip.limit)
    return header.to_dict() if header is not None else None


def ip_fields(ip: Ipv6 | Ipv4) -> dict[str, object]:
    """The IP header fields beyond addresses, as in the tree."""
    if isinstance(ip, Ipv6):
        return {"version": 6, "traffic_class": ip.traffic_class, "dscp": ip.traffic_class >> 2,
                "ecn": ip.traffic_class & 3, "flow_label": ip.flow_label,
                "payload_length": ip.payload_length, "next_header": ip.next_header,
                "hop_limit": ip.hop_limit}
    return {"version": 4, "tos": ip.tos, "dscp": ip.tos >> 2, "ecn": ip.tos & 3,
            "total_length": ip.total_length, "ttl": ip.ttl, "protocol": ip.protocol}


def inner_dict(buf: bytes, inner: Ipv6 | Ipv4 | None) -> dict[str, object] | None:
    if inner is None:
        return None
    proto, sport, dport = transport_ports(buf, inner)
    fmt = ip6 if isinstance(inner, Ipv6) else ip4
    return {**ip_fields(inner), "src": fmt(inner.src), "dst": fmt(inner.dst),
            "protocol": proto, "sport": sport, "dport": dport,
            "transport": transport_dict(buf, inner)}


def frame_dict(frame: Frame, interface_name: str | None) -> dict[str, object]:
    """Frame metadata and the link layer, as the tree shows them."""
    when, epoch = arrival_time(frame.ts)
    link = pull_link(frame.linktype, frame.data)
    return {"time": float(epoch), "time_utc": when, "length": frame.orig_len,
            "captured_length": len(frame.data), "interface": frame.interface,
            "interface_name": interface_name,
            "link": ({"linktype": frame.linktype, **link.to_dict()} if link is not None
                     else {"linktype": frame.linktype, "name": linktype_name(frame.linktype)})}


def packet_dict(result: PacketResult, file: str, profile: Profile,
                interface_name: str | None = None, csid: CsidFormats | None = None
                ) -> dict[str, object]:
    """One SRv6 packet as the ``decode --format jsonl`` object (a public contract: fields
    are only ever added: the frame, link, IPv6 and transport fields, ``l2`` for Next
    Header 143, ``csid``)."""
    ip = result.ip
    data = result.frame.data
    hmacs = {h.tlv_offset: h for h in result.hmacs}
    srhs = [s for layer in result.layers for s in layer.srhs]
    out: dict[str, object] = {
        "file": file,
        "frame": result.frame.number,
        **frame_dict(result.frame, interface_name),
        "src": ip6(ip.src),
        "dst": ip6(ip.dst),
        **ip_fields(ip),
        "srh": srh_dict(srhs[0], profile, hmacs) if srhs else None,
        "extra_srhs": [srh_dict(s, profile, hmacs) for s in srhs[1:]],
        "transport": transport_dict(data, ip),
        "l2": result.l2.to_dict() if result.l2 is not None else None,
        "inner": inner_dict(data, result.inner),
        "findings": [f.to_dict() for f in result.findings],
    }
    if csid:  # only with formats given: without them the object is exactly as before
        out["csid"] = csid_view(result, csid)
    return out
