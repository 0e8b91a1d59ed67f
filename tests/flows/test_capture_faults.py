"""Capture faults without a kernel lab: a stand-in dumpcap that dies, fails or stops.

``LiveSource`` runs whatever ``dumpcap`` is found; here it is a small script that writes a
classic pcap to stdout and then does what the test's plan says for that run: ``kill``
(a cut record, then SIGKILL itself), ``fail`` (dumpcap's "no device" error, exit 1),
``gone`` (dumpcap's "adapter no longer attached" message, exit 0, as when the interface
is deleted) or ``serve`` (wait for SIGINT, report drops, exit 0). The real kernel cases
(link down, interface deleted, dumpcap killed) are in test_flows_faults_live.py.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from srinspect import build
from srinspect.sources import CaptureEvent, Dumpcap, LiveSource, live, tools
from srinspect.sources.links import LinkWatch
from srinspect.srh import SrhSpec
from srinspect.wire import parse_ip6

PATH = ["fc00:1::1", "fc00:9::1"]

FAKE = r'''#!{python}
import os, signal, struct, sys, time
state, plan_file, frames_file = {state!r}, {plan!r}, {frames!r}
n = int(open(state).read()) if os.path.exists(state) else 0
open(state, "w").write(str(n + 1))
plan = open(plan_file).read().split()
action = plan[min(n, len(plan) - 1)]
frames = [bytes.fromhex(x) for x in open(frames_file).read().split()]
out, err = sys.stdout.buffer, sys.stderr
err.write("Capturing on 'fake0'\n")
err.flush()

def summary():
    err.write("Packets captured: %d\n" % len(frames))
    err.write("Packets received/dropped on interface 'fake0': %d/0 "
              "(pcap:0/dumpcap:0/flushed:0/ps_ifdrop:0) (100.0%%)\n" % len(frames))
    err.flush()

if action == "fail":
    err.write('dumpcap: There is no device named "fake0".\n(No such device exists)\n')
    sys.exit(1)
stop = []
signal.signal(signal.SIGINT, lambda *a: stop.append(1))
out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
for f in frames:
    t = time.time()
    out.write(struct.pack("<IIII", int(t), int(t % 1 * 1e6), len(f), len(f)) + f)
out.flush()
if action == "kill":
    out.write(struct.pack("<IIII", int(time.time()), 0, 100, 100) + b"cut")
    out.flush()
    os.kill(os.getpid(), signal.SIGKILL)
if action == "gone":
    err.write('dumpcap: The network adapter "fake0" is no longer attached; '
              'the capture has stopped.\n')
    summary()
    sys.exit(0)
while not stop:
    time.sleep(0.02)
summary()
'''


def srv6_frame(sport: int = 40000) -> bytes:
    spec = SrhSpec([parse_ip6(s) for s in reversed(PATH)], segments_left=len(PATH) - 1)
    return build.ethernet(build.srv6_packet(
        "2001:db8:a::1", spec, build.inner_udp("2001:db8:1::1", "2001:db8:2::1", sport=sport)))


@pytest.fixture
def fake_dumpcap(tmp_path: Path) -> Callable[[str, int], str]:
    """``make(plan, frames)``: the path of a stand-in dumpcap following ``plan``."""

    def make(plan: str, frames: int = 3) -> str:
        (tmp_path / "plan").write_text(plan)
        (tmp_path / "frames").write_text("\n".join(srv6_frame().hex() for _ in range(frames)))
        script = tmp_path / "dumpcap"
        script.write_text(FAKE.format(python=sys.executable, state=str(tmp_path / "state"),
                                      plan=str(tmp_path / "plan"),
                                      frames=str(tmp_path / "frames")))
        script.chmod(0o755)
        return str(script)

    return make


@pytest.fixture
def on_path(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Make the CLI find ``path`` as dumpcap."""
    real = shutil.which

    def use(path: str) -> None:
        monkeypatch.setattr(tools.shutil, "which",
                            lambda name, *a, **k: path if name == "dumpcap" else real(name))

    return use


