"""Live capture as a frame source: interfaces captured by dumpcap (or tcpdump), in our
network namespace or in another one, with capture faults reported and recovered from.

Why a capture program writing a capture to a pipe rather than our own AF_PACKET socket:
dumpcap is the capture engine Wireshark uses; it compiles BPF filters, captures several
interfaces into one stream (pcapng interface ids map to names through the IDBs), sizes the
kernel buffer (``-B``), needs the capture privilege only for itself (file capabilities on
``/usr/bin/dumpcap`` let an unprivileged user run srinspect), and reports its drops in
pcapng Interface Statistics Blocks and on stderr when it stops. Parsing stays in the
streaming reader (``open_capture``'s format readers), which never seeks and reads the
pipe with ``read1`` so a frame is delivered as soon as the program flushes it. The
program's process is ``process.CaptureRun``, its command line ``tools``.

Stopping: the program runs in its own session, so a terminal Ctrl-C reaches only
srinspect, which forwards a SIGINT; the program then writes its statistics and closes the
pipe, and iteration ends at EOF with every frame delivered and the drop counts known.

Faults (measured on Linux 6.18, dumpcap 4.x): an interface taken down leaves dumpcap
running and capturing again once it is up, silently; a deleted interface makes dumpcap
exit 0 ("The network adapter ... is no longer attached"); a killed dumpcap just closes the
pipe; and dumpcap refuses to start on an interface that is down or missing. So the live
source watches its interfaces itself (``links.LinkWatch``: SIOCGIFFLAGS twice a second, in
the capture's network namespace), tells an expected end (after ``stop()``) from an
unexpected one, reports both kinds of fault as ``CaptureEvent``s and, with ``resume``,
starts the program again with a backoff. Frames already delivered are never affected.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence

from srinspect.errors import CaptureFormatError
from srinspect.frame import Frame
from srinspect.sources.base import (
    CaptureError,
    InterfaceDrops,
    InterfaceInfo,
    Progress,
    Source,
    Tick,
    interface_from_reader,
)
from srinspect.sources.capture import CaptureReader
from srinspect.sources.health import CaptureEvent, CaptureHealth
from srinspect.sources.links import LinkWatch, split_netns
from srinspect.sources.merged import MergedSource
from srinspect.sources.pcap import make_frame
from srinspect.sources.process import CaptureRun
from srinspect.sources.tools import CaptureTool, Dumpcap

#: Seconds the capture program gets to write its statistics after SIGINT
_STOP_GRACE = 5.0
#: Restart attempts after the capture process ended unexpectedly: the first at once, then
#: after RETRY_FIRST seconds, the wait doubling up to RETRY_MAX (and at once when a missing
#: interface is back).
RETRY_FIRST = 0.5
RETRY_MAX = 5.0
#: Seconds between two looks at the captured interfaces (up, down, gone).
LINK_CHECK = 0.5


def _merge_drops(parts: list[InterfaceDrops], runs: int,
                 unreported: int) -> list[InterfaceDrops]:
    """One InterfaceDrops per interface over several capture runs (after restarts): counts
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


