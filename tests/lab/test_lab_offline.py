"""The lab without a kernel: topology file, addressing, routes, counters arithmetic, capture
decoding of cooked frames, and the error messages people see first (not root, no iperf3)."""

from __future__ import annotations

import ipaddress
import shutil
import struct
import tomllib
from collections.abc import Callable
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from srinspect.build import inner_udp, srv6_packet
from srinspect.frame import Frame
from srinspect.inspector import Inspector
from srinspect.lab import traffic
from srinspect.lab.capture import LabCapture, egress_frame
from srinspect.lab.counters import carrying, loads_between, read_counters
from srinspect.lab.errors import LabError, TopologyError
from srinspect.lab.lab import Lab
from srinspect.lab.model import Plan, build_plan
from srinspect.lab.routing import equal_cost_alternatives, policy_path, shortest_paths
from srinspect.lab.state import LabPaths, lab_prefix
from srinspect.lab.topology import ALLOWED_SPACE, load_topology, parse_rate, parse_topology
from srinspect.linklayer import LINKTYPE_LINUX_SLL2
from srinspect.srh import SrhSpec

RunCli = Callable[..., Any]
DEFAULT = tomllib.loads(
    resources.files("srinspect.lab").joinpath("default.toml").read_text("utf-8"))


def _doc(**changes: object) -> dict[str, object]:
    doc = dict(DEFAULT)
    doc.update(changes)
    return doc


def _offline_lab(tmp_path: Path) -> Lab:
    plan = build_plan(load_topology(), "srlq-")
    return Lab(plan, {"plan": plan.to_json(), "policies": {}}, LabPaths("srlq-"))


# -- topology and routing ----------------------------------------------------------------------


def test_default_topology_is_the_demo_mesh() -> None:
    topo = load_topology()
    assert topo.nodes == ("A", "B", "C", "D", "E", "Z")
    assert {frozenset((lk.a, lk.b)) for lk in topo.links} == {
        frozenset(p) for p in ("AB", "AD", "BC", "BD", "CE", "CZ", "DE", "EZ")}
    assert (topo.client, topo.server) == ("A", "Z")
    assert [s.via for s in topo.demo] == [(), ("D", "B", "C", "E"), (), ("C",)]


def test_default_paths_are_unique_and_distinct() -> None:
    """The demo is only convincing if each step lights up a different, unambiguous path."""
    g = load_topology().graph
    assert shortest_paths(g, "A")["Z"] == ("A", "D", "E", "Z")
    assert shortest_paths(g, "Z")["A"] == ("Z", "E", "D", "A")
    assert not equal_cost_alternatives(g, "A", "Z")
    assert policy_path(g, "A", ("D", "B", "C", "E"), "Z") == ("A", "D", "B", "C", "E", "Z")
    assert policy_path(g, "A", ("C",), "Z") == ("A", "B", "C", "Z")


def test_equal_cost_paths_are_detected() -> None:
    links = [dict(lk) for lk in DEFAULT["link"]]
    for lk in links:
        lk.pop("cost", None)
    topo = parse_topology(_doc(link=links))
    assert equal_cost_alternatives(topo.graph, "A", "Z")  # A-B-C-Z and A-D-E-Z, both 3


def test_plan_addresses_names_and_routes() -> None:
    plan = build_plan(load_topology(), "srlab-")
    every = [n.address for n in plan.nodes.values()] + [
        e.address for lk in plan.links for e in (lk.a, lk.b)]
    for text in every:
        assert any(ipaddress.IPv6Address(text) in net for net in ALLOWED_SPACE), text
    assert len(set(every)) == len(every)
    assert plan.nodes["Z"].address == "fc00:0:6::1"
    assert plan.nodes["A"].netns == "srlab-A"
    for lk in plan.links:
        assert len(lk.a.dev) <= 15 and len(lk.b.dev) <= 15
    for node, routes in plan.routes.items():
        dests = {r.dest for r in routes}
        others = {n.prefix for n in plan.nodes.values() if n.name != node}
        remote_links = {lk.prefix for lk in plan.links if node not in lk.nodes}
        assert dests == others | remote_links
    a_to_z = next(r for r in plan.routes["A"] if r.dest == "fc00:0:6::/64")
    assert a_to_z.dev == "A-D"


