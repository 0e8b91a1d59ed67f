"""Per-link, per-direction counters from the kernel, and utilisation from two readings.

One ``ip -s -j link`` per namespace (run in parallel) reads every interface of a node at
once; that is cheaper than a ``cat /sys/class/net/...`` per counter and needs no mount of
the namespace's sysfs. A direction (A, D) is counted as the tx of A's end of link A-D: tx is
counted after A's tbf qdisc, so full utilisation reads as ~100% and never above.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..kernel.netns import ip_json
from .model import Direction

if TYPE_CHECKING:
    from .lab import Lab



@dataclass(frozen=True, slots=True)
class DirectionCounters:
    """Cumulative counters of one direction at time ``ts`` (monotonic seconds)."""

    ts: float
    tx_bytes: int
    tx_packets: int
    rx_bytes: int  # as received by the far end (equal to tx unless frames were lost)
    rx_packets: int


@dataclass(frozen=True, slots=True)
class DirectionLoad:
    """One direction between two readings."""

    direction: Direction
    bytes: int
    packets: int
    seconds: float
    rate_bps: int  # shaped rate

    @property
    def bps(self) -> float:
        return self.bytes * 8 / self.seconds if self.seconds > 0 else 0.0

    @property
    def utilisation(self) -> float:
        """Fraction of the shaped rate (0.0-1.0; can read a little above 1 on jitter)."""
        return self.bps / self.rate_bps if self.rate_bps else 0.0

    @property
    def percent(self) -> int:
        return round(self.utilisation * 100)


def _stats(netns: str) -> dict[str, dict[str, Any]]:
    return {entry["ifname"]: entry.get("stats64", entry.get("stats", {}))
            for entry in ip_json(netns, "-s", "link", "show")}


def read_counters(lab: Lab, stats: Callable[[str], dict[str, dict[str, Any]]] = _stats,
                  ) -> dict[Direction, DirectionCounters]:
    """Counters of every direction of every link, read now (``stats`` is for tests)."""
    names = [n.netns for n in lab.nodes.values()]
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        per_ns = dict(zip(names, pool.map(stats, names), strict=True))
    now = time.monotonic()
    out: dict[Direction, DirectionCounters] = {}
    for link in lab.links:
        for src_end, dst_end in ((link.a, link.b), (link.b, link.a)):
            tx = per_ns[src_end.netns].get(src_end.dev, {}).get("tx", {})
            rx = per_ns[dst_end.netns].get(dst_end.dev, {}).get("rx", {})
            out[(src_end.node, dst_end.node)] = DirectionCounters(
                now, int(tx.get("bytes", 0)), int(tx.get("packets", 0)),
                int(rx.get("bytes", 0)), int(rx.get("packets", 0)))
    return out


def loads_between(lab: Lab, before: dict[Direction, DirectionCounters],
                  after: dict[Direction, DirectionCounters]) -> dict[Direction, DirectionLoad]:
    """What each direction carried between two readings."""
    out: dict[Direction, DirectionLoad] = {}
    for direction, end in after.items():
        start = before.get(direction)
        if start is None:
            continue
        out[direction] = DirectionLoad(
            direction, max(0, end.tx_bytes - start.tx_bytes),
            max(0, end.tx_packets - start.tx_packets), end.ts - start.ts, lab.rate(direction))
    return out


class UtilisationSampler:
    """Keeps the previous reading; each ``sample()`` returns the load since the last one.

    The first call returns an empty dict (there is nothing to compare with yet).
    """

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self._last: dict[Direction, DirectionCounters] | None = None

    def sample(self) -> dict[Direction, DirectionLoad]:
        now = read_counters(self.lab)
        last, self._last = self._last, now
        return loads_between(self.lab, last, now) if last is not None else {}


def carrying(loads: dict[Direction, DirectionLoad], threshold: float) -> list[Direction]:
    """Directions at or above ``threshold`` utilisation (0-1), in link order."""
    return [d for d, load in loads.items() if load.utilisation >= threshold]