class LiveSource:
    """Frames from one or more interfaces, captured by ``tool`` (default dumpcap) writing
    to a pipe; with ``netns`` (an ``ip netns`` name) inside that network namespace, where
    the interfaces are named ``NETNS/IFACE`` in events.

    ``start()`` (or entering the context) launches the program and waits for its first
    bytes, so the capture is running when it returns; startup problems raise CaptureError
    with the program's own message and a hint for the permission case. Interface indexes
    are the order of ``interfaces``; ``bpf`` applies to all of them; ``buffer_mb`` is the
    kernel capture buffer per interface (dumpcap ``-B``); ``queue_mb`` the most program
    output held in memory when the consumer falls behind (see ``process.QueuedPipe``);
    ``duration`` stops after that many seconds of wall time.

    Faults once the capture runs: an interface going down or disappearing, or the program
    ending without being asked to. Each is reported as a ``CaptureEvent`` (``set_status``;
    also kept in ``events``) and never raises. With ``resume`` the source carries on:
    dumpcap keeps capturing on an interface that is down and picks it up when it is up
    again; when the program has ended it is started again (at once, then with a backoff of
    RETRY_FIRST doubling to RETRY_MAX seconds, and at once when a missing interface is
    back), on the interfaces that can be captured meanwhile, frame numbers continuing.
    Without ``resume`` the first fault ends the iteration (the program is stopped cleanly
    when it still runs) and ``failed`` holds it. Frames already delivered are never
    affected.
    """

    paced = True

    def __init__(self, interfaces: Sequence[str], *, netns: str | None = None,
                 tool: CaptureTool | None = None, bpf: str | None = None,
                 duration: float | None = None, snaplen: int = 0, buffer_mb: int = 64,
                 queue_mb: int = 64, resume: bool = False) -> None:
        if not interfaces:
            raise CaptureError("no interface given")
        self.interfaces = list(interfaces)
        self.name = ",".join(self.interfaces)
        self.netns = netns
        self.tool: CaptureTool = tool if tool is not None else Dumpcap()
        self.resume = resume
        self._bpf = bpf
        self._duration = duration
        self._snaplen = snaplen
        self._buffer_mb = buffer_mb
        self._queue_bytes = queue_mb << 20
        self._current: CaptureRun | None = None  # the latest started, for signals
        self._reader: CaptureReader | None = None  # the latest run's that opened
        self._tick: Tick | None = None
        self._interval = 1.0
        self._next_tick = 0.0
        self._deadline: float | None = None
        self._stopping = False
        self._stop_at = 0.0
        self._wake = threading.Event()
        self._infos: dict[int, InterfaceInfo] = {}
        # runs: one capture process each; a restart may capture a subset of the interfaces
        self._run: list[int] = list(range(len(self.interfaces)))  # run index -> ours
        self._run_set = set(self._run)
        self._running = False  # the current run has delivered its header, not its EOF
        self._launching = False
        self._upgrading = False  # a subset run is being stopped to capture every interface
        self._offset = 0  # frames numbered by earlier runs
        self._read_before = 0  # bytes read by earlier runs
        self._run_error: CaptureFormatError | None = None
        self._run_counted = False  # the current run's drops are in _past_drops
        self._past_drops: list[InterfaceDrops] = []
        self._runs_unreported = 0
        self.runs = 0
        self._links: LinkWatch | None = None
        self._next_link = 0.0
        self._dead: str | None = None  # why the program is not running (between runs)
        self.health = CaptureHealth(self.interfaces, self.display, self.label, resume)

    # --- naming -----------------------------------------------------------------------------

    @property
    def label(self) -> str:
        """The capture's name in events (unique among the sources of one consumer)."""
        return self.display(self.name)

    def display(self, name: str) -> str:
        """An interface's name in events and messages."""
        return f"{self.netns}/{name}" if self.netns else name

    def command(self, interfaces: Sequence[str] | None = None) -> list[str]:
        """The capture program's command line, on ``interfaces`` (a subset after a restart;
        default: all of them); inside the namespace through ``ip netns exec``, which execs
        the program after entering it, so the process signalled is the program itself."""
        names = self.interfaces if interfaces is None else list(interfaces)
        argv = self.tool.argv(names, bpf=self._bpf, snaplen=self._snaplen,
                              buffer_mb=self._buffer_mb)
        return ["ip", "netns", "exec", self.netns, *argv] if self.netns else argv

    # --- starting -----------------------------------------------------------------------------

    def start(self) -> LiveSource:
        if self._current is not None:
            return self
        now = time.monotonic()
        self._next_tick = now + self._interval
        if self._duration is not None:
            self._deadline = now + self._duration
        self._links = LinkWatch(self.netns)
        self.health.watch(self._links)
        self._next_link = now + LINK_CHECK
        self._launch(list(range(len(self.interfaces))))
        return self

    def _launch(self, run: list[int]) -> None:
        """Start the program on interfaces ``run`` and wait for its header; CaptureError
        if it does not start."""
        cmd = self.command([self.interfaces[i] for i in run])
        self._launching = True
        try:
            current = CaptureRun(self.tool, cmd, self.name, self._poll, self._queue_bytes)
            self._current = current
            reader = current.open()
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
            current.interrupt_later()

    # --- reading --------------------------------------------------------------------------------

    def _poll(self) -> float:
        """Called while waiting for data: run due wall-clock work; return the wait bound."""
        now = time.monotonic()
        if self._deadline is not None and now >= self._deadline:
            self._deadline = None
            self.stop()
        current = self._current
        if self._stopping and now - self._stop_at > self.tool.flush + _STOP_GRACE \
                and current is not None and current.running():
            current.proc.kill()  # it ignored SIGINT: end the pipe, lose only its stats
        if self.health.watched and now >= self._next_link:
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
        if self.health.watched:
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
            if self._current is not None:
                self._current.wait_exited()

    def _frames(self) -> Iterator[Frame]:
        """The current run's frames, numbered after the earlier runs' and with our interface
        indexes. A format error is kept for ``_after_run`` (the program may have been killed
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
        """The current program's output has ended: True when another run is delivering
        frames (a restart), False when the iteration is over. Reports the fault, if any."""
        current = self._current
        assert current is not None
        exc, self._run_error = self._run_error, None
        # the program closes its output as it exits
        rc = current.reap(timeout=1 if exc is not None else 5)
        self._end_run(current)
        if self._stopping:
            return False
        if exc is not None and rc is None:  # still running: its output was bad
            raise CaptureError(f"bad data from {self.tool.name}: {exc}") from exc
        if self._upgrading:  # stopped on purpose, to capture every interface again
            self._upgrading = False
            return self._recover()
        self._dead = current.exit_message(rc)
        self.health.refresh_links()
        self._evaluate()
        if not self.resume:
            return False
        return self._recover()

    def _end_run(self, current: CaptureRun) -> None:
        """Bookkeeping when a run's program has exited: its drop report, its pipes."""
        self._running = False
        current.release()
        if self._reader is not None:
            self._read_before += self._reader.bytes_read
        if not self._run_counted:
            drops = current.drops(self._run_name)
            if drops:
                self._past_drops.extend(drops)
            else:
                self._runs_unreported += 1
            self._run_counted = True

    def _recover(self) -> bool:
        """Start the program again until it runs (True) or the source is stopped (False)."""
        delay = RETRY_FIRST
        attempt_at = time.monotonic()
        tried: set[int] = set()
        while not self._stopping:
            usable = [i for i, n in enumerate(self.interfaces)
                      if n not in self.health.link_bad]
            now = time.monotonic()
            if usable and (now >= attempt_at or not set(usable) <= tried):
                tried = set(usable)
                try:
                    self._launch(usable)
                except CaptureError as exc:
                    if self._stopping:
                        return False
                    self._dead = f"cannot restart the capture: {exc}"
                    self.health.refresh_links()
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

    # --- health ---------------------------------------------------------------------------------

    def set_status(self, callback: Callable[[CaptureEvent], None] | None) -> None:
        """Call ``callback`` with each CaptureEvent, from the thread iterating the source."""
        self.health.status = callback

    @property
    def events(self) -> deque[CaptureEvent]:
        """The latest capture events (``EVENT_HISTORY`` of them)."""
        return self.health.events

    @property
    def error_count(self) -> int:
        return self.health.error_count

    @property
    def failed(self) -> CaptureEvent | None:
        """The fault that ended the capture (without ``resume``)."""
        return self.health.failed

    @property
    def lost(self) -> list[str]:
        """Interfaces not being captured now (down, gone, or the program not running)."""
        return self.health.lost

    def _check_links(self) -> None:
        self.health.refresh_links()
        if self._launching:
            return
        self._evaluate()
        if self._running and not self._stopping and not self._upgrading and any(
                i not in self._run_set and n not in self.health.link_bad
                for i, n in enumerate(self.interfaces)):
            # a restart left out an interface that is back: capture all of them again
            self._upgrading = True
            assert self._current is not None
            self._current.interrupt_later()

    def _evaluate(self) -> None:
        if self.health.evaluate(self._running, self._run_set, self._dead):
            self.stop()

    # --- the rest of the Source protocol ----------------------------------------------------

    def interface(self, index: int) -> InterfaceInfo:
        info = self._infos.get(index)
        if info is None:
            fallback = self.interfaces[index] if 0 <= index < len(self.interfaces) else \
                f"if{index}"
            if self._reader is None or index not in self._run_set:
                return InterfaceInfo(fallback, -1)
            info = interface_from_reader(self._reader, self._run.index(index),
                                         fallback)
            if self._links is not None:
                info = info._replace(mac=self._links.mac(info.name))
            self._infos[index] = info
        return info

    def _run_name(self, index: int) -> str:
        return self.interfaces[self._run[index]] if 0 <= index < len(self._run) else \
            f"if{index}"

    def drops(self) -> list[InterfaceDrops]:
        """Drops per interface: dumpcap's pcapng ISBs, else its stderr summary; written
        when it stops, so empty while the capture runs. After restarts, the sum over the
        runs that reported (``detail`` counts the runs, and those that did not)."""
        parts = list(self._past_drops)
        if not self._run_counted and self._current is not None:
            parts += self._current.drops(self._run_name)
        return _merge_drops(parts, self.runs, self._runs_unreported)

    def progress(self) -> Progress:
        """Bytes of capture read from the program(s) so far; a live capture has no end."""
        now = self._reader.bytes_read if self._reader is not None and self._running else 0
        return Progress(self._read_before + now)

    def set_tick(self, callback: Tick | None, interval: float = 1.0) -> None:
        self._tick = callback
        self._interval = interval
        self._next_tick = time.monotonic() + interval

    def stop(self) -> None:
        """Ask the program to finish (it writes its statistics and closes the pipe).

        The SIGINT follows the tool's ``flush`` seconds later (see ``tools.STOP_FLUSH``),
        from a timer thread, so this returns at once and may be called from a signal
        handler or another thread. Iteration goes on until the program has closed the pipe
        (at once while a restart is awaited).
        """
        if self._stopping:
            return
        self._stopping = True
        self._stop_at = time.monotonic()
        self._wake.set()
        if self._current is not None:
            self._current.interrupt_later()

    def close(self) -> None:
        if self._links is not None:
            self._links.close()
        current = self._current
        if current is None:
            return
        if current.running():
            self.stop()
            current.reap(timeout=self.tool.flush + 3)
        current.release()

    def __enter__(self) -> LiveSource:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_live(specs: Sequence[str], *, bpf: str | None = None, snaplen: int = 0,
              buffer_mb: int = 64, resume: bool = True) -> Source:
    """Live capture on interface ``specs``; ``NETNS/IFACE`` captures inside a namespace.

    Interfaces of our own namespace share one capture (one pcapng stream); each namespace
    gets its own, and several captures are merged (``MergedSource``). Every capture is
    started here, so errors (privileges, unknown interface) surface before the caller
    takes the terminal. Once running, each capture resumes by itself after a fault
    (``resume``, see ``LiveSource``).
    """
    groups: dict[str | None, list[str]] = {}
    for spec in specs:
        netns, iface = split_netns(spec)
        groups.setdefault(netns, []).append(iface)
    sources: list[LiveSource] = []
    try:
        for netns, ifaces in groups.items():
            src = LiveSource(ifaces, netns=netns, bpf=bpf, snaplen=snaplen,
                             buffer_mb=buffer_mb, resume=resume)
            sources.append(src)
            src.start()
    except BaseException:
        for s in sources:
            s.close()
        raise
    if len(sources) == 1:
        return sources[0]
    return MergedSource(sources, [len(s.interfaces) for s in sources])
