"""One run of a capture program: the process, its stderr, the pipe it writes the capture to
and the streaming reader on that pipe.

A live source starts a run per capture attempt (several after restarts); the run knows
how to start the program and wait for its capture header, what it said when it failed or
ended, its drop summary, and how to stop it and release what it holds.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import IO

from srinspect.errors import CaptureFormatError
from srinspect.sources.base import CaptureError, InterfaceDrops, isb_drops
from srinspect.sources.capture import CaptureReader, from_stream
from srinspect.sources.pcap import CHUNK_SIZE
from srinspect.sources.tools import CaptureTool

#: Pipe buffer asked for (F_SETPIPE_SZ): absorbs bursts while the consumer is busy.
PIPE_SIZE = 1 << 20
_F_SETPIPE_SZ = 1031
_STDERR_LINES = 200
_PERMISSION_HINTS = ("permission", "operation not permitted", "not permitted",
                     "you don't have permission")


class QueuedPipe:
    """A capture program's stdout for the streaming reader: a thread drains the pipe into
    a bounded in-memory queue, ``read1`` returns what is queued (at once, never waiting for
    a full chunk, so a frame is delivered as soon as the program has flushed it).

    Why the thread: the program blocks on a full pipe, and then the kernel ring overflows
    and drops. A consumer that is briefly starved of CPU (a shared machine, a slow stats
    tick) would lose packets although it keeps up on average. The thread only moves bytes
    (``os.read`` releases the GIL), so it costs little; when the queue holds ``limit``
    bytes it stops reading, the program blocks and the drops are counted by the kernel as
    before, never lost silently. ``backlog`` says how far behind the consumer is. While it
    waits for data, ``read1`` calls ``poll`` (the source's wall-clock work: stats tick,
    ``--duration`` deadline) at least as often as ``poll`` asks; it also calls it once per
    chunk while data flows, so that work is never starved by a busy link.
    """

    def __init__(self, fd: int, poll: Callable[[], float], limit: int) -> None:
        self._fd = fd
        self._poll = poll
        self._limit = limit
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._eof = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._fill, name="srinspect-capture-pipe",
                                         daemon=True)
        self._thread.start()

    @property
    def backlog(self) -> int:
        return self._size

    def _fill(self) -> None:
        cond = self._cond
        try:
            while True:
                with cond:
                    while self._size >= self._limit:
                        cond.wait()
                data = os.read(self._fd, CHUNK_SIZE)
                with cond:
                    if not data:
                        break
                    self._chunks.append(data)
                    self._size += len(data)
                    cond.notify_all()
        except OSError:
            pass
        finally:
            with cond:
                self._eof = True
                cond.notify_all()

    def read1(self, n: int = -1) -> bytes:
        cond = self._cond
        while True:
            timeout = self._poll()  # per chunk, also while data flows: ticks and deadline
            with cond:
                if self._chunks:
                    data = self._take(n if n > 0 else CHUNK_SIZE)
                    self._size -= len(data)
                    cond.notify_all()
                    return data
                if self._eof:
                    return b""
                cond.wait(timeout)

    read = read1

    def _take(self, n: int) -> bytes:
        """Up to ``n`` queued bytes, joining small chunks (fewer reader refills)."""
        chunks = self._chunks
        first = chunks.popleft()
        if len(first) >= n or not chunks:
            if len(first) > n:
                chunks.appendleft(first[n:])
                first = first[:n]
            return first
        parts = [first]
        have = len(first)
        while chunks and have + len(chunks[0]) <= n:
            part = chunks.popleft()
            parts.append(part)
            have += len(part)
        return b"".join(parts)


class CaptureRun:
    """The capture program started with ``argv``, its output queued (``QueuedPipe``,
    ``poll`` and ``queue_bytes`` as there); ``open()`` opens that output as a capture.

    The process is there from the constructor on, so it can be signalled while ``open()``
    waits for its capture header. ``name`` is what is captured, for messages.
    """

    def __init__(self, tool: CaptureTool, argv: Sequence[str], name: str,
                 poll: Callable[[], float], queue_bytes: int) -> None:
        self.tool = tool
        self.name = name
        self._stderr: deque[str] = deque(maxlen=_STDERR_LINES)
        try:
            self.proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL, start_new_session=True, bufsize=0)
        except OSError as exc:
            raise CaptureError(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._stderr_thread = threading.Thread(
            target=self._drain_stderr, args=(self.proc.stderr,), daemon=True)
        self._stderr_thread.start()
        fd = self.proc.stdout.fileno()
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_SIZE)
        self._pipe = QueuedPipe(fd, poll, queue_bytes)
        self.reader: CaptureReader | None = None

    def open(self) -> CaptureReader:
        """The capture, once the program has written its header (so it is capturing);
        when it ends before that, CaptureError with the program's own message (and a hint
        for the permission case)."""
        try:
            self.reader = from_stream(self._pipe, name=self.name)
        except CaptureFormatError as exc:
            message = self._failure_message()
            self.kill()
            raise CaptureError(message or f"{self.tool.name} produced no capture: {exc}") \
                from exc
        return self.reader

    def _drain_stderr(self, pipe: IO[bytes]) -> None:
        for raw in iter(pipe.readline, b""):
            self._stderr.append(raw.decode("utf-8", "replace").rstrip())

    @property
    def messages(self) -> list[str]:
        """The program's stderr lines so far (bounded)."""
        return list(self._stderr)

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait_exited(self) -> None:
        """Wait (a while) for the program to exit and for all it wrote on stderr."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self._stderr_thread.join(timeout=2)

    def _failure_message(self) -> str:
        """The program's error text once it has exited, with a hint for missing privileges."""
        self.wait_exited()
        text = self.tool.error(self.messages)
        rc = self.proc.returncode
        if any(h in text.lower() for h in _PERMISSION_HINTS):
            return f"no permission to capture on {self.name} ({text}): " \
                   f"{self.tool.permission_hint}"
        if text:
            return f"{self.tool.name} failed (exit {rc}): {text}"
        return f"{self.tool.name} exited with status {rc} before capturing" if rc else ""

    def exit_message(self, rc: int | None) -> str:
        """Why the capture ended unexpectedly (the program exited with status ``rc``)."""
        name = self.tool.name
        text = self.tool.error(self.messages)
        if text:
            return f"{name} stopped: {text}"
        if rc is not None and rc < 0:
            with contextlib.suppress(ValueError):
                return f"{name} was killed by {signal.Signals(-rc).name}"
        return f"{name} exited unexpectedly (status {rc})"

    def drops(self, name: Callable[[int], str]) -> list[InterfaceDrops]:
        """The run's report: its pcapng ISBs (``name`` names the run's interface indexes),
        else the program's stderr summary; empty until the program has stopped."""
        if self.reader is not None and self.reader.interface_stats:
            return isb_drops(self.reader, name)
        return self.tool.drops(self.messages)

    def interrupt(self) -> None:
        """SIGINT: the program writes its statistics and closes the pipe."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGINT)

    def interrupt_later(self) -> None:
        """SIGINT after the tool's ``flush`` seconds (see ``STOP_FLUSH``), from a timer
        thread, so the caller returns at once (it may be a signal handler)."""
        timer = threading.Timer(self.tool.flush, self.interrupt)
        timer.daemon = True
        timer.start()

    def reap(self, timeout: float) -> int | None:
        """The exit status after waiting up to ``timeout`` seconds; the program is killed
        when it has not exited by then (None is returned then)."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        """End the program now (it loses its statistics) and release our pipe ends."""
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self.release()

    def release(self) -> None:
        """After the program ended: let the stderr reader finish, close our pipe ends."""
        self._stderr_thread.join(timeout=2)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