def test_plan_survives_the_state_file() -> None:
    plan = build_plan(load_topology(), "srlab-")
    data = plan.to_json()
    data["nodes"] = dict(sorted(data["nodes"].items(), reverse=True))  # json sort_keys order
    again = Plan.from_json(data)
    assert list(again.nodes) == list(plan.nodes)
    assert again.links == plan.links and again.routes == plan.routes


def test_end_sid_mode() -> None:
    topo = parse_topology(_doc(addressing={**DEFAULT["addressing"], "sid": "end"}))
    plan = build_plan(topo, "srlab-")
    assert plan.nodes["D"].sid == "fc00:0:4::e"
    assert plan.nodes["D"].address == "fc00:0:4::1"


@pytest.mark.parametrize(("change", "message"), [
    ({"nodes": ["A", "B", "A"]}, "unique"),
    ({"nodes": ["A", "TOOLONGNAME"]}, "1-7 letters"),
    ({"addressing": {"nodes": "2001:db9::/32"}}, "outside fc00::/7"),
    ({"addressing": {"nodes": "fc00:0:0:1::/64"}}, "/48 or shorter"),
    ({"link": [{"nodes": ["A", "Q"]}]}, "unknown node 'Q'"),
    ({"link": [{"nodes": ["A", "B"]}, {"nodes": ["B", "A"]}]}, "listed twice"),
    ({"link": [{"nodes": ["A", "B"]}]}, "not connected"),
    ({"link": [{"nodes": ["A", "B"], "rate": "fast"}]}, "not like"),
    ({"demo": [{"via": ["X"]}]}, "unknown node 'X'"),
])
def test_topology_errors_name_the_problem(change: dict[str, object], message: str) -> None:
    with pytest.raises(TopologyError, match=message):
        parse_topology(_doc(**change), "t.toml")


def test_parse_rate() -> None:
    assert parse_rate("20mbit") == 20_000_000
    assert parse_rate("500kbit") == 500_000
    assert parse_rate("1.5Mbit/s") == 1_500_000
    assert parse_rate(10) == 10_000_000
    with pytest.raises(TopologyError):
        parse_rate("20 furlongs")
    assert load_topology().with_rate(10_000_000).links[0].rate_bps == 10_000_000


def test_prefix_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SRINSPECT_LAB_PREFIX", "srlq-")
    assert lab_prefix() == "srlq-"
    with pytest.raises(LabError):
        lab_prefix("../etc-")


# -- counters and capture arithmetic -----------------------------------------------------------


def test_counters_map_tx_of_the_sending_end(tmp_path: Path) -> None:
    lab = _offline_lab(tmp_path)
    readings = iter([10_000, 10_000 + 2_500_000])  # bytes on A's end of A-D

    def stats(netns: str) -> dict[str, dict[str, object]]:
        if netns != "srlq-A":
            return {}
        return {"A-D": {"tx": {"bytes": next(readings), "packets": 1}, "rx": {}}}

    # Pin the reading times one second apart.
    before = {d: replace(c, ts=0.0) for d, c in read_counters(lab, stats).items()}
    after = {d: replace(c, ts=1.0) for d, c in read_counters(lab, stats).items()}
    loads = loads_between(lab, before, after)
    assert loads[("A", "D")].bps == pytest.approx(20_000_000, rel=0.01)
    assert loads[("A", "D")].percent == 100
    assert loads[("D", "A")].bytes == 0
    assert carrying(loads, 0.5) == [("A", "D")]


def _sll2(ifindex: int, packet: bytes, pkttype: int = 4) -> bytes:
    return struct.pack("!HHIHBB", 0x86DD, 0, ifindex, 1, pkttype, 6) + b"\x02" * 8 + packet


