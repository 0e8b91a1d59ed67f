"""Nothing invented past a cut (issue 16, item 1): every cut length through real SRv6 frames.

Each frame is cut at every length from 0 to its size, with ``orig_len`` saying how long it
was (what ``editcap -s`` and a capture snaplen do). Every value any view shows for the cut
frame must be either absent (None / "not captured") or the value the whole frame has: the
decode tree (every leaf lies inside the captured bytes), the JSON, the flow table export and
the monitor's flow rows. A last test runs the real ``editcap`` and the CLI on the cuts the
issue reported (57-61 bytes of an Ethernet frame: 3-7 bytes of the SRH).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from srinspect.dissect import Node, packet_dict, packet_tree, render_tree
from srinspect.flows import FlowDecoder, FlowMonitor, FlowTable
from srinspect.frame import Frame
from srinspect.inspector import Inspector, PacketResult
from srinspect.linkload import LinkLoad
from srinspect.rules import Profile
from srinspect.sources import open_capture
from srinspect.tui.engine import MonitorEngine
from srinspect.tui.widgets.panels import render_flow

REPO = Path(__file__).resolve().parents[2]
EXTERNAL = REPO.parent / "shared" / "pcaps-external"
SRH_FIXED = ("next_header", "hdr_ext_len", "routing_type", "segments_left", "first_segment",
             "flags", "reserved")


def _real_frames() -> list[tuple[str, Frame]]:
    """SRv6 frames nobody here built: the Wireshark sample (RAW) and tcpdump's (Ethernet),
    plus one kernel-made HMAC frame (Ethernet, a TLV to cut through)."""
    picks = [(EXTERNAL / "wireshark-sample-sr-header.pcap", 2),
             (EXTERNAL / "tcpdump" / "ipv6-srh-ext-header.pcap", 1),
             (EXTERNAL / "tcpdump" / "ipv6-srh-tlv-pad1-padn-5.pcap", 1),
             (REPO / "pcaps" / "kernel-hmac.pcap", 2)]
    out = []
    for path, number in picks:
        with open_capture(path) as reader:
            frame = next(f for f in reader if f.number == number)
        out.append((f"{path.name}#{number}", frame))
    return out


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


def _assert_not_invented(cut: dict[str, object] | None, full: dict[str, object] | None,
                         where: str) -> None:
    """Every value in ``cut`` is None or equal to the whole frame's; lists are prefixes."""
    if cut is None:
        return
    assert full is not None, where
    for key, value in cut.items():
        if value is None or key in ("offset", "captured_length", "not_captured", "tlvs",
                                    "flag_names", "hmac"):
            continue
        if isinstance(value, list) and key == "segments":
            assert value == full[key][:len(value)], f"{where}: {key}"  # type: ignore[index]
        else:
            assert value == full[key], f"{where}: {key} = {value!r}, really {full[key]!r}"


@pytest.mark.parametrize("profile", list(Profile))
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
        for key in ("src", "dst", "hop_limit"):
            assert doc[key] == whole[key], where
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
    src = REPO / "pcaps" / "kernel-encap.pcap"
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
