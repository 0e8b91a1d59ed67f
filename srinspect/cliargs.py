"""argparse value types shared by the subcommands (clear messages instead of tracebacks)."""

from __future__ import annotations

import argparse


def positive(text: str) -> float:
    """A number > 0 (seconds, speed factors)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def count(text: str) -> int:
    """A whole number >= 1 (sizes, limits)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_source_options(p: argparse.ArgumentParser, *, read_help: str,
                       interface_help: str) -> argparse._MutuallyExclusiveGroup:
    """Where flows, watch and monitor get frames: -r or -i (returned as a mutually exclusive
    group, so monitor can add --lab to it), -f, --replay, --speed, -s, --buffer-mb and
    --no-resume. One definition, so the three commands cannot drift apart."""
    src = p.add_mutually_exclusive_group()
    src.add_argument("-r", "--read", metavar="PCAP", dest="read", help=read_help)
    src.add_argument("-i", "--interface", metavar="IFACE", dest="interfaces",
                     action="append", default=[], help=interface_help)
    p.add_argument("-f", "--filter", metavar="BPF", dest="bpf",
                   help="BPF capture filter (libpcap syntax) applied to every interface; "
                        "with -r it is applied through tcpdump")
    p.add_argument("--replay", action="store_true",
                   help="with -r: deliver frames at their recorded pace (like live)")
    p.add_argument("--speed", type=positive, default=1.0,
                   help="replay speed factor (default 1.0)")
    p.add_argument("-s", "--snaplen", type=int, default=0, metavar="BYTES",
                   help="live: bytes kept per frame (default: dumpcap's, whole frames)")
    p.add_argument("--buffer-mb", type=count, default=64, metavar="MB",
                   help="live: kernel capture buffer per interface (dumpcap -B, default 64)")
    p.add_argument("--no-resume", action="store_true",
                   help="live: end at the first capture fault (interface down or deleted, "
                        "dumpcap ended) instead of reporting it and resuming when the capture "
                        "works again; the exit status is then 2")
    return src


def add_flow_table_options(p: argparse.ArgumentParser, *, idle_timeout: float) -> None:
    """--max-flows, --idle-timeout (default ``idle_timeout`` seconds) and --window: the flow
    table's bounds, shared by flows, watch and monitor."""
    p.add_argument("--max-flows", type=count, default=65536, metavar="N",
                   help="flow table size; the least recently seen flow is evicted (counted) "
                        "beyond it (default 65536)")
    p.add_argument("--idle-timeout", type=positive, default=idle_timeout, metavar="S",
                   help=f"forget flows idle this long, capture time (default {idle_timeout:g})")
    p.add_argument("--window", type=positive, default=5.0, metavar="S",
                   help="sliding window for rates (default 5 s)")


def add_metrics_options(p: argparse.ArgumentParser) -> None:
    """``--metrics ADDR:PORT`` and ``--metrics-top N`` (watch, monitor)."""
    p.add_argument("--metrics", metavar="ADDR:PORT",
                   help="serve Prometheus metrics (text exposition at /metrics) on ADDR:PORT, "
                        "e.g. 127.0.0.1:9464: per-link packets/bytes, segment-pair load, "
                        "findings per rule, drops, capture faults, the busiest flows")
    p.add_argument("--metrics-top", type=count, default=10, metavar="N",
                   help="flows exported by rate (default 10, at most 100: bounded "
                        "cardinality)")
