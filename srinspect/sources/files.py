"""Capture files as a frame source: read as fast as possible, or replayed at recorded speed,
optionally through a BPF filter."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator

from srinspect.errors import CaptureFormatError
from srinspect.frame import Frame
from srinspect.sources.base import (
    CaptureError,
    InterfaceDrops,
    InterfaceInfo,
    Progress,
    Tick,
    interface_from_reader,
    isb_drops,
)
from srinspect.sources.capture import CaptureReader, from_stream, open_capture


class FileSource:
    """Frames of a capture file (or ``-`` for stdin), optionally replayed at recorded speed.

    ``bpf`` filters the file through ``tcpdump -r FILE -w - FILTER`` (BPF needs libpcap;
    the output is classic pcap, so pcapng interface names are lost). ``duration`` stops
    after that many seconds of capture time (wall time when replaying). ``progress()``
    knows the file's size unless it is stdin, compressed or filtered.
    """

    def __init__(self, path: str, *, replay: bool = False, speed: float = 1.0,
                 bpf: str | None = None, duration: float | None = None) -> None:
        if speed <= 0:
            raise CaptureError("replay speed must be positive")
        self.name = path
        self.paced = replay
        self._speed = speed
        self._duration = duration
        self._stop = threading.Event()
        self._tick: Tick | None = None
        self._interval = 1.0
        self._proc: subprocess.Popen[bytes] | None = None
        if bpf:
            self._reader = self._filtered(path, bpf)
        else:
            try:
                self._reader = open_capture(path)
            except OSError as exc:
                raise CaptureError(f"{path}: {exc.strerror or exc}") from exc
        self._size = None if bpf or path == "-" or self._reader.compressed else \
            _size_of(path)

    def _filtered(self, path: str, bpf: str) -> CaptureReader:
        tcpdump = shutil.which("tcpdump")
        if tcpdump is None:
            raise CaptureError("-f with -r needs tcpdump to apply the BPF filter "
                               "(apt-get install tcpdump, or scripts/setup.sh)")
        self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [tcpdump, "-q", "-r", path, "-w", "-", "--", bpf], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL if path != "-" else None)
        assert self._proc.stdout is not None
        try:
            return from_stream(self._proc.stdout, name=path)
        except CaptureFormatError as exc:
            err = self._proc_error()
            raise CaptureError(f"tcpdump could not filter {path}: {err or exc}") from exc

    def _proc_error(self) -> str:
        if self._proc is None:
            return ""
        try:
            _, err = self._proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            return ""
        return err.decode("utf-8", "replace").strip()

    def __iter__(self) -> Iterator[Frame]:
        stop = self._stop
        duration = self._duration
        try:
            if self.paced:
                yield from self._replay()
                return
            if duration is None:
                for frame in self._reader:
                    if stop.is_set():
                        return
                    yield frame
                return
            end = None
            for frame in self._reader:
                if end is None:
                    end = frame.ts + duration
                if stop.is_set() or frame.ts >= end:
                    return
                yield frame
        except CaptureFormatError as exc:
            if self._proc is not None and self._proc.poll() not in (None, 0):
                raise CaptureError(f"tcpdump: {self._proc_error() or exc}") from exc
            raise

    def _replay(self) -> Iterator[Frame]:
        """Sleep until each frame's recorded offset has passed on the wall clock."""
        stop = self._stop
        first: float | None = None
        start = time.monotonic()
        next_tick = start + self._interval
        deadline = start + self._duration if self._duration is not None else None
        for frame in self._reader:
            if first is None:
                first = frame.ts
            due = start + (frame.ts - first) / self._speed
            while True:
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    return
                if self._tick is not None and now >= next_tick:
                    next_tick = now + self._interval
                    # "now" in capture time: the recorded instant being replayed
                    self._tick(first + (now - start) * self._speed)
                if now >= due:
                    break
                wake = min(due, next_tick if self._tick is not None else due,
                           deadline if deadline is not None else due)
                if stop.wait(max(wake - now, 0.0)):
                    return
            if stop.is_set():
                return
            yield frame

    def interface(self, index: int) -> InterfaceInfo:
        return interface_from_reader(self._reader, index, f"if{index}",
                                     next(iter(self._reader.linktypes), -1))

    def drops(self) -> list[InterfaceDrops]:
        """The file's pcapng ISBs (what the engine that wrote it reported), if any."""
        return isb_drops(self._reader, lambda i: self.interface(i).name)

    def progress(self) -> Progress:
        return Progress(self._reader.bytes_read, self._size)

    def set_tick(self, callback: Tick | None, interval: float = 1.0) -> None:
        self._tick = callback
        self._interval = interval

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self._reader.close()
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
            for pipe in (self._proc.stdout, self._proc.stderr):
                if pipe is not None:
                    pipe.close()

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _size_of(path: str) -> int | None:
    try:
        return os.path.getsize(path)
    except OSError:
        return None
