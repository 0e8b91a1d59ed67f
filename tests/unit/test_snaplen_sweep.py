"""Nothing invented past a cut: every cut length through real SRv6 frames.

Each frame is cut at every length from 0 to its size, with ``orig_len`` saying how long it
was (what ``editcap -s`` and a capture snaplen do). Every value any view shows for the cut
frame must be either absent (None / "not captured") or the value the whole frame has: the
decode tree (every leaf lies inside the captured bytes), the JSON, the flow table export and
the monitor's flow rows. A last test runs the real ``editcap`` and the CLI on the cuts the
issue reported (57-61 bytes of an Ethernet frame: 3-7 bytes of the SRH).

Item 6 and 2 of the issue added the link layer, the IPv6 fixed fields, the transport header
and an L2-encapsulated Ethernet frame (Next Header 143) to both views: the same rule holds
for every nested JSON object, and tcpdump's L2 frame and a built QinQ/IPv4 one are cut too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from testbed import EXTERNAL, PCAPS, WIRESHARK_SAMPLE  # type: ignore[import-not-found]

from srinspect import build
from srinspect.dissect import Node, packet_dict, packet_tree, render_tree
from srinspect.flows.decoder import FlowDecoder, FlowMonitor
from srinspect.flows.linkload import LinkLoad
from srinspect.flows.table import FlowTable
from srinspect.frame import Frame
from srinspect.inspector import Inspector, PacketResult
from srinspect.rules import PACKET_PROFILES, Profile
from srinspect.sources import open_capture
from srinspect.srh import SrhSpec
from srinspect.tui.engine import MonitorEngine
from srinspect.tui.widgets.panels import render_flow

SRH_FIXED = ("next_header", "hdr_ext_len", "routing_type", "segments_left", "first_segment",
             "flags", "reserved")


def _real_frames() -> list[tuple[str, Frame]]:
    """SRv6 frames nobody here built: the Wireshark sample (RAW) and tcpdump's (Ethernet),
    plus one kernel-made HMAC frame (Ethernet, a TLV to cut through)."""
    picks = [(WIRESHARK_SAMPLE, 2),
             (EXTERNAL / "tcpdump" / "ipv6-srh-ext-header.pcap", 1),
             (EXTERNAL / "tcpdump" / "ipv6-srh-tlv-pad1-padn-5.pcap", 1),
             (PCAPS / "kernel-hmac.pcap", 2),
             (EXTERNAL / "tcpdump" / "ipv6-srh-ipproto-ether.pcap", 1)]  # L2: NH 143
    out = []
    for path, number in picks:
        with open_capture(path) as reader:
            frame = next(f for f in reader if f.number == number)
        out.append((f"{path.name}#{number}", frame))
    out.append(("built-l2-qinq-ipv4", _l2_qinq_ipv4()))
    return out


def _l2_qinq_ipv4() -> Frame:
    """SRv6 L2 encapsulation of a QinQ-tagged Ethernet frame carrying IPv4/UDP, inside a
    VLAN-tagged outer Ethernet frame: every kind of header the tree learned, one cut at a time."""
    ip4 = build.ipv4_packet("10.0.0.1", "10.0.0.2", 17,
                            build.udp4("10.0.0.1", "10.0.0.2", 40000, 5201, b"srinspect"),
                            tos=0xB8)
    l2 = build.ethernet(ip4, build.ETH_IPV4, b"\x02\x00\x00\x00\x00\xaa",
                        b"\x02\x00\x00\x00\x00\xbb",
                        tags=(build.vlan_tag(100, tpid=0x88A8), build.vlan_tag(10, pcp=5)))
    spec = SrhSpec(["2001:db8:f::1", "2001:db8:2::1"], segments_left=1,
                   next_header=build.NH_ETHERNET)
    pkt = build.srv6_packet("2001:db8:a::1", spec, l2)
    data = build.ethernet(pkt, tags=(build.vlan_tag(5),))
    return Frame(1, 1700000000.25, 1, data, len(data))


FRAMES = _real_frames()


def _cuts(frame: Frame) -> Iterator[Frame]:
    for n in range(len(frame.data) + 1):
        yield Frame(frame.number, frame.ts, frame.linktype, frame.data[:n], frame.orig_len)


def _decode(frame: Frame, profile: Profile) -> PacketResult | None:
    result = Inspector(profile).feed(frame)
    assert result is None or isinstance(result, PacketResult)
    return result


def _leaves(root: Node) -> Iterator[Node]:
    for _, node in root.walk():
        if not node.children:
            yield node


_SKIP = frozenset({"offset", "captured_length", "not_captured", "tlvs", "flag_names", "hmac",
                   "findings", "extra_srhs"})


def _assert_not_invented(cut: dict[str, object] | None, full: dict[str, object] | None,
                         where: str) -> None:
    """Every value in ``cut`` is None or equal to the whole frame's, in nested objects too
    (link, l2, transport, inner); lists are prefixes."""
    if cut is None:
        return
    assert full is not None, where
    for key, value in cut.items():
        if value is None or key in _SKIP:
            continue
        if isinstance(value, dict):
            _assert_not_invented(value, full[key], f"{where}: {key}")  # type: ignore[arg-type]
        elif isinstance(value, list) and key in ("segments", "vlans"):
            assert value == full[key][:len(value)], f"{where}: {key}"  # type: ignore[index]
        else:
            assert value == full[key], f"{where}: {key} = {value!r}, really {full[key]!r}"


@pytest.mark.parametrize("profile", list(PACKET_PROFILES))
@pytest.mark.parametrize(("name", "frame"), FRAMES, ids=[n for n, _ in FRAMES])
def test_tree_and_json_show_only_captured_fields(name: str, frame: Frame,
                                                 profile: Profile) -> None:
    full = _decode(frame, profile)
    assert full is not None and full.has_srh
    whole = packet_dict(full, "f", profile)
    srh_at = full.srh.offset  # type: ignore[union-attr]
    cut_inside_fixed = 0
    for cut in _cuts(frame):
        n = len(cut.data)
        where = f"{name} cut at {n}"
        result = _decode(cut, profile)
        if result is None:
            assert n < srh_at + 3, f"{where}: SRv6 packet not recognised with its SRH start"
            continue
        for leaf in _leaves(packet_tree(result, profile)):
            if leaf.offset >= 0:
                assert leaf.offset + leaf.length <= n, f"{where}: {leaf.label!r}"
        doc = packet_dict(result, "f", profile)
        for key in ("src", "dst", "hop_limit", "version", "traffic_class", "flow_label",
                    "payload_length"):
            assert doc[key] == whole[key], where
        _assert_not_invented({k: v for k, v in doc.items() if k not in ("srh", "inner")},
                             whole, where)
        _assert_captured_fields_only(doc, n, where)
        srh, full_srh = doc["srh"], whole["srh"]
        assert isinstance(srh, dict) and isinstance(full_srh, dict)
        _assert_not_invented(srh, full_srh, where)
        for i, fld in enumerate(SRH_FIXED):
            size = 2 if fld == "reserved" else 1
            captured = srh_at + i + size <= n  # the fields are at bytes 0..5 and 6-7
            assert (srh[fld] is not None) == captured, f"{where}: {fld}"
        if n < srh_at + 8:
            cut_inside_fixed += 1
            assert set(srh["not_captured"]) >= {"segments_left"} or n >= srh_at + 4
            text = render_tree(packet_tree(result, profile))
            assert "not captured" in text, where
        for tlv in srh["tlvs"]:  # type: ignore[union-attr]
            size = 1 if tlv["length"] is None else 2 + tlv["length"]  # Pad1: one byte
            assert tlv["offset"] + size <= n or not tlv["complete"], where
            assert "hmac" not in tlv or tlv["complete"], where
        _assert_not_invented(doc["inner"], whole["inner"], where)  # type: ignore[arg-type]
    assert cut_inside_fixed >= 5  # the 3..7-byte cuts were all exercised


def _assert_captured_fields_only(doc: dict[str, object], n: int, where: str) -> None:
    """Link, L2 and transport fields: a value only when all its bytes are in the cut."""
    inner = doc["inner"]
    headers = [doc["link"], doc["l2"], doc["transport"],
               inner.get("transport") if isinstance(inner, dict) else None]
    for header in headers:
        if not isinstance(header, dict):
            continue
        missing = set(header["not_captured"])  # type: ignore[arg-type]
        ends = _FIELD_ENDS.get(str(header["name"]), {})
        for key, end in ends.items():
            if key in header:
                captured = int(header["offset"]) + end <= n  # type: ignore[call-overload]
                assert (header[key] is not None) == captured, f"{where}: {key}"
                assert (key in missing) == (not captured), f"{where}: {key} listed"


# Where each field ends, from the start of its header (enough to pin the rule down).
_FIELD_ENDS: dict[str, dict[str, int]] = {
    "User Datagram Protocol": {"sport": 2, "dport": 4, "length": 6, "checksum": 8},
    "Transmission Control Protocol": {"sport": 2, "dport": 4, "seq": 8, "ack": 12,
                                      "flags": 14, "window": 16, "checksum": 18},
    "Internet Control Message Protocol v6": {"type": 1, "code": 2, "checksum": 4},
    "Ethernet II": {"dst": 6, "src": 12},
}


@pytest.mark.parametrize(("name", "frame"), FRAMES, ids=[n for n, _ in FRAMES])
def test_whole_frames_show_the_new_fields(name: str, frame: Frame) -> None:
    """The sweep above would pass vacuously on a view that shows nothing: on the whole frame
    the link layer, IPv6 fixed fields and the transport header (where there is one) are there."""
    result = _decode(frame, Profile.DRAFT04)
    assert result is not None
    doc = packet_dict(result, "f", Profile.DRAFT04)
    link = doc["link"]
    assert isinstance(link, dict) and link["not_captured"] == []
    assert doc["version"] == 6 and isinstance(doc["flow_label"], int)
    text = render_tree(packet_tree(result, Profile.DRAFT04))
    for label in ("Arrival Time:", "Version: 6", "Traffic Class:", "Flow Label:",
                  "Payload Length:", "Hop Limit:"):
        assert label in text, label
    assert "link type" not in text
    if frame.linktype == 1:
        assert link["src"] and link["dst"] and "Ethernet II, Src:" in text
    inner = doc["inner"]
    transport = inner["transport"] if isinstance(inner, dict) else doc["transport"]
    if name.startswith(("built-l2", "ipv6-srh-ipproto-ether", "wireshark", "kernel-hmac")):
        assert isinstance(transport, dict) and transport["not_captured"] == [], transport


@pytest.mark.parametrize(("name", "frame"), FRAMES, ids=[n for n, _ in FRAMES])
def test_flows_and_monitor_show_only_captured_fields(name: str, frame: Frame) -> None:
    def flow_of(f: Frame) -> dict[str, object] | None:
        table = FlowTable(events=False)
        FlowMonitor(table, FlowDecoder(Inspector()), LinkLoad()).feed(f)
        flows = list(table)
        return flows[0].to_dict(f.ts) if flows else None

    whole = flow_of(frame)
    assert whole is not None
    for cut in _cuts(frame):
        n = len(cut.data)
        where = f"{name} cut at {n}"
        got = flow_of(cut)
        if got is None:
            continue
        for key in ("srhSegmentsIPv6Left", "srhFlagsIPv6", "srhTagIPv6", "source_port",
                    "destination_port", "inner_source", "inner_destination",
                    "srhActiveSegmentIPv6"):
            assert got[key] is None or got[key] == whole[key], f"{where}: {key}={got[key]}"
        lst = got["srhSegmentIPv6BasicList"]
        assert lst is None or lst == whole["srhSegmentIPv6BasicList"][:len(lst)], where  # type: ignore[index]
        eng = MonitorEngine()
        eng.feed(cut)
        rows = eng.snapshot(0.0).flows
        assert len(rows) == 1
        row = rows[0]
        assert row.segments_left in (None, whole["srhSegmentsIPv6Left"]), where
        panel = render_flow(row, {}).plain
        if row.segments_left is None:
            assert "SL not captured" in panel and "SL None" not in panel, where


@pytest.mark.skipif(shutil.which("editcap") is None, reason="editcap (tshark) not installed")
def test_cli_on_editcap_cuts(tmp_path: Path) -> None:
    """The issue's reproduction with the real tools: editcap -s 57..61 on an Ethernet SRv6
    frame leaves 3..7 SRH bytes; decode shows no Segments Left (really 2 here) nor any
    field after the bytes kept."""
    src = PCAPS / "kernel-encap.pcap"
    for snap in range(57, 63):
        out = tmp_path / f"cut{snap}.pcap"
        subprocess.run(["editcap", "-s", str(snap), str(src), str(out)], check=True,
                       capture_output=True)
        proc = subprocess.run([sys.executable, "-m", "srinspect", "decode", "--format", "jsonl",
                               str(out)], capture_output=True, text=True)
        assert proc.returncode in (0, 1), proc.stderr
        docs = [json.loads(line) for line in proc.stdout.splitlines()]
        assert docs, snap
        for doc in docs:
            srh = doc["srh"]
            kept = snap - 14 - 40
            assert srh["captured_length"] == kept
            assert (srh["segments_left"] is None) == (kept < 4)
            assert (srh["flags"] is None) == (kept < 6)
            assert (srh["reserved"] is None) == (kept < 8)
            assert srh["segments"] == []
        text = subprocess.run([sys.executable, "-m", "srinspect", "decode", str(out)],
                              capture_output=True, text=True).stdout
        if snap - 54 < 4:
            assert "Segments Left: 0" not in text and "not captured" in text
