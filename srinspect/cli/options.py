"""Options, argparse value types, exit codes and key/locator/C-SID loaders shared by
every subcommand: one definition, so the commands cannot drift apart."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TextIO, TypeVar

from ..csid import CsidFormats, build_formats, parse_format
from ..errors import CaptureFormatError
from ..keys import Keyring, build_keyring
from ..locators import ConfigError, Locators, build_locators, locator_arg
from ..rules import PACKET_PROFILES, Profile
from ..sources import CaptureError

T = TypeVar("T")


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


EXIT_OK = 0


EXIT_FINDINGS = 1


EXIT_USAGE = 2


EXIT_INTERRUPTED = 130


class OutputClosed(Exception):  # noqa: N818 - a condition, not a failure
    """The reader of stdout went away (``| head``). Raised from a per-packet hook so the
    audit loop does not take it for an unreadable input (BrokenPipeError is an OSError)."""


def profile_arg(text: str) -> Profile:
    if text not in PACKET_PROFILES:
        raise argparse.ArgumentTypeError("profile must be draft-04 or rfc8754")
    return Profile(text)


def add_profile_and_keys(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", type=profile_arg, default=Profile.DRAFT04,
                   help="specification to check against: draft-04 (default, what Linux "
                        "implements) or rfc8754")
    p.add_argument("--key", action="append", default=[], metavar="ID:ALGO:SECRET",
                   help="HMAC key for key id ID, algo sha1 or sha256; SECRET may be "
                        "hex:0011... for binary keys (repeatable; never printed)")
    p.add_argument("--keys", action="append", default=[], metavar="FILE",
                   help="TOML key file of [[key]] tables with id, algo, secret (repeatable)")


def add_locator_options(p: argparse.ArgumentParser) -> None:
    """--locator and --config: where the SIDs are, for IP-in-IPv6 packets without an SRH."""
    p.add_argument("--locator", action="append", default=[], type=locator_arg,
                   metavar="PREFIX",
                   help="an SRv6 locator (repeatable): an IP-in-IPv6 packet without an SRH is "
                        "SRv6 (reduced encapsulation) only when its destination is in one; "
                        "otherwise it is an ordinary IP-in-IPv6 tunnel")
    p.add_argument("--config", action="append", default=[], metavar="FILE",
                   help="TOML config file; [srv6] locators = [\"PREFIX\", ...] adds locators, "
                        "csid = [\"FORMAT\", ...] C-SID formats (repeatable)")
    p.add_argument("--csid", action="append", default=[],  # parsed by load_csid: one line
                   metavar="[PREFIX/]B/C",
                   help="RFC 9800 NEXT-C-SID format: Locator-Block B bits, C-SID C bits, for "
                        "the block PREFIX/B (e.g. 2001:db8::/32/16) or every address (32/16); "
                        "repeatable. Shows C-SIDs and runs the csid.* rules")


def load_csid(args: argparse.Namespace) -> CsidFormats:
    """The C-SID formats of --csid and every --config file (ConfigError: exit 2)."""
    cli = [parse_format(text) for text in getattr(args, "csid", [])]
    return build_formats(cli, _config_texts(args))


def load_locators(args: argparse.Namespace) -> Locators:
    """The locators of --locator and every --config file (ConfigError: exit 2)."""
    return build_locators(args.locator, _config_texts(args))


def _config_texts(args: argparse.Namespace) -> list[tuple[str, str]]:
    texts = []
    for path in args.config:
        try:
            with open(path, encoding="utf-8") as fh:
                texts.append((path, fh.read()))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config {path}: {getattr(exc, 'strerror', exc)}"
                              ) from None
    return texts


def load_keys(args: argparse.Namespace) -> Keyring:
    ring = build_keyring(args.key, args.keys)
    for warning in ring.warnings:
        print(f"srinspect: warning: {warning}", file=sys.stderr)
    return ring


def open_capture_or_say(args: argparse.Namespace, opener: Callable[[], T]) -> T | None:
    """``opener()`` (a capture source or feed), or None after saying on stderr why it cannot
    be opened (the caller exits 2): flows, watch and monitor word this alike."""
    try:
        return opener()
    except CaptureError as exc:
        print(f"srinspect: {exc}", file=sys.stderr)
    except CaptureFormatError as exc:
        print(f"srinspect: {args.read}: {exc}", file=sys.stderr)
    return None


def open_out(path: str | None) -> TextIO:
    return open(path, "w", encoding="utf-8") if path else sys.stdout  # noqa: SIM115