def test_capture_names_directions_segments_and_flows(tmp_path: Path) -> None:
    """A cooked frame leaving A on A-D with segments D,B,C,E,Z becomes that path by name."""
    lab = _offline_lab(tmp_path)
    n = lab.nodes
    wire = [n["Z"].address, n["E"].address, n["C"].address, n["B"].address, n["D"].address]
    pkt = srv6_packet(n["A"].address, SrhSpec(wire),
                      inner_udp(n["A"].address, n["Z"].address, b"x" * 100))
    plain = inner_udp(n["A"].address, n["Z"].address, b"x" * 100)
    devs = {7: ("A", "D")}
    inspector = Inspector()
    cap = LabCapture(lab, ["A"])
    frames = [Frame(1, 1000.0, LINKTYPE_LINUX_SLL2, _sll2(7, pkt), len(pkt) + 20),
              Frame(2, 1000.1, LINKTYPE_LINUX_SLL2, _sll2(7, pkt, pkttype=0), len(pkt) + 20),
              Frame(3, 1000.2, LINKTYPE_LINUX_SLL2, _sll2(9, pkt), len(pkt) + 20),
              Frame(4, 1001.0, LINKTYPE_LINUX_SLL2, _sll2(7, plain), len(plain) + 20)]
    for frame in frames:
        seen = egress_frame(frame, devs, inspector)
        if seen is not None:
            cap._record(seen[0], frame, seen[1])
    snap = cap.window(999.0, 1002.0, timeout=0)
    assert list(snap) == [("A", "D")]  # incoming copy and unknown interface ignored
    ad = snap[("A", "D")]
    assert ad.packets == 2 and ad.srh_packets == 1
    assert ad.bytes == len(pkt) + 14 + len(plain) + 14  # as an Ethernet frame on the wire
    assert ad.segments == {("D", "B", "C", "E", "Z"): 1}
    flow = cap.flows()[("A", "Z")]
    assert flow.history == [(1000.0, ("D", "B", "C", "E", "Z")), (1001.0, ())]
    # windows go by the frames' timestamps, not by when they were decoded
    early = cap.window(1000.0, 1000.5, timeout=0)[("A", "D")]
    assert early.packets == 1 and early.srh_packets == 1
    late = cap.window(1000.5, 1001.5, timeout=0)[("A", "D")]
    assert late.packets == 1 and late.srh_packets == 0
    assert cap.window(1001.5, 1002.0, timeout=0) == {}
    assert flow.segments == ()
    assert flow.hops(now=1001.5) == [("A", "D")]


def test_lab_maps_addresses_to_nodes(tmp_path: Path) -> None:
    lab = _offline_lab(tmp_path)
    assert lab.node_of("fc00:0:4::1") == "D"
    assert lab.node_of(ipaddress.IPv6Address("fc00:1:2::2").packed) == "D"  # D's end of A-D
    assert lab.node_of("2001:db8::1") is None
    assert lab.node_of("not an address") is None
    assert lab.expected_path("A", "Z") == ("A", "D", "E", "Z")
    assert len(lab.directions()) == 16


# -- first errors ------------------------------------------------------------------------------


def test_not_root_is_exit_2_with_a_message(run_cli: RunCli,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    for argv in (["lab", "up"], ["lab", "down"], ["lab", "demo", "--headless"],
                 ["lab", "steer", "A", "Z", "--shortest"]):
        res = run_cli(*argv)
        assert res.rc == 2, argv
        assert "needs root" in res.err
        assert "Traceback" not in res.err


def test_missing_iperf3_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         ) -> None:
    lab = _offline_lab(tmp_path)
    real = shutil.which
    monkeypatch.setattr("shutil.which", lambda name: None if name == "iperf3" else real(name))
    with pytest.raises(LabError, match="iperf3 is not installed.*apt-get install iperf3"):
        traffic.start(lab)


def test_lab_commands_need_a_running_lab(run_cli: RunCli, monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.setattr("srinspect.lab.state.RUN_ROOT", tmp_path)
    res = run_cli("lab", "--prefix", "srlq-", "status")
    assert res.rc == 2 and "no lab is up" in res.err
