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
