"""The demo's terminal view: a table of per-direction utilisation, refreshed every second.

This is deliberately small (rich only): the full topology drawing is ``srinspect monitor
--lab``. It exists so that ``lab demo`` on a terminal shows the flow moving without a second
window, while the same run off a terminal prints the headless per-step report.
"""

from __future__ import annotations

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .capture import LabCapture
from .counters import DirectionLoad
from .lab import Lab
from .model import Direction
from .topology import DemoStep


def _colour(utilisation: float) -> str:
    if utilisation >= 0.8:
        return "bold red"
    if utilisation >= 0.5:
        return "yellow"
    if utilisation >= 0.1:
        return "green"
    return "dim"


class LiveView:
    """Owns a rich ``Live``; ``update`` redraws it with the latest second of counters."""

    def __init__(self, lab: Lab, console: Console | None = None) -> None:
        self.lab = lab
        self.console = console or Console()
        self.live = Live(Text("starting..."), console=self.console, refresh_per_second=4,
                         transient=False)

    def __enter__(self) -> LiveView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def update(self, number: int, step: DemoStep, loads: dict[Direction, DirectionLoad],
               capture: LabCapture) -> None:
        lab = self.lab
        table = Table(title=f"step {number}: {step.label}", title_justify="left")
        table.add_column("link")
        table.add_column("rate", justify="right")
        table.add_column("forward", justify="right")
        table.add_column("reverse", justify="right")
        for link in lab.links:
            a, b = link.nodes
            cells = []
            for d in ((a, b), (b, a)):
                load = loads.get(d)
                u = load.utilisation if load else 0.0
                bar = "#" * min(10, round(u * 10))
                cells.append(Text(f"{d[0]}>{d[1]} {round(u * 100):3d}% {bar:<10}",
                                  style=_colour(u)))
            table.add_row(link.id, f"{link.rate_bps / 1e6:g} Mbit/s", *cells)
        flows = []
        for (src, dst), flow in sorted(capture.flows().items()):
            if src != lab.plan.client or dst != lab.plan.server:
                continue
            path = ",".join(flow.segments) if flow.segments else "shortest path (no SRH)"
            flows.append(Text(f"flow {src}->{dst}: {path}; {len(flow.history) - 1} path "
                              "changes seen by srinspect"))
        self.live.update(Group(table, *flows))
