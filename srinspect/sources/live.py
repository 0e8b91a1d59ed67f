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

Faults (measured on Linux 6.18, dumpcap 4.x): an interface taken down leaves dumpcap
running and capturing again once it is up, silently; a deleted interface makes dumpcap
exit 0 ("The network adapter ... is no longer attached"); a killed dumpcap just closes the
pipe; and dumpcap refuses to start on an interface that is down or missing. So the live
source watches its interfaces itself (``LinkWatch``: SIOCGIFFLAGS twice a second, in the
capture's network namespace), tells an expected end (after ``stop()``) from an unexpected
one, reports both kinds of fault as ``CaptureEvent``s and, with ``resume``, starts dumpcap
again with a backoff (``LiveSource``). Frames already delivered are never affected.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import re
import shutil
import signal
import socket
import struct
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
from srinspect.sources.pcap import CHUNK_SIZE, make_frame

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


# --- capture faults -------------------------------------------------------------------------

#: Restart attempts after the capture process ended unexpectedly: the first at once, then
#: after RETRY_FIRST seconds, the wait doubling up to RETRY_MAX (and at once when a missing
#: interface is back).
RETRY_FIRST = 0.5
RETRY_MAX = 5.0
#: Seconds between two looks at the captured interfaces (up, down, gone).
LINK_CHECK = 0.5
#: Capture events a source remembers (for the final report); the count is kept beyond it.
EVENT_HISTORY = 1000

_SIOCGIFFLAGS = 0x8913
_IFF_UP = 0x1
_CLONE_NEWNET = 0x40000000
_IFNAMSIZ = 16
# dumpcap's stderr lines that are not errors
_DUMPCAP_CHATTER = ("Capturing on", "File:", "Packets captured", "Packets received/dropped")


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


def _netns_socket(netns: str) -> socket.socket | None:
    """A socket of network namespace ``netns`` (an ``ip netns`` name), or None.

    Entering a namespace (setns) changes only the calling thread, so a short-lived thread
    enters it and makes the socket; the socket stays in that namespace afterwards, and its
    interface ioctls answer for it from any thread. Needs CAP_SYS_ADMIN, as ``ip netns exec``
    does.
    """
    if "/" in netns or netns in ("", ".", ".."):
        return None
    path = next((p for p in (f"/run/netns/{netns}", f"/var/run/netns/{netns}")
                 if os.path.exists(p)), None)
    if path is None:
        return None
    made: list[socket.socket] = []

    def enter() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    return
            finally:
                os.close(fd)
            made.append(socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM))
        except (OSError, AttributeError):
            return

    thread = threading.Thread(target=enter, name="srinspect-netns", daemon=True)
    thread.start()
    thread.join(5)
    return made[0] if made else None


class LinkWatch:
    """Whether interfaces are up, down or gone, asked of the kernel (SIOCGIFFLAGS) through a
    socket of the capture's network namespace: a few microseconds per interface, no
    privilege needed in our own namespace. ``state`` is None when it cannot tell (``any``,
    an interface index, a name no interface has)."""

    def __init__(self, netns: str | None = None) -> None:
        self._sock: socket.socket | None
        if netns is None:
            try:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            except OSError:
                self._sock = None
        else:
            self._sock = _netns_socket(netns)

    def state(self, name: str) -> str | None:
        raw = name.encode("utf-8", "surrogateescape")
        if self._sock is None or not raw or len(raw) >= _IFNAMSIZ:
            return None
        try:
            res = fcntl.ioctl(self._sock.fileno(), _SIOCGIFFLAGS,
                              struct.pack("16sH14x", raw, 0))
        except OSError as exc:
            return "gone" if exc.errno in (errno.ENODEV, errno.ENXIO) else None
        flags = struct.unpack("16sH14x", res)[1]
        return "up" if flags & _IFF_UP else "down"

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _merge_drops(parts: list[InterfaceDrops], runs: int,
                 unreported: int) -> list[InterfaceDrops]:
    """One InterfaceDrops per interface over several dumpcap runs (after restarts): counts
    summed over the runs that reported them; ``detail`` says how many runs there were."""
    if runs <= 1:
        return parts
    merged: dict[str, list[InterfaceDrops]] = {}
    for d in parts:
        merged.setdefault(d.interface, []).append(d)
    out = []
    for name, group in merged.items():
        recv = [d.received for d in group if d.received is not None]
        drop = [d.dropped for d in group if d.dropped is not None]
        detail: dict[str, int] = {}
        for d in group:
            for key, value in d.detail.items():
                detail[key] = detail.get(key, 0) + value
        detail["captures"] = runs
        if unreported:
            detail["captures_unreported"] = unreported
        out.append(InterfaceDrops(name, sum(recv) if recv else None,
                                  sum(drop) if drop else None, group[0].origin, detail))
    return out


