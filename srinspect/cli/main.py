"""Command-line interface. Exit codes (documented in the README):

0  success, no finding of error severity
1  findings of error severity (audit), or a conformance MUST failed
2  usage error, unreadable or damaged input, bad key, setup error
130 interrupted (Ctrl-C)"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .. import __version__, skim
from ..errors import KeyFileError
from ..locators import ConfigError
from .audit import register_audit
from .decode import register_decode
from .options import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    OutputClosed,
)

CORE_COMMANDS = frozenset({"audit", "decode", "rules"})


def build_parser(extensions: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="srinspect",
        description="Inspect and audit IPv6 Segment Routing (SRv6) traffic against "
                    "draft-ietf-6man-segment-routing-header-04 and RFC 8754.",
        epilog="Exit codes: 0 ok, 1 error-severity findings, 2 usage/input error, "
               "130 interrupted.")
    parser.add_argument("--version", action="version",
                        version=f"srinspect {__version__}, audit engine: {skim.describe()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    register_audit(sub)
    register_decode(sub)
    if extensions:
        _register_extensions(sub)
    return parser


def _register_extensions(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The other subcommands, imported only when one of them is asked for: ``audit``,
    ``decode`` and ``rules`` start twice as fast without the flow, TUI, lab and
    conformance modules."""
    from conformance import cli as conformance_cli

    from ..kernel import cli as kernel_cli
    from ..lab import cli as lab_cli
    from . import flows, monitor

    for module in (flows, monitor, conformance_cli, lab_cli, kernel_cli):
        module.register(sub)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(extensions=command not in CORE_COMMANDS)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except (KeyFileError, ConfigError) as exc:
        print(f"srinspect: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("srinspect: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (BrokenPipeError, OutputClosed):
        _quiet_stdout()  # reader went away (| head): stop quietly, as Unix filters do
        return EXIT_OK
    except OSError as exc:  # e.g. disk full while writing a report: a message, not a trace
        where = f" {exc.filename}" if exc.filename else ""
        print(f"srinspect: I/O error{where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush into the closed pipe
    does not print "Exception ignored ... BrokenPipeError" on the way out."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
