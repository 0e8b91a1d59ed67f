"""Text panels: the selected flow's detail and history, the lab map."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.widgets import Static

from srinspect.sinks.flows_text import wall_clock
from srinspect.tui import fmt
from srinspect.tui.engine import FlowRow
from srinspect.tui.lab import LabMap


class FlowInfo(Static):
    """Everything about the highlighted flow: path, capture points, path-change history,
    findings per rule, HMAC counts."""

    def show(self, row: FlowRow | None, names: Mapping[bytes, str], flash: bool = False
             ) -> None:
        self.update(render_flow(row, names, flash))


def render_flow(r: FlowRow | None, names: Mapping[bytes, str], flash: bool = False) -> Text:
    if r is None:
        return Text("no flow selected (arrows or click in the flow list)", style="dim")
    out = Text()
    out.append(f"Flow #{r.id}  ", style="bold")
    out.append(fmt.flow_label(r.key, names))
    out.append(f"   {r.packets} pkts, {fmt.si(r.bytes, 'B')}, now {fmt.si(r.pps, 'pkt/s')} "
               f"{fmt.si(r.bps, 'bit/s')}\n")
    out.append("Path  ", style="bold")
    out.append_text(fmt.path_chain(r.key[0], r.segments, r.active, names, flash))
    sl = "not captured" if r.segments_left is None else r.segments_left
    srh = (f"   SL {sl}" if r.has_srh else "   no SRH (SID in the DA)")
    out.append(srh + "\n", style="dim")
    for p in r.points:
        sl = "-" if p.segments_left is None else p.segments_left
        out.append(f"  seen on {p.interface}: {p.packets} pkts, active "
                   f"{fmt.addr(p.active, names)}, SL {sl}\n", style="dim")
    if r.change_count:
        out.append(f"Path changes ({r.change_count}):\n", style="bold yellow")
        for c in reversed(r.changes):
            out.append(f"  {wall_clock(c.ts)}  {fmt.plain_chain(c.old, names)}  =>  ")
            out.append(fmt.plain_chain(c.new, names), style="bold")
            out.append("\n")
    else:
        out.append("Path changes: none\n", style="dim")
    if r.findings:
        out.append("Findings: ", style="bold red")
        out.append(", ".join(f"{rule} x{n}" for rule, n in sorted(r.findings.items())) + "\n")
    if r.hmac:
        out.append("HMAC: ", style="bold")
        for status, n in r.hmac.items():
            out.append(f"{status} x{n} ", style=fmt.HMAC_STYLE.get(status, ""))
    out.rstrip()
    return out


# --- the lab map ----------------------------------------------------------------------------

COL_W = 22
ROW_H = 3  # lines per half row


class TopologyView(Static):
    """The lab drawn as a graph, each link coloured by its busier direction, with both
    directions' utilisation next to it (``a>b%`` near a, ``b>a%`` near b)."""

    def __init__(self, lab: LabMap, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.lab = lab
        self.load: dict[tuple[str, str], float] = {}

    def show(self, load: dict[tuple[str, str], float]) -> None:
        """``load[(a, b)]``: fraction of capacity used from a to b."""
        self.load = load
        self.update(render_topology(self.lab, load))


def render_topology(lab: LabMap, load: Mapping[tuple[str, str], float]) -> Text:
    pos = {n: (c * COL_W + 2, r * ROW_H + 1) for n, (c, r) in lab.positions.items()}
    width = max((x for x, _ in pos.values()), default=0) + 8
    height = max((y for _, y in pos.values()), default=0) + 3
    grid = [[" "] * width for _ in range(height)]
    style: list[list[str]] = [[""] * width for _ in range(height)]

    def put(x: int, y: int, ch: str, st: str) -> None:
        if 0 <= y < height and 0 <= x < width:
            grid[y][x] = ch
            style[y][x] = st

    for link in lab.links:
        (x0, y0), (x1, y1) = pos[link.a], pos[link.b]
        ab, ba = load.get((link.a, link.b), 0.0), load.get((link.b, link.a), 0.0)
        st = fmt.load_style(max(ab, ba)) or "dim"
        cells = _line(x0, y0, x1, y1)
        inner = [c for c in cells if abs(c[0] - x0) + abs(c[1] - y0) > 1
                 and abs(c[0] - x1) + abs(c[1] - y1) > 1]
        for x, y, ch in inner:
            put(x, y, ch, st)
        for frac, share in ((0.25, ab), (0.75, ba)):
            if not inner:
                break
            x, y, _ = inner[min(int(len(inner) * frac), len(inner) - 1)]
            label = f"{share * 100:.0f}%"
            lx = x - len(label) // 2 if y0 != y1 else x - len(label) // 2
            ly = y if y0 != y1 else y - 1 if frac < 0.5 else y + 1
            for i, ch in enumerate(label):
                put(lx + i, ly, ch, fmt.load_style(share) or "dim")
    for node, (x, y) in pos.items():
        label = f"[{node}]"
        for i, ch in enumerate(label):
            put(x - 1 + i, y, ch, "bold reverse" if node in (lab.client, lab.server) else
                "bold")
    out = Text(no_wrap=True)
    for y in range(height):
        for x in range(width):
            out.append(grid[y][x], style=style[y][x])
        out.append("\n")
    out.append("link colour: busier direction; labels: use of capacity leaving the nearer "
               "node (green <40%, yellow <80%, red above)", style="dim")
    return out


def _line(x0: int, y0: int, x1: int, y1: int) -> list[tuple[int, int, str]]:
    """Bresenham's line with a box-drawing character per step direction."""
    cells = []
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
    err = dx + dy
    x, y = x0, y0
    while True:
        nx, ny, e2 = x, y, 2 * err
        if x == x1 and y == y1:
            break
        if e2 >= dy:
            err += dy
            nx += sx
        if e2 <= dx:
            err += dx
            ny += sy
        if ny == y:
            ch = "─"
        elif nx == x:
            ch = "│"
        else:
            ch = "╲" if (nx - x) * (ny - y) > 0 else "╱"
        cells.append((nx, ny, ch))
        x, y = nx, ny
    return cells[:-1]
