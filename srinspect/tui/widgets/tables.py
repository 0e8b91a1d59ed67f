"""The monitor's tables: flows, packets, findings per rule, newest findings, links.

Each is a ``VirtualTable`` that knows how one row looks; none holds state beyond its items
and display options, which the app sets (attributes down, messages up).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text

from srinspect.flows.events import addr_text
from srinspect.tui import fmt
from srinspect.tui.engine import FindingRecord, FlowRow, PacketRecord, RuleRow
from srinspect.tui.widgets.vtable import Cell, Column, VirtualTable

# --- flows ----------------------------------------------------------------------------------

FLOW_SORTS: dict[str, Callable[[FlowRow], Any]] = {
    "id": lambda r: r.id,
    "source": lambda r: addr_text(r.key[0]),
    "final": lambda r: addr_text(r.key[1]),
    "pps": lambda r: r.pps,
    "bps": lambda r: r.bps,
    "spark": lambda r: r.bps,
    "packets": lambda r: r.packets,
    "findings": lambda r: r.finding_count,
    "hmac": lambda r: str(fmt.hmac_summary(r.hmac)),
    "changes": lambda r: r.change_count,
    "path": lambda r: fmt.plain_chain(r.segments),
}
#: Columns whose natural order is "biggest first".
DESCENDING = frozenset({"pps", "bps", "spark", "packets", "findings", "changes"})


class FlowsTable(VirtualTable):
    """One row per flow; click a header (or press ``o``) to sort by it."""

    MIN_FLEX = 40  # the segment path is what this table is for

    columns: Sequence[Column] = ()

    @staticmethod
    def layout(addr_width: int) -> tuple[Column, ...]:
        return (
            Column("id", "#", 4, True), Column("source", "Source", addr_width),
            Column("final", "Final dest", addr_width),
            Column("path", "Segment path (active segment in [ ])", None),
            Column("pps", "pkt/s", 7, True), Column("bps", "bit/s", 8, True),
            Column("spark", "bit/s, 30 s", 12), Column("packets", "Packets", 9, True),
            Column("findings", "Find.", 5, True), Column("hmac", "HMAC", 9),
            Column("changes", "Chg", 4, True),
        )

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.names: Mapping[bytes, str] = {}
        self.flashing: set[int] = set()
        self.spark: Mapping[int, Sequence[float]] = {}
        self.sort_column = "packets"
        self.sort_reverse = True
        self.rows: list[FlowRow] = []
        self.columns = self.layout(10)

    def key(self, item: FlowRow) -> Hashable:
        return item.id

    def show(self, rows: list[FlowRow]) -> None:
        self.rows = rows
        width = max([len(fmt.addr(a, self.names)) for r in rows for a in r.key[:2]] + [6])
        width = min(width, 24)
        if width != self.columns[1].width:
            self.columns = self.layout(width)
        sort = FLOW_SORTS.get(self.sort_column or "packets", FLOW_SORTS["packets"])
        ordered = sorted(rows, key=lambda r: (sort(r), -r.id if self.sort_reverse else r.id),
                         reverse=self.sort_reverse)
        self.set_items(ordered)

    def sort_by(self, column: str) -> None:
        if column not in FLOW_SORTS:
            return
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column = column
            self.sort_reverse = column in DESCENDING
        self.show(self.rows)

    def cycle_sort(self) -> None:
        keys = [c.key for c in self.columns]
        at = keys.index(self.sort_column) if self.sort_column in keys else -1
        self.sort_by(keys[(at + 1) % len(keys)])

    def cells(self, r: FlowRow) -> Sequence[Cell]:
        names = self.names
        return (
            str(r.id), fmt.addr(r.key[0], names), fmt.addr(r.key[1], names),
            fmt.path_chain(r.key[0], r.segments, r.active, names, r.id in self.flashing),
            fmt.si(r.pps), fmt.si(r.bps),
            Text(fmt.sparkline(self.spark.get(r.id, ()), 12), style="cyan"),
            str(r.packets),
            Text(str(r.finding_count), style="bold red" if r.finding_count else "dim"),
            fmt.hmac_summary(r.hmac),
            Text(str(r.change_count), style="bold yellow" if r.change_count else "dim"),
        )


# --- packets --------------------------------------------------------------------------------


class PacketsTable(VirtualTable):
    """SRv6 packets, newest first. Items are PacketRecords from the engine's ring."""

    columns: ClassVar[Sequence[Column]] = (
        Column("no", "No.", 7, True), Column("time", "Time", 11, True),
        Column("if", "If", 8), Column("flow", "Flow", 5, True),
        Column("src", "Source", 24), Column("dst", "Destination (active)", 24),
        Column("sl", "SL", 3, True), Column("len", "Len", 5, True),
        Column("hmac", "HMAC", 9), Column("findings", "Findings", None),
    )

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.names: Mapping[bytes, str] = {}
        self.base_ts: float | None = None
        self.iface: Callable[[int], str] = lambda i: f"if{i}"

    def key(self, item: PacketRecord) -> Hashable:
        return item.seq

    def cells(self, rec: PacketRecord) -> Sequence[Cell]:
        info = rec.info
        frame = rec.frame
        findings = info.findings
        if findings:
            worst = max(f.severity for f in findings)
            text = Text(", ".join(dict.fromkeys(f.rule for f in findings)),
                        style=fmt.SEVERITY_STYLE.get(worst.label, ""))
        else:
            text = Text("")
        hmac = Text(info.hmac or "", style=fmt.HMAC_STYLE.get(info.hmac or "", ""))
        return (
            str(frame.number), fmt.clock(frame.ts, self.base_ts), self.iface(frame.interface),
            str(rec.flow_id), fmt.addr(rec.key[0], self.names), fmt.addr(info.active, self.names),
            "-" if info.segments_left is None else str(info.segments_left),
            str(frame.orig_len), hmac, text,
        )


