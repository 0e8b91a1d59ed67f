"""The monitor's UI-free parts: engine, filter language, formatting, lab map, feeds, CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from srinspect.flows.events import addr_text
from srinspect.keys import build_keyring
from srinspect.sources import CaptureEvent, open_capture
from srinspect.sources.links import split_netns
from srinspect.tui import fmt
from srinspect.tui.engine import MonitorEngine
from srinspect.tui.feeds import file_source
from srinspect.tui.filters import Filter, Subject
from srinspect.tui.lab import lab_map, layout
from srinspect.tui.save import write_records
from srinspect.tui.synthetic import SyntheticFeed
from srinspect.tui.widgets.panels import render_topology
from srinspect.tui.widgets.status import Status, render_status
from srinspect.wire import parse_ip6

REPO = Path(__file__).resolve().parents[2]
PCAPS = REPO / "pcaps"


def load(name: str, keys: str | None = None, **kw: object) -> MonitorEngine:
    ring = build_keyring([], [str(PCAPS / keys)]) if keys else None
    feed = file_source(str(PCAPS / name))
    eng = MonitorEngine(keyring=ring, describe=feed.describe, **kw)  # type: ignore[arg-type]
    feed.run(eng.feed, lambda: False)
    assert feed.progress() == 1.0
    return eng


def test_engine_snapshot_of_crafted_capture() -> None:
    eng = load("crafted-draft04.pcapng", "crafted-keys.toml")
    snap = eng.snapshot(0.0)
    assert snap.frames == 28 and snap.srv6 == 28 and snap.flow_total == 5
    assert snap.interfaces == {0: "crafted"}
    rules = {r.rule: r.count for r in snap.rules}
    assert rules["srh.hmac.mismatch"] == 1 and rules["srh.truncated"] == 1
    assert snap.findings_total == sum(rules.values())
    flow3 = next(r for r in snap.flows if r.id == 3)
    assert flow3.change_count == 1 and len(flow3.changes) == 1
    assert snap.spark[1] and max(snap.spark[1]) > 0
    assert snap.now == snap.last_ts  # a file: rates at capture time


def test_ring_is_bounded_and_records_are_newest_first() -> None:
    eng = load("kernel-hmac.pcap", "kernel-hmac-keys.toml", max_packets=5)
    assert len(eng.packets) == 5 and eng.seq == 12
    newest = eng.records_since(0, 100)
    assert [r.seq for r in newest] == [12, 11, 10, 9, 8]
    assert [r.seq for r in eng.records_since(10, 100)] == [12, 11]
    assert eng.record(7) is None and eng.record(8) is newest[-1]
    assert [r.seq for r in eng.records(lambda r: r.seq % 2 == 0)] == [12, 10, 8]
    result = eng.decode_full(newest[0])
    assert result is not None and result.hmacs[0].status == "verified"


def test_findings_since_and_synthetic_path_changes() -> None:
    feed = SyntheticFeed(rate=20_000, flows=3, duration=0.4, change_every=0.05)
    eng = MonitorEngine(paced=True, describe=feed.describe)
    feed.run(eng.feed, lambda: False)
    snap = eng.snapshot(eng.last_ts or 0.0)
    assert snap.flow_total == 3 and snap.path_changes >= 1
    assert eng.findings_since(0) == []


def test_filter_language() -> None:
    a, b = parse_ip6("2001:db8:a::1"), parse_ip6("2001:db8:f::1")
    seg = parse_ip6("fc00:2::1")
    s = Subject((a, b, b"", b"", 17, 1, 2), (b, seg), ["srh.hmac.mismatch"], ["mismatch"], 7)
    assert Filter("").match(s) and not Filter("")
    assert Filter("fc00:2").match(s) and Filter("seg:fc00:2::1").match(s)
    assert not Filter("src:fc00:2").match(s)
    assert Filter("rule:hmac udp").match(s) and not Filter("rule:hmac tcp").match(s)
    assert Filter("hmac:mism flow:7").match(s) and not Filter("flow:8").match(s)
    names = {seg: "B", parse_ip6("fc00:3::1"): "C"}
    assert Filter("seg:B", names).match(s)
    assert not Filter("seg:C", names).match(s)  # a node name, not the c of fc00


def test_formatting() -> None:
    assert fmt.si(1500) == "1.5 k" and fmt.si(2) == "2" and fmt.si(2e6, "bit/s") == "2.0 Mbit/s"
    assert fmt.sparkline([0, 1, 2, 4], 4) == "▁▃▅█" and fmt.sparkline([], 3) == "   "
    src, x, y = parse_ip6("fc00::1"), parse_ip6("fc00::2"), parse_ip6("fc00::3")
    chain = fmt.path_chain(src, (y, x), x, {src: "A", x: "D", y: "Z"})
    assert str(chain) == "A -> [D] -> Z"
    assert str(fmt.hmac_summary({"verified": 3, "mismatch": 1})) == "mismatch+"
    assert fmt.duration(3725) == "01:02:05"


def test_lab_map_from_the_default_topology() -> None:
    from srinspect.lab.model import build_plan
    from srinspect.lab.topology import load_topology

    plan = build_plan(load_topology(), "srlab-")
    lab = lab_map(plan)
    assert lab.nodes == ["A", "B", "C", "D", "E", "Z"]
    assert len(lab.capture_specs()) == 8
    assert lab.capture_specs()[0] == "srlab-A/A-B"
    assert lab.names[parse_ip6(plan.nodes["D"].address)] == "D"
    assert lab.positions["A"][0] == 0 and lab.positions["Z"][0] == 3
    text = str(render_topology(lab, {("A", "D"): 0.9, ("D", "A"): 0.1}))
    for node in lab.nodes:
        assert f"[{node}]" in text
    assert "90%" in text and "10%" in text


def test_layout_columns_by_distance() -> None:
    pos = layout(["A", "B", "C"], [("A", "B"), ("B", "C")], "A")
    assert [pos[n][0] for n in "ABC"] == [0, 1, 2]


def test_split_netns() -> None:
    assert split_netns("srlab-A/A-B") == ("srlab-A", "A-B")
    assert split_netns("eth0") == (None, "eth0")


def test_write_records_roundtrip(tmp_path: Path) -> None:
    eng = load("kernel-encap.pcap")
    out = tmp_path / "x.pcapng"
    n = write_records(out, eng.records(), eng.interface_name)
    frames = list(open_capture(out))
    assert n == 6 and [f.data for f in frames] == [r.frame.data for r in
                                                    sorted(eng.records(), key=lambda r: r.seq)]
    with open_capture(out) as reader:
        list(reader)
        assert reader.interfaces[0].name == "if0"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "srinspect", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=60, check=False,
                          env={**os.environ, **(env or {})})


def test_cli_errors_before_the_ui() -> None:
    r = _cli("monitor")
    assert r.returncode == 2 and "needs -r PCAP, -i IFACE or --lab" in r.stderr
    r = _cli("monitor", "-r", "/nonexistent.pcap")
    assert r.returncode == 2 and "nonexistent" in r.stderr
    r = _cli("monitor", "--lab", env={"SRINSPECT_LAB_PREFIX": "zzmontest-"})
    assert r.returncode == 2 and "--lab:" in r.stderr and "lab up" in r.stderr
    r = _cli("monitor", "--help")
    assert r.returncode == 0 and "--lab" in r.stdout and "NETNS/IFACE" in r.stdout


@pytest.mark.parametrize("name", ["kernel-inline.pcap", "kernel-endpoint-seg6local.pcap"])
def test_other_samples_load(name: str) -> None:
    eng = load(name)
    snap = eng.snapshot(0.0)
    assert snap.flow_total >= 1
    assert all(addr_text(r.key[0]) for r in snap.flows)


def _event(kind: str, source: str, names: tuple[str, ...], lost: tuple[str, ...],
           message: str = "", reason: str | None = None) -> CaptureEvent:
    return CaptureEvent(kind, 1.0, names, message, reason, True, None, lost, source)


def test_engine_capture_state_follows_the_events() -> None:
    """Each event lists everything its source still misses; several sources (one per
    namespace) are kept apart; the flows are untouched."""
    eng = load("kernel-encap.pcap")
    flows = eng.snapshot(0.0).flow_total
    eng.capture_event(_event("capture-error", "a", ("r1", "r2"), ("r1", "r2"),
                             "dumpcap was killed by SIGKILL", "exited"))
    eng.capture_event(_event("capture-error", "b/x1", ("b/x1",), ("b/x1",), "b/x1 is down",
                             "down"))
    assert eng.capture_lost() == {"r1": "dumpcap was killed by SIGKILL",
                                  "r2": "dumpcap was killed by SIGKILL",
                                  "b/x1": "b/x1 is down"}
    eng.capture_event(_event("capture-error", "a", ("r1",), ("r1", "r2"), "r1 no longer exists",
                             "gone"))
    eng.capture_event(_event("capture-resumed", "a", ("r2",), ("r1",)))
    snap = eng.snapshot(0.0)
    assert snap.capture_lost == {"r1": "r1 no longer exists", "b/x1": "b/x1 is down"}
    assert snap.capture_events == 4 and snap.flow_total == flows
    count, fresh = eng.capture_events_since(2)
    assert count == 4 and [e.event for e in fresh] == ["capture-error", "capture-resumed"]
    assert eng.capture_events_since(4) == (4, [])
    eng.capture_event(_event("capture-resumed", "a", ("r1",), ()))
    eng.capture_event(_event("capture-resumed", "b/x1", ("b/x1",), ()))
    assert eng.capture_lost() == {} and eng.snapshot(0.0).capture_lost == {}


def test_status_bar_alert() -> None:
    text = render_status(Status(source="r1", live=True, alert="CAPTURE LOST: r1 is down"))
    assert text.plain.startswith(" LOST  r1  CAPTURE LOST: r1 is down")
    assert "LIVE" not in text.plain
    assert render_status(Status(source="r1", live=True)).plain.startswith(" LIVE ")


def test_write_records_is_all_or_nothing(tmp_path: Path) -> None:
    """A save that fails half-way leaves the older file as it was, and no temporary."""
    eng = load("kernel-encap.pcap")
    out = tmp_path / "x.pcapng"
    out.write_bytes(b"older")
    calls = []

    def name(index: int) -> str:
        calls.append(index)
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_records(out, eng.records(), name)
    assert calls and out.read_bytes() == b"older"
    assert [p.name for p in tmp_path.iterdir()] == ["x.pcapng"]
    assert write_records(out, eng.records(), eng.interface_name) == 6
    assert len(list(open_capture(out))) == 6
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask  # like open(), not mkstemp's 0600
