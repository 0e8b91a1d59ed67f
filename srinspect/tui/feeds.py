"""Feeds: what the monitor's capture worker pulls frames from.

A feed is a frame source as one worker thread drives it: ``run(sink, cancelled)`` hands
every frame to the engine until the source ends or the worker is cancelled. Captures are
``srinspect.sources`` Sources (a file, a live capture, several merged, each reporting its
own progress and capture faults); ``SourceFeed`` adapts any of them. Anything else that
produces frames for the monitor (the synthetic load of the benchmarks) implements ``Feed``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from srinspect.frame import Frame
from srinspect.sources import (
    CaptureEvent,
    FileSource,
    InterfaceDrops,
    InterfaceInfo,
    Source,
    open_live,
)

Sink = Callable[[Frame], object]
Cancelled = Callable[[], bool]
StatusCallback = Callable[[CaptureEvent], None]


class Feed(Protocol):
    """What the monitor needs of a frame source."""

    name: str
    #: frames arrive in real time (rates follow the wall clock)
    live: bool

    def run(self, sink: Sink, cancelled: Cancelled) -> None:
        """Deliver every frame to ``sink`` until the source ends, ``stop()`` or
        ``cancelled()``; runs in the capture worker thread."""

    def describe(self, index: int) -> tuple[str, int, bytes | None]:
        """(name, link type, MAC) of interface ``index``."""

    def progress(self) -> float | None:
        """Fraction of a file read so far; None when unknowable (live, pipes, gzip)."""

    def drops(self) -> list[InterfaceDrops]: ...

    def set_status(self, callback: StatusCallback | None) -> None:
        """Call ``callback`` with each capture fault and recovery (live feeds; from the
        capture worker's threads)."""

    def stop(self) -> None:
        """Ask the source to end (thread-safe; run() then returns soon)."""

    def close(self) -> None: ...


class SourceFeed:
    """A ``Source`` as a feed: the worker iterates it, checking for cancellation every 64
    frames; the source's progress is the feed's until it has ended (then 1.0)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.name = source.name
        self.live = source.paced
        self.done = False

    def run(self, sink: Sink, cancelled: Cancelled) -> None:
        n = 0
        try:
            for frame in self.source:
                sink(frame)
                n += 1
                if not n & 63 and cancelled():
                    self.source.stop()
                    return
        finally:
            self.done = True

    def describe(self, index: int) -> InterfaceInfo:
        return self.source.interface(index)

    def progress(self) -> float | None:
        return 1.0 if self.done else self.source.progress().fraction

    def drops(self) -> list[InterfaceDrops]:
        return self.source.drops()

    def set_status(self, callback: StatusCallback | None) -> None:
        setter = getattr(self.source, "set_status", None)
        if setter is not None:
            setter(callback)

    def stop(self) -> None:
        self.source.stop()

    def close(self) -> None:
        self.source.close()


def file_source(path: str, *, bpf: str | None = None, replay: bool = False,
                speed: float = 1.0) -> SourceFeed:
    """The feed for ``-r PCAP``, optionally filtered or replayed."""
    return SourceFeed(FileSource(path, replay=replay, speed=speed, bpf=bpf))


def live_feed(specs: Sequence[str], *, bpf: str | None = None, snaplen: int = 0,
              buffer_mb: int = 64, resume: bool = True) -> SourceFeed:
    """Live capture on ``-i`` interfaces (``NETNS/IFACE`` inside a namespace), started
    here so errors surface before the UI takes the terminal (see ``open_live``)."""
    return SourceFeed(open_live(specs, bpf=bpf, snaplen=snaplen, buffer_mb=buffer_mb,
                                resume=resume))
