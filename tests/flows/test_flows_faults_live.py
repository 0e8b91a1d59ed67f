"""Live capture faults: the captured interface goes down, is deleted, or dumpcap is killed,
while ``watch`` and ``flows`` run (lab in srlab.py: veth links in namespaces with a unique
prefix, crafted SRv6 frames injected into them, 2001:db8::/32 and fc00::/7 only, removed
whatever happens).

What must hold: a ``capture-error`` event (a stderr line for ``flows``), the flow table kept,
the capture resumed when it can be (``capture-resumed``, new packets counted in the same
flow), a clean end with the table and exit status 2 when it cannot (``--no-resume``, or
``--duration`` during the outage), and Ctrl-C always giving exit 0 and a final stats line,
every line of the stream valid JSON.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from srlab import TIMEOUT, Proc, SrLab, children, wait_stats  # type: ignore[import-not-found]

pytestmark = pytest.mark.netns

PATH = ["fc00:2::a", "fc00:2::b"]
DEST = "2001:db8:d1::1"
SRC_HOST = "2001:db8:10::1"
#: dumpcap hands packets over a ring block at a time, a block retiring after 250 ms. Once a
#: ``watch`` counted the packets sent (``wait_stats``), this much more for the other
#: captures of the same link, which print nothing to wait for (``flows``, ``--no-stats``):
#: their blocks retire on the same kernel timer.
SETTLE = 0.7


def event(proc: Proc, kind: str, timeout: float = TIMEOUT) -> dict[str, object]:
    """The next event of ``kind`` on ``proc``'s JSON lines."""
    return json.loads(proc.wait_stdout(lambda ln: f'"event":"{kind}"' in ln, timeout))


def stream(proc: Proc) -> list[dict[str, object]]:
    """Every stdout line, each of which must be one JSON object."""
    assert proc.out_lines, proc.stderr
    assert all(line.startswith("{") and line.endswith("\n") for line in proc.out_lines)
    return [json.loads(line) for line in proc.out_lines]


def final(evs: list[dict[str, object]]) -> dict[str, object]:
    last = evs[-1]
    assert last["event"] == "stats" and last["final"] is True, last
    return last


def ours(flows: list[dict[str, object]]) -> list[dict[str, object]]:
    return [f for f in flows if f["inner_source"] == SRC_HOST and f["inner_destination"] == DEST]


def capturing_a_flow(srlab: SrLab) -> tuple[Proc, Proc, Proc]:
    """A sender, a ``watch`` (stats every 0.3 s) and a ``flows`` on r1, both of which have
    taken the first 20 packets of one flow: (sender, watch, flows)."""
    sender = srlab.sender()
    watch = srlab.watch("-i", "r1", "--stats-interval", "0.3")
    flows = srlab.flows("-i", "r1")
    srlab.send(sender, 20, DEST, PATH)
    event(watch, "flow-new")
    wait_stats(watch, 20)  # this dumpcap handed over every packet
    time.sleep(SETTLE)  # and so, by now, did the one of flows
    return sender, watch, flows


def fifteen_more_then_ctrl_c(srlab: SrLab, sender: Proc, watch: Proc, flows: Proc) -> None:
    """After the fault: 15 more packets of the flow, counted by ``watch``; then Ctrl-C ends
    both captures with exit status 0."""
    srlab.send(sender, 15, DEST, PATH)
    wait_stats(watch, 35)
    assert watch.interrupt() == 0, watch.stderr
    assert flows.interrupt() == 0, flows.stderr


def test_interface_down_then_up_resumes_with_the_same_flows(srlab: SrLab) -> None:
    sender, watch, flows = capturing_a_flow(srlab)

    srlab.ip("r", "link", "set", "r1", "down")
    lost = event(watch, "capture-error")
    assert lost["interface"] == "r1" and lost["reason"] == "down"
    assert lost["message"] == "r1 is down" and lost["retrying"] is True
    assert lost["lost"] == ["r1"]
    flows.wait_stderr("capture error on r1: r1 is down; retrying")

    srlab.restore_r1()
    back = event(watch, "capture-resumed")
    assert back["interface"] == "r1" and back["lost"] == [] and back["lost_for"] > 0
    flows.wait_stderr("capture resumed on r1")
    fifteen_more_then_ctrl_c(srlab, sender, watch, flows)
    assert "Traceback" not in watch.stderr + flows.stderr

    evs = stream(watch)
    new = [e for e in evs if e["event"] == "flow-new"]
    assert len(ours([e["flow"] for e in new])) == 1  # type: ignore[misc]  # one flow throughout
    last = final(evs)
    assert last["interrupted"] is True and last["srv6_packets"] == 35
    assert last["capture_errors"] == 1 and last["capture_lost"] == [] and last["captures"] == 1
    report = json.loads(flows.stdout)
    [flow] = ours(report["flows"])
    assert flow["packets"] == 35 and flow["path"] == PATH
    faults = report["capture"]["faults"]
    assert [e["event"] for e in faults["events"]] == ["capture-error", "capture-resumed"]
    assert faults["lost_at_end"] == [] and faults["captures"] == 1


