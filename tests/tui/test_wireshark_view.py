"""The monitor's Wireshark view (``w``): pyshark's tree in the Detail pane, driven with the
real Textual pilot. The selected field's bytes must be exactly the ones the hex pane
highlights (the same HexView mechanism as srinspect's own tree), and a slow dissection must
neither freeze the UI nor outlive its time limit; a second request replaces the first.
"""

from __future__ import annotations

import shutil
import threading
import time

import pytest
from textual.pilot import Pilot
from textual.widgets.tree import TreeNode
from tuihelp import drive, make_app  # type: ignore[import-not-found]

from srinspect.dissect import Node
from srinspect.frame import Frame
from srinspect.tui.app import MonitorApp
from srinspect.tui.widgets.detail import SELECT_STYLE, DetailTree, HexView
from srinspect.tui.widgets.tables import PacketsTable

WS_ROOT = "Wireshark dissection (pyshark)"


async def open_srh_packet(app: MonitorApp, pilot: Pilot[int]) -> None:
    """Packets pane, cursor on a packet with an SRH, opened (Enter)."""
    await pilot.press("2")
    table = app.query_one(PacketsTable)
    for _ in range(len(table.items)):
        rec = table.cursor_item
        if rec is not None and len(rec.frame.data) > 20 and rec.frame.data[20] == 43:
            break
        await pilot.press("down")
    await pilot.press("enter")
    await pilot.pause()
    assert app.packets_pane.packet is not None and app.packets_pane.packet.frame.data[20] == 43


async def wait_for(pilot: Pilot[int], cond: object, seconds: float = 15.0) -> None:
    end = time.monotonic() + seconds
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < end, "timed out waiting"
        await pilot.pause(0.05)


def tree_root_label(app: MonitorApp) -> str:
    return str(app.query_one(DetailTree).root.label)


def tree_node(tree: DetailTree, field: str) -> TreeNode[object]:
    """The first node of ``field`` in display order (the outer IPv6 layer before the inner)."""
    stack = [tree.root]
    while stack:
        node = stack.pop()
        if isinstance(node.data, Node) and node.data.field == field:
            return node  # type: ignore[return-value]
        stack.extend(reversed(node.children))
    raise AssertionError(f"no {field} in the tree")


@pytest.mark.tshark
def test_wireshark_tree_expand_select_highlights_exactly_its_bytes() -> None:
    assert shutil.which("tshark")

    async def body(app: MonitorApp, pilot: Pilot[int]) -> None:
        await open_srh_packet(app, pilot)
        ours = app.query_one(DetailTree)
        own_segleft = tree_node(ours, "segments_left").data
        await pilot.press("w")
        await wait_for(pilot, lambda: tree_root_label(app) == WS_ROOT)
        tree = app.query_one(DetailTree)
        assert "Wireshark (pyshark)" in str(tree.border_title)
        ipv6 = tree_node(tree, "ipv6")
        assert not ipv6.is_expanded  # layers start closed, as in Wireshark
        ipv6.expand()
        srh = tree_node(tree, "ipv6.routing")
        srh.expand()
        await pilot.pause()
        field = tree_node(tree, "ipv6.routing.segleft")
        assert str(field.label).startswith("Segments Left:")
        tree.focus()
        for _ in range(200):  # down arrow until the cursor is on it: NodeHighlighted -> hex
            if tree.cursor_node is field:
                break
            await pilot.press("down")
        assert tree.cursor_node is field
        hexview = app.query_one(HexView)
        data: Node = field.data  # type: ignore[assignment]
        assert (data.offset, data.length) == (own_segleft.offset, own_segleft.length)
        painted = [i for i in range(len(hexview.data)) if SELECT_STYLE in hexview.styles_at(i)]
        assert painted == [own_segleft.offset]
        # a multi-byte field: an SRH address, 16 bytes
        addr = tree_node(tree, "ipv6.routing.srh.addr")
        tree.move_cursor(addr)
        await pilot.pause()
        painted = [i for i in range(len(hexview.data)) if SELECT_STYLE in hexview.styles_at(i)]
        assert painted == list(range(addr.data.offset, addr.data.offset + 16))  # type: ignore[union-attr]
        # w again: srinspect's own tree of the same packet
        await pilot.press("w")
        await pilot.pause()
        assert tree_root_label(app) != WS_ROOT
        assert tree_node(app.query_one(DetailTree), "segments_left")

    drive(make_app("kernel-encap.pcap"), body)


def fake_tree(label: str) -> Node:
    root = Node(WS_ROOT)
    root.add(label, "fake", 0, 1)
    return root


def test_slow_dissection_hits_the_time_limit_without_freezing() -> None:
    release = threading.Event()

    def slow(frame: Frame, limit: float) -> Node:  # ignores its limit, like a stuck tshark
        release.wait(30)
        return fake_tree("too late")

    async def body(app: MonitorApp, pilot: Pilot[int]) -> None:
        app.dissector = slow
        app.dissect_timeout = 0.3
        await open_srh_packet(app, pilot)
        start = time.monotonic()
        await pilot.press("w")
        assert "running" in tree_root_label(app)
        await pilot.press("1")  # the UI still answers keys while the dissection hangs
        assert app.query_one("#tabs").active == "flows"
        await pilot.press("2")
        await wait_for(pilot, lambda: "took longer than 0.3 s" in tree_root_label(app), 10)
        assert time.monotonic() - start < 5  # limit + grace, not the 30 s the fake would take
        assert "took longer than 0.3 s" in app.message
        release.set()
        await pilot.pause(0.3)
        assert "took longer" in tree_root_label(app)  # the late result is never shown

    drive(make_app("kernel-encap.pcap"), body)
    release.set()


def test_second_request_cancels_the_first() -> None:
    calls: list[int] = []
    first_done = threading.Event()

    def dissector(frame: Frame, limit: float) -> Node:
        calls.append(frame.number)
        if len(calls) == 1:
            time.sleep(1.0)
            first_done.set()
            return fake_tree("first")
        return fake_tree("second")

    async def body(app: MonitorApp, pilot: Pilot[int]) -> None:
        app.dissector = dissector
        await open_srh_packet(app, pilot)
        await pilot.press("w")
        await pilot.pause(0.1)
        await pilot.press("w")  # still running: a new request, the first is cancelled
        await wait_for(pilot, lambda: tree_root_label(app) == WS_ROOT)
        labels = [str(c.label) for c in app.query_one(DetailTree).root.children]
        assert labels == ["second"]
        await wait_for(pilot, first_done.is_set, 5)
        await pilot.pause(0.3)
        labels = [str(c.label) for c in app.query_one(DetailTree).root.children]
        assert labels == ["second"] and len(calls) == 2

    drive(make_app("kernel-encap.pcap"), body)


def test_tshark_missing_one_line_no_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    async def body(app: MonitorApp, pilot: Pilot[int]) -> None:
        await open_srh_packet(app, pilot)
        monkeypatch.setenv("PATH", "/nonexistent")
        await pilot.press("w")
        await pilot.pause()
        notes = [n.message for n in app._notifications]  # noqa: SLF001 - what the toast shows
        assert any("tshark is not installed" in m and "\n" not in m for m in notes)
        assert tree_root_label(app) != WS_ROOT

    drive(make_app("kernel-encap.pcap"), body)
