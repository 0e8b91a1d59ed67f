"""A small SRv6 network in namespaces for the live flow tests, and process helpers.

(A module of its own, not conftest.py, so tests can import it by a unique name.)

Topology (names get a per-run unique prefix, so parallel runs and leftovers never clash)::

    src --s0/r0-- r (SR ingress) --r1/k1-- k1      fc00:2::/64 routed via k1
                                 --r2/k2-- k2      fc00:3::/64 routed via k2

``src`` sends UDP to 2001:db8:dN::1; the router encapsulates by ``encap seg6`` routes the
tests add, and the encapsulated packets leave on r1 or r2, where srinspect captures. Only
2001:db8::/32 and fc00::/7 addresses are used. Everything is removed in ``close()``, which
the fixture calls even when a test fails.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# A UDP sender driven over stdin: each line "COUNT GAP DEST" sends COUNT datagrams to DEST
# port 9 from one socket (one source port, so one flow per destination), then prints "done".
SENDER = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", 0))
for line in sys.stdin:
    count, gap, dest = line.split()
    for _ in range(int(count)):
        s.sendto(b"srinspect flow test payload", (dest, 9))
        time.sleep(float(gap))
    print("done", flush=True)
"""


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=60)


class Proc:
    """A child process whose stdout/stderr lines are collected by threads."""

    def __init__(self, argv: Sequence[str], *, stdin: bool = False) -> None:
        self.argv = list(argv)
        self.popen = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, text=True, cwd=REPO,
            bufsize=1)
        self.out: queue.Queue[str] = queue.Queue()
        self.err_lines: list[str] = []
        self.out_lines: list[str] = []
        self._threads = [threading.Thread(target=self._pump, args=(self.popen.stdout, True),
                                          daemon=True),
                         threading.Thread(target=self._pump, args=(self.popen.stderr, False),
                                          daemon=True)]
        for t in self._threads:
            t.start()

    def _pump(self, pipe: object, is_out: bool) -> None:
        for line in iter(pipe.readline, ""):  # type: ignore[attr-defined]
            if is_out:
                self.out_lines.append(line)
                self.out.put(line)
            else:
                self.err_lines.append(line)

    def wait_stdout(self, predicate: object, timeout: float = 20.0) -> str:
        """The first stdout line (from now on) for which ``predicate(line)`` holds."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.argv}: no expected output in {timeout} s; "
                                     f"stderr: {''.join(self.err_lines)}")
            try:
                line = self.out.get(timeout=left)
            except queue.Empty:
                continue
            if predicate(line):  # type: ignore[operator]
                return line

    def wait_stderr(self, text: str, timeout: float = 20.0) -> None:
        end = time.monotonic() + timeout
        while not any(text in ln for ln in self.err_lines):
            if time.monotonic() > end or self.popen.poll() is not None:
                time.sleep(0.2)
                raise AssertionError(f"{self.argv}: {text!r} not on stderr (rc "
                                     f"{self.popen.poll()}): {''.join(self.err_lines)}")
            time.sleep(0.02)

    def send(self, line: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(line + "\n")
        self.popen.stdin.flush()

    def interrupt(self, timeout: float = 30.0) -> int:
        """Ctrl-C (SIGINT), then wait for the exit and for all output."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
        return self.wait(timeout)

    def wait(self, timeout: float = 30.0) -> int:
        rc = self.popen.wait(timeout=timeout)
        for t in self._threads:
            t.join(timeout=5)
        return rc

    @property
    def stdout(self) -> str:
        return "".join(self.out_lines)

    @property
    def stderr(self) -> str:
        return "".join(self.err_lines)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)


