"""``srinspect monitor``: the Textual app.

Threads and timing (EXAMPLES.md section 4): one thread worker runs the feed (capture or file
reading) and hands every frame to the ``MonitorEngine`` (decode, flow table, ring buffer);
the UI never decodes or reads a socket. A timer (``refresh_interval``, 5 times a second by
default) takes a snapshot of the engine and pushes it down into the panes; pausing stops
only that push, so capture goes on and nothing is lost. The panes render themselves and
handle their own widgets' messages; the app holds what they share (the filter, the chosen
flow), acts across them, and runs the capture and Wireshark workers.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.widgets import Footer, Header, TabbedContent
from textual.worker import get_current_worker

from srinspect.csid import CsidFormats
from srinspect.dissect import Node
from srinspect.errors import CaptureFormatError
from srinspect.frame import Frame
from srinspect.keys import Keyring
from srinspect.locators import Locators
from srinspect.rules import Profile
from srinspect.sinks import wireshark
from srinspect.sources import CaptureError
from srinspect.tui.dissection import start_dissection
from srinspect.tui.engine import (
    DEFAULT_MAX_PACKETS,
    FindingRecord,
    MonitorEngine,
    PacketRecord,
    Snapshot,
)
from srinspect.tui.feeds import Feed
from srinspect.tui.filters import Filter, packet_match
from srinspect.tui.lab import LabMap
from srinspect.tui.save import default_path, describe, save_records
from srinspect.tui.widgets.dialogs import HelpScreen, SaveScreen
from srinspect.tui.widgets.filterbox import FilterBox
from srinspect.tui.widgets.packets import PacketsPane
from srinspect.tui.widgets.panes import FindingsPane, FlowsPane, LinksPane, Pane, link_items
from srinspect.tui.widgets.status import StatusBar
from srinspect.tui.widgets.tables import FlowsTable, RecentFindingsTable, RulesTable
from srinspect.tui.widgets.vtable import VirtualTable

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
PANES = (FlowsPane, PacketsPane, FindingsPane, LinksPane)


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
        *(Binding(p.KEY, f"tab('{p.TAB}')", p.LABEL, show=False) for p in PANES),
    ]

    def __init__(self, feed: Feed, *, profile: Profile = Profile.DRAFT04,
                 keyring: Keyring | None = None, lab: LabMap | None = None,
                 max_packets: int = DEFAULT_MAX_PACKETS, max_flows: int = 65536,
                 idle_timeout: float = 300.0, window: float = 5.0,
                 refresh_interval: float = 0.2, save_dir: str | os.PathLike[str] = ".",
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time,
                 locators: Locators | None = None, csid: CsidFormats | None = None) -> None:
        super().__init__()
        # A monitor under load has no cycles for sliding tab underlines and smooth scrolls.
        self.animation_level = "none"
        self.feed = feed
        #: action -> perf_counter when it last ran / when the screen next refreshed after it
        #: (the responsiveness benchmark and tests read these)
        self.handled: dict[str, float] = {}
        self.shown: dict[str, float] = {}
        self.lab = lab
        self.names = dict(lab.names) if lab is not None else {}
        self.engine = MonitorEngine(profile, keyring, max_packets=max_packets,
                                    max_flows=max_flows, idle_timeout=idle_timeout,
                                    window=window, paced=feed.live, describe=feed.describe,
                                    locators=locators, csid=csid)
        self.refresh_interval = refresh_interval
        self.save_dir = Path(save_dir)
        self._clock = clock
        self._wall = wall
        self.filter = Filter("", self.names)
        self.paused = False
        self.flow_id: int | None = None  # packets view restricted to this flow
        self.snapshot: Snapshot | None = None
        self.capture_done = threading.Event()
        self.capture_error: str | None = None
        self.refresh_count = 0
        self.refresh_seconds = 0.0
        self.message = ""
        #: full dissection (``w``): how, and within what time
        self.dissector: Callable[[Frame, float], Node] = wireshark.full_dissection
        self.dissect_timeout = wireshark.DEFAULT_TIMEOUT
        self._started = clock()
        self.flows_pane = FlowsPane(self.names)
        self.packets_pane = PacketsPane(self.engine, profile, self.names)
        self.findings_pane = FindingsPane(self.engine)
        self.links_pane = LinksPane(lab)

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="flows", id="tabs"):
            yield self.flows_pane
            yield self.packets_pane
            yield self.findings_pane
            yield self.links_pane
        yield FilterBox(id="filter")
        yield StatusBar(self.engine, self.feed, self._started, id="status")
        yield Footer()

    def on_mount(self) -> None:
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, SWITCH_INTERVAL))
        self.sub_title = self.feed.name + (f"  (lab {self.lab.name})" if self.lab else "")
        self.packets_pane.rebuild(self.flow_id, self.filter)
        self.flows_pane.focus_main()
        self.set_interval(self.refresh_interval, self._tick)
        self.feed.set_status(self.engine.capture_event)  # faults and recoveries
        self._capture()

    # --- capture worker -------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="capture", exit_on_error=False)
    def _capture(self) -> None:
        """Runs the feed in a thread: every frame goes to the engine, never to the UI."""
        worker = get_current_worker()
        try:
            self.feed.run(governed(self.engine.feed), lambda: worker.is_cancelled)
        except (CaptureError, CaptureFormatError, OSError) as exc:
            self.capture_error = str(exc)
        finally:
            self.capture_done.set()

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
            self.snapshot = self.engine.snapshot(self._wall())
            self._apply(mono)
        self._status(mono)
        self.refresh_count += 1
        self.refresh_seconds += time.perf_counter() - start

    def _apply(self, mono: float) -> None:
        snap, flt = self.snapshot, self.filter
        if snap is None:
            return
        links = link_items(snap, flt, self.names, self.lab)
        self.flows_pane.show(snap, mono, flt, links)
        self.links_pane.show(snap, links)
        self.findings_pane.show(snap, flt)
        self.packets_pane.update(snap, self.flow_id, flt)

    def _status(self, mono: float) -> None:
        self.query_one(StatusBar).report(
            mono, done=self.capture_done.is_set(), paused=self.paused,
            filter_text=self.filter.text, message=self.message, error=self.capture_error)

    # --- across panes ---------------------------------------------------------------------

    def on_virtual_table_chosen(self, event: VirtualTable.Chosen) -> None:
        if isinstance(event.table, FlowsTable):
            self.show_flow_packets(event.item.id)
        elif isinstance(event.table, RecentFindingsTable):
            self.jump_to_finding(event.item)
        elif isinstance(event.table, RulesTable):
            self.set_filter(f"rule:{event.item.rule}")
            self.action_tab("packets")

    def show_flow_packets(self, flow_id: int) -> None:
        self.flow_id = flow_id
        self.flows_pane.highlighted = flow_id
        self.packets_pane.rebuild(self.flow_id, self.filter)
        self.action_tab("packets")

    def jump_to_finding(self, r: FindingRecord) -> None:
        rec = self.engine.record(r.seq)
        if rec is None:
            self.notify(f"frame {r.finding.frame} is no longer in the packet ring buffer",
                        severity="warning")
            return
        self.flow_id = None
        if not packet_match(self.filter, None)(rec):
            self.set_filter("")
        self.packets_pane.rebuild(self.flow_id, self.filter)
        self.action_tab("packets")
        self.packets_pane.show_finding(rec, r.finding)

    def set_filter(self, text: str) -> None:
        self.filter = Filter(text, self.names)
        self.packets_pane.rebuild(self.flow_id, self.filter)
        self._apply(self._clock())
        self._status(self._clock())

    # --- actions --------------------------------------------------------------------------

    def action_tab(self, tab: str) -> None:
        self._mark("tab")
        self.query_one(TabbedContent).active = tab
        self.query_one(f"#{tab}", Pane).focus_main()

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
            self.packets_pane.rebuild(self.flow_id, self.filter)

    def action_escape(self) -> None:
        if self.filter:
            self.set_filter("")
        elif self.flow_id is not None:
            self.action_all_packets()

    def action_filter(self) -> None:
        self.query_one(FilterBox).open(self.filter.text)

    def on_filter_box_closed(self, event: FilterBox.Closed) -> None:
        self.action_tab(self.query_one(TabbedContent).active or "flows")
        if event.text is not None:
            self.set_filter(event.text)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_save(self) -> None:
        """Ask where to save the packets ``s`` means (``save_target``), then save them."""
        what, records = self.save_target()
        if not records:
            self.notify("nothing to save: no packets in this view", severity="warning")
            return
        self.push_screen(SaveScreen(describe(what, len(records)),
                                    default_path(self.save_dir, what, self._wall())),
                         lambda path: self.save(path, records) if path else None)

    def save_target(self) -> tuple[str, list[PacketRecord]]:
        """What ``s`` saves: the highlighted flow in the Flows pane, else the packets view
        (every packet of the ring it selects, not only those on screen)."""
        fid = self.flows_pane.highlighted
        if self.query_one(TabbedContent).active == "flows" and fid is not None:
            return f"flow-{fid}", self.engine.records(lambda r: r.flow_id == fid)
        return "view", list(self.packets_pane.items)

    def save(self, path: str | os.PathLike[str], records: Sequence[PacketRecord]) -> None:
        """Write ``records`` (any order) oldest first to a pcapng file, and say so."""
        ok, text = save_records(path, records, self.engine.interface_name)
        if ok:
            self.message = text
        self.notify(text, severity="information" if ok else "error")

    def action_wireshark(self) -> None:
        """Wireshark's tree of the open packet (pyshark) in the Detail pane, or back to
        srinspect's when it is already shown. A new request cancels one still running."""
        rec = self.packets_pane.wireshark_request(self.dissect_timeout)
        if rec is not None:
            start_dissection(self, rec.frame, self.dissector, self.dissect_timeout,
                             lambda result: self._show_full(rec, result))

    def _show_full(self, rec: PacketRecord, result: Node | str) -> None:
        if self.packets_pane.show_dissection(rec, result) and isinstance(result, str):
            self.message = result


def governed(feed: Callable[[Frame], object]) -> Callable[[Frame], object]:
    """``feed`` with the capture worker's duty cycle (see WORK_SLICE); MultiFeed calls it
    from several threads, where the shared counters being approximate does not matter."""
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
