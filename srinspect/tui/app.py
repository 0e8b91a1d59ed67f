"""``srinspect monitor``: the Textual app.

Threads and timing (EXAMPLES.md section 4): one thread worker runs the feed (capture or file
reading) and hands every frame to the ``MonitorEngine`` (decode, flow table, ring buffer);
the UI never decodes or reads a socket. A timer (``refresh_interval``, 5 times a second by
default) takes a snapshot of the engine and pushes it down into the panes; pausing stops
only that push, so capture goes on and nothing is lost. Widgets post messages up
(``VirtualTable.Highlighted/Chosen/Sorted``, tree highlights) and the app sets the other
panes' attributes in response.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import BinaryIO, ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.widgets import Footer, Header, Input, Label, TabbedContent, TabPane, Tree
from textual.worker import Worker, get_current_worker

from srinspect.dissect import Node, packet_tree
from srinspect.errors import CaptureFormatError
from srinspect.findings import Finding
from srinspect.frame import Frame
from srinspect.keys import Keyring
from srinspect.locators import Locators
from srinspect.rules import Profile
from srinspect.sinks import wireshark
from srinspect.sinks.pcapng_writer import PcapngWriter
from srinspect.sources.live import CaptureError
from srinspect.tui import fmt
from srinspect.tui.engine import (
    DEFAULT_MAX_PACKETS,
    FindingRecord,
    FlowRow,
    MonitorEngine,
    PacketRecord,
    RuleRow,
    Snapshot,
)
from srinspect.tui.feeds import Feed
from srinspect.tui.filters import Filter, Subject, cached
from srinspect.tui.lab import LabMap
from srinspect.tui.widgets.detail import DetailTree, HexView
from srinspect.tui.widgets.dialogs import HelpScreen, SaveScreen
from srinspect.tui.widgets.panels import FlowInfo, Status, StatusBar, TopologyView
from srinspect.tui.widgets.tables import (
    FlowsTable,
    LinkItem,
    LinksTable,
    PacketsTable,
    RecentFindingsTable,
    RulesTable,
)
from srinspect.tui.widgets.vtable import VirtualTable

FLASH_SECONDS = 3.0
#: GIL switch interval while the app runs. The capture worker is CPU-bound Python; at the
#: default 5 ms every wake-up of the UI's event loop waits up to 5 ms for the GIL, and one
#: key press takes dozens of wake-ups (seconds under load). 0.5 ms keeps input latency low
#: for a few percent of throughput.
SWITCH_INTERVAL = 0.0001
#: The capture worker's duty cycle: after WORK_SLICE seconds of continuous work it sleeps
#: YIELD seconds, so the UI thread regularly has the GIL to itself (the engine needs about
#: 55 % of a core at 100k packets/s, so 80 % still keeps up; a file loads 20 % slower).
WORK_SLICE = 0.004
YIELD = 0.001
MAX_RECENT_FINDINGS = 2_000
#: Newest packets listed in the Packets pane (the ring keeps more, for saving and jumps):
#: the list is rebuilt a few times a second, so its length is what a refresh costs.
MAX_VIEW = 10_000
TABS = ("flows", "packets", "findings", "links")
#: Time tshark gets after the limit to be stopped and cleaned up before the UI gives up.
DISSECT_GRACE = 1.0


class MonitorApp(App[int]):
    """The live SRv6 view. Build it with a feed (file, live, lab); ``run()`` it."""

    CSS_PATH = "app.tcss"
    TITLE = "srinspect monitor"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("slash", "filter", "Filter"),
        Binding("space", "pause", "Pause"),
        Binding("s", "save", "Save"),
        Binding("w", "wireshark", "Wireshark"),
        Binding("question_mark", "help", "Help"),
        Binding("a", "all_packets", "All packets"),
        Binding("o", "sort", "Sort", show=False),
        Binding("escape", "escape", "Clear", show=False),
        Binding("1", "tab('flows')", "Flows", show=False),
        Binding("2", "tab('packets')", "Packets", show=False),
        Binding("3", "tab('findings')", "Findings", show=False),
        Binding("4", "tab('links')", "Links", show=False),
    ]

    def __init__(self, feed: Feed, *, profile: Profile = Profile.DRAFT04,
                 keyring: Keyring | None = None, lab: LabMap | None = None,
                 max_packets: int = DEFAULT_MAX_PACKETS, max_flows: int = 65536,
                 idle_timeout: float = 300.0, window: float = 5.0,
                 refresh_interval: float = 0.2, save_dir: str | os.PathLike[str] = ".",
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time,
                 locators: Locators | None = None) -> None:
        super().__init__()
        # A monitor under load has no cycles for sliding tab underlines and smooth scrolls.
        self.animation_level = "none"
        self.feed = feed
        #: action -> perf_counter when it last ran / when the screen next refreshed after it
        #: (the responsiveness benchmark and tests read these)
        self.handled: dict[str, float] = {}
        self.shown: dict[str, float] = {}
        self.profile = profile
        self.lab = lab
        self.names = dict(lab.names) if lab is not None else {}
        self.engine = MonitorEngine(profile, keyring, max_packets=max_packets,
                                    max_flows=max_flows, idle_timeout=idle_timeout,
                                    window=window, paced=feed.live, describe=feed.describe,
                                    locators=locators)
        self.refresh_interval = refresh_interval
        self.save_dir = Path(save_dir)
        self._clock = clock
        self._wall = wall
        self.filter = Filter("", self.names)
        self.paused = False
        self.flow_id: int | None = None  # packets view restricted to this flow
        self.highlighted_flow: int | None = None
        self.packet: PacketRecord | None = None
        self.snapshot: Snapshot | None = None
        self.packet_items: list[PacketRecord] = []
        self.recent: deque[FindingRecord] = deque(maxlen=MAX_RECENT_FINDINGS)
        self._last_seq = 0
        self._last_finding = 0
        self._changes: dict[int, int] = {}
        self._flash_until: dict[int, float] = {}
        self._follow = True
        self._started = clock()
        self._rate_at = (self._started, 0)
        self._rate = 0.0
        self.capture_done = threading.Event()
        self.capture_error: str | None = None
        self._capture_seen = 0  # capture events already announced
        self.refresh_count = 0
        self.refresh_seconds = 0.0
        self.message = ""
        #: full dissection (``w``): how, within what time, and for which packet it is shown
        self.dissector: Callable[[Frame, float], Node] = wireshark.full_dissection
        self.dissect_timeout = wireshark.DEFAULT_TIMEOUT
        self.full_view: PacketRecord | None = None

    # --- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="flows", id="tabs"):
            with TabPane("1 Flows", id="flows"):
                yield FlowsTable(id="flow-table")
                with Horizontal(id="flow-bottom"):
                    with VerticalScroll(id="flow-info-box"):
                        yield FlowInfo(id="flow-info")
                    yield LinksTable(id="flow-links")
            with TabPane("2 Packets", id="packets"):
                yield Label("", id="packets-title")
                yield PacketsTable(id="packet-table")
                with Horizontal(id="packet-bottom"):
                    yield DetailTree(id="detail")
                    with VerticalScroll(id="hex-box"):
                        yield HexView(id="hex")
            with TabPane("3 Findings", id="findings"), Horizontal():
                yield RulesTable(id="rules")
                yield RecentFindingsTable(id="recent")
            with TabPane("4 Links", id="links"):
                if self.lab is not None:
                    with VerticalScroll(id="topo-box"):
                        yield TopologyView(self.lab, id="topology")
                yield LinksTable(id="link-table")
        yield Input(placeholder="filter: address, segment, rule id, hmac status; "
                    "src: dst: seg: rule: hmac: flow:  (Enter apply, Esc cancel)",
                    id="filter")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, SWITCH_INTERVAL))
        self.sub_title = self.feed.name + (f"  (lab {self.lab.name})" if self.lab else "")
        titles = {"#flow-table": "Flows", "#flow-info-box": "Selected flow",
                  "#flow-links": "Links", "#packet-table": "Packets", "#detail": "Detail",
                  "#hex-box": "Bytes (findings in colour, selected field reversed)",
                  "#rules": "Findings per rule (Enter: their packets)",
                  "#recent": "Newest findings (Enter: open packet)",
                  "#link-table": "Links: segment pairs and capture interfaces"}
        for selector, title in titles.items():
            self.query_one(selector).border_title = title
        if self.lab is not None:
            self.query_one("#topo-box").border_title = f"Lab {self.lab.name}"
        for table in self.query(PacketsTable):
            table.names = self.names
            table.iface = self.engine.interface_name
        self.query_one(FlowsTable).names = self.names
        self._update_packets_title()
        self.query_one(FlowsTable).focus()
        self.set_interval(self.refresh_interval, self._tick)
        set_status = getattr(self.feed, "set_status", None)
        if set_status is not None:  # capture faults and recoveries, into the engine
            set_status(self.engine.capture_event)
        self._capture()

    # --- capture worker -------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="capture", exit_on_error=False)
    def _capture(self) -> None:
        """Runs the feed in a thread: every frame goes to the engine, never to the UI."""
        worker = get_current_worker()
        try:
            self.feed.run(self._governed(self.engine.feed), lambda: worker.is_cancelled)
        except (CaptureError, CaptureFormatError, OSError) as exc:
            self.capture_error = str(exc)
        finally:
            self.capture_done.set()

    @staticmethod
    def _governed(feed: Callable[[Frame], object]) -> Callable[[Frame], object]:
        """``feed`` with the worker's duty cycle (see WORK_SLICE); MultiFeed calls it from
        several threads, where the shared counters being approximate does not matter."""
        clock = time.perf_counter
        state = [clock(), 0]

        def sink(frame: Frame) -> object:
            out = feed(frame)
            state[1] += 1
            if not state[1] & 127 and clock() - state[0] > WORK_SLICE:
                time.sleep(YIELD)
                state[0] = clock()
            return out

        return sink

    def stop_capture(self) -> None:
        self.feed.stop()
        self.workers.cancel_group(self, "capture")

    async def action_quit(self) -> None:
        self.stop_capture()
        self.exit(0)

    def on_unmount(self) -> None:
        self.feed.stop()
        sys.setswitchinterval(getattr(self, "_switch_interval", 0.005))

    # --- refresh --------------------------------------------------------------------------

    def _tick(self) -> None:
        if not self.is_running:
            return
        with contextlib.suppress(NoMatches):  # the screen is being torn down (quit)
            self.refresh_now(force=False)

    def refresh_now(self, force: bool = True) -> None:
        """Push a fresh snapshot into the panes (the timer's job; tests call it)."""
        start = time.perf_counter()
        mono = self._clock()
        if not self.paused or force:
            snap = self.engine.snapshot(self._wall())
            self.snapshot = snap
            self._apply(snap, mono)
        self._status(mono)
        self.refresh_count += 1
        self.refresh_seconds += time.perf_counter() - start

    def _apply(self, snap: Snapshot, mono: float) -> None:
        self._show_flows(snap, mono)
        self._show_links(snap)
        self._show_findings(snap)
        self._show_packets(snap)

    def _flow_subject(self, r: FlowRow) -> Subject:
        hmac = list(r.hmac)
        return Subject(r.key, r.segments, list(r.findings), hmac, r.id)

    def _show_flows(self, snap: Snapshot, mono: float) -> None:
        for r in snap.flows:
            seen = self._changes.get(r.id)
            if seen is not None and r.change_count > seen:
                self._flash_until[r.id] = mono + FLASH_SECONDS
            self._changes[r.id] = r.change_count
        if len(self._changes) > 4 * max(len(snap.flows), 1000):
            live = {r.id for r in snap.flows}
            self._changes = {k: v for k, v in self._changes.items() if k in live}
        self._flash_until = {k: t for k, t in self._flash_until.items() if t > mono}
        rows = [r for r in snap.flows if self.filter.match(self._flow_subject(r))] \
            if self.filter else snap.flows
        table = self.query_one(FlowsTable)
        table.flashing = set(self._flash_until)
        table.spark = snap.spark
        table.show(rows)
        if self.highlighted_flow is None and table.cursor_item is not None:
            self.highlighted_flow = table.cursor_item.id
        self._show_flow_info()

    def _show_flow_info(self) -> None:
        row = self.flow_row(self.highlighted_flow)
        self.query_one(FlowInfo).show(row, self.names,
                                      row is not None and row.id in self._flash_until)

    def flow_row(self, flow_id: int | None) -> FlowRow | None:
        if flow_id is None or self.snapshot is None:
            return None
        return next((r for r in self.snapshot.flows if r.id == flow_id), None)

    def _show_links(self, snap: Snapshot) -> None:
        items = self.link_items(snap)
        for table in self.query(LinksTable):
            table.set_items(items)
        if self.lab is not None:
            self.query_one(TopologyView).show(self.lab_load(snap))

    def link_items(self, snap: Snapshot) -> list[LinkItem]:
        """Segment pairs (directional by nature) and capture interfaces per direction;
        with a lab, each lab link direction against its shaped rate."""
        names = self.names
        pairs = [p for p in snap.pairs
                 if not self.filter or self._pair_match(p.a, p.b)]
        top = max([p.bps for p in pairs] + [1.0])
        items = [LinkItem("pair", f"{fmt.addr(p.a, names)} -> {fmt.addr(p.b, names)}",
                          p.pps, p.bps, p.bps / top, True, p.packets, p.flows) for p in pairs]
        lab = self.lab
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

    def _pair_match(self, a: bytes, b: bytes) -> bool:
        key = (a, b"", b"", b"", 0, 0, 0)
        return self.filter.match(Subject(key, (b,), (), (), -1)) or \
            self.filter.match(Subject((b, b"", b"", b"", 0, 0, 0), (a,), (), (), -1))

    def lab_load(self, snap: Snapshot) -> dict[tuple[str, str], float]:
        """Fraction of capacity per lab link direction, from the captured interfaces."""
        assert self.lab is not None
        load: dict[tuple[str, str], float] = {}
        for r in snap.links:
            link = self.lab.link_of_iface(r.interface)
            if link is None:
                continue
            frac = r.bps / link.rate_bps
            if r.direction in ("tx", "any"):
                load[(link.a, link.b)] = load.get((link.a, link.b), 0.0) + frac
            if r.direction == "rx":
                load[(link.b, link.a)] = load.get((link.b, link.a), 0.0) + frac
        return load

    def _show_findings(self, snap: Snapshot) -> None:
        rules: list[RuleRow] = snap.rules
        if self.filter:
            rules = [r for r in rules if self.filter.match(Subject(
                (b"", b"", b"", b"", -1, 0, 0), (), (r.rule,), (), -1))] or rules
        self.query_one(RulesTable).set_items(rules)
        new = self.engine.findings_since(self._last_finding)
        if new:
            self._last_finding = new[-1].n
            self.recent.extend(new)
        items = [r for r in reversed(self.recent) if self._finding_match(r)]
        self.query_one(RecentFindingsTable).set_items(items)

    def _finding_match(self, r: FindingRecord) -> bool:
        if not self.filter:
            return True
        return self.filter.match(Subject(r.key, r.segments, (r.finding.rule,), (), r.flow_id))

    # --- packets view ---------------------------------------------------------------------

    def packet_match(self) -> Callable[[object], bool]:
        """The packets view's predicate: chosen flow, then the text filter (memoised per
        flow and header, so a 100k-packet rescan is cheap)."""
        flow_id = self.flow_id
        f = self.filter

        def subject(rec: object) -> Subject:
            assert isinstance(rec, PacketRecord)
            info = rec.info
            return Subject(rec.key, info.segments, [x.rule for x in info.findings],
                           [info.hmac] if info.hmac else [], rec.flow_id)

        text_match = cached(f, subject, lambda rec: (rec.flow_id, id(rec.info)))  # type: ignore[attr-defined]

        def match(rec: object) -> bool:
            assert isinstance(rec, PacketRecord)
            if flow_id is not None and rec.flow_id != flow_id:
                return False
            return not f or text_match(rec)

        return match

    def rebuild_packets(self) -> None:
        """Rescan the ring for the packets view (after the filter or the flow changed)."""
        self.packet_items = self.engine.records(self.packet_match(), limit=MAX_VIEW)
        self._last_seq = self.engine.seq if not self.packet_items else max(
            self.engine.seq, self.packet_items[0].seq)
        table = self.query_one(PacketsTable)
        self._follow = True
        table.set_items(self.packet_items,
                        keep=self.packet_items[0].seq if self.packet_items else None)
        if self.packet is not None:
            table.move_to(self.packet.seq)
        self._update_packets_title()

    def _show_packets(self, snap: Snapshot) -> None:
        """Prepend the packets that arrived since the last refresh (newest first), drop
        those that left the ring; the cursor stays on its packet, or on the newest one
        when it was there (follow mode)."""
        table = self.query_one(PacketsTable)
        if table.base_ts is None and snap.first_ts is not None:
            table.base_ts = snap.first_ts
        if snap.seq <= self._last_seq:
            return
        new = self.engine.records_since(self._last_seq, MAX_VIEW)
        self._last_seq = snap.seq
        if self.flow_id is not None or self.filter:
            match = self.packet_match()
            new = [r for r in new if match(r)]
        first = snap.seq - snap.ring + 1  # oldest seq still in the ring
        items = (new + self.packet_items)[:MAX_VIEW] if new else self.packet_items
        while items and items[-1].seq < first:
            items.pop()
        self.packet_items = items
        if self._follow and table.cursor == 0:
            table.set_items(items, keep=items[0].seq if items else None, hint=0)
        else:
            cur = table.cursor_item
            table.set_items(items, keep=cur.seq if cur is not None else None,
                            hint=table.cursor + len(new))
        self._update_packets_title()

    def _update_packets_title(self) -> None:
        which = f"flow #{self.flow_id}" if self.flow_id is not None else "all flows"
        filt = f", filter {self.filter.text!r}" if self.filter else ""
        self.query_one("#packets-title", Label).update(
            f" Packets of {which}{filt}: newest first, {len(self.packet_items)} listed "
            f"(of {len(self.engine.packets)} kept)"
            + ("  (a: all flows)" if self.flow_id is not None else ""))

    def open_packet(self, rec: PacketRecord) -> None:
        """Decode one packet in full and show its tree and bytes (a Wireshark tree already
        shown for this same packet stays: a refresh re-highlighting it must not undo ``w``)."""
        if self.full_view is rec and self.packet is rec:
            return
        self.packet = rec
        self.full_view = None
        result = self.engine.decode_full(rec)
        tree = self.query_one(DetailTree)
        tree.border_title = "Detail"
        hexview = self.query_one(HexView)
        if result is None:
            tree.show(Node(f"Frame {rec.frame.number}: not decodable as SRv6"))
            hexview.show(rec.frame.data, [])
            return
        tree.show(packet_tree(result, self.profile))
        hexview.show(rec.frame.data, result.findings)

    # --- messages from the panes ----------------------------------------------------------

    def on_virtual_table_highlighted(self, event: VirtualTable.Highlighted) -> None:
        if isinstance(event.table, FlowsTable):
            self.highlighted_flow = event.item.id
            self._show_flow_info()
        elif isinstance(event.table, PacketsTable):
            self._follow = event.table.cursor == 0
            self.open_packet(event.item)

    def on_virtual_table_chosen(self, event: VirtualTable.Chosen) -> None:
        table = event.table
        if isinstance(table, FlowsTable):
            self.show_flow_packets(event.item.id)
        elif isinstance(table, PacketsTable):
            self._follow = table.cursor == 0
            self.open_packet(event.item)
            self.query_one(DetailTree).focus()
        elif isinstance(table, RecentFindingsTable):
            self.jump_to_finding(event.item)
        elif isinstance(table, RulesTable):
            self.set_filter(f"rule:{event.item.rule}")
            self.action_tab("packets")

    def on_virtual_table_sorted(self, event: VirtualTable.Sorted) -> None:
        if isinstance(event.table, FlowsTable):
            event.table.sort_by(event.column)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[Node | Finding]) -> None:
        data = event.node.data
        hexview = self.query_one(HexView)
        if isinstance(data, Finding):
            hexview.select(data.offset, data.length, data.rule)
        elif isinstance(data, Node):
            hexview.select(data.offset, data.length, data.field)
        else:
            return
        if hexview.selected is not None:
            box = self.query_one("#hex-box", VerticalScroll)
            line = hexview.line_of(hexview.selected.offset)
            if not box.scroll_y <= line < box.scroll_y + box.size.height - 1:
                box.scroll_to(y=max(line - 2, 0), animate=False)

    def show_flow_packets(self, flow_id: int) -> None:
        self.flow_id = flow_id
        self.highlighted_flow = flow_id
        self.rebuild_packets()
        self.action_tab("packets")

    def jump_to_finding(self, r: FindingRecord) -> None:
        rec = self.engine.record(r.seq)
        if rec is None:
            self.notify(f"frame {r.finding.frame} is no longer in the packet ring buffer",
                        severity="warning")
            return
        self.flow_id = None
        if not self.packet_match()(rec):
            self.set_filter("")
        self.rebuild_packets()
        self.action_tab("packets")
        table = self.query_one(PacketsTable)
        table.move_to(rec.seq)
        self._follow = False
        self.open_packet(rec)
        tree = self.query_one(DetailTree)
        for node in tree.finding_nodes():
            f = node.data
            if isinstance(f, Finding) and f.rule == r.finding.rule \
                    and f.offset == r.finding.offset:
                # the rebuilt tree has no line numbers until it is laid out again
                tree.call_after_refresh(tree.move_cursor, node)
                hexview = self.query_one(HexView)
                hexview.select(f.offset, f.length, f.rule)
                break
        tree.focus()

    # --- actions --------------------------------------------------------------------------

    def action_tab(self, tab: str) -> None:
        self._mark("tab")
        self.query_one(TabbedContent).active = tab
        focus = {"flows": FlowsTable, "packets": PacketsTable, "findings": RecentFindingsTable,
                 "links": LinksTable}[tab]
        widgets = [w for w in self.query(focus) if w.id != "flow-links"]
        if widgets:
            widgets[0].focus()

    def _mark(self, action: str) -> None:
        self.handled[action] = time.perf_counter()
        self.shown.pop(action, None)
        self.call_after_refresh(lambda: self.shown.__setitem__(action, time.perf_counter()))

    def action_pause(self) -> None:
        self._mark("pause")
        self.paused = not self.paused
        if not self.paused:
            self.refresh_now()
        else:
            self._status(self._clock())

    def action_sort(self) -> None:
        self.query_one(FlowsTable).cycle_sort()

    def action_all_packets(self) -> None:
        if self.flow_id is not None:
            self.flow_id = None
            self.rebuild_packets()

    def action_escape(self) -> None:
        if self.filter:
            self.set_filter("")
        elif self.flow_id is not None:
            self.action_all_packets()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = self.filter.text
        box.add_class("visible")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self._close_filter()
            self.set_filter(event.value)

    def on_key(self, event: object) -> None:
        key = getattr(event, "key", "")
        box = self.query_one("#filter", Input)
        if key == "escape" and box.has_focus:
            self._close_filter()
            getattr(event, "stop", lambda: None)()

    def _close_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.remove_class("visible")
        self.action_tab(self.query_one(TabbedContent).active or "flows")

    def set_filter(self, text: str) -> None:
        self.filter = Filter(text, self.names)
        self.rebuild_packets()
        if self.snapshot is not None:
            self._apply(self.snapshot, self._clock())
        self._status(self._clock())

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    # --- save -----------------------------------------------------------------------------

    def save_target(self) -> tuple[str, list[PacketRecord]]:
        """What ``s`` saves: the highlighted flow in the Flows pane, else the packets view
        (every packet of the ring it selects, not only those on screen)."""
        tab = self.query_one(TabbedContent).active
        if tab == "flows" and self.highlighted_flow is not None:
            fid = self.highlighted_flow
            return f"flow-{fid}", self.engine.records(lambda r: r.flow_id == fid)  # type: ignore[attr-defined]
        return "view", list(self.packet_items)

    def action_save(self) -> None:
        what, records = self.save_target()
        if not records:
            self.notify("nothing to save: no packets in this view", severity="warning")
            return
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self._wall()))
        default = str(self.save_dir / f"srinspect-{what}-{stamp}.pcapng")
        label = f"{what.replace('-', ' #')} ({len(records)} packets)"

        def done(path: str | None) -> None:
            if path:
                self.save(path, records)

        self.push_screen(SaveScreen(label, default), done)

    def save(self, path: str | os.PathLike[str], records: Sequence[PacketRecord]) -> int:
        """Write ``records`` (any order) oldest first to a pcapng file; returns the count."""
        try:
            n = write_records(path, records, self.engine.interface_name)
        except OSError as exc:
            self.notify(f"cannot save {path}: {exc.strerror or exc}", severity="error")
            return 0
        self.message = f"saved {n} packets to {path}"
        self.notify(self.message)
        return n

    # --- wireshark ------------------------------------------------------------------------

    def action_wireshark(self) -> None:
        """Wireshark's tree of the open packet (pyshark) in the Detail pane, or back to
        srinspect's when it is already shown. A new request cancels one still running."""
        rec = self.packet
        if rec is None:
            self.notify("open a packet first (Packets pane, Enter)", severity="warning")
            return
        if self.full_view is rec:
            self.full_view = None
            self.open_packet(rec)
            return
        if shutil.which("tshark") is None:
            self.notify(wireshark.TSHARK_MISSING, severity="error")
            return
        self.full_view = None
        self._set_detail(Node(f"Wireshark dissection of frame {rec.frame.number}: running "
                              f"(time limit {self.dissect_timeout:g} s)"), "Detail")
        self._full_dissect(rec)

    @work(thread=True, exclusive=True, group="wireshark", exit_on_error=False)
    def _full_dissect(self, rec: PacketRecord) -> None:
        """Off the UI thread; ``exclusive`` cancels the previous request, whose result is
        then dropped (its tshark stops at its own time limit)."""
        result = dissect_limited(self.dissector, rec.frame, self.dissect_timeout,
                                 get_current_worker())
        if result is not None and not get_current_worker().is_cancelled:
            self.call_from_thread(self._show_full, rec, result)

    def _show_full(self, rec: PacketRecord, result: Node | str) -> None:
        """Put the result in the Detail pane if its packet is still the open one; the hex
        pane keeps the packet's bytes, and the tree highlight selects the field's span."""
        if self.packet is not rec:
            return
        if isinstance(result, str):
            self.message = result
            self._set_detail(Node(result), "Detail")
            self.notify(result, severity="error")
            return
        self.full_view = rec
        self._set_detail(result, f"Wireshark (pyshark): frame {rec.frame.number}  "
                                 "(w: srinspect's tree)", expand=False)

    def _set_detail(self, root: Node, title: str, *, expand: bool = True) -> None:
        tree = self.query_one(DetailTree)
        tree.show(root, expand=expand)
        tree.border_title = title

    # --- status ---------------------------------------------------------------------------

    def _status(self, mono: float) -> None:
        eng = self.engine
        at, frames = self._rate_at
        if mono - at >= 0.5:
            self._rate = (eng.frames - frames) / (mono - at)
            self._rate_at = (mono, eng.frames)
        done = self.capture_done.is_set()
        drops = self.feed.drops()
        known = [d.dropped for d in drops if d.dropped is not None]
        if known:
            drop_text = str(sum(known))
        elif self.feed.live and not done:
            drop_text = "n/a (reported at stop)"
        else:
            drop_text = "-"
        message = self.message
        if self.capture_error:
            message = f"capture error: {self.capture_error}"
        elif done and self.feed.live:
            message = message or "capture ended"
        self._announce_capture_events()
        status = Status(
            source=self.feed.name, live=self.feed.live and not done, paused=self.paused,
            frames=eng.frames, srv6=eng.decoder.srv6, flows=len(eng.table),
            rate=0.0 if done and not self.feed.live else self._rate, drops=drop_text,
            elapsed=mono - self._started, progress=self.feed.progress(),
            loading=not done, filter=self.filter.text, ring=len(eng.packets),
            message=message, alert=self.capture_alert(done))
        self.query_one(StatusBar).show(status)

    def capture_alert(self, done: bool = False) -> str:
        """The status bar's alarm while a live capture misses interfaces ('' when not)."""
        lost = self.engine.capture_lost()
        if not lost:
            return ""
        text = "; ".join(why if name in why else f"{name}: {why}" for name, why in lost.items())
        return f"CAPTURE LOST: {text}" + ("" if done else ", retrying")

    def _announce_capture_events(self) -> None:
        """A notification per capture fault or recovery since the last refresh."""
        count, events = self.engine.capture_events_since(self._capture_seen)
        self._capture_seen = count
        for ev in events[-5:]:  # a burst: the latest few say enough
            if ev.error:
                self.notify(f"capture lost on {ev.interface}: {ev.message}", severity="error",
                            timeout=10)
            else:
                self.notify(f"capture resumed on {ev.interface} after "
                            f"{ev.lost_for or 0.0:.1f} s", timeout=5)


