"""Several sources read as one: frames of all of them, one interface numbering."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from srinspect.frame import Frame

from .base import CaptureError, InterfaceDrops, InterfaceInfo, Progress, Source, Tick
from .health import CaptureEvent
from .pcap import make_frame

_DONE = None  # what a reader thread queues when its source has ended


class MergedSource:
    """Several sources at once (one capture per network namespace), merged into one
    interface numbering: interface ``i`` of source ``k`` becomes ``base[k] + i``, where
    ``widths`` says how many interfaces each source has.

    Each source is read by its own thread, so a quiet link never delays a busy one; the
    threads queue what they read and iteration hands it on in arrival order, from the
    iterating thread (ticks too). Frame numbers stay those of each source. A source that
    fails (CaptureError) ends alone; once all have ended, the first such error is raised.
    """

    def __init__(self, sources: Sequence[Source], widths: Sequence[int]) -> None:
        self.sources = list(sources)
        self.name = ", ".join(s.name for s in self.sources)
        self.paced = all(s.paced for s in self.sources)
        self._base: list[int] = []
        base = 0
        for width in widths:
            self._base.append(base)
            base += width
        self._tick: Tick | None = None
        self._interval = 1.0

    def __iter__(self) -> Iterator[Frame]:
        frames: queue.SimpleQueue[Frame | CaptureError | None] = queue.SimpleQueue()
        threads = [threading.Thread(target=self._read, args=(source, base, frames),
                                    name=f"capture {source.name}", daemon=True)
                   for source, base in zip(self.sources, self._base, strict=True)]
        for t in threads:
            t.start()
        running = len(threads)
        error: CaptureError | None = None
        next_tick = time.monotonic() + self._interval
        while running:
            wait = 1.0 if self._tick is None else max(next_tick - time.monotonic(), 0.0)
            try:
                item = frames.get(timeout=wait)
            except queue.Empty:
                pass
            else:
                if item is _DONE:
                    running -= 1
                elif isinstance(item, CaptureError):
                    error = error or item
                else:
                    yield item
            now = time.monotonic()
            if self._tick is not None and now >= next_tick:
                next_tick = now + self._interval
                self._tick(time.time())
        for t in threads:
            t.join()
        if error is not None:
            raise error

    @staticmethod
    def _read(source: Source, base: int,
              out: queue.SimpleQueue[Frame | CaptureError | None]) -> None:
        try:
            for f in source:
                out.put(make_frame(f.number, f.ts, f.linktype, f.data, f.orig_len,
                                   f.interface + base, f.comment) if base else f)
        except CaptureError as exc:
            out.put(exc)
        finally:
            out.put(_DONE)

    def interface(self, index: int) -> InterfaceInfo:
        for k in range(len(self._base) - 1, -1, -1):
            if index >= self._base[k]:
                return self.sources[k].interface(index - self._base[k])
        return InterfaceInfo(f"if{index}", -1)

    def drops(self) -> list[InterfaceDrops]:
        return [d for s in self.sources for d in s.drops()]

    def progress(self) -> Progress:
        return Progress(sum(s.progress().done for s in self.sources))

    def set_status(self, callback: Callable[[CaptureEvent], None] | None) -> None:
        """Hand ``callback`` to every source that reports capture faults."""
        for s in self.sources:
            setter = getattr(s, "set_status", None)
            if setter is not None:
                setter(callback)

    def set_tick(self, callback: Tick | None, interval: float = 1.0) -> None:
        self._tick = callback
        self._interval = interval

    def stop(self) -> None:
        for s in self.sources:
            s.stop()

    def close(self) -> None:
        for s in self.sources:
            s.close()
