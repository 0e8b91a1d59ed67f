"""Snapshot tests of the main screens, fed from a fixed capture.

Each screen is exported as plain text (what ``App.export_screenshot`` draws, without colours;
colours are asserted in test_app.py) and compared with ``snapshots/<name>.txt``. The clock is
frozen and times are shown in UTC, so the screens are identical on every machine.

Regenerate after an intended change of the UI (then review the diff like code):

    SRINSPECT_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/tui/test_snapshots.py
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from tuihelp import drive, make_app, screen_text  # type: ignore[import-not-found]

from srinspect.tui.app import MonitorApp
from srinspect.tui.widgets.tables import FlowsTable, RecentFindingsTable

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = bool(os.environ.get("SRINSPECT_UPDATE_SNAPSHOTS"))
SIZE = (120, 36)

Steps = Callable[[MonitorApp, Pilot[int]], Awaitable[None]]


async def flows_screen(app: MonitorApp, pilot: Pilot[int]) -> None:
    app.query_one(FlowsTable).move_to(3, notify=True)  # the flow with a path change


async def packets_screen(app: MonitorApp, pilot: Pilot[int]) -> None:
    await pilot.press("3")
    recent = app.query_one(RecentFindingsTable)
    target = next(r for r in recent.items if r.finding.rule == "srh.hmac.mismatch")
    recent.move_to(target.n)
    await pilot.press("enter")


async def findings_screen(app: MonitorApp, pilot: Pilot[int]) -> None:
    await pilot.press("3")


async def links_screen(app: MonitorApp, pilot: Pilot[int]) -> None:
    await pilot.press("4")


async def filtered_screen(app: MonitorApp, pilot: Pilot[int]) -> None:
    app.set_filter("rule:srh.hmac")


async def help_screen(app: MonitorApp, pilot: Pilot[int]) -> None:
    await pilot.press("question_mark")


SCREENS: dict[str, Steps] = {
    "flows": flows_screen,
    "packets": packets_screen,
    "findings": findings_screen,
    "links": links_screen,
    "filtered": filtered_screen,
    "help": help_screen,
}


@pytest.mark.parametrize("name", list(SCREENS))
def test_screen(name: str, utc: None) -> None:
    captured: list[str] = []

    async def body(app: MonitorApp, pilot: Pilot[int]) -> None:
        await SCREENS[name](app, pilot)
        await pilot.pause()
        app.refresh_now()
        await pilot.pause()
        captured.append(screen_text(app))

    drive(make_app("crafted-draft04.pcapng", "crafted-keys.toml", frozen=True), body,
          size=SIZE)
    got = captured[0]
    path = SNAPSHOTS / f"{name}.txt"
    if UPDATE or not path.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(got, "utf-8")
        if not UPDATE:
            pytest.fail(f"{path} did not exist and was written; review and commit it")
        return
    want = path.read_text("utf-8")
    if got != want:
        diff = "\n".join(difflib.unified_diff(want.splitlines(), got.splitlines(),
                                              "golden", "now", lineterm=""))
        pytest.fail(f"screen {name!r} differs from {path.name} (set "
                    f"SRINSPECT_UPDATE_SNAPSHOTS=1 to accept):\n{diff}")
