"""The monitor on a real kernel: SRv6 encapsulation in network namespaces, captured live.

Two namespaces with a unique prefix: ``r`` (an SR ingress: ``encap seg6`` route, tunnel
source set) and ``k`` (its neighbour, so the veth has a carrier). A UDP sender inside ``r``
sends to 2001:db8:d1::1, which the kernel encapsulates with an SRH and sends out of ``r1``.
The monitor captures ``r1`` inside ``r`` (``NETNS/IFACE``) and must show the flow with the
route's segment list within two seconds. Only 2001:db8::/32 and fc00::/7 addresses are used;
namespaces and processes are removed whatever happens.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from srinspect.events import addr_text
from srinspect.tui.app import MonitorApp
from srinspect.tui.feeds import live_feed
from srinspect.tui.widgets.tables import FlowsTable

pytestmark = pytest.mark.kernel

SEGS = ["fc00:2::a", "fc00:2::b"]  # travel order, as `segs` is written
TUNSRC = "2001:db8:20::1"
SENDER = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    s.sendto(b"srinspect monitor test", ("2001:db8:d1::1", 9))
    time.sleep(0.01)
"""


def sh(*cmd: str) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=30).stdout


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
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", "r1", "netns", r, "type", "veth", "peer", "name", "k1",
           "netns", k)
        sh("ip", "-n", r, "addr", "add", f"{TUNSRC}/64", "dev", "r1", "nodad")
        sh("ip", "-n", k, "addr", "add", "2001:db8:20::2/64", "dev", "k1", "nodad")
        sh("ip", "-n", r, "link", "set", "r1", "up")
        sh("ip", "-n", k, "link", "set", "k1", "up")
        mac = sh("ip", "netns", "exec", k, "cat", "/sys/class/net/k1/address").strip()
        sh("ip", "-n", r, "-6", "neigh", "replace", "2001:db8:20::2", "lladdr", mac, "dev",
           "r1", "nud", "permanent")
        sh("ip", "-n", r, "-6", "route", "add", "fc00:2::/64", "via", "2001:db8:20::2",
           "dev", "r1")
        sh("ip", "netns", "exec", r, "ip", "sr", "tunsrc", "set", TUNSRC)
        sh("ip", "-n", r, "-6", "route", "add", "2001:db8:d1::/64", "encap", "seg6", "mode",
           "encap", "segs", ",".join(SEGS), "dev", "r1")
        end = time.monotonic() + 10
        while sh("ip", "netns", "exec", r, "cat", "/sys/class/net/r1/operstate").strip() \
                != "up":
            assert time.monotonic() < end, "veth did not come up"
            time.sleep(0.05)
        yield {"r": r, "k": k, "procs": procs}  # type: ignore[dict-item]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def test_live_flow_appears_with_its_path_within_two_seconds(netns: dict) -> None:  # type: ignore[type-arg]
    feed = live_feed([f"{netns['r']}/r1"])  # dumpcap runs before the UI starts
    app = MonitorApp(feed, refresh_interval=0.1)
    seen: list[float] = []

    async def main() -> None:
        async with app.run_test(size=(140, 40)) as pilot:
            sender = subprocess.Popen(
                ["ip", "netns", "exec", netns["r"], sys.executable, "-c", SENDER, "8"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            netns["procs"].append(sender)
            start = time.monotonic()
            table = app.query_one(FlowsTable)
            while time.monotonic() - start < 5:
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
            app.stop_capture()

    try:
        asyncio.run(asyncio.wait_for(main(), 60))
    finally:
        feed.stop()
        app.capture_done.wait(10)
        feed.close()
    assert seen[0] <= 2.0, f"the flow took {seen[0]:.2f} s to appear"
    print(f"flow on screen {seen[0]:.2f} s after the sender started")
