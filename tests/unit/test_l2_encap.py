"""SRv6 L2 encapsulation: Next Header 143 carries an Ethernet frame
(End.DX2, H.Encaps.L2). The inner frame is decoded (MACs, VLAN tags, EtherType), then its
IPv6 or IPv4 packet and transport header, and flows are keyed on that inner 5-tuple."""

from __future__ import annotations

import pytest
from testbed import EXTERNAL  # type: ignore[import-not-found]

from srinspect import build
from srinspect.dissect import packet_dict, packet_tree, render_tree
from srinspect.flows.decoder import FlowDecoder, FlowMonitor
from srinspect.flows.linkload import LinkLoad
from srinspect.flows.packet import key_from_result
from srinspect.flows.table import FlowTable
from srinspect.frame import Frame
from srinspect.inspector import Inspector, PacketResult
from srinspect.ipv6 import Ipv4
from srinspect.rules import Profile
from srinspect.sinks.flows_text import flow_title
from srinspect.sources import open_capture
from srinspect.srh import SrhSpec

TCPDUMP_L2 = EXTERNAL / "tcpdump" / "ipv6-srh-ipproto-ether.pcap"
SEGS = ["2001:db8:f::1", "2001:db8:2::1"]


def _l2(frame: bytes, src: str = "2001:db8:a::1") -> Frame:
    pkt = build.srv6_packet(src, SrhSpec(SEGS, segments_left=1, next_header=build.NH_ETHERNET),
                            frame)
    data = build.ethernet(pkt)
    return Frame(1, 0.0, 1, data, len(data))


def _decode(frame: Frame) -> PacketResult:
    result = Inspector().feed(frame)
    assert isinstance(result, PacketResult)
    return result


def test_tcpdump_l2_frame_is_decoded_as_tshark_does() -> None:
    if not TCPDUMP_L2.is_file():
        pytest.skip(f"{TCPDUMP_L2} not found")
    with open_capture(TCPDUMP_L2) as reader:
        result = _decode(next(iter(reader)))
    assert result.l2 is not None
    assert result.l2.get("src") == "ae:64:42:3b:5b:9a"
    assert result.l2.get("dst") == "1e:1d:df:cd:54:7a"
    assert result.l2.get("ethertype") == 0x86DD
    doc = packet_dict(result, "f", Profile.DRAFT04)
    inner = doc["inner"]
    assert isinstance(inner, dict)
    assert (inner["src"], inner["dst"], inner["protocol"]) == ("a::2", "e::2", 58)
    assert inner["transport"]["type"] == 128  # type: ignore[index]
    text = render_tree(packet_tree(result, Profile.DRAFT04))
    assert "Next Header: Ethernet (143)" in text and "(143)\n" not in text.replace(
        "Ethernet (143)\n", "")
    assert "Inner Ethernet II, Src: ae:64:42:3b:5b:9a, Dst: 1e:1d:df:cd:54:7a" in text
    assert "Inner IPv6: a::2 -> e::2" in text
    assert "Echo Request (128)" in text


def test_qinq_and_inner_ipv4() -> None:
    ip4 = build.ipv4_packet("10.0.0.1", "10.0.0.2", 17,
                            build.udp4("10.0.0.1", "10.0.0.2", 40000, 5201, b"x"), tos=0xB8,
                            ttl=9)
    frame = _l2(build.ethernet(ip4, build.ETH_IPV4, tags=(build.vlan_tag(100, tpid=0x88A8),
                                                          build.vlan_tag(10, pcp=5, dei=1))))
    result = _decode(frame)
    assert isinstance(result.inner, Ipv4) and result.inner.ttl == 9
    doc = packet_dict(result, "f", Profile.DRAFT04)
    l2 = doc["l2"]
    assert isinstance(l2, dict)
    assert l2["vlans"] == [{"tpid": 0x88A8, "pcp": 0, "dei": 0, "id": 100},
                           {"tpid": 0x8100, "pcp": 5, "dei": 1, "id": 10}]
    assert l2["ethertype"] == 0x0800
    inner = doc["inner"]
    assert isinstance(inner, dict)
    assert (inner["dscp"], inner["sport"], inner["dport"]) == (46, 40000, 5201)
    assert inner["transport"]["length"] == 9  # type: ignore[index]
    text = render_tree(packet_tree(result, Profile.DRAFT04))
    assert "802.1ad tag: PRI 0, DEI 0, ID 100" in text
    assert "802.1Q tag: PRI 5, DEI 1, ID 10" in text
    assert "Inner IPv4: 10.0.0.1 -> 10.0.0.2" in text and "Source Port: 40000" in text
    assert key_from_result(result)[2:] == (bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), 17,
                                           40000, 5201)


def test_l2vpn_flows_are_keyed_on_the_inner_5_tuple() -> None:
    """Two customer flows through the same L2 service: two flows, not one 'inline SRH'."""
    table = FlowTable(events=False)
    monitor = FlowMonitor(table, FlowDecoder(Inspector()), LinkLoad())
    for sport in (1000, 2000, 1000):
        inner = build.inner_udp("2001:db8:c::1", "2001:db8:c::2", sport=sport)
        monitor.feed(_l2(build.ethernet(inner)))
    flows = sorted(table, key=lambda f: f.key[5] or 0)
    assert [(f.key[5], f.packets) for f in flows] == [(1000, 2), (2000, 1)]
    title = flow_title(flows[0])
    assert "inline SRH" not in title and "[2001:db8:c::1]:1000" in title


def test_l2_frame_without_ip_and_cut_frames() -> None:
    arp = _l2(build.ethernet(bytes(28), 0x0806))
    result = _decode(arp)
    assert result.inner is None and result.l2 is not None
    assert result.l2.get("ethertype") == 0x0806
    assert key_from_result(result)[4:] == (build.NH_ETHERNET, 0, 0)  # no ports: nothing to key on
    whole = _l2(build.ethernet(build.inner_udp("2001:db8:c::1", "2001:db8:c::2")))
    srh_end = 14 + 40 + 8 + 32
    for n in range(srh_end, len(whole.data)):
        cut = _decode(Frame(1, 0.0, 1, whole.data[:n], len(whole.data)))
        key = key_from_result(cut)
        if cut.inner is None:
            assert key[5:] == (None, None), n  # ports not captured: unknown, not 0
        doc = packet_dict(cut, "f", Profile.DRAFT04)
        l2 = doc["l2"]
        assert isinstance(l2, dict)
        assert (l2["src"] is None) == (n < srh_end + 12), n
