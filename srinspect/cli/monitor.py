"""``srinspect monitor``: the terminal UI (see ``srinspect.tui``).

The I/O edge: parse options, open the feed (so a missing file, a missing privilege or an
unknown interface is reported on the terminal before the UI takes it over), run the app,
then stop and close the capture.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import TYPE_CHECKING

from ..sinks.metrics import (
    FaultCounter,
    MetricsError,
    MetricsServer,
    MetricsSnapshot,
    from_monitor,
    parse_address,
)
from . import options

if TYPE_CHECKING:  # pragma: no cover
    from ..tui.engine import MonitorEngine
    from ..tui.feeds import Feed
    from ..tui.lab import LabMap

def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "monitor", help="terminal UI: live SRv6 flows, segment paths, links, findings",
        description="Watch SRv6 traffic in a terminal UI: flows with their segment paths "
                    "(active segment highlighted, path changes flashed and kept in the "
                    "flow's history), link load per segment pair and per interface "
                    "direction, packets with a detail tree and a hex view showing each "
                    "finding's bytes, and findings per rule. Press ? in the UI for keys.",
        epilog="Keys: / filter, space pause, s save pcapng, w tshark dissection, ? help, "
               "q quit. Exit codes: 0 ok, 2 usage, capture or input error (also a capture "
               "that failed with --no-resume).")
    src = options.add_source_options(
        p, read_help="read a capture file (pcap/pcapng, gzip); loaded in the background "
                     "with progress",
        interface_help="capture live on IFACE (repeatable); NETNS/IFACE captures inside a "
                       "network namespace; needs dumpcap and root or capture capabilities")
    src.add_argument("--lab", action="store_true",
                     help="attach to every link of the running SRv6 lab (srinspect lab up) "
                          "and draw its topology with per-direction utilisation")
    p.add_argument("--max-packets", type=options.count, default=100_000, metavar="N",
                   help="packets kept for the packet list, hex view and save (ring buffer, "
                        "default 100000)")
    options.add_flow_table_options(p, idle_timeout=300.0)
    p.add_argument("--refresh", type=options.positive, default=0.2, metavar="S",
                   help="seconds between screen refreshes (default 0.2)")
    options.add_profile_and_keys(p)
    options.add_locator_options(p)
    options.add_metrics_options(p)
    p.set_defaults(func=cmd_monitor)


class MonitorMetrics:
    """Answers a Prometheus scrape from the monitor's engine (any thread: the engine takes
    its own lock; this one keeps concurrent scrapes from double-counting capture faults)."""

    def __init__(self, engine: MonitorEngine, feed: Feed, top: int) -> None:
        self.engine = engine
        self.feed = feed
        self.top = top
        self.faults = FaultCounter()
        self.seen = 0
        self.lock = threading.Lock()

    def __call__(self) -> MetricsSnapshot:
        with self.lock:
            self.seen, events = self.engine.capture_events_since(self.seen)
            for event in events:
                self.faults.add(event)
            snap = self.engine.snapshot(time.time())
            return from_monitor(snap, self.top, self.faults, self.feed.drops())


def cmd_monitor(args: argparse.Namespace) -> int:
    try:
        address = parse_address(args.metrics) if args.metrics else None
    except MetricsError as exc:
        print(f"srinspect: {exc}", file=sys.stderr)
        return options.EXIT_USAGE
    keyring = options.load_keys(args)
    locators = options.load_locators(args)
    csid = options.load_csid(args)
    opened = options.open_capture_or_say(args, lambda: _open_feed(args))
    if opened is None:
        return options.EXIT_USAGE
    feed, lab = opened

    from ..tui.app import MonitorApp

    app = MonitorApp(feed, profile=args.profile, keyring=keyring, lab=lab,
                     max_packets=args.max_packets, max_flows=args.max_flows,
                     idle_timeout=args.idle_timeout, window=args.window,
                     refresh_interval=args.refresh, locators=locators, csid=csid)
    server: MetricsServer | None = None
    try:
        if address is not None:
            try:
                server = MetricsServer(address, MonitorMetrics(app.engine, feed,
                                                               args.metrics_top)).start()
            except MetricsError as exc:
                print(f"srinspect: {exc}", file=sys.stderr)
                return options.EXIT_USAGE
        app.run()
    finally:
        if server is not None:
            server.stop()
        feed.stop()
        app.capture_done.wait(timeout=10)
        feed.close()
    if app.capture_error:
        print(f"srinspect: capture error: {app.capture_error}", file=sys.stderr)
        return options.EXIT_USAGE
    lost = app.engine.capture_lost()
    if lost and args.no_resume:
        why = "; ".join(f"{name}: {reason}" for name, reason in sorted(lost.items()))
        print(f"srinspect: the capture failed ({why}) and --no-resume was given",
              file=sys.stderr)
        return options.EXIT_USAGE
    return options.EXIT_OK


def _open_feed(args: argparse.Namespace) -> tuple[Feed, LabMap | None]:
    """The feed the arguments ask for, and the lab with ``--lab``; CaptureError says why
    there is none (before the UI takes the terminal over)."""
    from ..sources import CaptureError
    from ..tui.feeds import file_source, live_feed
    from ..tui.lab import LabUnavailable, load_lab

    lab: LabMap | None = None
    if args.lab:
        try:
            lab = load_lab()
        except LabUnavailable as exc:
            raise CaptureError(f"--lab: {exc}") from exc
        specs = lab.capture_specs()
    elif args.interfaces:
        specs = args.interfaces
    elif args.read:
        return file_source(args.read, bpf=args.bpf, replay=args.replay, speed=args.speed), None
    else:
        raise CaptureError("monitor needs -r PCAP, -i IFACE or --lab")
    return live_feed(specs, bpf=args.bpf, snaplen=args.snaplen, buffer_mb=args.buffer_mb,
                     resume=not args.no_resume), lab
