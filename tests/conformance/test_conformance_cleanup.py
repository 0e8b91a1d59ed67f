"""The lab never outlives the suite: SIGTERM, Ctrl-C (SIGINT) and SIGKILL in the middle of a
run leave no namespace (and so no veth or route) behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance import cleanup

pytestmark = pytest.mark.kernel
REPO = Path(__file__).resolve().parents[2]


def start_slow_run() -> subprocess.Popen[bytes]:
    """A run paced to last several seconds, so a signal lands while cases are running."""
    return subprocess.Popen(
        [sys.executable, "-m", "srinspect", "conformance", "run", "--profile", "all",
         "--pace", "0.3"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def names_of(pid: int) -> list[str]:
    return [n for n in cleanup.own_namespaces() if n.startswith(f"{cleanup.PREFIX}{pid}-")]


def wait_for(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def veths_in_root() -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show", "type", "veth"], capture_output=True,
                         text=True, check=False).stdout
    return [line for line in out.splitlines() if any(f" {n}@" in line for n in
                                                     ("s0", "d0", "d1", "d2", "r0", "r1"))]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 128 + 15),
                                           (signal.SIGINT, 130),
                                           (signal.SIGKILL, -9)])
def test_signal_mid_run_leaves_nothing(kernel: None, sig: signal.Signals, code: int) -> None:
    proc = start_slow_run()
    try:
        # Generous: Python starts several times slower in a TCG guest; the wait ends as
        # soon as the namespaces exist.
        assert wait_for(lambda: len(names_of(proc.pid)) == 3, 120), "lab never came up"
        # Let a few cases run, so the signal lands mid-case rather than mid-setup.
        assert proc.stdout is not None
        for _ in range(3):
            proc.stdout.readline()
        proc.send_signal(sig)
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == code
    # SIGKILL leaves the cleanup to the reaper; give it a moment.
    assert wait_for(lambda: names_of(proc.pid) == [], 30), names_of(proc.pid)
    assert veths_in_root() == []
