"""``lab demo``: the scripted steering sequence, measured.

Each step sets the client->server policy (shortest path, via D,B,C,E, shortest again, via C
in the default topology), lets the queues of the old path drain (``settle``), then measures
for ``hold`` seconds: kernel counters give per-direction utilisation, and srinspect's own
capture of the client's egress gives the segment list in the SRH. A step's result names the
directions carrying the flow (at or above a utilisation threshold) and whether they are the
ones the policy should light up, so the output is a check, not only a show.

The demo brings the lab up when none is running and then takes it down again at the end
(unless ``keep``); a lab that was already up is left up, back on its shortest path, so a
monitor attached to it keeps working.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from . import build, steer, traffic
from .capture import DirectionCapture, LabCapture
from .counters import DirectionLoad, carrying, loads_between, read_counters
from .errors import LabError
from .lab import Lab
from .model import Direction
from .routing import path_hops, policy_path
from .topology import DemoStep, Topology


@dataclass
class StepResult:
    """The measurement of one demo step."""

    number: int
    total: int
    label: str
    via: tuple[str, ...]
    segments: tuple[str, ...]  # node names, path order, as configured (() = shortest)
    expected: tuple[str, ...]  # nodes the flow should visit
    seconds: float
    loads: dict[Direction, DirectionLoad]
    carrying: list[Direction]
    captured: dict[Direction, DirectionCapture] = field(default_factory=dict)
    capture_carrying: list[Direction] = field(default_factory=list)

    @property
    def expected_hops(self) -> list[Direction]:
        return path_hops(self.expected)

    @property
    def matches(self) -> bool:
        """The loaded directions that lead from client to server are exactly the path's.

        Reverse directions (TCP ACKs) stay below any sensible threshold, so they are not
        part of the comparison.
        """
        return set(self.carrying) == set(self.expected_hops)

    def srh_segments(self) -> dict[Direction, tuple[str, ...]]:
        """Per captured direction, the segment list of most of its SRH packets."""
        return {d: c.segments.most_common(1)[0][0] for d, c in self.captured.items()
                if c.segments}


@dataclass
class DemoOptions:
    hold: float = 5.0
    settle: float = 1.0
    threshold: float = 0.5
    udp: bool = False
    bitrate: str | None = None
    capture_nodes: Sequence[str] | None = None  # None: the client only
    hmac_key_id: int | None = None


def ensure_lab(topology: Topology, prefix: str, log: Callable[[str], None]) -> tuple[Lab, bool]:
    """(the running lab, whether this call built it)."""
    lab = Lab.running(prefix)
    if lab is not None:
        return lab, False
    build.down(prefix)  # a half-dead lab (state without namespaces, or the reverse)
    build.up(topology, prefix, log)
    return Lab.load(prefix), True


def run_steps(lab: Lab, steps: Sequence[DemoStep], opts: DemoOptions,
              on_step: Callable[[StepResult], None],
              on_tick: Callable[[int, DemoStep, dict[Direction, DirectionLoad],
                                 LabCapture], None] | None = None) -> list[StepResult]:
    """Run the steps with traffic flowing; calls ``on_step`` after each one.

    ``on_tick`` (live view) gets the last second's loads about once a second. The policy
    is put back to shortest path and the traffic stopped whatever happens.
    """
    src, dst = lab.plan.client, lab.plan.server
    capture = LabCapture(lab, opts.capture_nodes or [src])
    results: list[StepResult] = []
    started_traffic = not traffic.traffic_status(lab).running
    capture.start()
    try:
        if started_traffic:
            traffic.start(lab, udp=opts.udp, bitrate=opts.bitrate)
        for n, step in enumerate(steps, 1):
            if step.via:
                steer.steer(lab, src, dst, step.via, hmac_key_id=opts.hmac_key_id)
                segments = (*step.via, dst)
            else:
                steer.shortest(lab, src, dst)
                segments = ()
            expected = policy_path(lab.plan.graph, src, step.via, dst)
            time.sleep(opts.settle)
            t0, c0 = time.time(), read_counters(lab)
            end = time.monotonic() + opts.hold
            last = c0
            while on_tick is not None and time.monotonic() + 1.0 <= end:
                time.sleep(1.0)
                now = read_counters(lab)
                on_tick(n, step, loads_between(lab, last, now), capture)
                last = now
            time.sleep(max(0.0, end - time.monotonic()))
            c1, t1 = read_counters(lab), time.time()
            loads = loads_between(lab, c0, c1)
            captured = capture.window(t0, t1)  # by timestamp: decoding may run behind
            seconds = next(iter(loads.values())).seconds if loads else opts.hold
            cap_loads = {d: DirectionLoad(d, c.bytes, c.packets, seconds, lab.rate(d))
                         for d, c in captured.items()}
            hops = path_hops(expected)
            result = StepResult(n, len(steps), step.label, step.via, segments, expected,
                                seconds, loads, along(carrying(loads, opts.threshold), hops),
                                captured, along(carrying(cap_loads, opts.threshold), hops))
            results.append(result)
            on_step(result)
        if capture.errors:
            raise LabError("; ".join(capture.errors))
    finally:
        capture.stop()
        try:
            steer.shortest(lab, src, dst)
        finally:
            if started_traffic:
                traffic.stop(lab)
    return results


def along(directions: Sequence[Direction], hops: Sequence[Direction]) -> list[Direction]:
    """Directions in the order of the path's hops, anything off the path after them."""
    rank = {d: i for i, d in enumerate(hops)}
    return sorted(directions, key=lambda d: rank.get(d, len(rank)))


