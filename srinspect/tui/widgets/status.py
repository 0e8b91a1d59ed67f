"""The status bar: source, state, capture rate, counts, drops, elapsed time, filter.

The bar reads the engine and the feed itself (it measures the frame rate over at least half
a second and announces each capture fault and recovery as a notification); the app only
tells it what the engine cannot know: paused, the filter, its message, the capture
worker's state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from srinspect.tui import fmt
from srinspect.tui.engine import MonitorEngine

if TYPE_CHECKING:  # pragma: no cover
    from srinspect.tui.feeds import Feed

#: Seconds the frame rate is measured over (at least).
RATE_PERIOD = 0.5
#: Capture events announced per refresh: in a burst the latest few say enough.
MAX_ANNOUNCED = 5


@dataclass(slots=True)
class Status:
    """What the status bar says (filled on each refresh)."""

    source: str = ""
    live: bool = False
    paused: bool = False
    frames: int = 0
    srv6: int = 0
    flows: int = 0
    rate: float = 0.0
    drops: str = "-"
    elapsed: float = 0.0
    progress: float | None = None
    loading: bool = False
    filter: str = ""
    ring: int = 0
    message: str = ""
    #: a live capture that is not capturing everything (shown in red, replaces LIVE)
    alert: str = ""


class StatusBar(Static):
    """One line about the capture, refreshed by ``report``."""

    DEFAULT_CSS = "StatusBar { height: 1; background: $panel; padding: 0 1; }"

    def __init__(self, engine: MonitorEngine, feed: Feed, started: float, *,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.engine = engine
        self.feed = feed
        self.started = started
        self._rate_at = (started, 0)
        self._rate = 0.0
        self.capture_seen = 0  # capture events already announced

    def report(self, mono: float, *, done: bool, paused: bool, filter_text: str,
               message: str, error: str | None) -> None:
        """Show the state at ``mono`` (the app's clock); ``done``: the capture worker
        ended, ``error``: why it failed."""
        eng, feed = self.engine, self.feed
        at, frames = self._rate_at
        if mono - at >= RATE_PERIOD:
            self._rate = (eng.frames - frames) / (mono - at)
            self._rate_at = (mono, eng.frames)
        if error:
            message = f"capture error: {error}"
        elif done and feed.live:
            message = message or "capture ended"
        self._announce()
        self.show(Status(
            source=feed.name, live=feed.live and not done, paused=paused,
            frames=eng.frames, srv6=eng.decoder.srv6, flows=len(eng.table),
            rate=0.0 if done and not feed.live else self._rate, drops=self._drops(done),
            elapsed=mono - self.started, progress=feed.progress(),
            loading=not done, filter=filter_text, ring=len(eng.packets),
            message=message, alert=capture_alert(eng.capture_lost(), done)))

    def show(self, s: Status) -> None:
        self.update(render_status(s))

    def _drops(self, done: bool) -> str:
        known = [d.dropped for d in self.feed.drops() if d.dropped is not None]
        if known:
            return str(sum(known))
        if self.feed.live and not done:
            return "n/a (reported at stop)"
        return "-"

    def _announce(self) -> None:
        """A notification per capture fault or recovery since the last report."""
        count, events = self.engine.capture_events_since(self.capture_seen)
        self.capture_seen = count
        for ev in events[-MAX_ANNOUNCED:]:
            if ev.error:
                self.notify(f"capture lost on {ev.interface}: {ev.message}", severity="error",
                            timeout=10)
            else:
                self.notify(f"capture resumed on {ev.interface} after "
                            f"{ev.lost_for or 0.0:.1f} s", timeout=5)


def capture_alert(lost: Mapping[str, str], done: bool = False) -> str:
    """The alarm while a live capture misses interfaces (``lost``: name -> why; '' when
    none): retrying unless the capture is ``done``."""
    if not lost:
        return ""
    text = "; ".join(why if name in why else f"{name}: {why}" for name, why in lost.items())
    return f"CAPTURE LOST: {text}" + ("" if done else ", retrying")


def render_status(s: Status) -> Text:
    out = Text(no_wrap=True, overflow="ellipsis")
    if s.paused:
        out.append(" PAUSED ", style="bold black on yellow")
    elif s.alert:
        out.append(" LOST ", style="bold white on red")
    elif s.live:
        out.append(" LIVE ", style="bold white on dark_green")
    elif s.loading:
        pct = f" {s.progress * 100:.0f}%" if s.progress is not None else ""
        out.append(f" LOADING{pct} ", style="bold white on dark_blue")
    else:
        out.append(" FILE ", style="bold white on grey30")
    out.append(f" {s.source}  ")
    if s.alert:
        out.append(f"{s.alert}  ", style="bold red")
    out.append(f"{fmt.si(s.rate)} fr/s  ", style="bold")
    out.append(f"frames {s.frames}  SRv6 {s.srv6}  flows {s.flows}  ring {s.ring}  ")
    out.append(f"drops {s.drops}  ", style="bold red" if s.drops not in ("0", "-") else "")
    out.append(f"elapsed {fmt.duration(s.elapsed)}")
    if s.filter:
        out.append(f"  filter: {s.filter}", style="bold cyan")
    if s.message:
        out.append(f"  {s.message}", style="italic")
    return out