# --- helpers (no UI) ------------------------------------------------------------------------


def write_records(path: str | os.PathLike[str], records: Iterable[PacketRecord],
                  name: Callable[[int], str]) -> int:
    """pcapng of ``records`` in capture order, one IDB per (interface, link type) used.

    A regular file is written to a temporary file next to it and renamed over it when
    complete, so an interrupted save (Ctrl-C, a full disk) never leaves a cut pcapng at
    ``path``: the whole file or, as before, the older one or none (a symlink is followed;
    a FIFO or device is written directly). The ring only holds whole frames, so a capture
    fault never puts a partial block in it either.
    """
    ordered = sorted(records, key=lambda r: r.seq)
    target = Path(os.path.realpath(path))
    if target.exists() and not target.is_file():
        with open(target, "wb") as out:
            return _write_pcapng(out, ordered, name)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            n = _write_pcapng(out, ordered, name)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return n


def _write_pcapng(out: BinaryIO, ordered: Sequence[PacketRecord],
                  name: Callable[[int], str]) -> int:
    writer = PcapngWriter(out)
    idbs: dict[tuple[int, int], int] = {}
    for rec in ordered:
        frame = rec.frame
        slot = (frame.interface, frame.linktype)
        index = idbs.get(slot)
        if index is None:
            index = idbs[slot] = writer.add_interface(frame.linktype,
                                                      name=name(frame.interface))
        writer.write(frame, interface=index)
    return len(ordered)


