"""Feeds: what the monitor's capture worker pulls frames from.

An adapter over the capture sources of issue 4 (``srinspect.sources.live``), whose API is
still settling, so the monitor depends on it in this one module. A feed adds what the UI
needs on top of a source: ``progress()`` while a file loads, a ``run(sink)`` loop that one
worker thread drives (a lab feed runs one capture per namespace and merges them), and
network-namespace capture (``NETNS/IFACE``), because lab links live inside namespaces
where a dumpcap started in ours cannot see them. Live feeds resume after capture faults
(an interface down or deleted, dumpcap killed) and report them through ``set_status``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from srinspect.frame import Frame
from srinspect.sources import open_capture
from srinspect.sources.capture import CaptureReader
from srinspect.sources.live import (
    CaptureError,
    CaptureEvent,
    FileSource,
    InterfaceDrops,
    InterfaceInfo,
    LinkWatch,
    LiveSource,
    Source,
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


class FileFeed:
    """A capture file read as fast as possible, with progress from the bytes read.

    Uses ``open_capture`` directly (not ``FileSource``) because it exposes ``bytes_read``.
    """

    live = False

    def __init__(self, path: str) -> None:
        self.name = path
        try:
            self._reader: CaptureReader = open_capture(path)
        except OSError as exc:
            raise CaptureError(f"{path}: {exc.strerror or exc}") from exc
        try:
            self._size = os.path.getsize(path) if path != "-" else 0
        except OSError:
            self._size = 0
        self._stop = threading.Event()
        self.done = False

    def run(self, sink: Sink, cancelled: Cancelled) -> None:
        stop = self._stop
        n = 0
        try:
            for frame in self._reader:
                sink(frame)
                n += 1
                if not n & 255 and (stop.is_set() or cancelled()):
                    return
        finally:
            self.done = True

    def describe(self, index: int) -> tuple[str, int, bytes | None]:
        for iface in self._reader.interfaces:
            if iface.index == index:
                return iface.name or f"if{index}", iface.linktype, None
        return f"if{index}", next(iter(self._reader.linktypes), -1), None

    def progress(self) -> float | None:
        if self.done:
            return 1.0
        if not self._size or self._reader.compressed:
            return None
        return min(self._reader.bytes_read / self._size, 1.0)

    def drops(self) -> list[InterfaceDrops]:
        return []

    def set_status(self, callback: StatusCallback | None) -> None:
        return  # a file has no capture faults

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self._reader.close()


class SourceFeed:
    """A ``Source`` of issue 4 (live dumpcap, or a file through a BPF filter or replayed)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.name = source.name
        self.live = bool(getattr(source, "paced", False))
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

    def describe(self, index: int) -> tuple[str, int, bytes | None]:
        info = self.source.interface(index)
        return info.name, info.linktype, info.mac

    def progress(self) -> float | None:
        return 1.0 if self.done else None

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
                speed: float = 1.0) -> Feed:
    """The feed for ``-r PCAP``: direct (with progress) unless filtered or replayed."""
    if bpf or replay:
        return SourceFeed(FileSource(path, replay=replay, speed=speed, bpf=bpf))
    return FileFeed(path)


# --- network namespaces ---------------------------------------------------------------------


def split_netns(spec: str) -> tuple[str | None, str]:
    """``NETNS/IFACE`` -> (netns, iface); a plain name has no namespace ('/' is never part
    of an interface name, so the split is unambiguous)."""
    netns, sep, iface = spec.rpartition("/")
    return (netns, iface) if sep and netns and iface else (None, spec)