# --- live -------------------------------------------------------------------------------------


class LiveSource:
    """Frames from one or more interfaces, captured by dumpcap (writing to a pipe).

    ``start()`` (or entering the context) launches dumpcap and waits for its first bytes,
    so the capture is running when it returns; startup problems raise CaptureError with
    dumpcap's own message and a hint for the permission case. Interface indexes are
    the order of ``interfaces``; ``bpf`` applies to all of them; ``buffer_mb`` is the kernel
    capture buffer per interface (dumpcap ``-B``); ``queue_mb`` the most dumpcap output
    held in memory when the consumer falls behind (see ``_QueuedPipe``); ``duration``
    stops after that many seconds of wall time.

    Faults once the capture runs: an interface going down or disappearing, or dumpcap
    ending without being asked to. Each is reported as a ``CaptureEvent`` (``set_status``;
    also kept in ``events``) and never raises. With ``resume`` the source carries on:
    dumpcap keeps capturing on an interface that is down and picks it up when it is up
    again; when dumpcap has ended it is started again (at once, then with a backoff of
    RETRY_FIRST doubling to RETRY_MAX seconds, and at once when a missing interface is
    back), on the interfaces that can be captured meanwhile, frame numbers continuing. Without
    ``resume`` the first fault ends the iteration (dumpcap is stopped cleanly when it still
    runs) and ``failed`` holds it. Frames already delivered are never affected.
    """

    paced = True

    def __init__(self, interfaces: Sequence[str], *, bpf: str | None = None,
                 duration: float | None = None, snaplen: int = 0, buffer_mb: int = 64,
                 queue_mb: int = 64, dumpcap: str | None = None, resume: bool = False) -> None:
        if not interfaces:
            raise CaptureError("no interface given")
        self.interfaces = list(interfaces)
        self.name = ",".join(self.interfaces)
        self.resume = resume
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
        self._wake = threading.Event()
        self._infos: dict[int, InterfaceInfo] = {}
        self.started_at: float | None = None
        # runs: one dumpcap each; a restart may capture a subset of the interfaces
        self._run: list[int] = list(range(len(self.interfaces)))  # run index -> ours
        self._run_set = set(self._run)
        self._running = False  # the current dumpcap has delivered its header, not its EOF
        self._launching = False
        self._upgrading = False  # a subset run is being stopped to capture every interface
        self._offset = 0  # frames numbered by earlier runs
        self._run_error: CaptureFormatError | None = None
        self._run_counted = False  # the current run's drops are in _past_drops
        self._past_drops: list[InterfaceDrops] = []
        self._runs_unreported = 0
        self.runs = 0
        # health
        self._links: LinkWatch | None = None
        self._watched: list[str] = []
        self._next_link = 0.0
        self._link_bad: dict[str, str] = {}  # interface -> "down" | "gone"
        self._dead: str | None = None  # why dumpcap is not running (between runs)
        self._health: dict[str, tuple[str, str]] = {}  # not captured: (reason, message)
        self._since: dict[str, float] = {}
        self._status: Callable[[CaptureEvent], None] | None = None
        self.events: deque[CaptureEvent] = deque(maxlen=EVENT_HISTORY)
        self.error_count = 0
        #: the fault that ended the capture (without ``resume``)
        self.failed: CaptureEvent | None = None

    # --- naming, for subclasses (network namespaces) ------------------------------------------

    @property
    def label(self) -> str:
        """The capture's name in events (unique among the sources of one consumer)."""
        return self.name

    def display(self, name: str) -> str:
        """An interface's name in events and messages."""
        return name

    def _link_watch(self) -> LinkWatch:
        return LinkWatch()

    def command(self, interfaces: Sequence[str] | None = None) -> list[str]:
        """The dumpcap command line (options before the first -i apply to every -i).

        Several interfaces need pcapng (interface ids, names, per-interface statistics
        blocks). One interface is captured as classic pcap, which the reader parses about
        a quarter faster; its drops then come from dumpcap's summary (the same counters).
        ``interfaces`` is a subset after a restart (default: all of them).
        """
        names = self.interfaces if interfaces is None else list(interfaces)
        fmt = "-n" if len(names) > 1 else "-P"
        cmd = [self._dumpcap or find_dumpcap(), "-q", fmt, "-B", str(self._buffer_mb)]
        if self._snaplen:
            cmd += ["-s", str(self._snaplen)]
        if self._bpf:
            cmd += ["-f", self._bpf]
        for name in names:
            cmd += ["-i", name]
        return [*cmd, "-w", "-"]

    # --- starting -----------------------------------------------------------------------------

    def start(self) -> LiveSource:
        if self._proc is not None:
            return self
        now = time.monotonic()
        self._next_tick = now + self._interval
        if self._duration is not None:
            self._deadline = now + self._duration
        self._links = self._link_watch()
        # only interfaces the kernel knows by that name now are watched ("any" is not)
        self._watched = [n for n in self.interfaces
                         if self._links.state(n) in ("up", "down")]
        self._next_link = now + LINK_CHECK
        self._launch(list(range(len(self.interfaces))))
        self.started_at = time.time()
        return self

    def _launch(self, run: list[int]) -> None:
        """Start dumpcap on interfaces ``run`` and wait for its header; CaptureError if not."""
        cmd = self.command([self.interfaces[i] for i in run])
        self._launching = True
        try:
            try:
                proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                    cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    stdin=subprocess.DEVNULL, start_new_session=True, bufsize=0)
            except OSError as exc:
                raise CaptureError(f"cannot run {cmd[0]}: {exc.strerror or exc}") from exc
            assert proc.stdout is not None and proc.stderr is not None
            self._proc = proc
            self._stderr = deque(maxlen=_STDERR_LINES)
            self._stderr_thread = threading.Thread(
                target=self._drain_stderr, args=(proc.stderr, self._stderr), daemon=True)
            self._stderr_thread.start()
            fd = proc.stdout.fileno()
            with contextlib.suppress(OSError):
                fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_SIZE)
            self._pipe = _QueuedPipe(fd, self._poll, self._queue_bytes)
            try:
                reader = from_stream(self._pipe, name=self.name)
            except CaptureFormatError as exc:
                message = self._failure_message()
                self._reap(proc)
                raise CaptureError(message or f"dumpcap produced no capture: {exc}") from exc
        finally:
            self._launching = False
        self._reader = reader
        self._run = run
        self._run_set = set(run)
        self._run_counted = False
        self._infos.clear()
        self._running = True
        self.runs += 1
        if self._stopping:  # asked to stop while it was starting
            self._interrupt_later(proc)

    def _drain_stderr(self, pipe: object, lines: deque[str]) -> None:
        for raw in iter(pipe.readline, b""):  # type: ignore[attr-defined]
            lines.append(raw.decode("utf-8", "replace").rstrip())

    def _failure_message(self) -> str:
        """dumpcap's error text once it has exited, with a hint for missing privileges."""
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=2)
        text = self._dumpcap_error()
        rc = self._proc.returncode if self._proc is not None else None
        if any(h in text.lower() for h in _PERMISSION_HINTS):
            return (f"no permission to capture on {self.name} ({text}): live capture needs "
                    "root, or capture capabilities on dumpcap (setcap "
                    "cap_net_raw,cap_net_admin=eip /usr/bin/dumpcap; on Debian "
                    "dpkg-reconfigure wireshark-common and join the wireshark group)")
        if text:
            return f"dumpcap failed (exit {rc}): {text}"
        return f"dumpcap exited with status {rc} before capturing" if rc else ""

    def _dumpcap_error(self) -> str:
        """dumpcap's first line of error on stderr (what follows is its own advice)."""
        lines = [ln.strip() for ln in self._stderr
                 if ln.strip() and not ln.startswith(_DUMPCAP_CHATTER)]
        text = lines[0] if lines else ""
        return text[len("dumpcap: "):] if text.startswith("dumpcap: ") else text

    # --- reading --------------------------------------------------------------------------------

    def _poll(self) -> float:
        """Called while waiting for data: run due wall-clock work; return the wait bound."""
        now = time.monotonic()
        if self._deadline is not None and now >= self._deadline:
            self._deadline = None
            self.stop()
        if self._stopping and now - self._stop_at > STOP_FLUSH + _STOP_GRACE \
                and self._proc is not None and self._proc.poll() is None:
            self._proc.kill()  # dumpcap ignored SIGINT: end the pipe, lose only its stats
        if self._links is not None and self._watched and now >= self._next_link:
            self._next_link = now + LINK_CHECK
            self._check_links()
            now = time.monotonic()
        if self._tick is not None and now >= self._next_tick:
            self._next_tick = now + self._interval
            self._tick(time.time())
            now = time.monotonic()
        wake = self._next_tick if self._tick is not None else now + 1.0
        if self._deadline is not None:
            wake = min(wake, self._deadline)
        if self._links is not None and self._watched:
            wake = min(wake, self._next_link)
        return max(min(wake - now, 1.0), 0.0)

    def __iter__(self) -> Iterator[Frame]:
        self.start()
        try:
            while True:
                yield from self._frames()
                if not self._after_run():
                    return
        finally:
            self._finish()

    def _frames(self) -> Iterator[Frame]:
        """The current run's frames, numbered after the earlier runs' and with our interface
        indexes. A format error is kept for ``_after_run`` (dumpcap may have been killed
        in the middle of a block)."""
        reader = self._reader
        assert reader is not None
        offset = self._offset
        run = self._run
        last = 0
        try:
            if offset == 0 and run == list(range(len(run))):
                frame = None
                try:
                    for frame in reader:
                        yield frame
                finally:
                    if frame is not None:
                        last = frame.number
            else:
                width = len(run)
                extra = len(self.interfaces)
                for f in reader:
                    last = f.number
                    index = run[f.interface] if f.interface < width else extra + f.interface
                    yield make_frame(f.number + offset, f.ts, f.linktype, f.data,
                                     f.orig_len, index, f.comment)
        except CaptureFormatError as exc:
            self._run_error = exc
        finally:
            self._offset = offset + last

    def _after_run(self) -> bool:
        """The current dumpcap's output has ended: True when another run is delivering
        frames (a restart), False when the iteration is over. Reports the fault, if any."""
        proc = self._proc
        assert proc is not None
        exc, self._run_error = self._run_error, None
        try:  # dumpcap closes its output as it exits
            rc: int | None = proc.wait(timeout=1 if exc is not None else 5)
        except subprocess.TimeoutExpired:
            rc = None
        if rc is None:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=3)
        self._end_run(proc)
        if self._stopping:
            return False
        if exc is not None and rc is None:  # still running: its output was bad
            raise CaptureError(f"bad data from dumpcap: {exc}") from exc
        if self._upgrading:  # stopped on purpose, to capture every interface again
            self._upgrading = False
            return self._recover()
        self._dead = self._exit_message(rc)
        self._refresh_links()
        self._evaluate()
        if not self.resume:
            return False
        return self._recover()

    def _exit_message(self, rc: int | None) -> str:
        text = self._dumpcap_error()
        if text:
            return f"dumpcap stopped: {text}"
        if rc is not None and rc < 0:
            with contextlib.suppress(ValueError):
                return f"dumpcap was killed by {signal.Signals(-rc).name}"
        return f"dumpcap exited unexpectedly (status {rc})"

    def _end_run(self, proc: subprocess.Popen[bytes]) -> None:
        """Bookkeeping when a dumpcap has exited: its drop report, its pipes."""
        self._running = False
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=2)
        if not self._run_counted:
            drops = self._run_drops()
            if drops:
                self._past_drops.extend(drops)
            else:
                self._runs_unreported += 1
            self._run_counted = True
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def _release(self, proc: subprocess.Popen[bytes]) -> None:
        """After dumpcap ended: let the stderr reader finish, close our pipe ends."""
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=2)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def _reap(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        self._release(proc)

    def _recover(self) -> bool:
        """Start dumpcap again until it runs (True) or the source is stopped (False)."""
        delay = RETRY_FIRST
        attempt_at = time.monotonic()
        tried: set[int] = set()
        while not self._stopping:
            usable = [i for i, n in enumerate(self.interfaces) if n not in self._link_bad]
            now = time.monotonic()
            if usable and (now >= attempt_at or not set(usable) <= tried):
                tried = set(usable)
                try:
                    self._launch(usable)
                except CaptureError as exc:
                    if self._stopping:
                        return False
                    self._dead = f"cannot restart the capture: {exc}"
                    self._refresh_links()
                    self._evaluate()
                    attempt_at = time.monotonic() + delay
                    delay = min(delay * 2, RETRY_MAX)
                else:
                    self._dead = None
                    self._evaluate()
                    return True
            timeout = self._poll()  # ticks, --duration, interface states
            if self._stopping:
                break
            wait = min(timeout, LINK_CHECK)
            if usable:
                wait = min(wait, max(attempt_at - time.monotonic(), 0.0))
            self._wake.wait(wait)
        return False

    def _finish(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=2)

    # --- health ---------------------------------------------------------------------------------

    def set_status(self, callback: Callable[[CaptureEvent], None] | None) -> None:
        """Call ``callback`` with each CaptureEvent, from the thread iterating the source."""
        self._status = callback

    @property
    def lost(self) -> list[str]:
        """Interfaces not being captured now (down, gone, or dumpcap not running)."""
        return [self.display(n) for n in self.interfaces if n in self._health]

    def _refresh_links(self) -> None:
        links = self._links
        if links is None:
            return
        bad = {}
        for name in self._watched:
            state = links.state(name)
            if state in ("down", "gone"):
                bad[name] = state
        self._link_bad = bad

    def _check_links(self) -> None:
        self._refresh_links()
        if self._launching:
            return
        self._evaluate()
        if self._running and not self._stopping and not self._upgrading and any(
                i not in self._run_set and n not in self._link_bad
                for i, n in enumerate(self.interfaces)):
            # a restart left out an interface that is back: capture all of them again
            self._upgrading = True
            assert self._proc is not None
            self._interrupt_later(self._proc)

    def _evaluate(self) -> None:
        """Compare what is captured now with before; report the differences."""
        new: dict[str, tuple[str, str]] = {}
        for index, name in enumerate(self.interfaces):
            bad = self._link_bad.get(name)
            if bad is not None:
                shown = self.display(name)
                new[name] = (bad, f"{shown} is down" if bad == "down"
                             else f"{shown} no longer exists")
            elif not self._running:
                new[name] = ("exited", self._dead or "the capture process is not running")
            elif index not in self._run_set:
                new[name] = self._health.get(name, ("exited", "not captured"))
        old = self._health
        if new == old:
            return
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
        for (reason, message), names in groups.items():
            event = CaptureEvent("capture-error", wall, tuple(self.display(n) for n in names),
                                 message, reason, self.resume, None, lost, self.label)
            self.error_count += 1
            self._emit(event)
            if not self.resume and self.failed is None:
                self.failed = event
                self.stop()
        if back:
            since = min(self._since.pop(n, wall) for n in back)
            shown = tuple(self.display(n) for n in back)
            self._emit(CaptureEvent("capture-resumed", wall, shown,
                                    f"capturing {', '.join(shown)} again after "
                                    f"{wall - since:.1f} s", None, False, wall - since, lost,
                                    self.label))

    def _emit(self, event: CaptureEvent) -> None:
        self.events.append(event)
        if self._status is not None:
            self._status(event)

    # --- the rest of the Source protocol ----------------------------------------------------

    def interface(self, index: int) -> InterfaceInfo:
        info = self._infos.get(index)
        if info is None:
            fallback = self.interfaces[index] if 0 <= index < len(self.interfaces) else \
                f"if{index}"
            if self._reader is None or index not in self._run_set:
                return InterfaceInfo(index, fallback, -1)
            info = _interface_from_reader(self._reader, self._run.index(index), fallback,
                                          mac_lookup=True)
            if info.index != index:
                info = InterfaceInfo(index, info.name, info.linktype, info.mac)
            self._infos[index] = info
        return info

    def _run_name(self, index: int) -> str:
        return self.interfaces[self._run[index]] if 0 <= index < len(self._run) else \
            f"if{index}"

    def _run_drops(self) -> list[InterfaceDrops]:
        """The current dumpcap's report: its pcapng ISBs, else its stderr summary."""
        if self._reader is not None and self._reader.interface_stats:
            return _isb_drops(self._reader, self._run_name)
        out = []
        for line in list(self._stderr):
            m = _DUMPCAP_DROPS.search(line)
            if m:
                detail = {k: int(v) for k, v in m.groupdict().items()
                          if k not in ("iface", "recv", "drop") and v is not None}
                out.append(InterfaceDrops(m["iface"], int(m["recv"]), int(m["drop"]),
                                          "dumpcap", detail))
        return out

    def drops(self) -> list[InterfaceDrops]:
        """Drops per interface: dumpcap's pcapng ISBs, else its stderr summary; written
        when dumpcap stops, so empty while the capture runs. After restarts, the sum over
        the runs that reported (``detail`` counts the runs, and those that did not)."""
        parts = list(self._past_drops)
        if not self._run_counted:
            parts += self._run_drops()
        return _merge_drops(parts, self.runs, self._runs_unreported)

    @property
    def backlog(self) -> int:
        """Bytes of dumpcap output received but not parsed yet (the consumer's lag)."""
        return self._pipe.backlog if self._pipe is not None else 0

    @property
    def messages(self) -> list[str]:
        """The current dumpcap's stderr lines so far (bounded)."""
        return list(self._stderr)

    def set_tick(self, callback: Tick | None, interval: float = 1.0) -> None:
        self._tick = callback
        self._interval = interval
        self._next_tick = time.monotonic() + interval

    def stop(self) -> None:
        """Ask dumpcap to finish (it writes its statistics and closes the pipe).

        The SIGINT follows ``STOP_FLUSH`` seconds later (see there), from a timer thread,
        so this returns at once and may be called from a signal handler or another thread.
        Iteration goes on until dumpcap has closed the pipe (at once while a restart is
        awaited).
        """
        if self._stopping:
            return
        self._stopping = True
        self._stop_at = time.monotonic()
        self._wake.set()
        if self._proc is not None:
            self._interrupt_later(None)

    def _interrupt_later(self, proc: subprocess.Popen[bytes] | None) -> None:
        timer = threading.Timer(STOP_FLUSH, self._interrupt, args=(proc,))
        timer.daemon = True
        timer.start()

    def _interrupt(self, proc: subprocess.Popen[bytes] | None = None) -> None:
        """SIGINT to ``proc`` (default: the dumpcap running now)."""
        proc = proc if proc is not None else self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGINT)

    def close(self) -> None:
        if self._links is not None:
            self._links.close()
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
        self._release(proc)

    def __enter__(self) -> LiveSource:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
