"""A synthetic SRv6 feed: many flows at a chosen packet rate, with path changes.

For the responsiveness benchmark (``benchmarks/tui_responsiveness.py``) and the tests: it
behaves like a live capture (paced, real-time timestamps) without needing a kernel or root.
Frames are built once per (flow, path) with ``srinspect.build`` and re-stamped, so the
generator itself costs little next to the monitor it feeds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from srinspect.build import ethernet, inner_udp, segments_spec, srv6_packet
from srinspect.frame import Frame
from srinspect.sources import InterfaceDrops

LINKTYPE_ETHERNET = 1
PATHS = (("fc00:0:2::1", "fc00:0:3::1", "fc00:0:6::1"),
         ("fc00:0:4::1", "fc00:0:5::1", "fc00:0:6::1"),
         ("fc00:0:3::1", "fc00:0:6::1"))


def template(flow: int, path: int) -> bytes:
    """An Ethernet frame of flow ``flow`` steered along ``PATHS[path]`` (travel order)."""
    travel = PATHS[path % len(PATHS)]
    segs = list(reversed(travel))  # SRH order: Segment List[0] is the final segment
    inner = inner_udp(f"2001:db8:1::{flow + 1:x}", "2001:db8:2::1", b"x" * 64,
                      sport=10000 + flow, dport=5201)
    spec = segments_spec(segs, segments_left=len(segs) - 1)
    return ethernet(srv6_packet("fc00:0:1::1", spec, inner))


class SyntheticFeed:
    """``rate`` packets/s over ``flows`` flows (round robin) for ``duration`` seconds
    (None: until stopped); every ``change_every`` seconds one flow moves to another path."""

    live = True

    def __init__(self, rate: float = 100_000, flows: int = 50, duration: float | None = None,
                 change_every: float = 2.0, clock: Callable[[], float] = time.time) -> None:
        self.name = f"synthetic {rate:g} pkt/s, {flows} flows"
        self.rate = rate
        self.flows = flows
        self.duration = duration
        self.change_every = change_every
        self._clock = clock
        self._stop = threading.Event()
        self._frames = {(f, p): template(f, p) for f in range(flows) for p in range(len(PATHS))}
        self.sent = 0
        self.behind = 0.0  # seconds the generator lagged its schedule at the end

    def run(self, sink: Callable[[Frame], object], cancelled: Callable[[], bool]) -> None:
        start = time.monotonic()
        wall0 = self._clock()
        paths = [0] * self.flows
        next_change = start + self.change_every
        batch = max(int(self.rate / 200), 1)  # 5 ms of packets per step
        flows = self.flows
        frames = self._frames
        n = 0
        while not self._stop.is_set() and not cancelled():
            now = time.monotonic()
            if self.duration is not None and now - start >= self.duration:
                break
            if now >= next_change:
                f = (n // batch) % flows
                paths[f] = (paths[f] + 1) % len(PATHS)
                next_change = now + self.change_every
            due = start + n / self.rate
            if due > now:
                time.sleep(due - now)
            ts = wall0 + (time.monotonic() - start)
            for _ in range(batch):
                f = n % flows
                data = frames[(f, paths[f])]
                n += 1
                sink(Frame(n, ts, LINKTYPE_ETHERNET, data, len(data)))
        self.sent = n
        self.behind = max(time.monotonic() - (start + n / self.rate), 0.0)

    def describe(self, index: int) -> tuple[str, int, bytes | None]:
        return "synth0", LINKTYPE_ETHERNET, None

    def progress(self) -> float | None:
        return None

    def drops(self) -> list[InterfaceDrops]:
        return []

    def set_status(self, callback: object) -> None:
        return  # nothing to go wrong

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        pass
