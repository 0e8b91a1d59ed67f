"""Differential test for the decode tree's non-SRH fields against
tshark 4.0, frame by frame: arrival time, pcapng interface name, Ethernet MACs and VLAN IDs
(802.1Q and 802.1ad; outer and an L2-encapsulated inner frame), Linux SLL/SLL2 and BSD
loopback fields, every IPv6 header's Version, DSCP, ECN, Flow Label, Payload Length and Hop
Limit in wire order, an inner IPv4 header, and the transport header (UDP, TCP, ICMPv6).

tshark also dissects the packet quoted inside an ICMPv6 error, so it may show more IPv6 and
transport headers than srinspect decodes: srinspect's IPv6 headers must be the first ones
tshark shows, its transport header the first of its protocol. A value srinspect shows must
equal tshark's; a field tshark shows for a header srinspect decodes must not be missing,
except in frames whose SRH is cut or malformed (SKIP_RULES, as test_tshark_diff.py).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from srinspect import build
from srinspect.dissect import packet_dict
from srinspect.inspector import Inspector, PacketResult
from srinspect.rules import Profile
from srinspect.sources import open_capture
from srinspect.srh import SrhSpec

pytestmark = pytest.mark.tshark

# Frames whose SRH is cut or malformed (as in test_tshark_diff.py): tshark stops early there.
SKIP_RULES = frozenset({"srh.hdrlen.short", "srh.truncated", "capture.snaplen",
                        "srh.order.fragment"})

# tshark field -> how to read its text; per occurrence
FIELDS: dict[str, Callable[[str], object]] = {
    "frame.time_epoch": lambda v: round(float(v), 6),
    "frame.interface_name": str,
    "eth.src": str, "eth.dst": str, "vlan.id": int, "ieee8021ad.id": int,
    "sll.pkttype": int, "sll.hatype": int, "sll.ifindex": int, "sll.etype": lambda v: int(v, 16),
    "null.family": int,
    "ipv6.version": int, "ipv6.tclass.dscp": int, "ipv6.tclass.ecn": int,
    "ipv6.flow": lambda v: int(v, 16), "ipv6.plen": int, "ipv6.hlim": int,
    "ip.dsfield.dscp": int, "ip.ttl": int, "ip.len": int,
    "udp.srcport": int, "udp.dstport": int, "udp.length": int,
    "udp.checksum": lambda v: int(v, 16),
    "tcp.srcport": int, "tcp.dstport": int, "tcp.flags": lambda v: int(v, 16) & 0x1FF,
    "tcp.window_size_value": int, "tcp.checksum": lambda v: int(v, 16),
    "icmpv6.type": int, "icmpv6.code": int, "icmpv6.checksum": lambda v: int(v, 16),
}
Values = dict[str, list[object]]


def tshark_fields(path: Path) -> dict[int, Values]:
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "frame.number",
           *(a for f in FIELDS for a in ("-e", f)),
           "-E", "occurrence=a", "-E", "aggregator=|", "-E", "separator=/t"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    out = {}
    for line in proc.stdout.splitlines():
        number, *cols = line.split("\t")
        out[int(number)] = {name: [conv(v) for v in col.split("|")] if col else []
                            for (name, conv), col in zip(FIELDS.items(), cols, strict=True)}
    return out


_TRANSPORT = {"User Datagram Protocol": ("udp", {"sport": "srcport", "dport": "dstport",
                                                 "length": "length", "checksum": "checksum"}),
              "Transmission Control Protocol": ("tcp", {
                  "sport": "srcport", "dport": "dstport", "flags": "flags",
                  "window": "window_size_value", "checksum": "checksum"}),
              "Internet Control Message Protocol v6": ("icmpv6", {
                  "type": "type", "code": "code", "checksum": "checksum"})}


def srinspect_fields(result: PacketResult, interface_name: str | None) -> Values:
    """What srinspect shows, as tshark field name -> occurrences (None: not captured)."""
    doc = packet_dict(result, "f", Profile.DRAFT04, interface_name)
    ours: Values = {"frame.time_epoch": [doc["time"]]}
    if interface_name is not None:
        ours["frame.interface_name"] = [interface_name]
    link, l2 = doc["link"], doc["l2"]
    eths = [h for h in (link, l2) if isinstance(h, dict) and h["name"] == "Ethernet II"]
    ours["eth.src"] = [h["src"] for h in eths]
    ours["eth.dst"] = [h["dst"] for h in eths]
    tags = [tag for h in eths for tag in h["vlans"]]  # tshark: 802.1ad S-tags are their own
    ours["vlan.id"] = [tag["id"] for tag in tags if tag["tpid"] != 0x88A8]
    ours["ieee8021ad.id"] = [tag["id"] for tag in tags if tag["tpid"] == 0x88A8]
    if isinstance(link, dict) and link["name"].startswith("Linux cooked"):
        ours["sll.pkttype"] = [link["packet_type"]]
        ours["sll.hatype"] = [link["hatype"]]
        ours["sll.etype"] = [link["protocol"]]
        if "ifindex" in link:
            ours["sll.ifindex"] = [link["ifindex"]]
    if isinstance(link, dict) and "family" in link:
        ours["null.family"] = [link["family"]]
    layers = result.layers
    ours["ipv6.version"] = [6] * len(layers)
    ours["ipv6.tclass.dscp"] = [ip.traffic_class >> 2 for ip in layers]
    ours["ipv6.tclass.ecn"] = [ip.traffic_class & 3 for ip in layers]
    ours["ipv6.flow"] = [ip.flow_label for ip in layers]
    ours["ipv6.plen"] = [ip.payload_length for ip in layers]
    ours["ipv6.hlim"] = [ip.hop_limit for ip in layers]
    inner = doc["inner"]
    if isinstance(inner, dict) and inner["version"] == 4:
        ours["ip.dsfield.dscp"] = [inner["dscp"]]
        ours["ip.ttl"] = [inner["ttl"]]
        ours["ip.len"] = [inner["total_length"]]
    transport = inner["transport"] if isinstance(inner, dict) else doc["transport"]
    if isinstance(transport, dict) and transport["name"] in _TRANSPORT:
        proto, names = _TRANSPORT[str(transport["name"])]
        for key, name in names.items():
            ours[f"{proto}.{name}"] = [transport[key]]
    return ours


def compare(path: Path) -> tuple[int, int]:
    """Compare every SRv6 frame of ``path``; (frames compared, values compared)."""
    theirs = tshark_fields(path)
    insp = Inspector(Profile.DRAFT04)
    frames = values = 0
    with open_capture(path) as reader:
        for frame in reader:
            result = insp.feed(frame)
            if not isinstance(result, PacketResult):
                continue
            names = reader.interfaces
            name = names[frame.interface].name if frame.interface < len(names) else None
            ours = srinspect_fields(result, name)
            cut = any(f.rule in SKIP_RULES for f in result.findings)
            if cut:  # tshark stops inside the (outer) chain: compare what it gets to
                ours = {k: (v[:1] if k.startswith("ipv6.") else v) for k, v in ours.items()
                        if not k.startswith(("ip.", "udp.", "tcp.", "icmpv6."))}
            tf = theirs[frame.number]
            frames += 1
            for field, mine in ours.items():
                got = tf[field]
                where = f"{path.name} frame {frame.number} {field}: ours {mine}, tshark {got}"
                for i, value in enumerate(mine):
                    if value is None:
                        continue
                    assert i < len(got) and value == got[i], where
                    values += 1
                if not cut and not field.startswith(("ipv6.", "udp.", "tcp.", "icmpv6.")):
                    assert len([v for v in mine if v is not None]) == len(got), where
                if not cut and field.startswith("ipv6."):
                    assert len(mine) <= len(got), where
    return frames, values


def test_frame_link_ipv6_transport_match_tshark(capture_path: Path) -> None:
    frames, values = compare(capture_path)
    assert frames and values


@pytest.mark.parametrize("name", ["ipv6-srh-ipproto-ether.pcap", "ipv6-srh-ext-header.pcap",
                                  "ipv6-srh-insert-cksum.pcap", "ipv6-srh-tlv-hmac.pcap",
                                  "ipv6-srh-tlv-pad1-padn-5.pcap",
                                  "ipv6-srh-tlv-pad1-padn-5-trunc.pcap"])
def test_tcpdump_captures_match_tshark(external_dir: Path, name: str) -> None:
    frames, values = compare(external_dir / "tcpdump" / name)
    assert frames and values


def test_l2_encapsulation_matches_tshark(external_dir: Path) -> None:
    """tcpdump's End.DX2-style frame: two Ethernet headers, two IPv6 headers, ICMPv6."""
    path = external_dir / "tcpdump" / "ipv6-srh-ipproto-ether.pcap"
    theirs = tshark_fields(path)[1]
    with open_capture(path) as reader:
        result = Inspector().feed(next(iter(reader)))
    assert isinstance(result, PacketResult) and result.l2 is not None
    ours = srinspect_fields(result, None)
    assert ours["eth.src"] == theirs["eth.src"] == ["be:f5:06:09:44:74", "ae:64:42:3b:5b:9a"]
    assert ours["ipv6.plen"] == theirs["ipv6.plen"] == [142, 64]
    assert ours["icmpv6.type"] == theirs["icmpv6.type"] == [128]


