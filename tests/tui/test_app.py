"""Pilot tests of ``srinspect monitor`` on the shipped captures (no terminal, no root)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input
from tuihelp import PCAPS, drive, make_app, screen_text  # type: ignore[import-not-found]

from srinspect.findings import Finding
from srinspect.flows.events import addr_text
from srinspect.sources import CaptureEvent, open_capture
from srinspect.tui.app import MonitorApp
from srinspect.tui.feeds import file_source
from srinspect.tui.widgets.detail import SELECT_STYLE, DetailTree, HexView
from srinspect.tui.widgets.dialogs import HelpScreen, SaveScreen
from srinspect.tui.widgets.panels import FlowInfo
from srinspect.tui.widgets.status import StatusBar, capture_alert
from srinspect.tui.widgets.tables import FlowsTable, PacketsTable, RecentFindingsTable


def travel(segments: tuple[bytes, ...]) -> list[str]:
    return [addr_text(s) for s in reversed(segments)]


def test_encap_flow_and_its_segment_path() -> None:
    async def body(app: MonitorApp, pilot: Pilot[int]) -> None:
        table = app.query_one(FlowsTable)
        assert len(table.items) == 1
        flow = table.items[0]
        assert addr_text(flow.key[0]) == "fc00:1::1"
        assert addr_text(flow.key[1]) == "fc00:3::1"
        assert travel(flow.segments) == ["fc00:2::1", "fc00:3::1"]
        assert flow.packets == 6
        chain = table.cells(flow)[3]
        # the capture's last SRH frame is on r2-r3, where fc00:3::1 is the active segment
        assert str(chain) == "fc00:1::1 -> fc00:2::1 -> [fc00:3::1]"
        assert any(span.style == "bold reverse" for span in chain.spans)
        text = screen_text(app)
        assert "fc00:1::1 -> fc00:2::1 -> [fc00:3::1]" in text
        assert "LOADING" not in text and "FILE" in text

    drive(make_app("kernel-encap.pcap"), body)


def test_hmac_flows_verified_and_open_packet_tree() -> None:
    async def body(app: MonitorApp, pilot: Pilot[int]) -> None:
        table = app.query_one(FlowsTable)
        assert len(table.items) == 2
        assert all(r.hmac == {"verified": 6} for r in table.items)
        assert all(str(table.cells(r)[9]) == "verified" for r in table.items)
        await pilot.press("2")
        packets = app.query_one(PacketsTable)
        assert len(packets.items) == 12
        assert packets.items[0].seq > packets.items[-1].seq  # newest first
        await pilot.press("enter")
        await pilot.pause()
        assert app.packets_pane.packet is packets.items[0]
        labels = [str(n.label) for n in _walk(app.query_one(DetailTree).root)]
        assert any("HMAC status: verified" in label for label in labels)
        assert any(label.startswith("Segment Routing Header") for label in labels)
        assert any("Flags: 0x08 [H (HMAC)]" in label for label in labels)

    drive(make_app("kernel-hmac.pcap", "kernel-hmac-keys.toml"), body)


def _walk(node):  # noqa: ANN001, ANN202 - tree nodes
    yield node
    for child in node.children:
        yield from _walk(child)


def test_finding_jump_highlights_its_bytes() -> None:
    async def body(app: MonitorApp, pilot: Pilot[int]) -> None:
        await pilot.press("3")
        recent = app.query_one(RecentFindingsTable)
        assert recent.has_focus
        target = next(r for r in recent.items if r.finding.rule == "srh.segleft.range")
        assert recent.move_to(target.n)
        await pilot.press("enter")
        await pilot.pause()
        assert app.query_one("#tabs").active == "packets"
        assert app.packets_pane.packet is not None and app.packets_pane.packet.seq == target.seq
        f = target.finding
        hexview = app.query_one(HexView)
        assert f.offset >= 0 and f.length >= 1
        for off in range(f.offset, f.offset + f.length):
            styles = hexview.styles_at(off)
            assert any("on dark_red" in s for s in styles), (off, styles)  # error colour
            assert SELECT_STYLE in styles  # the tree cursor is on the finding
        assert not hexview.styles_at(0)  # the Ethernet header is plain
        tree = app.query_one(DetailTree)
        node = tree.cursor_node
        assert node is not None and isinstance(node.data, Finding)
        assert node.data.rule == "srh.segleft.range"
        assert node.parent is not None and node.parent.data.field == "segments_left"
        # moving the tree cursor onto another field moves the reversed bytes
        await pilot.press("up")
        await pilot.pause()
        sel = hexview.selected
        assert sel is not None and sel.why == "segments_left" and sel.length == 1

    drive(make_app("crafted-draft04.pcapng", "crafted-keys.toml"), body)


def test_filter_by_rule_address_and_clear() -> None:
    async def body(app: MonitorApp, pilot: Pilot[int]) -> None:
        flows = app.query_one(FlowsTable)
        assert len(flows.items) == 5
        await pilot.press("slash")
        box = app.query_one("#filter", Input)
        assert box.has_focus
        box.value = "rule:srh.hmac.mismatch"
        await pilot.press("enter")
        await pilot.pause()
        assert [r.id for r in flows.items] == [1]
        packets = app.query_one(PacketsTable).items
        assert packets and all(
            any(f.rule == "srh.hmac.mismatch" for f in p.info.findings) for p in packets)
        app.set_filter("seg:ff0e::1")
        await pilot.pause()
        assert [r.id for r in flows.items] == [5]
        app.set_filter("dst:2001:db8:f::100")  # final or inner destination
        assert sorted(r.id for r in flows.items) == [1, 2, 5]
        app.set_filter("dst:2001:db8:f::100 src:2001:db8:a::100")  # words AND
        assert sorted(r.id for r in flows.items) == [1, 5]
        app.set_filter("hmac:unknown-key")
        assert [r.id for r in flows.items] == [1]
        await pilot.press("escape")
        await pilot.pause()
        assert not app.filter and len(flows.items) == 5

    drive(make_app("crafted-draft04.pcapng", "crafted-keys.toml"), body)


def test_pause_freezes_the_view_but_not_the_capture() -> None:
    extra = list(open_capture(PCAPS / "kernel-hmac.pcap"))

    async def body(app: MonitorApp, pilot: Pilot[int]) -> None:
        flows = app.query_one(FlowsTable)
        assert len(flows.items) == 1
        await pilot.press("space")
        assert app.paused
        for frame in extra:
            app.engine.feed(frame)
        app._tick()  # noqa: SLF001 - what the timer does
        await pilot.pause()
        assert len(flows.items) == 1  # frozen
        assert "PAUSED" in screen_text(app)
        assert app.engine.frames == 24 + len(extra)  # but nothing was lost
        await pilot.press("space")
        await pilot.pause()
        assert not app.paused
        # the first HMAC flow has the encap flow's key (same hosts, same echo id)
        assert sorted(r.packets for r in flows.items) == [6, 12]

    drive(make_app("kernel-encap.pcap"), body)


def test_path_change_flashes_and_is_in_the_history(tmp_path: Path) -> None:
    frames = list(open_capture(PCAPS / "crafted-draft04.pcapng"))
    first = tmp_path / "first.pcapng"
    _write(first, frames[:7])
    app = make_app("crafted-draft04.pcapng", "crafted-keys.toml")
    app.feed = file_source(str(first))

    async def body(app: MonitorApp, pilot: Pilot[int]) -> None:
        flows = app.query_one(FlowsTable)
        row = next(r for r in flows.items if r.id == 3)
        assert row.change_count == 0
        app.engine.feed(frames[7])  # same flow, a shorter segment list
        app.refresh_now()
        await pilot.pause()
        row = next(r for r in flows.items if r.id == 3)
        assert row.change_count == 1
        assert 3 in flows.flashing
        chain = flows.cells(row)[3]
        assert any("on yellow" in str(span.style) for span in chain.spans)
        assert flows.move_to(3, notify=True)
        await pilot.pause()
        info = str(app.query_one(FlowInfo).render())
        assert "Path changes (1)" in info
        assert "2001:db8:3::1 -> 2001:db8:f::1  =>  2001:db8:f::1" in info

    drive(app, body)


def _write(path: Path, frames: list) -> None:  # noqa: ANN001 - Frames
    from srinspect.sinks.pcapng_writer import PcapngWriter

    with open(path, "wb") as out:
        w = PcapngWriter(out)
        w.add_interface(frames[0].linktype, name="crafted")
        for f in frames:
            w.write(f)


def test_save_flow_and_view_read_back(tmp_path: Path) -> None:
    async def body(app: MonitorApp, pilot: Pilot[int]) -> None:
        flows = app.query_one(FlowsTable)
        assert flows.move_to(2, notify=True)
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, SaveScreen)
        box = app.screen.query_one("#save-path", Input)
        assert box.value.startswith(str(tmp_path)) and "flow-2" in box.value
        box.value = str(tmp_path / "flow2.pcapng")
        await pilot.press("enter")
        await pilot.pause()
        saved = list(open_capture(tmp_path / "flow2.pcapng"))
        wanted = [r.frame for r in app.engine.records() if r.flow_id == 2]
        assert len(saved) == 6 and [f.data for f in saved] == [f.data for f in wanted[::-1]]
        assert [f.ts for f in saved] == sorted(f.ts for f in saved)
        # the packets view with a filter: only what it shows
        await pilot.press("2")
        app.set_filter("dst:2001:db8:2::21")
        await pilot.press("s")
        await pilot.pause()
        app.screen.query_one("#save-path", Input).value = str(tmp_path / "view.pcapng")
        await pilot.press("enter")
        await pilot.pause()
        view = list(open_capture(tmp_path / "view.pcapng"))
        assert len(view) == 6
        assert {f.data for f in view} == {r.frame.data for r in app.packets_pane.items}
        assert "saved 6 packets" in app.message

    drive(make_app("kernel-hmac.pcap", "kernel-hmac-keys.toml", save_dir=tmp_path), body)


def test_help_sort_and_enter_on_flow_shows_its_packets() -> None:
    async def body(app: MonitorApp, pilot: Pilot[int]) -> None:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        flows = app.query_one(FlowsTable)
        assert [r.id for r in flows.items][0] == 1  # most packets first
        await pilot.click(FlowsTable, offset=(3, 1))  # the "#" header cell (border is row 0)
        await pilot.pause()
        assert flows.sort_column == "id" and [r.id for r in flows.items] == [1, 2, 3, 4, 5]
        await pilot.click(FlowsTable, offset=(3, 1))
        await pilot.pause()
        assert [r.id for r in flows.items] == [5, 4, 3, 2, 1]
        assert flows.move_to(3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.flow_id == 3 and app.query_one("#tabs").active == "packets"
        assert {p.flow_id for p in app.packets_pane.items} == {3}
        await pilot.press("a")
        assert app.flow_id is None and len(app.packets_pane.items) == 28

    drive(make_app("crafted-draft04.pcapng", "crafted-keys.toml"), body)


def test_large_capture_loads_in_background_and_stays_responsive(tmp_path: Path) -> None:
    """200k frames: the UI shows progress and handles keys while the worker reads."""
    frames = list(open_capture(PCAPS / "kernel-encap.pcap"))
    big = tmp_path / "big.pcap"
    from srinspect.sinks.pcapng_writer import write_pcap

    def many():  # noqa: ANN202
        from srinspect.frame import Frame

        for i in range(200_000):
            f = frames[i % len(frames)]
            yield Frame(i + 1, 1_700_000_000 + i * 1e-4, f.linktype, f.data, f.orig_len)

    write_pcap(big, many(), frames[0].linktype)
    app = MonitorApp(file_source(str(big)), max_packets=10_000)

    async def main() -> None:
        async with app.run_test(size=(140, 42)) as pilot:
            seen_progress = []
            latencies = []
            for key in ("2", "1", "3", "1"):
                if app.capture_done.is_set():
                    break
                p = app.feed.progress()
                if p is not None:
                    seen_progress.append(p)
                start = time.perf_counter()
                await pilot.press(key)  # returns late: Pilot waits for the process to idle
                latencies.append(app.handled["tab"] - start)
                await pilot.pause(0.1)
            assert seen_progress and min(seen_progress) < 1.0, "loaded before the UI looked"
            assert "LOADING" in screen_text(app) or app.capture_done.is_set()
            assert max(latencies) < 0.5, latencies
            while not app.capture_done.is_set():
                await pilot.pause(0.05)
            app.refresh_now()
            await pilot.pause()
            assert app.engine.frames == 200_000
            assert len(app.engine.packets) == 10_000  # the ring is bounded
            assert app.query_one(FlowsTable).items[0].packets == 50_000
            app.stop_capture()

    asyncio.run(asyncio.wait_for(main(), 120))


def test_status_bar_says_when_the_capture_is_lost() -> None:
    """What a live feed's capture faults look like (the events injected as the feed's
    status callback would deliver them); the data on screen stays."""

    def ev(kind: str, lost: tuple[str, ...]) -> CaptureEvent:
        return CaptureEvent(kind, time.time(), ("r1",), "r1 is down", "down", True,
                            None if kind == "capture-error" else 2.5, lost, "r1")

    async def body(app: MonitorApp, pilot: Pilot[int]) -> None:
        flows = app.query_one(FlowsTable)
        before = len(flows.items)
        app.engine.capture_event(ev("capture-error", ("r1",)))
        app.refresh_now()
        await pilot.pause()
        status = str(app.query_one("#status").render())
        assert "LOST" in status and "CAPTURE LOST: r1 is down" in status
        assert capture_alert(app.engine.capture_lost()) == "CAPTURE LOST: r1 is down, retrying"
        assert len(flows.items) == before
        app.engine.capture_event(ev("capture-resumed", ()))
        app.refresh_now()
        await pilot.pause()
        assert "CAPTURE LOST" not in str(app.query_one("#status").render())
        assert capture_alert(app.engine.capture_lost()) == ""
        assert app.query_one(StatusBar).capture_seen == 2  # both announced

    drive(make_app("kernel-encap.pcap"), body)
