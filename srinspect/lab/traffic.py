"""``lab traffic start|stop``: iperf3 server in the server node, client in the client node.

Both run detached (own session, output in /run/srinspect-lab/<prefix>/iperf3-*.log) and are
tracked by pid files, so a later ``lab traffic stop`` or ``lab down`` from another shell
finds them. The client binds to its node address and runs until stopped by default
(``-t 0``), so the flow outlives any steering step.

TCP uses MSS 1400: the connection is set up on the plain shortest path, and steering it
later adds an outer header and an SRH to every segment; with the lab's 2000-byte link MTU
that leaves room for ~30 segments (or an HMAC TLV) without relying on path MTU discovery.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import LabError
from .processes import read_pid, spawn, stop_pidfile
from .requirements import require_tool

if TYPE_CHECKING:
    from .lab import Lab

PORT = 5201
TCP_MSS = 1400
UDP_LEN = 1400
CLIENT, SERVER = "iperf3-client", "iperf3-server"


@dataclass(frozen=True, slots=True)
class TrafficStatus:
    """What is running: pids (None = not running) and how the client was started."""

    client: str
    server: str
    client_pid: int | None
    server_pid: int | None
    mode: str  # "tcp", "udp" or "" when unknown

    @property
    def running(self) -> bool:
        return self.client_pid is not None


def traffic_status(lab: Lab) -> TrafficStatus:
    mode = ""
    with contextlib.suppress(OSError):
        mode = lab.paths.pidfile(CLIENT).with_suffix(".mode").read_text().strip()
    client_pid = read_pid(lab.paths.pidfile(CLIENT), "iperf3")
    return TrafficStatus(lab.plan.client, lab.plan.server, client_pid,
                         read_pid(lab.paths.pidfile(SERVER), "iperf3"),
                         mode if client_pid else "")


def _wait_for(log: Path, needle: str, running: Callable[[], bool], timeout: float) -> bool:
    """Wait until ``needle`` shows up in ``log``; False if the process ends or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in _read(log):
            return True
        if not running():
            return needle in _read(log)
        time.sleep(0.05)
    return False


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8", errors="replace")
    except OSError:
        return ""


def _log_tail(path: Path) -> str:
    lines = _read(path).strip().splitlines()
    return lines[-1] if lines else ""


def start(lab: Lab, *, udp: bool = False, bitrate: str | None = None,
          duration: int = 0) -> TrafficStatus:
    """Start (or restart) the client; start the server first if it is not running."""
    require_tool("iperf3", "for lab traffic (Debian: apt-get install iperf3)")
    client = lab.nodes[lab.plan.client]
    server = lab.nodes[lab.plan.server]
    paths = lab.paths
    stop_pidfile(paths.pidfile(CLIENT), "iperf3")

    if read_pid(paths.pidfile(SERVER), "iperf3") is None:
        proc = spawn(["ip", "netns", "exec", server.netns, "iperf3", "-s", "-B", server.address,
                      "-p", str(PORT), "--forceflush"],
                     paths.pidfile(SERVER), paths.log(SERVER))
        if not _wait_for(paths.log(SERVER), "Server listening", lambda: proc.poll() is None, 5):
            stop_pidfile(paths.pidfile(SERVER), "iperf3")
            raise LabError(f"iperf3 server in {server.name} did not start: "
                           f"{_log_tail(paths.log(SERVER)) or 'no output'}")

    argv = ["ip", "netns", "exec", client.netns, "iperf3", "-c", server.address,
            "-B", client.address, "-p", str(PORT), "-t", str(duration), "-i", "1",
            "--forceflush"]
    if udp:
        fastest = max(link.rate_bps for link in lab.links)
        argv += ["-u", "-l", str(UDP_LEN), "-b", bitrate or f"{int(fastest * 1.25)}"]
    else:
        argv += ["-M", str(TCP_MSS)]
        if bitrate:
            argv += ["-b", bitrate]
    proc = spawn(argv, paths.pidfile(CLIENT), paths.log(CLIENT))
    paths.pidfile(CLIENT).with_suffix(".mode").write_text("udp" if udp else "tcp")
    if not _wait_for(paths.log(CLIENT), "connected", lambda: proc.poll() is None, 5):
        stop_pidfile(paths.pidfile(CLIENT), "iperf3")
        raise LabError(f"iperf3 client in {client.name} did not connect to "
                       f"{server.address}: {_log_tail(paths.log(CLIENT)) or 'no output'}")
    return traffic_status(lab)


def stop(lab: Lab, *, server_too: bool = True) -> list[int]:
    """Stop the client (and the server); returns the pids that were stopped."""
    stopped = []
    names = (CLIENT, SERVER) if server_too else (CLIENT,)
    for name in names:
        pid = stop_pidfile(lab.paths.pidfile(name), "iperf3")
        if pid:
            stopped.append(pid)
    lab.paths.pidfile(CLIENT).with_suffix(".mode").unlink(missing_ok=True)
    return stopped