# -- rendering -----------------------------------------------------------------------------


def _hops(directions: Sequence[Direction]) -> str:
    return " ".join(f"{a}>{b}" for a, b in directions) or "none"


def render_step(lab: Lab, r: StepResult, threshold: float) -> str:
    """Plain text for one step: the table of directions and what carried the flow."""
    policy = ("segments " + ",".join(r.segments)) if r.segments else "no policy"
    lines = [f"step {r.number}/{r.total}: {r.label} ({lab.plan.client}->{lab.plan.server} "
             f"{policy}; measured {r.seconds:.1f} s)",
             f"  {'link':<8}{'rate':>12}  {'forward':>14}  {'reverse':>14}"]
    for link in lab.links:
        a, b = link.nodes
        cells = []
        for d in ((a, b), (b, a)):
            load = r.loads.get(d)
            pct = f"{load.percent:3d}%" if load else "   -"
            mark = "*" if d in r.carrying else " "
            cells.append(f"{d[0]}>{d[1]} {pct}{mark}")
        rate = f"{link.rate_bps / 1e6:g} Mbit/s"
        lines.append(f"  {link.id:<8}{rate:>12}  {cells[0]:>14}  {cells[1]:>14}")
    pct = round(threshold * 100)
    lines.append(f"  carrying the flow (kernel, >= {pct}%): {_hops(r.carrying)}")
    if r.captured:
        lines.append(f"  carrying the flow (capture, >= {pct}%): "
                     f"{_hops([d for d in r.capture_carrying if d in r.captured])}")
    lines.append(f"  expected path: {' '.join(r.expected)} -> "
                 f"{'match' if r.matches else 'MISMATCH'}")
    srh = r.srh_segments()
    egress = [d for d in r.captured if d[0] == lab.plan.client and r.captured[d].packets]
    for d in sorted(egress):
        c = r.captured[d]
        if d in srh:
            hmac = f", HMAC verified {c.hmac_ok}" if c.hmac_ok else ""
            hmac += f", HMAC mismatches {c.hmac_bad}" if c.hmac_bad else ""
            hmac += f", HMAC with unknown key {c.hmac_unknown}" if c.hmac_unknown else ""
            lines.append(f"  SRH on {d[0]}>{d[1]}: segments {','.join(srh[d])} "
                         f"({c.srh_packets} of {c.packets} packets{hmac})")
        else:
            lines.append(f"  SRH on {d[0]}>{d[1]}: none ({c.packets} packets, plain IPv6)")
    return "\n".join(lines)


def step_json(r: StepResult) -> dict[str, object]:
    """One step as a JSON-able dict (``lab demo --format json``, one line per step)."""
    return {
        "step": r.number, "label": r.label, "via": list(r.via), "segments": list(r.segments),
        "expected_path": list(r.expected), "seconds": round(r.seconds, 3),
        "utilisation": {f"{a}>{b}": round(load.utilisation, 3)
                        for (a, b), load in r.loads.items()},
        "carrying": [f"{a}>{b}" for a, b in r.carrying],
        "capture_carrying": [f"{a}>{b}" for a, b in r.capture_carrying],
        "matches": r.matches,
        "srh": {f"{a}>{b}": list(s) for (a, b), s in r.srh_segments().items()},
        "capture_bytes": {f"{a}>{b}": c.bytes for (a, b), c in r.captured.items()},
    }
