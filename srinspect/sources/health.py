"""A live capture's health: which of its interfaces are captured, and the events that say
when that changes (an interface down or gone, the capture program ended or back)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from srinspect.sources.links import LinkWatch

#: Capture events a source remembers (for the final report); the count is kept beyond it.
EVENT_HISTORY = 1000


@dataclass(frozen=True, slots=True)
class CaptureEvent:
    """A change in a live capture's health, reported to ``LiveSource.set_status``.

    ``capture-error``: ``interfaces`` are not being captured any more, because of
    ``reason``: ``down`` (administratively down), ``gone`` (the interface was deleted) or
    ``exited`` (the capture process ended, or cannot be restarted; ``message`` has dumpcap's
    own words). ``retrying`` says whether the source resumes by itself. A later
    ``capture-error`` for the same interfaces means the reason changed.
    ``capture-resumed``: ``interfaces`` are captured again, ``lost_for`` seconds after the
    first error. Every event lists in ``lost`` the interfaces still not captured after it,
    so a consumer that only keeps the latest event knows the whole state. ``ts`` is the
    wall clock; ``source`` names the capture (several live sources may share a consumer).
    """

    event: str
    ts: float
    interfaces: tuple[str, ...]
    message: str
    reason: str | None = None
    retrying: bool = False
    lost_for: float | None = None
    lost: tuple[str, ...] = ()
    source: str = ""

    @property
    def interface(self) -> str:
        return ",".join(self.interfaces)

    @property
    def error(self) -> bool:
        return self.event == "capture-error"

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"event": self.event, "ts": self.ts,
                                  "interface": self.interface, "message": self.message}
        if self.error:
            out["reason"] = self.reason
            out["retrying"] = self.retrying
        else:
            out["lost_for"] = round(self.lost_for, 3) if self.lost_for is not None else None
        out["lost"] = list(self.lost)
        return out


class CaptureHealth:
    """What a live source captures compared with what it should: ``interfaces`` (shown as
    ``display(name)``), watched in the kernel (``watch``) when it knows them by name (not
    "any" or an index), and the runs of the capture program as the source tells them to
    ``evaluate``. Each change is a ``CaptureEvent`` for ``status`` (the
    source's consumer), kept in ``events``; the first fault without ``resume`` is
    ``failed``. ``label`` names the source in events.
    """

    def __init__(self, interfaces: Sequence[str], display: Callable[[str], str], label: str,
                 resume: bool) -> None:
        self.interfaces = list(interfaces)
        self.display = display
        self.label = label
        self.resume = resume
        self.links: LinkWatch | None = None
        self.watched: list[str] = []
        self.link_bad: dict[str, str] = {}  # interface -> "down" | "gone"
        self._health: dict[str, tuple[str, str]] = {}  # not captured: (reason, message)
        self._since: dict[str, float] = {}
        self.status: Callable[[CaptureEvent], None] | None = None
        self.events: deque[CaptureEvent] = deque(maxlen=EVENT_HISTORY)
        self.error_count = 0
        self.failed: CaptureEvent | None = None

    @property
    def lost(self) -> list[str]:
        """Interfaces not being captured now (down, gone, or the program not running)."""
        return [self.display(n) for n in self.interfaces if n in self._health]

    def watch(self, links: LinkWatch) -> None:
        """Watch, through ``links``, the interfaces the kernel knows by that name now."""
        self.links = links
        self.watched = [n for n in self.interfaces if links.state(n) in ("up", "down")]

    def refresh_links(self) -> None:
        """Ask the kernel again which watched interfaces are down or gone."""
        links = self.links
        if links is None:
            return
        bad = {}
        for name in self.watched:
            state = links.state(name)
            if state in ("down", "gone"):
                bad[name] = state
        self.link_bad = bad

    def evaluate(self, running: bool, captured: set[int], dead: str | None) -> bool:
        """Compare what is captured now with before and report the differences: the
        program is ``running`` on the interface indexes ``captured``, or not, because of
        ``dead``. True when this found the fault that ends a capture without ``resume``."""
        new: dict[str, tuple[str, str]] = {}
        for index, name in enumerate(self.interfaces):
            bad = self.link_bad.get(name)
            if bad is not None:
                shown = self.display(name)
                new[name] = (bad, f"{shown} is down" if bad == "down"
                             else f"{shown} no longer exists")
            elif not running:
                new[name] = ("exited", dead or "the capture process is not running")
            elif index not in captured:
                new[name] = self._health.get(name, ("exited", "not captured"))
        old = self._health
        if new == old:
            return False
        self._health = new
        wall = time.time()
        lost = tuple(self.display(n) for n in self.interfaces if n in new)
        groups: dict[tuple[str, str], list[str]] = {}
        for name in self.interfaces:
            value = new.get(name)
            if value is not None and old.get(name) != value:
                groups.setdefault(value, []).append(name)
                self._since.setdefault(name, wall)
        back = [n for n in self.interfaces if n in old and n not in new]
        ended = False
        for (reason, message), names in groups.items():
            event = CaptureEvent("capture-error", wall, tuple(self.display(n) for n in names),
                                 message, reason, self.resume, None, lost, self.label)
            self.error_count += 1
            self._emit(event)
            if not self.resume and self.failed is None:
                self.failed = event
                ended = True
        if back:
            since = min(self._since.pop(n, wall) for n in back)
            shown = tuple(self.display(n) for n in back)
            self._emit(CaptureEvent("capture-resumed", wall, shown,
                                    f"capturing {', '.join(shown)} again after "
                                    f"{wall - since:.1f} s", None, False, wall - since, lost,
                                    self.label))
        return ended

    def _emit(self, event: CaptureEvent) -> None:
        self.events.append(event)
        if self.status is not None:
            self.status(event)