def _built_frames() -> list[tuple[int, bytes]]:
    """Frames tshark has never seen from srinspect's builders: QinQ in the L2 encapsulation
    with IPv4/UDP, TCP and DSCP/ECN, Flow Label; on Ethernet with a VLAN, SLL, SLL2, NULL."""
    ip4 = build.ipv4_packet("10.0.0.1", "10.0.0.2", 17,
                            build.udp4("10.0.0.1", "10.0.0.2", 40000, 5201, b"srinspect"),
                            tos=0xB9)
    l2 = build.ethernet(ip4, build.ETH_IPV4,
                        tags=(build.vlan_tag(100, tpid=0x88A8), build.vlan_tag(10, pcp=5)))
    segs = ["2001:db8:f::1", "2001:db8:2::1"]
    l2pkt = build.srv6_packet("2001:db8:a::1", SrhSpec(segs, segments_left=1,
                                                       next_header=build.NH_ETHERNET), l2)
    tcp = bytes.fromhex("9c401451000000010000000050180100") + bytes(4)
    inline = build.srv6_packet("2001:db8:a::1", SrhSpec(segs, segments_left=1, next_header=6),
                               tcp)
    tc = bytearray(build.srv6_packet("2001:db8:a::1", SrhSpec(segs, segments_left=1),
                                     build.inner_udp("2001:db8:a::100", "2001:db8:f::100")))
    tc[0:4] = ((6 << 28) | (0xB9 << 20) | 0xABCDE).to_bytes(4, "big")  # EF + CE, a label
    return [(1, build.ethernet(l2pkt, tags=(build.vlan_tag(7, pcp=3),))),
            (1, build.ethernet(inline)), (1, build.ethernet(bytes(tc))),
            (113, bytes.fromhex("0004000100060200000000010000") + b"\x86\xdd" + l2pkt),
            (276, b"\x86\xdd" + bytes(2) + (3).to_bytes(4, "big") + bytes.fromhex("00010006")
             + bytes.fromhex("020000000001") + bytes(2) + l2pkt),
            (0, (24).to_bytes(4, "little") + bytes(tc)), (0, (30).to_bytes(4, "big") + l2pkt)]


@pytest.mark.parametrize("index", range(7))
def test_built_frames_match_tshark(tmp_path: Path, make_pcap, index: int) -> None:
    linktype, data = _built_frames()[index]
    path = tmp_path / "built.pcap"
    path.write_bytes(make_pcap([data], linktype=linktype))
    frames, values = compare(path)
    assert frames == 1 and values >= 10
