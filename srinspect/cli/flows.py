"""``srinspect flows`` and ``srinspect watch``: the flow table and its event stream.

This is an I/O edge: it opens the source (file, replay or live dumpcap), runs the frames
through ``FlowMonitor`` (sans-I/O) and writes the result. ``flows`` prints the table when
the source ends (end of file, ``--duration``, or Ctrl-C); ``watch`` writes one event per
line as they happen, for scripts.

Ctrl-C is the normal way to end a live capture: the first one asks dumpcap to stop (it then
flushes what it captured and reports its drops), the table or the final stats are printed
and the exit status is 0. A second Ctrl-C aborts at once (status 130).

Capture faults (an interface goes down or is deleted, dumpcap dies) never end a live run
by default: ``watch`` writes a ``capture-error`` event and, when the capture works again, a
``capture-resumed`` one (``flows`` says so on stderr and notes them under its table); the
flow table is kept throughout and the source restarts dumpcap with a backoff (see
``LiveSource``). With ``--no-resume`` the first fault ends the run: the output is written
as after Ctrl-C and the exit status is 2 (``EXIT_CAPTURE``), as it is when ``--duration``
ends while the capture is lost.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from ..errors import CaptureFormatError
from ..flows.decoder import FlowDecoder, FlowMonitor
from ..flows.events import FlowEvent
from ..flows.linkload import LinkLoad, segment_pairs
from ..flows.table import Flow, FlowTable
from ..inspector import Inspector
from ..sinks.flow_events import EventWriter
from ..sinks.flows_json import links_list, pairs_list, render_flows_json
from ..sinks.flows_text import render_flows_text
from ..sinks.metrics import (
    FaultCounter,
    MetricsError,
    MetricsServer,
    MetricsSnapshot,
    drop_samples,
    link_samples,
    pair_samples,
    parse_address,
    top_flows,
)
from ..sources import (
    CaptureError,
    CaptureEvent,
    FileSource,
    InterfaceDrops,
    LiveSource,
    Source,
)
from .options import (
    EXIT_OK,
    EXIT_USAGE,
    add_flow_table_options,
    add_locator_options,
    add_metrics_options,
    add_profile_and_keys,
    add_source_options,
    count,
    load_csid,
    load_keys,
    load_locators,
    open_capture_or_say,
    positive,
)

#: Exit status when a live capture failed and was not running at the end (after the
#: output): ended by a fault with --no-resume, or --duration ran out during an outage.
#: The same value as the usage/capture error status, which it is a case of.
EXIT_CAPTURE = EXIT_USAGE

SORT_KEYS: dict[str, Callable[[Flow], object]] = {
    "packets": lambda f: (-f.packets, f.id),
    "bytes": lambda f: (-f.bytes, f.id),
    "first": lambda f: (f.first_seen, f.id),
    "last": lambda f: (-f.last_seen, f.id),
    "changes": lambda f: (-f.change_count, f.id),
}


FLOWS_DESCRIPTION = (
    "Group SRv6 packets into flows keyed on outer source, final destination (Segment "
    "List[0]) and inner 5-tuple, and print the table at the end of the capture (end of file, "
    "--duration, or Ctrl-C for live capture): per flow its segment list, packets, bytes, "
    "rates, path changes, findings and HMAC status; link load per interface and per segment "
    "pair.")
WATCH_DESCRIPTION = (
    "Headless event stream for scripts: one line per event, JSON with --format jsonl. "
    "Events: start, flow-new, path-change, finding, flow-end, stats (every --stats-interval "
    "seconds of capture time, or wall time when live or replaying; a final one with drop "
    "counts); live also capture-error (an interface down or deleted, dumpcap ended: the flow "
    "table is kept and the capture retried) and capture-resumed. Consumers should ignore "
    "event kinds they do not know.")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    flows = _flow_view(sub, "flows", "SRv6 flow table: segment paths, counters, rates, path "
                       "changes", FLOWS_DESCRIPTION, "the table is printed first")
    flows.add_argument("--format", choices=("text", "json"), default="text")
    flows.add_argument("--sort", choices=tuple(SORT_KEYS), default="packets",
                       help="order of the flows in the output (default packets)")
    flows.add_argument("--top", type=count, metavar="N", help="show only the first N flows")
    flows.set_defaults(func=cmd_flows)

    watch = _flow_view(sub, "watch", "stream flow events (flow-new, path-change, finding, "
                       "stats) as lines", WATCH_DESCRIPTION, "the final stats are written first")
    watch.add_argument("--format", choices=("text", "jsonl"), default="text")
    watch.add_argument("--stats-interval", type=positive, default=1.0, metavar="S",
                       help="seconds between stats events (default 1)")
    watch.add_argument("--no-stats", action="store_true", help="no periodic stats events")
    add_metrics_options(watch)
    watch.set_defaults(func=cmd_watch)


def _flow_view(sub: argparse._SubParsersAction, name: str, summary: str,  # type: ignore[type-arg]
               description: str, written: str) -> argparse.ArgumentParser:
    """The parser of ``flows`` or ``watch`` with the options they share; ``written`` says
    what is output before the exit status of a lost capture."""
    p = sub.add_parser(
        name, help=summary, description=description,
        epilog="Exit codes: 0 ok (also after Ctrl-C, and after capture faults the capture "
               "recovered from), 2 usage, capture or input error, or the live capture was "
               f"lost at the end (--no-resume, or --duration during an outage; {written}).")
    add_source_options(
        p, read_help="read a capture file (pcap/pcapng, gzip, - for stdin)",
        interface_help="capture live on IFACE (repeatable: one capture with all of them); "
                       "needs dumpcap and root or capture capabilities")
    p.add_argument("--duration", type=positive, metavar="S",
                   help="stop after S seconds (wall time when live/replaying, capture time "
                        "when reading a file)")
    add_flow_table_options(p, idle_timeout=60.0)
    add_profile_and_keys(p)
    add_locator_options(p)
    return p


# --- running a source through the monitor ---------------------------------------------------


def open_source(args: argparse.Namespace) -> Source:
    """The Source the arguments ask for (started, for live); CaptureError when it cannot."""
    if args.interfaces:
        if args.replay:
            raise CaptureError("--replay only applies to -r")
        return LiveSource(args.interfaces, bpf=args.bpf, duration=args.duration,
                          snaplen=args.snaplen, buffer_mb=args.buffer_mb,
                          resume=not getattr(args, "no_resume", False)).start()
    if args.read is None:
        raise CaptureError("give a capture file (-r PCAP) or interfaces (-i IFACE ...)")
    return FileSource(args.read, replay=args.replay, speed=args.speed, bpf=args.bpf,
                      duration=args.duration)


@contextmanager
def _graceful_sigint(source: Source) -> Iterator[list[bool]]:
    """First Ctrl-C: stop the source (output still happens); second: KeyboardInterrupt."""
    hit = [False]

    def handler(signum: int, frame: FrameType | None) -> None:
        if hit[0]:
            raise KeyboardInterrupt
        hit[0] = True
        source.stop()

    try:
        old = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread (embedded use): leave signals alone
        yield hit
        return
    try:
        yield hit
    finally:
        signal.signal(signal.SIGINT, old)


class Session:
    """One run: source -> FlowMonitor, with optional event and stats callbacks."""

    def __init__(self, args: argparse.Namespace, source: Source, *, events: bool) -> None:
        self.args = args
        self.source = source
        csid = load_csid(args)
        self.table = FlowTable(max_flows=args.max_flows, idle_timeout=args.idle_timeout,
                               rate_window=args.window, events=events, csid=csid)
        self.decoder = FlowDecoder(Inspector(args.profile, load_keys(args),
                                             load_locators(args), csid))
        self.links = LinkLoad(window=args.window)
        self.monitor = FlowMonitor(self.table, self.decoder, self.links)
        self.names: dict[int, str] = {}
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self.wall_start = time.time()
        self.wall_end: float | None = None
        self.interrupted = False
        #: packets per (rule, severity) since the start, when metrics are served (the table
        #: counts per flow, and flows are forgotten; a Prometheus counter must not go down)
        self.finding_counts: Counter[tuple[str, str]] | None = None

    def name(self, index: int) -> str:
        name = self.names.get(index)
        if name is None:
            name = self.source.interface(index).name if index >= 0 else "overflow"
        return name

    def _declare(self, index: int) -> None:
        info = self.source.interface(index)
        self.names[index] = info.name
        self.links.declare(index, info.name, info.linktype, info.mac)

    def run(self, on_events: Callable[[list[FlowEvent]], None] | None = None,
            on_stats: Callable[[float], None] | None = None, stats_interval: float = 1.0,
            on_first: Callable[[float], None] | None = None,
            on_capture: Callable[[CaptureEvent], None] | None = None) -> None:
        """Feed every frame; call ``on_events`` with each batch of table events,
        ``on_stats(now)`` every ``stats_interval`` (capture time; the source's wall-clock
        tick for paced sources), ``on_first(ts)`` before the first frame and
        ``on_capture`` with each capture fault and recovery of a live source."""
        source = self.source
        set_status = getattr(source, "set_status", None)
        if on_capture is not None and set_status is not None:
            set_status(on_capture)
        table = self.table
        links_add = self.links.add
        decode = self.decoder.decode
        add = table.add
        finding_counts = self.finding_counts
        declared: set[int] = set()
        paced = source.paced
        next_stats = float("inf")
        capture_stats = on_stats is not None and not paced
        if on_stats is not None and paced:
            def tick(now: float) -> None:
                table.expire(now)
                if on_events is not None and table.has_events:
                    on_events(table.drain())
                on_stats(now)
            source.set_tick(tick, stats_interval)
        first = True
        ts = 0.0
        with _graceful_sigint(source) as hit:
            try:
                for frame in source:
                    ts = frame.ts
                    if first:
                        first = False
                        self.first_ts = ts
                        next_stats = ts + stats_interval
                        if on_first is not None:
                            on_first(ts)
                    if frame.interface not in declared:
                        declared.add(frame.interface)
                        self._declare(frame.interface)
                    links_add(frame)
                    decoded = decode(frame)
                    if decoded is not None:
                        add(ts, frame.interface, decoded[0], decoded[1], decoded[2],
                            frame.number)
                        if finding_counts is not None and decoded[1].findings:
                            for f in decoded[1].findings:
                                finding_counts[(f.rule, f.severity.label)] += 1
                        if on_events is not None and table.has_events:
                            on_events(table.drain())
                    if capture_stats and ts >= next_stats:
                        while next_stats <= ts:
                            next_stats += stats_interval
                        on_stats(ts)
            finally:
                source.set_tick(None)
                if on_capture is not None and set_status is not None:
                    set_status(None)
                self.interrupted = hit[0]
                if not first:
                    self.last_ts = ts
                self.wall_end = time.time()
        if on_events is not None and table.has_events:
            on_events(table.drain())

    @property
    def now(self) -> float:
        """"Now" for final rates: wall clock for live capture, else the last frame's time."""
        if isinstance(self.source, LiveSource) and self.wall_end is not None:
            return self.wall_end
        return self.last_ts if self.last_ts is not None else 0.0

    def capture_dict(self, now: float) -> dict[str, object]:
        drops = self.source.drops()
        return {
            "source": self.source.name,
            "live": isinstance(self.source, LiveSource),
            "filter": self.args.bpf,
            "frames": self.decoder.frames,
            "srv6_packets": self.decoder.srv6,
            "ip_in_ipv6_not_srv6": self.decoder.inspector.tunnel_packets,
            "locators": [str(p) for p in self.decoder.inspector.locators.prefixes],
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "interrupted": self.interrupted,
            "drops": [d.to_dict() for d in drops] if drops else None,
            "unsupported_linktypes": dict(self.decoder.inspector.unsupported_linktypes),
            "faults": self.faults_dict(),
        }

    def faults_dict(self) -> dict[str, object] | None:
        """Capture faults of a live source: counts, what was lost at the end, the events."""
        source = self.source
        if not isinstance(source, LiveSource):
            return None
        return {"errors": source.error_count, "captures": source.runs,
                "lost_at_end": source.lost,
                "failed": source.failed.to_dict() if source.failed else None,
                "events": [e.to_dict() for e in source.events]}

    def capture_status(self) -> int:
        """EXIT_CAPTURE when a live capture ended lost (a fault with --no-resume, or
        --duration during an outage; Ctrl-C is the user's choice and stays 0), else 0;
        says why on stderr."""
        source = self.source
        if not isinstance(source, LiveSource):
            return EXIT_OK
        if source.failed is not None:
            print(f"srinspect: the capture failed ({source.failed.message}) and --no-resume "
                  f"was given; the output holds what was captured before", file=sys.stderr)
            return EXIT_CAPTURE
        if source.lost and not self.interrupted:
            print(f"srinspect: the capture of {', '.join(source.lost)} was lost at the end; "
                  f"the output holds what was captured", file=sys.stderr)
            return EXIT_CAPTURE
        return EXIT_OK

    def stats_record(self, now: float, final: bool = False) -> dict[str, object]:
        """``watch``'s stats event at ``now``; the final one adds drops, segment pairs and
        the capture faults."""
        record: dict[str, object] = {
            "event": "stats", "ts": now, "frames": self.decoder.frames,
            "srv6_packets": self.decoder.srv6, "flows": len(self.table), **{
                k: v for k, v in self.table.stats().items() if k not in ("flows", "packets")},
            "links": links_list(self.links, now),
        }
        if final:
            drops = self.source.drops()
            record["final"] = True
            record["interrupted"] = self.interrupted
            record["drops"] = [d.to_dict() for d in drops] if drops else None
            record["segment_pairs"] = pairs_list(self.table, now)
            faults = self.faults_dict()
            if faults is not None:
                record["capture_errors"] = faults["errors"]
                record["captures"] = faults["captures"]
                record["capture_lost"] = faults["lost_at_end"]
        return record

    def metrics(self, now: float, top: int, faults: FaultCounter) -> MetricsSnapshot:
        """What a Prometheus scrape reports now (built in the capture thread)."""
        table = self.table
        rows = [(f.id, f.key, f.segments, *f.rate(now)) for f in table]
        return MetricsSnapshot(
            frames=self.decoder.frames, srv6_packets=self.decoder.srv6, flows=len(table),
            flows_evicted=table.evicted, path_changes=table.path_changes,
            links=link_samples(self.links.links(now)),
            pairs=pair_samples(segment_pairs(table.paths(), now)),
            top_flows=top_flows(rows, top),
            findings=tuple((r, sev, n) for (r, sev), n in
                           sorted((self.finding_counts or {}).items())),
            drops=drop_samples(self.source.drops()), faults=faults.samples(),
            lost=faults.lost)