def test_interface_deleted(srlab: SrLab) -> None:
    """One lab, four runs: --no-resume ends (2); --duration ends during the outage (2);
    Ctrl-C during the outage (0); and a run that resumes once the interface is back."""
    sender = srlab.sender()
    begin = time.monotonic()
    no_resume = srlab.watch("-i", "r1", "--no-resume")
    # timed's --duration: long enough for the steps up to the deletion, which must come
    # first, also on a slow machine (scaled by how long one capture took to start)
    timed_for = max(6.0, 10 * (time.monotonic() - begin))
    ctrl_c = srlab.watch("-i", "r1", "--stats-interval", "0.3")
    resumes = srlab.watch("-i", "r1", "--no-stats")
    started = time.monotonic()
    timed = srlab.srinspect("flows", "-i", "r1", "--duration", f"{timed_for:.1f}")
    timed.wait_stderr("srinspect: capturing on")
    srlab.send(sender, 20, DEST, PATH)
    event(resumes, "flow-new")
    wait_stats(ctrl_c, 20)
    wait_stats(no_resume, 20)
    time.sleep(SETTLE)

    took = time.monotonic() - started
    assert took < timed_for - 1, f"too slow: {took:.1f} s of timed's {timed_for:.1f} s gone"
    print(f"deleting r1 {took:.1f} s into timed's {timed_for:.1f} s")
    srlab.ip("r", "link", "del", "r1")
    assert no_resume.wait(timeout=TIMEOUT) == 2, no_resume.stderr
    evs = stream(no_resume)
    [lost] = [e for e in evs if e["event"] == "capture-error"]
    assert lost["reason"] == "gone" and lost["message"] == "r1 no longer exists"
    assert lost["retrying"] is False
    last = final(evs)
    assert last["srv6_packets"] == 20 and last["capture_lost"] == ["r1"]
    assert last["interrupted"] is False
    assert "the capture failed (r1 no longer exists)" in no_resume.stderr

    lost = event(ctrl_c, "capture-error")
    assert lost["reason"] == "gone" and lost["retrying"] is True
    event(ctrl_c, "stats")  # the stream goes on during the outage
    event(ctrl_c, "stats")
    assert ctrl_c.interrupt() == 0, ctrl_c.stderr
    last = final(stream(ctrl_c))
    assert last["interrupted"] is True and last["srv6_packets"] == 20
    assert last["capture_lost"] == ["r1"]

    assert timed.wait(timeout=timed_for + TIMEOUT) == 2, timed.stderr
    assert "traffic  20 pkts" in timed.stdout
    assert "capture interrupted: 1 capture error, 1 dumpcap run; not capturing r1 at the end" \
        in timed.stdout
    assert "lost r1: r1 no longer exists" in timed.stdout
    assert "capture error on r1: r1 no longer exists; retrying" in timed.stderr
    assert "was lost at the end" in timed.stderr

    event(resumes, "capture-error")
    srlab.recreate_r1()
    back = event(resumes, "capture-resumed")
    assert back["interface"] == "r1" and back["lost"] == []
    srlab.send(sender, 10, DEST, PATH)
    assert resumes.interrupt() == 0, resumes.stderr  # Ctrl-C delivers what was captured
    last = final(stream(resumes))
    assert last["srv6_packets"] == 30 and last["flows"] == 1 and last["captures"] == 2
    for proc in (no_resume, ctrl_c, timed, resumes):
        assert "Traceback" not in proc.stderr


def test_dumpcap_killed_restarts(srlab: SrLab) -> None:
    sender, watch, flows = capturing_a_flow(srlab)

    before = {proc: children(proc) for proc in (watch, flows)}
    assert all(len(pids) == 1 for pids in before.values()), before
    for pids in before.values():
        os.kill(pids[0], signal.SIGKILL)
    lost = event(watch, "capture-error")
    assert lost["reason"] == "exited" and "SIGKILL" in lost["message"]  # type: ignore[operator]
    assert lost["retrying"] is True
    back = event(watch, "capture-resumed")
    assert back["lost"] == []
    flows.wait_stderr("capture resumed on r1")
    for proc, pids in before.items():
        now = children(proc)
        assert len(now) == 1 and now != pids  # a new dumpcap
    fifteen_more_then_ctrl_c(srlab, sender, watch, flows)

    last = final(stream(watch))
    assert last["srv6_packets"] == 35 and last["flows"] == 1 and last["captures"] == 2
    assert last["capture_errors"] == 1 and last["capture_lost"] == []
    assert last["drops"], "the second dumpcap reports its drops"
    report = json.loads(flows.stdout)
    [flow] = ours(report["flows"])
    assert flow["packets"] == 35
    assert report["capture"]["faults"]["captures"] == 2
    assert "Traceback" not in watch.stderr + flows.stderr