def _umask() -> int:
    """The process umask (mkstemp makes 0600 files; a save should look like open()'s),
    read from /proc: os.umask would change it for every thread meanwhile."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def dissect_limited(dissector: Callable[[Frame, float], Node], frame: Frame, limit: float,
                    worker: Worker[None] | None = None) -> Node | str | None:
    """``dissector(frame, limit)`` in a daemon thread, waited for at most ``limit`` seconds
    (plus a moment for tshark to be stopped): the dissector's own limit is a promise, this
    one holds even if it is not kept. Returns the tree, a one-line message (error, time
    limit), or None once ``worker`` is cancelled (a newer request replaced this one)."""
    box: list[Node | str] = []

    def attempt() -> None:
        try:
            box.append(dissector(frame, limit))
        except wireshark.DissectError as exc:
            box.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - a bad frame must not take the monitor down
            box.append(f"Wireshark dissection failed: {type(exc).__name__}: {exc}")

    thread = threading.Thread(target=attempt, name="srinspect-dissect", daemon=True)
    thread.start()
    deadline = time.monotonic() + limit + DISSECT_GRACE
    while thread.is_alive() and time.monotonic() < deadline:
        if worker is not None and worker.is_cancelled:
            return None
        thread.join(0.05)
    if box:
        return box[0]
    return f"Wireshark dissection of frame {frame.number} took longer than {limit:g} s; gave up"
