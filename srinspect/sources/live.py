"""Frame sources for the flow views: live interfaces (through dumpcap) and capture files.

Both look the same downstream (the ``Source`` protocol): iterate for Frames, ask
``interface(i)`` for the name/link type/MAC of pcapng interface ``i``, ``drops()`` for what
the capture engine lost, ``stop()`` to end early (safe from a signal handler), and
``set_tick`` for a wall-clock callback while frames are awaited.

Why dumpcap writing pcapng to a pipe rather than our own AF_PACKET socket: dumpcap is the
capture engine Wireshark uses; it compiles BPF filters, captures several interfaces into
one stream (pcapng interface ids map to names through the IDBs), sizes the kernel buffer
(``-B``), needs the capture privilege only for itself (file capabilities on
``/usr/bin/dumpcap`` let an unprivileged user run srinspect), and reports its drops in
pcapng Interface Statistics Blocks and on stderr when it stops. Parsing stays in the
streaming reader (``open_capture``'s format readers), which never seeks and reads the
pipe with ``read1`` so a frame is delivered as soon as dumpcap flushes it. (Several
interfaces are captured as pcapng, one as classic pcap, which parses faster.)

Stopping: dumpcap runs in its own session, so a terminal Ctrl-C reaches only srinspect,
which forwards a SIGINT; dumpcap then writes its statistics blocks and closes the pipe,
and iteration ends at EOF with every frame delivered and the drop counts known.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from srinspect.errors import CaptureFormatError, SrinspectError
from srinspect.frame import Frame
from srinspect.sources.capture import CaptureReader, from_stream, open_capture
from srinspect.sources.pcap import CHUNK_SIZE

Tick = Callable[[float], None]

#: Pipe buffer asked for (F_SETPIPE_SZ): absorbs bursts while the consumer is busy.
PIPE_SIZE = 1 << 20
_F_SETPIPE_SZ = 1031
_STDERR_LINES = 200
_STOP_GRACE = 5.0  # seconds dumpcap gets to write its statistics after SIGINT
#: Seconds between a stop request and the SIGINT to dumpcap. libpcap (TPACKET_V3) hands
#: packets over a ring block at a time, a block retiring after dumpcap's 250 ms read
#: timeout, and dumpcap 4.0 has no immediate mode: a SIGINT right away loses the packets
#: of the current block, and they are not even counted as received. Waiting for the
#: block to retire delivers every packet captured before the stop request.
STOP_FLUSH = 0.5

# dumpcap's summary line on stderr when it stops (Wireshark 3.x/4.x wording).
_DUMPCAP_DROPS = re.compile(
    r"Packets received/dropped on interface '(?P<iface>.+?)': (?P<recv>\d+)/(?P<drop>\d+)"
    r"(?: \(pcap:(?P<pcap>\d+)/dumpcap:(?P<dumpcap>\d+)/flushed:(?P<flushed>\d+)"
    r"(?:/ps_ifdrop:(?P<ifdrop>\d+))?\))?")
_PERMISSION_HINTS = ("permission", "operation not permitted", "not permitted",
                     "you don't have permission")


class CaptureError(SrinspectError):
    """A capture source cannot be started or read: missing tool, privilege, interface."""


@dataclass(frozen=True, slots=True)
class InterfaceInfo:
    """A capture interface: pcapng index, name, link type, and MAC (live Ethernet only)."""

    index: int
    name: str
    linktype: int
    mac: bytes | None = None


@dataclass(frozen=True, slots=True)
class InterfaceDrops:
    """What the capture engine reports for one interface. ``dropped`` is None when the
    source cannot know (a file without statistics, or dumpcap killed before reporting).
    ``detail`` holds the engine's breakdown (pcap/dumpcap/flushed/ps_ifdrop, or the pcapng
    ISB counter names); ``origin`` says where the numbers come from.
    """

    interface: str
    received: int | None
    dropped: int | None
    origin: str
    detail: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"interface": self.interface, "received": self.received,
                "dropped": self.dropped, "origin": self.origin, "detail": dict(self.detail)}


class Source(Protocol):
    """What every frame source offers the flow views."""

    name: str
    #: True when frames arrive in real time (live, or a file replayed at recorded speed):
    #: periodic output then follows the wall clock (``set_tick``), else capture time.
    paced: bool

    def __iter__(self) -> Iterator[Frame]: ...

    def interface(self, index: int) -> InterfaceInfo: ...

    def drops(self) -> list[InterfaceDrops]: ...

    def set_tick(self, callback: Tick | None, interval: float = 1.0) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


def _mac_of(name: str) -> bytes | None:
    """The interface's MAC from sysfs (of the network namespace we run in), if it has one."""
    try:
        with open(f"/sys/class/net/{name}/address", encoding="ascii") as fh:
            text = fh.read().strip()
        mac = bytes.fromhex(text.replace(":", ""))
    except (OSError, ValueError):
        return None
    return mac if len(mac) == 6 and any(mac) else None