def test_source_resumes_after_the_capture_process_dies(fake_dumpcap) -> None:  # noqa: ANN001
    src = LiveSource(["fake0"], tool=Dumpcap(fake_dumpcap("kill fail serve")),
                     resume=True)
    seen: list[CaptureEvent] = []
    src.set_status(seen.append)
    numbers = []
    with src:
        for frame in src:
            numbers.append(frame.number)
            assert frame.interface == 0
            if len(numbers) == 6:
                src.stop()
    # the cut record of the killed run is not delivered; numbering goes on after restart
    assert numbers == [1, 2, 3, 4, 5, 6]
    assert [(e.event, e.reason) for e in seen] == [
        ("capture-error", "exited"), ("capture-error", "exited"), ("capture-resumed", None)]
    killed, refused, resumed = seen
    assert "killed by SIGKILL" in killed.message and killed.retrying
    assert killed.interfaces == ("fake0",) and killed.lost == ("fake0",)
    assert "cannot restart" in refused.message and "no device named" in refused.message
    assert resumed.lost == () and resumed.lost_for is not None
    assert resumed.lost_for >= live.RETRY_FIRST  # the failed restart waited its backoff
    assert src.lost == [] and src.failed is None and src.error_count == 2 and src.runs == 2
    [drops] = src.drops()  # the killed run never reported: only the last one's counts
    assert drops.received == 3 and drops.dropped == 0
    assert drops.detail["captures"] == 2 and drops.detail["captures_unreported"] == 1
    assert [e.event for e in src.events] == [e.event for e in seen]


def test_source_without_resume_ends_at_the_first_fault(fake_dumpcap) -> None:  # noqa: ANN001
    src = LiveSource(["fake0"], tool=Dumpcap(fake_dumpcap("gone serve")),
                     resume=False)
    with src:
        frames = list(src)
    assert len(frames) == 3
    assert src.failed is not None and src.failed.reason == "exited"
    assert "no longer attached" in src.failed.message and not src.failed.retrying
    assert src.lost == ["fake0"] and src.runs == 1
    assert src.drops()[0].received == 3


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_watch_reports_and_resumes(fake_dumpcap, on_path, run_cli) -> None:  # noqa: ANN001
    on_path(fake_dumpcap("kill serve"))
    res = run_cli("watch", "-i", "fake0", "--format", "jsonl", "--duration", "1.5",
                  "--stats-interval", "0.2")
    assert res.rc == 0, res.err
    evs = lines(res.out)  # every line is JSON
    kinds = [e["event"] for e in evs]
    assert kinds[0] == "start" and kinds.count("flow-new") == 1  # one flow across restarts
    assert kinds.index("capture-error") < kinds.index("capture-resumed")
    error = evs[kinds.index("capture-error")]
    assert error["interface"] == "fake0" and error["reason"] == "exited"
    assert error["retrying"] is True and error["lost"] == ["fake0"]
    assert isinstance(error["ts"], float) and "SIGKILL" in error["message"]
    final = evs[-1]
    assert final["event"] == "stats" and final["final"] is True
    assert final["srv6_packets"] == 6 and final["flows"] == 1
    assert final["capture_errors"] == 1 and final["capture_lost"] == [] and final["captures"] == 2


def test_flows_no_resume_prints_the_table_and_exits_2(fake_dumpcap, on_path,  # noqa: ANN001
                                                      run_cli) -> None:  # noqa: ANN001
    on_path(fake_dumpcap("kill"))
    res = run_cli("flows", "-i", "fake0", "--no-resume")
    assert res.rc == 2
    assert "traffic  3 pkts" in res.out
    assert "capture interrupted: 1 capture error, 1 dumpcap run; not capturing fake0" in res.out
    assert "lost fake0: dumpcap was killed by SIGKILL" in res.out
    assert "the capture failed" in res.err and "--no-resume" in res.err
    assert "Traceback" not in res.err


def test_flows_duration_ending_during_an_outage_exits_2(fake_dumpcap, on_path,  # noqa: ANN001
                                                        run_cli) -> None:  # noqa: ANN001
    on_path(fake_dumpcap("gone fail"))
    res = run_cli("flows", "-i", "fake0", "--duration", "1.2", "--format", "json")
    assert res.rc == 2, res.err
    report = json.loads(res.out)
    assert [f["packets"] for f in report["flows"]] == [3]
    faults = report["capture"]["faults"]
    assert faults["lost_at_end"] == ["fake0"] and faults["failed"] is None
    assert faults["errors"] >= 2  # the loss, then the failing restarts
    assert faults["events"][0]["message"].startswith("dumpcap stopped: The network adapter")
    assert "capture error on fake0" in res.err and "retrying" in res.err
    assert "was lost at the end" in res.err


def test_link_watch_states() -> None:
    watch = LinkWatch()
    try:
        assert watch.state("lo") == "up"
        assert watch.state("srinspect-none") == "gone"  # 14 characters: a valid name
        assert watch.state("x" * 20) is None  # no interface can have it
    finally:
        watch.close()