# --- findings -------------------------------------------------------------------------------


class RulesTable(VirtualTable):
    """Findings counted per rule (packets on which the rule fired)."""

    columns: ClassVar[Sequence[Column]] = (
        Column("rule", "Rule", 26), Column("severity", "Severity", 8),
        Column("count", "Count", 8, True), Column("last", "Last pkt", 8, True),
    )

    def key(self, item: RuleRow) -> Hashable:
        return item.rule

    def cells(self, r: RuleRow) -> Sequence[Cell]:
        return (r.rule, Text(r.severity, style=fmt.SEVERITY_STYLE.get(r.severity, "")),
                str(r.count), f"#{r.last_seq}")


class RecentFindingsTable(VirtualTable):
    """Newest findings first; Enter jumps to the packet."""

    columns: ClassVar[Sequence[Column]] = (
        Column("frame", "Frame", 7, True), Column("flow", "Flow", 5, True),
        Column("severity", "Severity", 8), Column("rule", "Rule", 26),
        Column("message", "Message", None),
    )

    def key(self, item: FindingRecord) -> Hashable:
        return item.n

    def cells(self, r: FindingRecord) -> Sequence[Cell]:
        f = r.finding
        return (str(f.frame), str(r.flow_id),
                Text(f.severity.label, style=fmt.SEVERITY_STYLE.get(f.severity.label, "")),
                f.rule, f.message)


# --- links ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkItem:
    """One direction of one link: a segment pair, an interface direction or a lab link.

    ``fraction`` is the share of the link's capacity when it is known (lab links are
    shaped to a rate), else the share of the busiest link shown (``relative``)."""

    kind: str
    label: str
    pps: float
    bps: float
    fraction: float
    relative: bool
    packets: int
    flows: int | None = None


class LinksTable(VirtualTable):
    """One direction of a link per row, with its load as a bar and a percentage."""

    columns: ClassVar[Sequence[Column]] = (
        Column("kind", "Kind", 5), Column("label", "Link (direction)", 34),
        Column("pps", "pkt/s", 8, True), Column("bps", "bit/s", 9, True),
        Column("bar", "Load", 10), Column("pct", "%", 5, True),
        Column("packets", "Packets", 8, True), Column("flows", "Flows", 5, True),
    )

    def key(self, item: LinkItem) -> Hashable:
        return (item.kind, item.label)

    def row_style(self, item: LinkItem) -> Style | None:
        return Style(dim=True) if item.bps <= 0 else None

    def cells(self, it: LinkItem) -> Sequence[Cell]:
        pct = f"{it.fraction * 100:.0f}" + ("*" if it.relative else "")
        return (it.kind, it.label, fmt.si(it.pps), fmt.si(it.bps), fmt.bar(it.fraction),
                Text(pct, style=fmt.load_style(it.fraction)), str(it.packets),
                "" if it.flows is None else str(it.flows))