def _interface_from_reader(reader: CaptureReader, index: int, fallback: str,
                           linktype: int = -1, mac_lookup: bool = False) -> InterfaceInfo:
    for iface in reader.interfaces:
        if iface.index == index:
            name = iface.name or fallback
            return InterfaceInfo(index, name, iface.linktype,
                                 _mac_of(name) if mac_lookup else None)
    if linktype < 0 and len(reader.linktypes) == 1:
        linktype = next(iter(reader.linktypes))
    return InterfaceInfo(index, fallback, linktype, _mac_of(fallback) if mac_lookup else None)


def _isb_drops(reader: CaptureReader, name: Callable[[int], str]) -> list[InterfaceDrops]:
    out = []
    for index, st in sorted(reader.interface_stats.items()):
        parts = {k: v for k, v in (("ifdrop", st.ifdrop), ("osdrop", st.osdrop))
                 if v is not None}
        detail = {k: v for k, v in (("ifrecv", st.ifrecv), ("ifdrop", st.ifdrop),
                                    ("osdrop", st.osdrop), ("filteraccept", st.filteraccept),
                                    ("usrdeliv", st.usrdeliv)) if v is not None}
        out.append(InterfaceDrops(name(index), st.ifrecv,
                                  sum(parts.values()) if parts else None, "pcapng-isb",
                                  detail))
    return out


# --- files ----------------------------------------------------------------------------------


class FileSource:
    """Frames of a capture file (or ``-`` for stdin), optionally replayed at recorded speed.

    ``bpf`` filters the file through ``tcpdump -r FILE -w - FILTER`` (BPF needs libpcap;
    the output is classic pcap, so pcapng interface names are lost). ``duration`` stops
    after that many seconds of capture time (wall time when replaying).
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
        self._linktypes: dict[int, int] = {}
        if bpf:
            self._reader = self._filtered(path, bpf)
        else:
            try:
                self._reader = open_capture(path)
            except OSError as exc:
                raise CaptureError(f"{path}: {exc.strerror or exc}") from exc

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
        return _interface_from_reader(self._reader, index, f"if{index}",
                                      next(iter(self._reader.linktypes), -1))

    def drops(self) -> list[InterfaceDrops]:
        """The file's pcapng ISBs (what the engine that wrote it reported), if any."""
        return _isb_drops(self._reader, lambda i: self.interface(i).name)

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


# --- live -----------------------------------------------------------------------------------


def find_dumpcap() -> str:
    """Path of dumpcap, or a CaptureError saying how to install it."""
    path = shutil.which("dumpcap") or next(
        (p for p in ("/usr/bin/dumpcap", "/usr/sbin/dumpcap") if os.access(p, os.X_OK)), None)
    if path is None:
        raise CaptureError("live capture needs dumpcap, which is not installed "
                           "(Debian/Ubuntu: apt-get install tshark, or run scripts/setup.sh)")
    return path


