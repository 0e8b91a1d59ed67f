"""The embedded DUT's namespaces are always removed: the name family, the leftover sweep and
the reaper. (Creating, entering and configuring them is ``srinspect.kernel.netns``.)

The lab must never outlive the suite, however the suite ends:

- normal exit, exceptions, Ctrl-C: ``LinuxDut.close`` runs from ``finally``/``atexit``;
- SIGTERM/SIGHUP: a handler turns them into ``SystemExit`` so the same ``finally`` runs;
- SIGKILL or a hard crash: a *reaper* process, started in its own session, holds a pipe from
  the suite and deletes the namespaces when that pipe closes without a "keep" or "done";
- anything still left (say the machine lost power): the next run sweeps namespaces of its
  own name family (``src-<pid>-*``) whose pid is dead, and touches nothing else.

Every veth is created directly inside a namespace, so deleting the namespaces removes all
interfaces, addresses and routes: nothing is ever configured in the root namespace.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from srinspect.kernel import netns

PREFIX = "src-"
NAME_RE = re.compile(r"^src-(\d+)-(snd|dut|rcv)$")


def own_namespaces() -> list[str]:
    """Namespaces of this suite's name family (any pid)."""
    return [n for n in netns.list_namespaces(PREFIX) if NAME_RE.match(n)]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


KEEP_DIR = Path("/run/srinspect-conformance")


def mark_kept(pid: int) -> None:
    """Remember that the lab of run ``pid`` was kept on purpose (``--keep``), so the next
    run's sweep leaves it alone; ``conformance clean`` removes it."""
    KEEP_DIR.mkdir(mode=0o700, exist_ok=True)
    (KEEP_DIR / f"{pid}.keep").touch()


def _kept(pid: int) -> bool:
    return (KEEP_DIR / f"{pid}.keep").exists()


def sweep_leftovers(include_kept: bool = False) -> list[str]:
    """Delete namespaces of our family whose run is gone (killed, crashed); return them.

    A namespace whose pid is alive belongs to a concurrent run and is left alone; so is a
    lab kept with ``--keep``, unless ``include_kept`` (``conformance clean``, which removes
    kept labs whatever their pid).
    """
    removed = []
    for name in own_namespaces():
        m = NAME_RE.match(name)
        if not m:  # pragma: no cover - own_namespaces filtered already
            continue
        pid = int(m.group(1))
        kept = _kept(pid)
        if kept and not include_kept:
            continue
        if pid_alive(pid) and not kept:
            continue
        removed += netns.delete([name])
    if include_kept and KEEP_DIR.is_dir():
        for marker in KEEP_DIR.glob("*.keep"):
            marker.unlink(missing_ok=True)
    return removed


_REAPER = r"""
import signal, subprocess, sys
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
word = sys.stdin.read()
if "keep" not in word:
    for name in sys.argv[1:]:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
"""


class Reaper:
    """A watchdog process that deletes ``names`` when the suite dies without saying so.

    It lives in its own session (Ctrl-C in the terminal does not reach it) and waits for
    EOF on a pipe only the suite holds: the kernel closes that pipe however the suite ends,
    SIGKILL included.
    """

    def __init__(self, names: Sequence[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _REAPER, *names], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            close_fds=True)

    def finish(self, keep: bool) -> None:
        """Tell the reaper the suite cleaned up itself ("done") or keeps the lab."""
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.write(b"keep" if keep else b"done")
                self.proc.stdin.close()
            except BrokenPipeError:  # pragma: no cover - reaper already gone
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            self.proc.kill()
