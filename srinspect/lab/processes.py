"""Background processes started inside lab namespaces, tracked by pid files.

A pid alone can be reused by an unrelated process after the original one exits; every pid
read back from a file is checked against /proc/PID/cmdline before it is signalled, so
``lab traffic stop`` never kills a stranger.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from ..kernel.netns import namespace_pids


def cmdline(pid: int) -> list[str]:
    """The argv of a live process ([] when it is gone or a zombie)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def alive(pid: int, marker: str | None = None) -> bool:
    """Is ``pid`` running (and is ``marker`` one of its argv words, e.g. ``iperf3``)?"""
    argv = cmdline(pid)
    if not argv:
        return False
    return marker is None or any(os.path.basename(a) == marker or a == marker for a in argv)


def spawn(argv: Sequence[str], pidfile: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` detached (own session, output to ``log``) and record its pid.

    ``ip netns exec`` execs the command, so the recorded pid is the command's own.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    pidfile.write_text(f"{proc.pid}\n")
    return proc


def read_pid(pidfile: Path, marker: str) -> int | None:
    """The pid in ``pidfile`` if that process is alive and is a ``marker``, else None."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if alive(pid, marker) else None


def terminate(pids: Sequence[int], timeout: float = 2.0) -> None:
    """SIGTERM, wait up to ``timeout``, then SIGKILL what is left."""
    pids = [p for p in pids if p != os.getpid()]
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_running(p) for p in pids):
        time.sleep(0.05)
    for pid in pids:
        if _running(pid):
            _signal(pid, signal.SIGKILL)
    for pid in pids:  # reap our own children so they do not linger as zombies
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def stop_pidfile(pidfile: Path, marker: str) -> int | None:
    """Stop the process of a pid file (if it is still ours) and remove the file."""
    pid = read_pid(pidfile, marker)
    if pid is not None:
        terminate([pid])
    pidfile.unlink(missing_ok=True)
    return pid


def kill_namespace_processes(netns: str) -> list[int]:
    """Stop every process inside a lab namespace; they would keep it alive after deletion."""
    pids = namespace_pids(netns)
    if pids:
        terminate(pids)
    return pids


def _running(pid: int) -> bool:
    """Alive and not a zombie (a zombie has an empty cmdline)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return bool(cmdline(pid))


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