def _run_command(args: argparse.Namespace, body: Callable[[Source], int]) -> int:
    source = open_capture_or_say(args, lambda: open_source(args))
    if source is None:
        return EXIT_USAGE
    if isinstance(source, LiveSource):
        # dumpcap has written its header, so it has opened every interface: say so (like
        # dumpcap's own "Capturing on"), which also tells scripts the capture is running.
        print(f"srinspect: capturing on {source.name}"
              + (f" with filter {args.bpf!r}" if args.bpf else "")
              + (f" for {args.duration:g} s" if args.duration else "") + ", Ctrl-C to stop",
              file=sys.stderr, flush=True)
    try:
        return body(source)
    except CaptureError as exc:
        print(f"srinspect: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        source.close()


def _say_capture(event: CaptureEvent) -> None:
    """A capture fault or recovery as one stderr line (``flows``: the table comes later)."""
    if event.error:
        print(f"srinspect: capture error on {event.interface}: {event.message}"
              + ("; retrying" if event.retrying else ""), file=sys.stderr, flush=True)
    else:
        print(f"srinspect: capture resumed on {event.interface} after "
              f"{event.lost_for or 0.0:.1f} s", file=sys.stderr, flush=True)


def _input_error(session: Session, exc: CaptureFormatError) -> int:
    print(f"srinspect: {session.source.name}: {exc}; the table holds the "
          f"{session.decoder.frames} frames before it", file=sys.stderr)
    return EXIT_USAGE


# --- flows ----------------------------------------------------------------------------------


def cmd_flows(args: argparse.Namespace) -> int:
    def body(source: Source) -> int:
        session = Session(args, source, events=False)
        status = EXIT_OK
        try:
            session.run(on_capture=_say_capture)
        except CaptureFormatError as exc:
            status = _input_error(session, exc)
        now = session.now
        flows = sorted(session.table, key=SORT_KEYS[args.sort])
        if args.top:
            flows = flows[: args.top]
        render = render_flows_json if args.format == "json" else render_flows_text
        sys.stdout.write(render(session, flows, now))
        sys.stdout.flush()
        _warn_drops(source.drops())
        return status or session.capture_status()

    return _run_command(args, body)


def _warn_drops(drops: list[InterfaceDrops]) -> None:
    for d in drops:
        if d.dropped:
            print(f"srinspect: warning: {d.interface}: the capture dropped {d.dropped} of "
                  f"{d.received} packets ({d.origin}); counts are low", file=sys.stderr)


def _start_metrics(args: argparse.Namespace) -> MetricsServer | None:
    """The metrics server --metrics asks for (None without it); MetricsError when the
    address is bad or taken."""
    if not getattr(args, "metrics", None):
        return None
    return MetricsServer(parse_address(args.metrics)).start()


class WatchMetrics:
    """Feeds the metrics server from a watch session: a new snapshot at every stats tick
    and at the end, capture faults as they happen."""

    def __init__(self, server: MetricsServer, session: Session, top: int) -> None:
        self.server = server
        self.session = session
        self.top = top
        self.faults = FaultCounter()
        session.finding_counts = Counter()

    def publish(self, now: float) -> None:
        self.server.publish(self.session.metrics(now, self.top, self.faults))

    def capture(self, event: CaptureEvent) -> None:
        self.faults.add(event)


def cmd_watch(args: argparse.Namespace) -> int:
    try:
        server = _start_metrics(args)
    except MetricsError as exc:
        print(f"srinspect: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return _run_command(args, lambda source: _watch(args, source, server))
    finally:
        if server is not None:
            server.stop()


def _watch(args: argparse.Namespace, source: Source, server: MetricsServer | None) -> int:
    """Run the event stream over ``source``, publishing metrics when ``server`` is given."""
    session = Session(args, source, events=True)
    writer = EventWriter(sys.stdout, args.format, session.name)
    metrics = WatchMetrics(server, session, args.metrics_top) if server is not None else None
    live = isinstance(source, LiveSource)
    started = False

    def start(ts: float | None) -> None:
        """The start event: at once for live capture (wall clock, the capture is
        running), else with the first frame's time (capture time, like every event)."""
        nonlocal started
        started = True
        writer.send({"event": "start", "ts": ts, "source": source.name, "live": live,
                     "filter": args.bpf, "interfaces": list(args.interfaces) or None})

    def stats(now: float) -> None:
        if not args.no_stats:
            writer.send(session.stats_record(now))
        if metrics is not None:
            metrics.publish(now)

    def capture(event: CaptureEvent) -> None:
        if metrics is not None:
            metrics.capture(event)
        writer.capture(event)

    if live:
        start(time.time())
    status = EXIT_OK
    try:
        session.run(writer.events, None if args.no_stats and metrics is None else stats,
                    args.stats_interval, None if live else start, capture)
    except CaptureFormatError as exc:
        status = _input_error(session, exc)
    if not started:
        start(None)  # an empty capture: no time to give
    now = time.time() if live else (session.last_ts or 0.0)
    if metrics is not None:
        metrics.publish(now)
    writer.send(session.stats_record(now, final=True))
    _warn_drops(source.drops())
    return status or session.capture_status()
