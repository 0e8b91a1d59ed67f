"""What every fuzz target script does: import its check from targets.py with srinspect
instrumented for coverage, then hand libFuzzer's inputs (and the command line) to it."""

from __future__ import annotations

import sys

import atheris


def fuzz(check_name: str) -> None:
    """Fuzz ``targets.<check_name>`` (imported here, inside the instrumentation, so that
    srinspect's code is instrumented: nothing of it may be imported before)."""
    with atheris.instrument_imports(include=["srinspect", "targets"]):
        import targets
    check = getattr(targets, check_name)
    atheris.Setup(sys.argv, lambda data: check(bytes(data)))
    atheris.Fuzz()
