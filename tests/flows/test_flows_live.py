"""Live capture of SRv6 traffic on veth links in network namespaces (lab in srlab.py).

Each test builds its own namespaces (unique prefix) and removes them afterwards. The SRv6
frames are crafted and injected into the links (no kernel SRv6 needed), as an SR ingress
with ``encap seg6`` routes would send them; captures run inside that namespace on the
links, like ``ip netns exec R srinspect``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from srlab import (  # type: ignore[import-not-found]
    SrLab,
    events,
    tcpdump_count,
    wait_dumped,
    wait_stats,
)

pytestmark = pytest.mark.netns

OLD = ["fc00:2::a", "fc00:2::b"]  # travel order, as `segs` is written
NEW = ["fc00:2::c", "fc00:2::b"]  # same final segment: same flow, new path
DEST1, DEST2 = "2001:db8:d1::1", "2001:db8:d2::1"
SRC_HOST = "2001:db8:10::1"
SR_SOURCE = "2001:db8:20::1"  # the tunnel source of the injected frames


def ours(flow: dict[str, object], dest: str = DEST1) -> bool:
    return flow["inner_source"] == SRC_HOST and flow["inner_destination"] == dest


def test_watch_shows_flow_then_exactly_one_path_change(srlab: SrLab, tmp_path: Path) -> None:
    sender = srlab.sender()
    dump = tmp_path / "r1.pcap"
    tcpdump = srlab.tcpdump("r1", dump)
    watch = srlab.watch("-i", "r1")
    flows = srlab.flows("-i", "r1")
    srlab.send(sender, 40, DEST1, OLD)
    srlab.send(sender, 40, DEST1, NEW)  # the ingress switched to the new segment list
    wait_stats(watch, 80)  # a periodic stats event with every packet counted
    wait_dumped(dump, f"ip6 src {SR_SOURCE}", 80)
    assert watch.interrupt() == 0, watch.stderr
    assert flows.interrupt() == 0, flows.stderr  # Ctrl-C still prints the table
    tcpdump.interrupt()

    evs = events(watch)
    kinds = [e["event"] for e in evs]
    assert kinds[0] == "start" and kinds[-1] == "stats" and evs[-1]["final"] is True
    new = [e for e in evs if e["event"] == "flow-new" and ours(e["flow"])]  # type: ignore
    changes = [e for e in evs if e["event"] == "path-change"]
    assert len(new) == 1, evs
    assert new[0]["path"] == OLD and new[0]["srh"] is True and new[0]["interface"] == "r1"
    assert new[0]["flow"]["source"] == SR_SOURCE  # type: ignore[index]
    assert new[0]["flow"]["final_destination"] == OLD[-1]  # type: ignore[index]
    assert len(changes) == 1, changes
    assert changes[0]["old"] == OLD and changes[0]["new"] == NEW
    assert changes[0]["flow"]["id"] == new[0]["flow"]["id"]  # type: ignore[index]
    assert kinds.index("flow-new") < kinds.index("path-change")
    assert all(isinstance(e["ts"], float) for e in evs[1:])
    assert any(e["event"] == "stats" and not e.get("final") for e in evs)  # once a second
    drops = evs[-1]["drops"]
    assert drops and all(d["dropped"] == 0 for d in drops)  # type: ignore[union-attr]

    # flows (stopped with Ctrl-C) counts what tcpdump counted on the same link.
    report = json.loads(flows.stdout)
    mine = [f for f in report["flows"] if ours(f)]
    assert len(mine) == 1, report["flows"]
    flow = mine[0]
    srv6_on_link = tcpdump_count(dump, f"ip6 src {SR_SOURCE} and ip6[6] == 43")
    assert srv6_on_link == 80
    assert flow["packets"] == srv6_on_link
    assert flow["path_changes"] == 1 and flow["path"] == NEW
    assert flow["path_history"][0]["old"] == OLD
    assert flow["srhSegmentIPv6BasicList"] == list(reversed(NEW))
    assert flow["srhActiveSegmentIPv6"] == NEW[0] and flow["srhSegmentsIPv6Left"] == 1
    assert flow["capture_points"][0]["interface"] == "r1"
    assert report["capture"]["interrupted"] is True
    assert report["capture"]["frames"] >= flow["packets"]
    tx = [ln for ln in report["links"] if ln["interface"] == "r1" and ln["direction"] == "tx"]
    assert tx and tx[0]["packets"] >= 80
    pairs = {(p["from"], p["to"]) for p in report["segment_pairs"]}
    assert {(SR_SOURCE, NEW[0]), (NEW[0], NEW[1]), (NEW[1], DEST1)} <= pairs


def test_two_interfaces_at_once(srlab: SrLab) -> None:
    sender = srlab.sender()
    flows = srlab.flows("-i", "r1", "-i", "r2")
    srlab.send(sender, 25, DEST1, OLD, iface="r1")
    srlab.send(sender, 30, DEST2, ["fc00:3::a", "fc00:3::b"], iface="r2")
    # Ctrl-C right after the last packet: none of them may be lost (dumpcap is given time
    # to hand over its last ring block before it is stopped).
    assert flows.interrupt() == 0, flows.stderr
    report = json.loads(flows.stdout)
    got = {f["inner_destination"]: f for f in report["flows"] if f["inner_source"] == SRC_HOST}
    assert set(got) == {DEST1, DEST2}
    assert got[DEST1]["packets"] == 25 and got[DEST2]["packets"] == 30
    assert [p["interface"] for p in got[DEST1]["capture_points"]] == ["r1"]
    assert [p["interface"] for p in got[DEST2]["capture_points"]] == ["r2"]
    assert got[DEST2]["path"] == ["fc00:3::a", "fc00:3::b"]
    tx = {ln["interface"]: ln["packets"] for ln in report["links"] if ln["direction"] == "tx"}
    assert tx.get("r1", 0) >= 25 and tx.get("r2", 0) >= 30
    drops = report["capture"]["drops"]
    assert {d["interface"] for d in drops} == {"r1", "r2"}


def test_bpf_filter_excluding_the_traffic_yields_no_flows(srlab: SrLab,
                                                          tmp_path: Path) -> None:
    sender = srlab.sender()
    dump = tmp_path / "r1.pcap"
    tcpdump = srlab.tcpdump("r1", dump)
    flows = srlab.flows("-i", "r1", "-f", "icmp6")
    srlab.send(sender, 20, DEST1, OLD)
    wait_dumped(dump, "ip6[6] == 43", 20)
    assert flows.interrupt() == 0, flows.stderr
    tcpdump.interrupt()
    report = json.loads(flows.stdout)
    assert report["flows"] == [] and report["capture"]["srv6_packets"] == 0
    assert report["capture"]["filter"] == "icmp6"
    assert tcpdump_count(dump, "ip6[6] == 43") == 20  # the traffic was there


def test_srv6_without_srh_and_duration(srlab: SrLab) -> None:
    """Reduced encapsulation with one segment puts no SRH on the wire: the SID is the DA."""
    sender = srlab.sender()  # ready before the capture's duration starts
    flows = srlab.flows("-i", "r1", "--duration", "5", "--locator", "fc00:2::/32")
    srlab.send(sender, 15, DEST1, ["fc00:2::a"], mode="encap.red")
    assert flows.wait(timeout=60) == 0, flows.stderr  # --duration ends it by itself
    report = json.loads(flows.stdout)
    mine = [f for f in report["flows"] if ours(f)]
    assert len(mine) == 1
    flow = mine[0]
    assert flow["srh"] is False and flow["path"] == ["fc00:2::a"]
    assert flow["final_destination"] == "fc00:2::a" and flow["srhSegmentsIPv6Left"] is None
    assert flow["packets"] == 15
    assert report["capture"]["interrupted"] is False