def netns_mac(netns: str, iface: str) -> bytes | None:
    """An interface's MAC inside a namespace (``ip -j -n NETNS link show dev IFACE``)."""
    try:
        out = subprocess.run(["ip", "-j", "-n", netns, "link", "show", "dev", iface],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        mac = bytes.fromhex(json.loads(out)[0]["address"].replace(":", ""))
    except (OSError, ValueError, KeyError, IndexError, subprocess.SubprocessError):
        return None
    return mac if len(mac) == 6 and any(mac) else None


class NetnsLiveSource(LiveSource):
    """dumpcap run inside a network namespace (``ip netns exec NETNS dumpcap ...``).

    ``ip netns exec`` execs dumpcap after entering the namespace, so the process the
    LiveSource signals is dumpcap itself. The interface's MAC (to tell rx from tx) is
    looked up inside the namespace, not in ours.
    """

    def __init__(self, netns: str, interfaces: Sequence[str], **kwargs: object) -> None:
        super().__init__(interfaces, **kwargs)  # type: ignore[arg-type]
        self.netns = netns
        self._macs: dict[str, bytes | None] = {}

    def command(self, interfaces: Sequence[str] | None = None) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *super().command(interfaces)]

    @property
    def label(self) -> str:
        return f"{self.netns}/{self.name}"

    def display(self, name: str) -> str:
        return f"{self.netns}/{name}"

    def _link_watch(self) -> LinkWatch:
        return LinkWatch(self.netns)

    def interface(self, index: int) -> InterfaceInfo:
        info = super().interface(index)
        if info.name not in self._macs:
            self._macs[info.name] = netns_mac(self.netns, info.name)
        return dataclasses.replace(info, mac=self._macs[info.name])


class MultiFeed:
    """Several sources at once (one dumpcap per namespace), merged into one interface
    numbering: interface ``i`` of source ``k`` becomes ``base[k] + i``.

    Each source is read by its own thread, which hands frames to the sink (the engine
    serialises them under its lock), so a quiet link never delays a busy one.
    """

    live = True

    def __init__(self, feeds: Sequence[SourceFeed], widths: Sequence[int]) -> None:
        self.feeds = list(feeds)
        self.name = ", ".join(f.name for f in self.feeds)
        self._base: list[int] = []
        base = 0
        for width in widths:
            self._base.append(base)
            base += width
        self.errors: list[str] = []

    def run(self, sink: Sink, cancelled: Cancelled) -> None:
        threads = []
        for feed, base in zip(self.feeds, self._base, strict=True):
            def remapped(frame: Frame, base: int = base) -> object:
                return sink(Frame(frame.number, frame.ts, frame.linktype, frame.data,
                                  frame.orig_len, frame.interface + base, frame.comment))

            def body(feed: SourceFeed = feed, sink_: Sink = remapped) -> None:
                try:
                    feed.run(sink_, cancelled)
                except CaptureError as exc:
                    self.errors.append(str(exc))

            t = threading.Thread(target=body, name=f"capture {feed.name}", daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join()

    def describe(self, index: int) -> tuple[str, int, bytes | None]:
        for k in range(len(self._base) - 1, -1, -1):
            if index >= self._base[k]:
                return self.feeds[k].describe(index - self._base[k])
        return f"if{index}", -1, None

    def progress(self) -> float | None:
        return None

    def drops(self) -> list[InterfaceDrops]:
        return [d for f in self.feeds for d in f.drops()]

    def set_status(self, callback: StatusCallback | None) -> None:
        for f in self.feeds:
            f.set_status(callback)

    def stop(self) -> None:
        for f in self.feeds:
            f.stop()

    def close(self) -> None:
        for f in self.feeds:
            f.close()


def live_feed(specs: Sequence[str], *, bpf: str | None = None, snaplen: int = 0,
              buffer_mb: int = 64, resume: bool = True) -> Feed:
    """Live capture on ``-i`` interfaces; ``NETNS/IFACE`` captures inside a namespace.

    Interfaces of our own namespace share one dumpcap (one pcapng stream); each namespace
    gets its own. Every capture is started here, so errors (privileges, unknown
    interface) surface before the UI takes the terminal. Once running, each capture
    resumes by itself after a fault (``resume``, see ``LiveSource``).
    """
    groups: dict[str | None, list[str]] = {}
    for spec in specs:
        netns, iface = split_netns(spec)
        groups.setdefault(netns, []).append(iface)
    feeds: list[SourceFeed] = []
    widths: list[int] = []
    try:
        for netns, ifaces in groups.items():
            src: LiveSource
            if netns is None:
                src = LiveSource(ifaces, bpf=bpf, snaplen=snaplen, buffer_mb=buffer_mb,
                                 resume=resume)
            else:
                src = NetnsLiveSource(netns, ifaces, bpf=bpf, snaplen=snaplen,
                                      buffer_mb=buffer_mb, resume=resume)
            src.start()
            feeds.append(SourceFeed(src))
            widths.append(len(ifaces))
    except BaseException:
        for f in feeds:
            f.close()
        raise
    if len(feeds) == 1:
        return feeds[0]
    return MultiFeed(feeds, widths)
