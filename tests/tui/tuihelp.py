"""Helpers for the monitor's tests: build the app from a pcap, wait for it, read its screen.

(A module of its own, not conftest.py, so tests can import it by a unique name.) Tests are
plain functions that run their pilot coroutine with ``asyncio.run`` (``drive``),
so no async pytest plugin is needed.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.pilot import Pilot

from srinspect.keys import build_keyring
from srinspect.rules import Profile
from srinspect.tui.app import MonitorApp
from srinspect.tui.feeds import file_source

REPO = Path(__file__).resolve().parents[2]
PCAPS = REPO / "pcaps"
SIZE = (140, 42)


class FrozenClock:
    """A clock that only moves when told (stable elapsed times and rates on screen)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def make_app(name: str, keys: str | None = None, *, frozen: bool = False,
             profile: Profile = Profile.DRAFT04, **kwargs: Any) -> MonitorApp:
    """The monitor on ``pcaps/NAME`` (feed named NAME, so screens do not show local paths)."""
    feed = file_source(str(PCAPS / name))
    feed.name = name
    keyring = build_keyring([], [str(PCAPS / keys)]) if keys else None
    if frozen:
        kwargs.setdefault("clock", FrozenClock())
        kwargs.setdefault("wall", FrozenClock(1_700_000_000.0))
    return MonitorApp(feed, profile=profile, keyring=keyring, **kwargs)


async def settle(app: MonitorApp, pilot: Pilot[int], timeout: float = 20.0) -> None:
    """Wait until the feed is read, then refresh once and let the screen catch up."""
    end = time.monotonic() + timeout
    while not app.capture_done.is_set():
        assert time.monotonic() < end, "the capture worker did not finish"
        await pilot.pause(0.02)
    app.refresh_now()
    await pilot.pause()


def drive(app: MonitorApp, body: Callable[[MonitorApp, Pilot[int]], Awaitable[None]],
          size: tuple[int, int] = SIZE, timeout: float = 60.0) -> None:
    """Run ``body(app, pilot)`` inside ``app.run_test`` after the pcap is loaded."""

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await settle(app, pilot)
            await body(app, pilot)
            app.stop_capture()

    asyncio.run(asyncio.wait_for(main(), timeout))


def screen_text(app: MonitorApp) -> str:
    """The screen as plain text (what ``export_screenshot`` draws, without styles)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False,
                      safe_box=False)
    update = app.screen._compositor.render_update(  # noqa: SLF001 - as export_screenshot
        full=True, screen_stack=app._background_screens, simplify=True)  # noqa: SLF001
    console.print(update)
    return console.export_text(styles=False)