class SrLab:
    """The namespaces above; ``srinspect``/``tcpdump``/``sender`` start processes in them."""

    def __init__(self) -> None:
        self.prefix = f"srfl{uuid.uuid4().hex[:8]}"
        self.namespaces: list[str] = []
        self.procs: list[Proc] = []

    def ns(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def ip(self, role: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return sh("ip", "-n", self.ns(role), *args, check=check)

    def nsexec(self, role: str, *cmd: str) -> subprocess.CompletedProcess[str]:
        return sh("ip", "netns", "exec", self.ns(role), *cmd)

    def build(self) -> None:
        for role in ("src", "r", "k1", "k2"):
            sh("ip", "netns", "add", self.ns(role))
            self.namespaces.append(self.ns(role))
            self.ip(role, "link", "set", "lo", "up")
        links = (("src", "s0", "r", "r0", "2001:db8:10::1", "2001:db8:10::2"),
                 ("r", "r1", "k1", "k1", "2001:db8:20::1", "2001:db8:20::2"),
                 ("r", "r2", "k2", "k2", "2001:db8:30::1", "2001:db8:30::2"))
        for a, a_if, b, b_if, a_addr, b_addr in links:
            sh("ip", "link", "add", a_if, "netns", self.ns(a), "type", "veth", "peer", "name",
               b_if, "netns", self.ns(b))
            self.ip(a, "addr", "add", f"{a_addr}/64", "dev", a_if, "nodad")
            self.ip(b, "addr", "add", f"{b_addr}/64", "dev", b_if, "nodad")
            self.ip(a, "link", "set", a_if, "up")
            self.ip(b, "link", "set", b_if, "up")
        self._wait_carrier([(a, a_if) for a, a_if, *_ in links] +
                           [(b, b_if) for _, _, b, b_if, *_ in links])
        # Static neighbours: no Neighbor Discovery races with the first test packets.
        for a, a_if, b, b_if, a_addr, b_addr in links:
            self.ip(a, "-6", "neigh", "replace", b_addr, "lladdr", self.mac(b, b_if), "dev",
                    a_if, "nud", "permanent")
            self.ip(b, "-6", "neigh", "replace", a_addr, "lladdr", self.mac(a, a_if), "dev",
                    b_if, "nud", "permanent")
        self.ip("src", "-6", "route", "add", "default", "via", "2001:db8:10::2")
        self.nsexec("r", "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
        self.ip("r", "-6", "route", "add", "fc00:2::/64", "via", "2001:db8:20::2", "dev", "r1")
        self.ip("r", "-6", "route", "add", "fc00:3::/64", "via", "2001:db8:30::2", "dev", "r2")
        self.nsexec("r", "ip", "sr", "tunsrc", "set", "2001:db8:20::1")

    def mac(self, role: str, iface: str) -> str:
        return self.nsexec(role, "cat", f"/sys/class/net/{iface}/address").stdout.strip()

    def _wait_carrier(self, ifaces: list[tuple[str, str]], timeout: float = 10.0) -> None:
        """veth carrier comes up asynchronously (linkwatch, up to a second): until then the
        kernel drops what is sent, so wait for operstate UP everywhere."""
        end = time.monotonic() + timeout
        for role, iface in ifaces:
            while self.nsexec(role, "cat", f"/sys/class/net/{iface}/operstate"
                              ).stdout.strip() != "up":
                if time.monotonic() > end:
                    raise RuntimeError(f"{iface} in {self.ns(role)} did not come up")
                time.sleep(0.05)

    def encap(self, prefix: str, segs: Sequence[str], dev: str, *, mode: str = "encap",
              replace: bool = False) -> None:
        self.ip("r", "-6", "route", "replace" if replace else "add", prefix, "encap", "seg6",
                "mode", mode, "segs", ",".join(segs), "dev", dev)

    def start(self, role: str, *cmd: str, stdin: bool = False) -> Proc:
        proc = Proc(["ip", "netns", "exec", self.ns(role), *cmd], stdin=stdin)
        self.procs.append(proc)
        return proc

    def srinspect(self, *args: str) -> Proc:
        return self.start("r", sys.executable, "-m", "srinspect", *args)

    def watch(self, *args: str) -> Proc:
        """``srinspect watch --format jsonl``, returned once its capture is running."""
        proc = self.srinspect("watch", "--format", "jsonl", *args)
        proc.wait_stdout(lambda ln: '"event":"start"' in ln)
        return proc

    def flows(self, *args: str) -> Proc:
        """``srinspect flows --format json``, returned once its capture is running."""
        proc = self.srinspect("flows", "--format", "json", *args)
        proc.wait_stderr("srinspect: capturing on")
        return proc

    def tcpdump(self, iface: str, path: Path) -> Proc:
        # Immediate mode: without it, packets still in the ring's current block when the
        # SIGINT arrives are never written (TPACKET_V3 blocks retire after a timeout).
        proc = self.start("r", "tcpdump", "--immediate-mode", "-i", iface, "-n", "-U", "-w",
                          str(path))
        proc.wait_stderr("listening on")
        return proc

    def sender(self) -> Proc:
        return self.start("src", sys.executable, "-c", SENDER, stdin=True)

    def send(self, sender: Proc, count: int, dest: str, gap: float = 0.002) -> None:
        sender.send(f"{count} {gap} {dest}")
        sender.wait_stdout(lambda ln: ln.strip() == "done", timeout=60)

    def restore_r1(self) -> None:
        """Bring r1 up again after ``ip link set r1 down``: the kernel dropped its address,
        the static neighbour and the routes through it (and the tests' encap routes via
        r1, which they add back themselves)."""
        self.ip("r", "link", "set", "r1", "up")
        self._wait_carrier([("r", "r1")])
        self.ip("r", "addr", "replace", "2001:db8:20::1/64", "dev", "r1", "nodad")
        self.ip("r", "-6", "neigh", "replace", "2001:db8:20::2", "lladdr",
                self.mac("k1", "k1"), "dev", "r1", "nud", "permanent")
        self.ip("r", "-6", "route", "replace", "fc00:2::/64", "via", "2001:db8:20::2",
                "dev", "r1")

    def recreate_r1(self) -> None:
        """Make the r1/k1 veth pair again after ``ip link del r1`` (which removed both)."""
        sh("ip", "link", "add", "r1", "netns", self.ns("r"), "type", "veth", "peer", "name",
           "k1", "netns", self.ns("k1"))
        self.ip("k1", "addr", "add", "2001:db8:20::2/64", "dev", "k1", "nodad")
        self.ip("k1", "link", "set", "k1", "up")
        self.ip("k1", "-6", "neigh", "replace", "2001:db8:20::1", "lladdr",
                self.mac("r", "r1"), "dev", "k1", "nud", "permanent")
        self.restore_r1()

    def close(self) -> None:
        for proc in self.procs:
            proc.kill()
        for name in self.namespaces:
            sh("ip", "netns", "del", name, check=False)
        self.namespaces.clear()


def lab_skip_reason() -> str | None:
    """Why the namespace lab cannot run here (same rules as the suite's kernel marker)."""
    if not sys.platform.startswith("linux"):
        return "live flow tests need Linux"
    if os.geteuid() != 0:
        return "live flow tests need root (network namespaces, capture)"
    if shutil.which("ip") is None:
        return "live flow tests need iproute2's `ip`"
    if not Path("/proc/sys/net/ipv6/conf/all/seg6_enabled").exists():
        return "kernel has no SRv6 support"
    for tool in ("dumpcap", "tcpdump"):
        if shutil.which(tool) is None and not os.access(f"/usr/bin/{tool}", os.X_OK):
            return f"{tool} is not installed (scripts/setup.sh installs it)"
    return None


def children(proc: Proc) -> list[int]:
    """Process ids of ``proc``'s children (srinspect's dumpcap), from /proc."""
    pid = proc.popen.pid
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as fh:
            out += [int(x) for x in fh.read().split()]
    return out


def events(proc: Proc) -> list[dict[str, object]]:
    return [json.loads(line) for line in proc.out_lines if line.startswith("{")]


def tcpdump_count(path: Path, bpf: str) -> int:
    """Packets in a tcpdump capture that match ``bpf``, counted by tcpdump itself."""
    out = sh("tcpdump", "-n", "-q", "-r", str(path), bpf).stdout
    return sum(1 for line in out.splitlines() if line.strip())
