"""The monitor capturing live: SRv6 frames on a veth link in network namespaces.

Two namespaces with a unique prefix: ``r`` and ``k`` (which holds the peer, so the veth has a
carrier). A sender inside ``r`` (tests/flows/srinject.py) writes crafted SRv6 frames to
``r1`` with an AF_PACKET socket: what an SR ingress with an ``encap seg6`` route and tunnel
source 2001:db8:20::1 sent there, UDP to 2001:db8:d1::1 with an SRH; no kernel SRv6 is
needed. The monitor captures ``r1`` inside ``r`` (``NETNS/IFACE``) and must show the flow
with the segment list within two seconds. Only 2001:db8::/32 and fc00::/7 addresses are
used; namespaces and processes are removed whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from srinspect.flows.events import addr_text
from srinspect.sources import LiveSource, open_capture
from srinspect.tui.app import MonitorApp
from srinspect.tui.engine import MonitorEngine
from srinspect.tui.feeds import live_feed
from srinspect.tui.save import write_records
from srinspect.tui.widgets.tables import FlowsTable

pytestmark = pytest.mark.netns

SEGS = ["fc00:2::a", "fc00:2::b"]  # travel order, as `segs` is written
TUNSRC = "2001:db8:20::1"  # the outer source of the injected frames
INJECT = Path(__file__).resolve().parents[1] / "flows" / "srinject.py"
#: Generous: the tests also run in slow (emulated) guests.
TIMEOUT = 60.0


def sh(*cmd: str) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout


def inject(netns: dict, *args: str) -> list[str]:  # type: ignore[type-arg]
    """The command line of a sender writing SRv6 frames along SEGS to r1 (in ``r``), UDP
    to 2001:db8:d1::1 from one source port (one flow however often it runs)."""
    return ["ip", "netns", "exec", netns["r"], sys.executable, str(INJECT), "--iface", "r1",
            "--peer-mac", netns["peer_mac"], "--segs", ",".join(SEGS), *args]


def kill_namespace(ns: str) -> None:
    """SIGKILL whatever still runs in ``ns`` (a dumpcap, a sender) and wait until it is gone."""
    pids = [int(p) for p in subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                                           text=True, check=False).stdout.split()]
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    end = time.monotonic() + 30
    for pid in pids:
        while time.monotonic() < end:
            try:
                with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
                    if fh.read().rpartition(")")[2].split()[0] in ("Z", "X"):
                        break
            except OSError:
                break
            time.sleep(0.05)


@pytest.fixture
def netns() -> Iterator[dict[str, str]]:
    if shutil.which("dumpcap") is None:
        pytest.skip("dumpcap is not installed (scripts/setup.sh installs tshark)")
    prefix = f"srmon{uuid.uuid4().hex[:6]}"
    r, k = f"{prefix}-r", f"{prefix}-k"
    made: list[str] = []
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for ns in (r, k):
            sh("ip", "netns", "add", ns)
            made.append(ns)
            # quiet link: nothing on it but the injected frames
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
               "net.ipv6.conf.default.disable_ipv6=1")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", "r1", "netns", r, "type", "veth", "peer", "name", "k1",
           "netns", k)
        sh("ip", "-n", k, "link", "set", "k1", "up")
        sh("ip", "-n", r, "link", "set", "r1", "up")
        end = time.monotonic() + TIMEOUT
        for ns, iface in ((r, "r1"), (k, "k1")):
            while sh("ip", "netns", "exec", ns, "cat", f"/sys/class/net/{iface}/operstate"
                     ).strip() != "up":
                assert time.monotonic() < end, "veth did not come up"
                time.sleep(0.05)
        mac = sh("ip", "netns", "exec", k, "cat", "/sys/class/net/k1/address").strip()
        yield {"r": r, "k": k, "peer_mac": mac, "procs": procs}  # type: ignore[misc]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
        for ns in made:
            kill_namespace(ns)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def test_live_flow_appears_with_its_path_within_two_seconds(netns: dict) -> None:  # type: ignore[type-arg]
    feed = live_feed([f"{netns['r']}/r1"])  # dumpcap runs before the UI starts
    app = MonitorApp(feed, refresh_interval=0.1)
    seen: list[float] = []

    async def main() -> None:
        async with app.run_test(size=(140, 40)) as pilot:
            sender = subprocess.Popen(inject(netns, "--duration", "120", "--gap", "0.01"),
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            netns["procs"].append(sender)
            assert sender.stdout is not None
            # the clock starts with the first frame, not with the sender's interpreter
            ready = await asyncio.wait_for(asyncio.to_thread(sender.stdout.readline), TIMEOUT)
            assert ready.strip() == b"sending", ready
            start = time.monotonic()
            table = app.query_one(FlowsTable)
            while time.monotonic() - start < TIMEOUT:
                flows = [r for r in table.items if addr_text(r.key[0]) == TUNSRC]
                if flows and [addr_text(s) for s in reversed(flows[0].segments)] == SEGS:
                    seen.append(time.monotonic() - start)
                    break
                await pilot.pause(0.05)
            assert seen, f"no flow with path {SEGS} on screen; flows: {table.items}"
            row = flows[0]
            assert addr_text(row.key[1]) == SEGS[-1]  # final destination
            assert addr_text(row.key[3]) == "2001:db8:d1::1"  # inner destination
            assert row.key[4] == 17 and row.key[6] == 9
            chain = str(table.cells(row)[3])
            assert chain == f"{TUNSRC} -> [{SEGS[0]}] -> {SEGS[1]}", chain
            assert app.feed.live and "LIVE" in str(app.query_one("#status").render())
            sender.kill()
            app.stop_capture()

    try:
        asyncio.run(asyncio.wait_for(main(), 3 * TIMEOUT))
    finally:
        feed.stop()
        app.capture_done.wait(TIMEOUT)
        feed.close()
    assert seen[0] <= 2.0, f"the flow took {seen[0]:.2f} s to appear"
    print(f"flow on screen {seen[0]:.2f} s after the first frame")


def wait_for(what: str, check: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_engine_keeps_its_flows_across_capture_faults(netns: dict,  # type: ignore[type-arg]
                                                      tmp_path: Path) -> None:
    """No UI: the feed and the engine as the monitor wires them. dumpcap is killed (the
    feed restarts it, the engine keeps its flow and counts on), then the link goes down and
    up (the engine reports the interface lost, then captured again); the packets kept
    save to a pcapng that reads back whole."""
    r = netns["r"]
    feed = live_feed([f"{r}/r1"])
    source = feed.source
    assert isinstance(source, LiveSource) and source.netns == r
    engine = MonitorEngine(paced=True, describe=feed.describe)
    feed.set_status(engine.capture_event)
    worker = threading.Thread(target=feed.run, args=(engine.feed, lambda: False), daemon=True)
    worker.start()

    def send(count: int) -> None:
        subprocess.run(inject(netns, "--count", str(count), "--gap", "0.005"), check=True,
                       timeout=2 * TIMEOUT, stdout=subprocess.DEVNULL)

    def ours() -> list:  # type: ignore[type-arg]
        return [f for f in engine.snapshot(time.time()).flows if addr_text(f.key[0]) == TUNSRC]

    try:
        send(30)
        wait_for("30 packets", lambda: sum(f.packets for f in ours()) == 30)
        [before] = ours()
        first = source._current.proc
        assert first is not None
        os.kill(first.pid, signal.SIGKILL)
        wait_for("the restart", lambda: engine.capture_count == 2)
        _, evs = engine.capture_events_since(0)
        assert [e.event for e in evs] == ["capture-error", "capture-resumed"]
        assert evs[0].interfaces == (f"{r}/r1",) and evs[0].source == f"{r}/r1"
        assert "SIGKILL" in evs[0].message and evs[0].retrying
        assert engine.capture_lost() == {} and engine.snapshot(time.time()).capture_events == 2
        assert source._current.proc.pid != first.pid
        [kept] = ours()
        assert kept.id == before.id and kept.packets == 30  # nothing lost, nothing doubled
        send(20)
        wait_for("20 more packets", lambda: [f.packets for f in ours()] == [50])
        assert ours()[0].id == before.id

        # the link: down (engine says so), up (captured again); the data stays
        subprocess.run(["ip", "-n", r, "link", "set", "r1", "down"], check=True)
        wait_for("the link loss", lambda: bool(engine.capture_lost()))
        assert engine.capture_lost() == {f"{r}/r1": f"{r}/r1 is down"}
        snap = engine.snapshot(time.time())
        assert snap.capture_lost == {f"{r}/r1": f"{r}/r1 is down"} and snap.flow_total == 1
        subprocess.run(["ip", "-n", r, "link", "set", "r1", "up"], check=True)
        wait_for("the link back", lambda: not engine.capture_lost())
        assert [e.event for e in engine.capture_events_since(2)[1]] == [
            "capture-error", "capture-resumed"]
        assert [f.packets for f in ours()] == [50]
    finally:
        feed.stop()
        worker.join(TIMEOUT)
        feed.close()
    assert not worker.is_alive()

    out = tmp_path / "kept.pcapng"
    assert write_records(out, engine.records(), engine.interface_name) == 50
    assert len(list(open_capture(out))) == 50
    if shutil.which("tshark"):
        read = subprocess.run(["tshark", "-n", "-r", str(out), "-T", "fields", "-e",
                               "frame.number"], capture_output=True, text=True, timeout=60,
                              check=False)
        assert read.returncode == 0 and "cut short" not in read.stderr, read.stderr
        assert len(read.stdout.split()) == 50
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_no_resume_feed_ends_at_the_first_fault_and_monitor_exits_2(
        netns: dict, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[type-arg]
    """``monitor --no-resume``: the live feed is started without resuming, so killing
    dumpcap ends the capture (the engine keeps the interface as lost) and the command's exit
    status is 2, as for ``flows --no-resume``."""
    from srinspect.cli.main import main
    from srinspect.tui import app as app_mod

    r = netns["r"]
    seen: dict[str, object] = {}

    class HeadlessApp(app_mod.MonitorApp):
        def run(self) -> None:  # type: ignore[override]
            """What the UI's capture worker does, without a terminal: run the feed into the
            engine, kill dumpcap once a frame arrived, wait for the feed to end."""
            self.feed.set_status(self.engine.capture_event)  # type: ignore[attr-defined]
            worker = threading.Thread(target=self.feed.run,
                                      args=(self.engine.feed, lambda: False), daemon=True)
            worker.start()
            netns["procs"].append(subprocess.Popen(
                inject(netns, "--duration", "3", "--gap", "0.01"),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_for("a frame", lambda: self.engine.snapshot(time.time()).flow_total > 0)
            os.kill(self.feed.source._current.proc.pid, signal.SIGKILL)  # type: ignore[attr-defined]
            worker.join(TIMEOUT)
            seen["ended"] = not worker.is_alive()
            self.capture_done.set()

    monkeypatch.setattr(app_mod, "MonitorApp", HeadlessApp)
    status = main(["monitor", "-i", f"{r}/r1", "--no-resume"])
    assert seen["ended"], "the feed kept running after the fault"
    assert status == 2
