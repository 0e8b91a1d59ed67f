"""Wireshark-style views of one decoded packet: a detail tree and a JSON-ready dict.

Both come from the same PacketResult; findings are attached to the node of the field they
concern (Finding.field + Finding.srh), so the CLI tree, the JSON and the TUI agree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .findings import Finding, HmacCheck
from .inspector import PacketResult
from .ipv6 import EXT_NAMES, Ipv4, Ipv6, transport_ports
from .rules import Profile
from .srh import TLV_HMAC, TLV_NAMES_DRAFT04, TLV_NAMES_RFC8754, Srh, Tlv
from .wire import ip4, ip6

PROTO_NAMES = {0: "Hop-by-Hop", 4: "IPv4", 6: "TCP", 17: "UDP", 41: "IPv6", 43: "Routing",
               44: "Fragment", 51: "AH", 58: "ICMPv6", 59: "No Next Header",
               60: "Destination Options", 1: "ICMP", 132: "SCTP"}


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


def packet_tree(result: PacketResult, profile: Profile) -> Node:
    """The detail tree of a packet, every SRH field and TLV, findings under their field."""
    frame = result.frame
    root = Node(f"Frame {frame.number}: {len(frame.data)} bytes captured"
                f" ({frame.orig_len} on the wire), link type {frame.linktype}", "", 0,
                len(frame.data))
    hmacs = {h.tlv_offset: h for h in result.hmacs}
    for depth, ip in enumerate(result.layers):
        _ipv6_node(frame.data, root, ip, hmacs, profile, inner=depth > 0)
    if isinstance(result.inner, Ipv4):
        ip = result.inner
        root.add(f"Inner IPv4: {ip4(ip.src)} -> {ip4(ip.dst)}, protocol "
                 f"{proto_name(ip.protocol)}, TTL {ip.ttl}", "inner", ip.offset, 20)
    _attach(root, result.findings)
    return root


def _ipv6_node(buf: bytes, root: Node, ip: Ipv6, hmacs: dict[int, HmacCheck], profile: Profile,
               inner: bool) -> None:
    title = "Inner IPv6" if inner else "Internet Protocol Version 6"
    node = root.add(f"{title}: {ip6(ip.src)} -> {ip6(ip.dst)}", "inner" if inner else "ipv6",
                    ip.offset, 40)
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
    if ip.upper >= 0:
        proto, sport, dport = transport_ports(buf, ip)
        ports = f", {sport} -> {dport}" if (sport or dport) and proto in (6, 17, 132) else ""
        node.add(f"Upper layer: {proto_name(proto)} ({proto}){ports}", "upper",
                 ip.upper_offset, max(ip.limit - ip.upper_offset, 0))


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


def inner_dict(buf: bytes, inner: Ipv6 | Ipv4 | None) -> dict[str, object] | None:
    if inner is None:
        return None
    proto, sport, dport = transport_ports(buf, inner)
    fmt = ip6 if isinstance(inner, Ipv6) else ip4
    return {"version": inner.version, "src": fmt(inner.src), "dst": fmt(inner.dst),
            "protocol": proto, "sport": sport, "dport": dport}


def packet_dict(result: PacketResult, file: str, profile: Profile) -> dict[str, object]:
    """One SRv6 packet as the ``decode --format jsonl`` object (issue 2's contract)."""
    ip = result.ip
    hmacs = {h.tlv_offset: h for h in result.hmacs}
    srhs = [s for layer in result.layers for s in layer.srhs]
    return {
        "file": file,
        "frame": result.frame.number,
        "src": ip6(ip.src),
        "dst": ip6(ip.dst),
        "hop_limit": ip.hop_limit,
        "srh": srh_dict(srhs[0], profile, hmacs) if srhs else None,
        "extra_srhs": [srh_dict(s, profile, hmacs) for s in srhs[1:]],
        "inner": inner_dict(result.frame.data, result.inner),
        "findings": [f.to_dict() for f in result.findings],
    }
