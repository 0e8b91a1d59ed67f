"""The monitor's tabs: each lays out its widgets and renders a snapshot into them.

The app hands a pane the snapshot, the filter and the selection (attributes and calls
down); a pane handles the messages of its own widgets and lets the others bubble up to the
app, which acts across panes (Enter on a flow opens its packets, on a finding its packet).
``PacketsPane`` is in ``widgets.packets``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import ClassVar, TypeVar

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import TabPane

from srinspect.tui import fmt
from srinspect.tui.engine import FindingRecord, FlowRow, MonitorEngine, Snapshot
from srinspect.tui.filters import Filter, finding_subject, flow_subject, pair_match, rule_subject
from srinspect.tui.lab import LabMap
from srinspect.tui.widgets.panels import FlowInfo, TopologyView
from srinspect.tui.widgets.tables import (
    FlowsTable,
    LinkItem,
    LinksTable,
    RecentFindingsTable,
    RulesTable,
)
from srinspect.tui.widgets.vtable import VirtualTable

#: Seconds a flow whose path changed stays highlighted.
FLASH_SECONDS = 3.0
MAX_RECENT_FINDINGS = 2_000

W = TypeVar("W", bound=Widget)


def titled(widget: W, title: str) -> W:
    """``widget`` with ``title`` in its border (the panes' boxes are all named)."""
    widget.border_title = title
    return widget


class Pane(TabPane):
    """A tab: key ``KEY`` selects it, labelled ``KEY LABEL``; ``focus_main`` focuses the
    widget the keys then go to."""

    KEY: ClassVar[str]
    TAB: ClassVar[str]
    LABEL: ClassVar[str]

    def __init__(self) -> None:
        super().__init__(f"{self.KEY} {self.LABEL}", id=self.TAB)

    def focus_main(self) -> None:
        raise NotImplementedError


class FlowsPane(Pane):
    """Tab 1: the flow list; under it the highlighted flow in full and the link load. A flow
    whose path changed flashes for FLASH_SECONDS: the pane remembers change counts."""

    KEY, TAB, LABEL = "1", "flows", "Flows"

    def __init__(self, names: Mapping[bytes, str]) -> None:
        super().__init__()
        self.names = names
        self.highlighted: int | None = None  # the flow under the cursor
        self.snapshot: Snapshot | None = None
        self._changes: dict[int, int] = {}
        self._flash_until: dict[int, float] = {}

    def compose(self) -> ComposeResult:
        table = titled(FlowsTable(id="flow-table"), "Flows")
        table.names = self.names
        yield table
        with Horizontal(id="flow-bottom"):
            with titled(VerticalScroll(id="flow-info-box"), "Selected flow"):
                yield FlowInfo(id="flow-info")
            yield titled(LinksTable(id="flow-links"), "Links")

    def focus_main(self) -> None:
        self.query_one(FlowsTable).focus()

    def show(self, snap: Snapshot, mono: float, flt: Filter, links: list[LinkItem]) -> None:
        """The flows of ``snap`` that ``flt`` lets through, as of ``mono`` (flashing)."""
        self.snapshot = snap
        self._track_changes(snap.flows, mono)
        rows = [r for r in snap.flows if flt.match(flow_subject(r))] if flt else snap.flows
        table = self.query_one(FlowsTable)
        table.flashing = set(self._flash_until)
        table.spark = snap.spark
        table.show(rows)
        if self.highlighted is None and table.cursor_item is not None:
            self.highlighted = table.cursor_item.id
        self.show_info()
        self.query_one("#flow-links", LinksTable).set_items(links)

    def _track_changes(self, flows: list[FlowRow], mono: float) -> None:
        for r in flows:
            seen = self._changes.get(r.id)
            if seen is not None and r.change_count > seen:
                self._flash_until[r.id] = mono + FLASH_SECONDS
            self._changes[r.id] = r.change_count
        if len(self._changes) > 4 * max(len(flows), 1000):
            live = {r.id for r in flows}
            self._changes = {k: v for k, v in self._changes.items() if k in live}
        self._flash_until = {k: t for k, t in self._flash_until.items() if t > mono}

    def show_info(self) -> None:
        row = self.flow_row(self.highlighted)
        self.query_one(FlowInfo).show(row, self.names,
                                      row is not None and row.id in self._flash_until)

    def flow_row(self, flow_id: int | None) -> FlowRow | None:
        if flow_id is None or self.snapshot is None:
            return None
        return next((r for r in self.snapshot.flows if r.id == flow_id), None)

    def on_virtual_table_highlighted(self, event: VirtualTable.Highlighted) -> None:
        if isinstance(event.table, FlowsTable):
            self.highlighted = event.item.id
            self.show_info()

    def on_virtual_table_sorted(self, event: VirtualTable.Sorted) -> None:
        if isinstance(event.table, FlowsTable):
            event.table.sort_by(event.column)


class FindingsPane(Pane):
    """Tab 3: findings counted per rule, and the newest findings (kept here: the engine
    keeps only its own bounded list)."""

    KEY, TAB, LABEL = "3", "findings", "Findings"

    def __init__(self, engine: MonitorEngine) -> None:
        super().__init__()
        self.engine = engine
        self.recent: deque[FindingRecord] = deque(maxlen=MAX_RECENT_FINDINGS)
        self._last_finding = 0

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield titled(RulesTable(id="rules"), "Findings per rule (Enter: their packets)")
            yield titled(RecentFindingsTable(id="recent"),
                         "Newest findings (Enter: open packet)")

    def focus_main(self) -> None:
        self.query_one(RecentFindingsTable).focus()

    def show(self, snap: Snapshot, flt: Filter) -> None:
        """The rules (all of them when the filter names none) and the findings ``flt``
        lets through, newest first."""
        rules = snap.rules
        if flt:
            rules = [r for r in rules if flt.match(rule_subject(r.rule))] or rules
        self.query_one(RulesTable).set_items(rules)
        new = self.engine.findings_since(self._last_finding)
        if new:
            self._last_finding = new[-1].n
            self.recent.extend(new)
        items = [r for r in reversed(self.recent) if not flt or flt.match(finding_subject(r))]
        self.query_one(RecentFindingsTable).set_items(items)


class LinksPane(Pane):
    """Tab 4: the load of every link direction; with a lab, its map above."""

    KEY, TAB, LABEL = "4", "links", "Links"

    def __init__(self, lab: LabMap | None) -> None:
        super().__init__()
        self.lab = lab

    def compose(self) -> ComposeResult:
        if self.lab is not None:
            with titled(VerticalScroll(id="topo-box"), f"Lab {self.lab.name}"):
                yield TopologyView(self.lab, id="topology")
        yield titled(LinksTable(id="link-table"), "Links: segment pairs and capture interfaces")

    def focus_main(self) -> None:
        self.query_one("#link-table", LinksTable).focus()

    def show(self, snap: Snapshot, links: list[LinkItem]) -> None:
        self.query_one("#link-table", LinksTable).set_items(links)
        if self.lab is not None:
            self.query_one(TopologyView).show(self.lab.load(snap.links))


def link_items(snap: Snapshot, flt: Filter, names: Mapping[bytes, str],
               lab: LabMap | None) -> list[LinkItem]:
    """Segment pairs (directional by nature) and capture interfaces per direction;
    with a lab, each lab link direction against its shaped rate."""
    pairs = [p for p in snap.pairs if not flt or pair_match(flt, p.a, p.b)]
    top = max([p.bps for p in pairs] + [1.0])
    items = [LinkItem("pair", f"{fmt.addr(p.a, names)} -> {fmt.addr(p.b, names)}",
                      p.pps, p.bps, p.bps / top, True, p.packets, p.flows) for p in pairs]
    if lab is not None:
        rates = {(r.interface, r.direction): r for r in snap.links}
        for link in lab.links:
            for a, b, direction in ((link.a, link.b, "tx"), (link.b, link.a, "rx")):
                r = rates.get((link.iface, direction))
                bps = r.bps if r else 0.0
                items.append(LinkItem("lab", f"{a} -> {b}  ({link.iface})",
                                      r.pps if r else 0.0, bps, bps / link.rate_bps,
                                      False, r.packets if r else 0))
        return items
    itop = max([r.bps for r in snap.links] + [1.0])
    items += [LinkItem("iface", f"{r.interface} {r.direction}", r.pps, r.bps,
                       r.bps / itop, True, r.packets) for r in snap.links]
    return items