class _QueuedPipe:
    """dumpcap's stdout for the streaming reader: a thread drains the pipe into a bounded
    in-memory queue, ``read1`` returns what is queued (at once, never waiting for a full
    chunk, so a frame is delivered as soon as dumpcap has flushed it).

    Why the thread: dumpcap blocks on a full pipe, and then the kernel ring overflows and
    drops. A
    consumer that is briefly starved of CPU (a shared machine, a slow stats tick) would
    lose packets although it keeps up on average. The thread only moves bytes (``os.read``
    releases the GIL), so it costs little; when the queue holds ``limit`` bytes it stops
    reading, dumpcap blocks and the drops are counted by the kernel as before, never lost
    silently. ``backlog`` says how far behind the consumer is. While it waits for data,
    ``read1`` calls ``poll`` (the source's wall-clock work: stats tick, ``--duration``
    deadline) at least as often as ``poll`` asks; it also calls it once per chunk while
    data flows, so that work is never starved by a busy link.
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


class LiveSource:
    """Frames from one or more interfaces, captured by dumpcap (writing to a pipe).

    ``start()`` (or entering the context) launches dumpcap and waits for its first bytes,
    so the capture is running when it returns; startup problems raise CaptureError with
    dumpcap's own message and a hint for the permission case. Interface indexes are
    the order of ``interfaces``; ``bpf`` applies to all of them; ``buffer_mb`` is the kernel
    capture buffer per interface (dumpcap ``-B``); ``queue_mb`` the most dumpcap output
    held in memory when the consumer falls behind (see ``_QueuedPipe``); ``duration``
    stops after that many seconds of wall time.
    """

    paced = True

    def __init__(self, interfaces: Sequence[str], *, bpf: str | None = None,
                 duration: float | None = None, snaplen: int = 0, buffer_mb: int = 64,
                 queue_mb: int = 64, dumpcap: str | None = None) -> None:
        if not interfaces:
            raise CaptureError("no interface given")
        self.interfaces = list(interfaces)
        self.name = ",".join(self.interfaces)
        self._bpf = bpf
        self._duration = duration
        self._snaplen = snaplen
        self._buffer_mb = buffer_mb
        self._queue_bytes = queue_mb << 20
        self._pipe: _QueuedPipe | None = None
        self._dumpcap = dumpcap
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: CaptureReader | None = None
        self._stderr: deque[str] = deque(maxlen=_STDERR_LINES)
        self._stderr_thread: threading.Thread | None = None
        self._tick: Tick | None = None
        self._interval = 1.0
        self._next_tick = 0.0
        self._deadline: float | None = None
        self._stopping = False
        self._stop_at = 0.0
        self._infos: dict[int, InterfaceInfo] = {}
        self.started_at: float | None = None

    def command(self) -> list[str]:
        """The dumpcap command line (options before the first -i apply to every -i).

        Several interfaces need pcapng (interface ids, names, per-interface statistics
        blocks). One interface is captured as classic pcap, which the reader parses about
        a quarter faster; its drops then come from dumpcap's summary (the same counters).
        """
        fmt = "-n" if len(self.interfaces) > 1 else "-P"
        cmd = [self._dumpcap or find_dumpcap(), "-q", fmt, "-B", str(self._buffer_mb)]
        if self._snaplen:
            cmd += ["-s", str(self._snaplen)]
        if self._bpf:
            cmd += ["-f", self._bpf]
        for name in self.interfaces:
            cmd += ["-i", name]
        return [*cmd, "-w", "-"]

    def start(self) -> LiveSource:
        if self._proc is not None:
            return self
        cmd = self.command()
        try:
            self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                start_new_session=True, bufsize=0)
        except OSError as exc:
            raise CaptureError(f"cannot run {cmd[0]}: {exc.strerror or exc}") from exc
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._stderr_thread = threading.Thread(target=self._drain_stderr,
                                               args=(self._proc.stderr,), daemon=True)
        self._stderr_thread.start()
        fd = self._proc.stdout.fileno()
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_SIZE)
        now = time.monotonic()
        self._next_tick = now + self._interval
        if self._duration is not None:
            self._deadline = now + self._duration
        self._pipe = _QueuedPipe(fd, self._poll, self._queue_bytes)
        try:
            self._reader = from_stream(self._pipe, name=self.name)
        except CaptureFormatError as exc:
            message = self._failure_message()
            self.close()
            raise CaptureError(message or f"dumpcap produced no capture: {exc}") from exc
        self.started_at = time.time()
        return self

    def _drain_stderr(self, pipe: object) -> None:
        for raw in iter(pipe.readline, b""):  # type: ignore[attr-defined]
            self._stderr.append(raw.decode("utf-8", "replace").rstrip())

    def _failure_message(self) -> str:
        """dumpcap's error text once it has exited, with a hint for missing privileges."""
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=2)
        lines = [ln.strip() for ln in self._stderr
                 if ln.strip() and not ln.startswith(("Capturing on", "File:"))]
        # dumpcap's first line is the error; what follows is its own multi-line advice.
        text = lines[0] if lines else ""
        rc = self._proc.returncode if self._proc is not None else None
        if any(h in text.lower() for h in _PERMISSION_HINTS):
            return (f"no permission to capture on {self.name} ({text}): live capture needs "
                    "root, or capture capabilities on dumpcap (setcap "
                    "cap_net_raw,cap_net_admin=eip /usr/bin/dumpcap; on Debian "
                    "dpkg-reconfigure wireshark-common and join the wireshark group)")
        if text:
            return f"dumpcap failed (exit {rc}): {text}"
        return f"dumpcap exited with status {rc} before capturing" if rc else ""

    def _poll(self) -> float:
        """Called while waiting for data: run due wall-clock work; return the wait bound."""
        now = time.monotonic()
        if self._deadline is not None and now >= self._deadline:
            self._deadline = None
            self.stop()
        if self._stopping and now - self._stop_at > STOP_FLUSH + _STOP_GRACE \
                and self._proc is not None and self._proc.poll() is None:
            self._proc.kill()  # dumpcap ignored SIGINT: end the pipe, lose only its stats
        if self._tick is not None and now >= self._next_tick:
            self._next_tick = now + self._interval
            self._tick(time.time())
            now = time.monotonic()
        wake = self._next_tick if self._tick is not None else now + 1.0
        if self._deadline is not None:
            wake = min(wake, self._deadline)
        return max(min(wake - now, 1.0), 0.0)

    def __iter__(self) -> Iterator[Frame]:
        self.start()
        assert self._reader is not None
        try:
            yield from self._reader
        except CaptureFormatError as exc:
            message = self._failure_message() if self._stopped_badly() else ""
            raise CaptureError(message or f"bad data from dumpcap: {exc}") from exc
        finally:
            self._finish()

    def _stopped_badly(self) -> bool:
        return self._proc is not None and self._proc.poll() not in (None, 0)

    def _finish(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=2)

    def interface(self, index: int) -> InterfaceInfo:
        info = self._infos.get(index)
        if info is None:
            fallback = self.interfaces[index] if 0 <= index < len(self.interfaces) else \
                f"if{index}"
            if self._reader is None:
                return InterfaceInfo(index, fallback, -1)
            info = _interface_from_reader(self._reader, index, fallback, mac_lookup=True)
            self._infos[index] = info
        return info

    def drops(self) -> list[InterfaceDrops]:
        """Drops per interface: dumpcap's pcapng ISBs, else its stderr summary; written
        when dumpcap stops, so empty while the capture runs."""
        if self._reader is not None and self._reader.interface_stats:
            return _isb_drops(self._reader, lambda i: self.interface(i).name)
        out = []
        for line in list(self._stderr):
            m = _DUMPCAP_DROPS.search(line)
            if m:
                detail = {k: int(v) for k, v in m.groupdict().items()
                          if k not in ("iface", "recv", "drop") and v is not None}
                out.append(InterfaceDrops(m["iface"], int(m["recv"]), int(m["drop"]),
                                          "dumpcap", detail))
        return out

    @property
    def backlog(self) -> int:
        """Bytes of dumpcap output received but not parsed yet (the consumer's lag)."""
        return self._pipe.backlog if self._pipe is not None else 0

    @property
    def messages(self) -> list[str]:
        """dumpcap's stderr lines so far (bounded)."""
        return list(self._stderr)

    def set_tick(self, callback: Tick | None, interval: float = 1.0) -> None:
        self._tick = callback
        self._interval = interval
        self._next_tick = time.monotonic() + interval

    def stop(self) -> None:
        """Ask dumpcap to finish (it writes its statistics and closes the pipe).

        The SIGINT follows ``STOP_FLUSH`` seconds later (see there), from a timer thread,
        so this returns at once and may be called from a signal handler or another thread.
        Iteration goes on until dumpcap has closed the pipe.
        """
        if self._stopping or self._proc is None:
            return
        self._stopping = True
        self._stop_at = time.monotonic()
        timer = threading.Timer(STOP_FLUSH, self._interrupt)
        timer.daemon = True
        timer.start()

    def _interrupt(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._proc.pid, signal.SIGINT)

    def close(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            self.stop()
            try:
                proc.wait(timeout=STOP_FLUSH + 3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=3)
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=2)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def __enter__(self) -> LiveSource:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
