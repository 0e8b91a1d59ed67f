"""Tab 2, the packets: the list (newest first), the open packet's tree and its bytes.

The list is of the ring's packets the view selects (a flow, the filter), at most MAX_VIEW
of them: it is rebuilt when the selection changes and otherwise only grows at the top by
the packets that arrived since the last refresh, so a refresh costs what arrived, not
what is kept. The Detail pane shows srinspect's tree of the open packet or Wireshark's
(``w``); either way a field under the tree cursor is reversed in the hex view.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Label, Tree

from srinspect.dissect import Node, packet_tree
from srinspect.findings import Finding
from srinspect.rules import Profile
from srinspect.sinks import wireshark
from srinspect.tui.engine import MonitorEngine, PacketRecord, Snapshot
from srinspect.tui.filters import Filter, packet_match
from srinspect.tui.widgets.detail import DetailTree, HexView
from srinspect.tui.widgets.panes import Pane, titled
from srinspect.tui.widgets.tables import PacketsTable
from srinspect.tui.widgets.vtable import VirtualTable

#: Newest packets listed (the ring keeps more, for saving and jumps): the list is rebuilt
#: a few times a second, so its length is what a refresh costs.
MAX_VIEW = 10_000


class PacketsPane(Pane):
    """The packets view of flow ``flow_id`` (None: all) through a filter; both are the
    app's and passed to ``rebuild`` and ``update``."""

    KEY, TAB, LABEL = "2", "packets", "Packets"

    def __init__(self, engine: MonitorEngine, profile: Profile,
                 names: Mapping[bytes, str]) -> None:
        super().__init__()
        self.engine = engine
        self.profile = profile
        self.names = names
        self.items: list[PacketRecord] = []  # what the list shows, newest first
        self.packet: PacketRecord | None = None  # the open packet
        self.full_view: PacketRecord | None = None  # the packet whose Wireshark tree is shown
        self._last_seq = 0  # newest packet the list has seen
        self._follow = True  # the cursor stays on the newest packet

    def compose(self) -> ComposeResult:
        yield Label("", id="packets-title")
        table = titled(PacketsTable(id="packet-table"), "Packets")
        table.names = self.names
        table.iface = self.engine.interface_name
        yield table
        with Horizontal(id="packet-bottom"):
            yield titled(DetailTree(id="detail"), "Detail")
            with titled(VerticalScroll(id="hex-box"),
                        "Bytes (findings in colour, selected field reversed)"):
                yield HexView(id="hex")

    def focus_main(self) -> None:
        self.query_one(PacketsTable).focus()

    # --- the list -------------------------------------------------------------------------

    def rebuild(self, flow_id: int | None, flt: Filter) -> None:
        """Rescan the ring (after the filter or the flow changed)."""
        engine = self.engine
        self.items = engine.records(packet_match(flt, flow_id), limit=MAX_VIEW)
        self._last_seq = engine.seq if not self.items else max(engine.seq, self.items[0].seq)
        table = self.query_one(PacketsTable)
        self._follow = True
        table.set_items(self.items, keep=self.items[0].seq if self.items else None)
        if self.packet is not None:
            table.move_to(self.packet.seq)
        self._show_title(flow_id, flt)

    def update(self, snap: Snapshot, flow_id: int | None, flt: Filter) -> None:
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
        if flow_id is not None or flt:
            match = packet_match(flt, flow_id)
            new = [r for r in new if match(r)]
        first = snap.seq - snap.ring + 1  # oldest seq still in the ring
        items = (new + self.items)[:MAX_VIEW] if new else self.items
        while items and items[-1].seq < first:
            items.pop()
        self.items = items
        if self._follow and table.cursor == 0:
            table.set_items(items, keep=items[0].seq if items else None, hint=0)
        else:
            cur = table.cursor_item
            table.set_items(items, keep=cur.seq if cur is not None else None,
                            hint=table.cursor + len(new))
        self._show_title(flow_id, flt)

    def _show_title(self, flow_id: int | None, flt: Filter) -> None:
        which = f"flow #{flow_id}" if flow_id is not None else "all flows"
        filt = f", filter {flt.text!r}" if flt else ""
        self.query_one("#packets-title", Label).update(
            f" Packets of {which}{filt}: newest first, {len(self.items)} listed "
            f"(of {len(self.engine.packets)} kept)"
            + ("  (a: all flows)" if flow_id is not None else ""))

    def on_virtual_table_highlighted(self, event: VirtualTable.Highlighted) -> None:
        self._follow = event.table.cursor == 0
        self.open_packet(event.item)

    def on_virtual_table_chosen(self, event: VirtualTable.Chosen) -> None:
        self._follow = event.table.cursor == 0
        self.open_packet(event.item)
        self.query_one(DetailTree).focus()

    # --- the open packet ------------------------------------------------------------------

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

    def show_finding(self, rec: PacketRecord, finding: Finding) -> None:
        """Open ``rec`` with the tree cursor on ``finding`` and its bytes selected."""
        self.query_one(PacketsTable).move_to(rec.seq)
        self._follow = False
        self.open_packet(rec)
        tree = self.query_one(DetailTree)
        for node in tree.finding_nodes():
            f = node.data
            if isinstance(f, Finding) and f.rule == finding.rule \
                    and f.offset == finding.offset:
                # the rebuilt tree has no line numbers until it is laid out again
                tree.call_after_refresh(tree.move_cursor, node)
                self.query_one(HexView).select(f.offset, f.length, f.rule)
                break
        tree.focus()

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[Node | Finding]) -> None:
        """The tree cursor's field (or finding) reversed in the hex view, scrolled to."""
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

    # --- Wireshark's tree (w) -------------------------------------------------------------

    def wireshark_request(self, limit: float) -> PacketRecord | None:
        """The packet whose Wireshark tree to fetch now (the Detail pane says it is
        running), or None: no packet is open (a warning), tshark is missing (said), or its
        Wireshark tree was shown and srinspect's is back."""
        rec = self.packet
        if rec is None:
            self.notify("open a packet first (Packets pane, Enter)", severity="warning")
            return None
        if self.full_view is rec:
            self.full_view = None
            self.open_packet(rec)
            return None
        if shutil.which("tshark") is None:
            self.notify(wireshark.TSHARK_MISSING, severity="error")
            return None
        self.full_view = None
        self._set_detail(Node(f"Wireshark dissection of frame {rec.frame.number}: running "
                              f"(time limit {limit:g} s)"), "Detail")
        return rec

    def show_dissection(self, rec: PacketRecord, result: Node | str) -> bool:
        """Put a dissection (a tree, or why there is none) in the Detail pane if its packet
        is still the open one (else False); the hex pane keeps the packet's bytes."""
        if self.packet is not rec:
            return False
        if isinstance(result, str):
            self._set_detail(Node(result), "Detail")
            self.notify(result, severity="error")
            return True
        self.full_view = rec
        self._set_detail(result, f"Wireshark (pyshark): frame {rec.frame.number}  "
                                 "(w: srinspect's tree)", expand=False)
        return True

    def _set_detail(self, root: Node, title: str, *, expand: bool = True) -> None:
        tree = self.query_one(DetailTree)
        tree.show(root, expand=expand)
        tree.border_title = title
