"""What the monitor's panes are given to show, without a terminal: link rows with and without
a lab, the packets view's predicate, the save dialog's defaults and outcome."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from srinspect.flows.linkload import LinkRate
from srinspect.sources import open_capture
from srinspect.tui.engine import MonitorEngine
from srinspect.tui.feeds import file_source
from srinspect.tui.filters import Filter, packet_match
from srinspect.tui.lab import LabLink, LabMap
from srinspect.tui.save import default_path, describe, save_records
from srinspect.tui.widgets.panes import link_items

PCAPS = Path(__file__).resolve().parents[2] / "pcaps"


def load(name: str) -> MonitorEngine:
    feed = file_source(str(PCAPS / name))
    eng = MonitorEngine(describe=feed.describe)
    feed.run(eng.feed, lambda: False)
    return eng


def test_link_items_pairs_and_interfaces_relative_to_the_busiest() -> None:
    snap = load("crafted-draft04.pcapng").snapshot(0.0)
    items = link_items(snap, Filter(""), {}, None)
    kinds = [it.kind for it in items]
    assert kinds == ["pair"] * len(snap.pairs) + ["iface"] * len(snap.links)
    pairs = [it for it in items if it.kind == "pair"]
    assert max(it.fraction for it in pairs) == 1.0 and all(it.relative for it in items)
    assert all(it.flows is not None for it in pairs)
    # a filter keeps the segment pairs with that address at either end, every interface
    kept = link_items(snap, Filter("seg:2001:db8:3::1"), {}, None)
    assert [it.label for it in kept] == [
        "2001:db8:2::1 -> 2001:db8:3::1", "2001:db8:3::1 -> 2001:db8:f::1",
        "2001:db8:3::1 -> ff0e::1", "2001:db8:3::1 -> 2001:db8:f::100", "crafted any"]
    assert len(pairs) == len(snap.pairs) == 8


def test_lab_links_against_their_shaped_rate() -> None:
    snap = load("kernel-encap.pcap").snapshot(0.0)
    lab = LabMap("t", ["A", "B"], [LabLink("A-B", "A", "B", "ns-A", "eth9", 1_000_000)],
                 {}, "A", "B")
    rates = [LinkRate("eth9", "tx", 10, 1000, 5.0, 250_000.0),
             LinkRate("eth9", "rx", 4, 400, 2.0, 100_000.0),
             LinkRate("other", "tx", 1, 100, 1.0, 800.0)]
    snap = replace(snap, links=rates)
    items = [it for it in link_items(snap, Filter(""), {}, lab) if it.kind != "pair"]
    assert [(it.kind, it.label, it.fraction, it.relative) for it in items] == [
        ("lab", "A -> B  (eth9)", 0.25, False), ("lab", "B -> A  (eth9)", 0.1, False)]
    assert lab.load(rates) == {("A", "B"): 0.25, ("B", "A"): 0.1}  # "other" is no lab link


def test_packet_match_restricts_to_the_flow_then_the_filter() -> None:
    eng = load("crafted-draft04.pcapng")
    records = eng.records()
    everything = packet_match(Filter(""), None)
    assert all(everything(r) for r in records)
    flow3 = packet_match(Filter(""), 3)
    assert {r.flow_id for r in records if flow3(r)} == {3}
    unknown_key = packet_match(Filter("rule:srh.hmac.unknown-key"), None)
    assert [r.seq for r in records if unknown_key(r)] == [24, 23, 22, 21, 4, 3]
    truncated = packet_match(Filter("rule:srh.truncated"), 3)
    assert [r.seq for r in records if truncated(r)] == [7]
    assert not [r for r in records if packet_match(Filter("rule:srh.truncated"), 1)(r)]


def test_save_defaults_and_outcome(tmp_path: Path) -> None:
    path = default_path(tmp_path, "flow-3", 0.0)
    assert path.startswith(str(tmp_path / "srinspect-flow-3-")) and path.endswith(".pcapng")
    assert describe("flow-3", 6) == "flow #3 (6 packets)"
    assert describe("view", 40) == "view (40 packets)"
    eng = load("kernel-encap.pcap")
    ok, text = save_records(tmp_path / "x.pcapng", eng.records(), eng.interface_name)
    assert ok and text == f"saved 6 packets to {tmp_path / 'x.pcapng'}"
    assert len(list(open_capture(tmp_path / "x.pcapng"))) == 6
    missing = tmp_path / "no-such-dir" / "x.pcapng"
    ok, text = save_records(missing, eng.records(), eng.interface_name)
    assert not ok and text == f"cannot save {missing}: {os.strerror(2)}"
