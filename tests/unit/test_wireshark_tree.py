"""pyshark's full dissection as a plain tree (srinspect/sinks/wireshark.py), without a UI.

Ground truth for the byte positions is srinspect's own decode: on real captures (the project's
and third-party ones) the SRH layer tshark shows and each of its fixed fields must sit on the
same bytes as srinspect's ``packet_tree`` says. The PDML conversion itself is also tested on
literal PDML, so its rules (hidden fields, tshark bookkeeping, spans outside the frame) hold
without tshark.
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from testbed import EXTERNAL, PCAPS  # type: ignore[import-not-found]

from srinspect.dissect import Node, packet_tree
from srinspect.inspector import Inspector, PacketResult
from srinspect.rules import Profile
from srinspect.sinks import wireshark
from srinspect.sources import open_capture

CAPTURES = sorted(PCAPS.glob("*.pcap*")) + sorted(EXTERNAL.glob("**/*.pcap"))
#: srinspect's SRH field -> tshark's (Wireshark 4.0 names)
SRH_FIELDS = {
    "next_header": "ipv6.routing.nxt",
    "hdr_ext_len": "ipv6.routing.len",
    "routing_type": "ipv6.routing.type",
    "segments_left": "ipv6.routing.segleft",
    "first_segment": "ipv6.routing.srh.last_entry",
    "flags": "ipv6.routing.srh.flags",
}
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")

PDML = """<packet>
  <proto name="geninfo" pos="0" showname="General information" size="60">
    <field name="num" pos="0" show="1" showname="Number" size="60"/>
  </proto>
  <proto name="frame" showname="Frame 1: 60 bytes" size="60" pos="0">
    <field name="frame.number" pos="0" show="1" showname="Frame Number: 1" size="0"/>
  </proto>
  <proto name="ipv6" showname="Internet Protocol Version 6" size="40" pos="14">
    <!-- a comment tshark never writes, but XML allows -->
    <field name="ipv6.routing" showname="Routing Header for IPv6 (Segment Routing)"
           size="24" pos="54">
      <field name="ipv6.routing.segleft" showname="Segments Left: 0" size="1" pos="57" show="0"/>
      <field name="ipv6.routing.hidden" show="x" size="1" pos="57" hide="yes"/>
      <field name="ipv6.routing.srh.addr" show="fc00::1" size="16" pos="62"/>
    </field>
    <field name="ipv6.bad" show="?" pos="abc" size="4"/>
    <field name="ipv6.reassembled" showname="elsewhere" pos="500" size="4"/>
  </proto>
</packet>"""


def srh_frames(path: Path, limit: int = 3) -> list[PacketResult]:
    """The first ``limit`` frames of ``path`` in which srinspect decodes an SRH."""
    insp = Inspector(Profile.RFC8754, None)
    out = []
    with open_capture(path) as reader:
        for frame in reader:
            result = insp.feed(frame)
            if isinstance(result, PacketResult) and result.srh is not None:
                out.append(result)
                if len(out) == limit:
                    break
    return out


def test_pdml_literal_tree() -> None:
    root = wireshark.pdml_tree(ET.fromstring(PDML), frame_len=78)
    assert [c.field for c in root.children] == ["frame", "ipv6"]  # geninfo left out
    frame, ipv6 = root.children
    assert frame.children[0].offset == -1  # size 0: no bytes to highlight
    srh = wireshark.find(root, "ipv6.routing")
    assert srh is not None and (srh.offset, srh.length) == (54, 24)
    assert [c.field for c in srh.children] == ["ipv6.routing.segleft", "ipv6.routing.srh.addr"]
    assert srh.children[0].label == "Segments Left: 0"
    assert srh.children[1].label == "fc00::1"  # no showname: show
    bad, elsewhere = ipv6.children[1:]
    assert bad.offset == -1 and elsewhere.offset == -1  # no number, past the frame's end
    assert [line.strip() for line in wireshark.render_lines(srh)] == [
        "Routing Header for IPv6 (Segment Routing)  [54+24]", "Segments Left: 0  [57+1]",
        "fc00::1  [62+16]"]
    d = wireshark.node_dict(srh)
    assert d["pos"] == 54 and d["children"][0] == {  # type: ignore[index]
        "label": "Segments Left: 0", "name": "ipv6.routing.segleft", "pos": 57, "size": 1}
    assert "pos" not in wireshark.node_dict(bad)


def test_pdml_bounded_depth() -> None:
    deep = "<field name='f' show='x' pos='0' size='1'>" * 100 + "</field>" * 100
    root = wireshark.pdml_tree(ET.fromstring(f"<packet><proto name='p'>{deep}</proto></packet>"))
    depth = max(d for d, _ in root.walk())
    assert depth <= 34


@needs_tshark
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_srh_fields_sit_where_srinspect_decodes_them(path: Path) -> None:
    results = srh_frames(path)
    if not results:
        pytest.skip(f"{path.name}: no SRH frame")
    for result in results:
        ours = packet_tree(result, Profile.RFC8754)
        theirs = wireshark.full_dissection(result.frame)
        srh = wireshark.find(ours, "srh")
        ws = wireshark.find(theirs, "ipv6.routing")
        assert srh is not None and ws is not None, f"frame {result.frame.number}"
        assert ws.offset == srh.offset == result.srh.offset
        for mine, tshark_name in SRH_FIELDS.items():
            a = next(n for n in srh.children if n.field == mine)
            b = wireshark.find(ws, tshark_name)
            assert b is not None, (path.name, result.frame.number, tshark_name)
            assert (b.offset, b.length) == (a.offset, a.length), (mine, result.frame.number)
        seg_left = wireshark.find(ws, "ipv6.routing.segleft")
        assert seg_left is not None
        assert seg_left.offset == result.srh.offset + 3
        assert result.frame.data[seg_left.offset] == result.srh.segments_left
        addrs = [n for n in ws.children if n.field == "ipv6.routing.srh.addr"]
        segs = [n for _, n in srh.walk() if n.field.startswith("segments[")]
        # tshark lists the addresses it can read whole; each is where srinspect put it
        assert addrs and len(addrs) <= len(segs)
        assert [(n.offset, n.length) for n in addrs] == [(n.offset, n.length)
                                                         for n in segs[:len(addrs)]]
        assert theirs.children[0].label.startswith(f"Frame {result.frame.number}:")


@needs_tshark
def test_time_limit_stops_tshark() -> None:
    result = srh_frames(PCAPS / "kernel-encap.pcap", 1)[0]
    with pytest.raises(wireshark.DissectTimeout, match="longer than"):
        wireshark.full_dissection(result.frame, timeout=0.001)


def test_tshark_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    result = srh_frames(PCAPS / "kernel-encap.pcap", 1)[0]
    with pytest.raises(wireshark.TsharkMissing) as info:
        wireshark.full_dissection(result.frame)
    assert isinstance(info.value, wireshark.DissectError)
    assert "\n" not in str(info.value) and "tshark is not installed" in str(info.value)


def test_garbage_frame_does_not_raise() -> None:
    """A frame of junk bytes (a link type tshark cannot make sense of) still gives a tree or
    a DissectError, never another exception."""
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    from srinspect.frame import Frame

    for data in (b"", b"\x00", bytes(range(256)) * 3):
        try:
            root = wireshark.full_dissection(Frame(7, 0.0, 1, data, len(data)))
        except wireshark.DissectError:
            continue
        assert isinstance(root, Node)
