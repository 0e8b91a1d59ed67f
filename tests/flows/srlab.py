"""A small network in namespaces for the live capture tests, SRv6 frames injected into it,
and process helpers.

(A module of its own, not conftest.py, so tests can import it by a unique name.)

Topology (names get a per-run unique prefix, so parallel runs and leftovers never clash)::

    r --r1/k1-- k        frames for fc00:2::/64 paths leave on r1
      --r2/k2--          frames for fc00:3::/64 paths leave on r2

No kernel SRv6 is needed: the sender (``srinject.py``, run in ``r``) writes crafted SRv6
frames to r1 or r2 with an AF_PACKET socket, the frames a Linux SR ingress with ``encap
seg6`` routes and ``ip sr tunsrc 2001:db8:20::1`` sent there before (Ethernet from the
interface's MAC to its peer's, outer source 2001:db8:20::1, SRH, inner IPv6/UDP from
2001:db8:10::1). A capture on r1 in ``r`` sees them as sent by the host (tx), as it saw
the kernel's. A path change is the sender switching the segment list it writes. ``k`` only
holds the peers, so the links have a carrier. IPv6 is disabled on the links, so they carry
nothing but the injected frames. Everything is removed in ``close()``, which the fixture
calls even when a test fails: the processes started, anything still running in the
namespaces (dumpcap under a killed srinspect), the namespaces.
"""

from __future__ import annotations

import contextlib
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

from testbed import REPO, netns_skip_reason  # type: ignore[import-not-found]

INJECT = Path(__file__).resolve().with_name("srinject.py")
#: Each captured interface in ``r`` and its veth peer in ``k``.
PEERS = {"r1": "k1", "r2": "k2"}
#: Generous: the tests also run in slow (emulated) guests.
TIMEOUT = 60.0


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)


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

    def wait_stdout(self, predicate: object, timeout: float = TIMEOUT) -> str:
        """The first stdout line (from now on) for which ``predicate(line)`` holds."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.argv}: no expected output in {timeout} s; "
                                     f"stderr: {''.join(self.err_lines)}")
            try:
                line = self.out.get(timeout=min(left, 0.5))
            except queue.Empty:
                if not self._threads[0].is_alive() and self.out.empty():  # stdout closed
                    raise AssertionError(f"{self.argv}: ended (rc {self.popen.poll()}) "
                                         f"without the expected output; stderr: "
                                         f"{''.join(self.err_lines)}") from None
                continue
            if predicate(line):  # type: ignore[operator]
                return line

    def wait_stderr(self, text: str, timeout: float = TIMEOUT) -> None:
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

    def interrupt(self, timeout: float = TIMEOUT) -> int:
        """Ctrl-C (SIGINT), then wait for the exit and for all output."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
        return self.wait(timeout)

    def wait(self, timeout: float = TIMEOUT) -> int:
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
        self._macs: dict[tuple[str, str], str] = {}

    def ns(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def ip(self, role: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return sh("ip", "-n", self.ns(role), *args, check=check)

    def nsexec(self, role: str, *cmd: str) -> subprocess.CompletedProcess[str]:
        return sh("ip", "netns", "exec", self.ns(role), *cmd)

    def build(self) -> None:
        for role in ("r", "k"):
            sh("ip", "netns", "add", self.ns(role))
            self.namespaces.append(self.ns(role))
            # quiet links: no link-local address, DAD, MLD or router solicitation frames
            self.nsexec(role, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                        "net.ipv6.conf.default.disable_ipv6=1")
            self.ip(role, "link", "set", "lo", "up")
        for iface in PEERS:
            self._add_link(iface)
        self._wait_carrier(list(PEERS))

    def _add_link(self, iface: str) -> None:
        peer = PEERS[iface]
        sh("ip", "link", "add", iface, "netns", self.ns("r"), "type", "veth", "peer", "name",
           peer, "netns", self.ns("k"))
        self.ip("k", "link", "set", peer, "up")
        self.ip("r", "link", "set", iface, "up")

    def mac(self, role: str, iface: str) -> str:
        key = (role, iface)
        if key not in self._macs:
            self._macs[key] = self.nsexec(role, "cat", f"/sys/class/net/{iface}/address"
                                          ).stdout.strip()
        return self._macs[key]

    def _wait_carrier(self, ifaces: list[str], timeout: float = TIMEOUT) -> None:
        """veth carrier comes up asynchronously (linkwatch, up to a second): until then the
        kernel drops what is sent, so wait for operstate UP on both ends."""
        end = time.monotonic() + timeout
        for role, iface in [("r", i) for i in ifaces] + [("k", PEERS[i]) for i in ifaces]:
            while self.nsexec(role, "cat", f"/sys/class/net/{iface}/operstate"
                              ).stdout.strip() != "up":
                if time.monotonic() > end:
                    raise RuntimeError(f"{iface} in {self.ns(role)} did not come up")
                time.sleep(0.05)

    def start(self, role: str, *cmd: str, stdin: bool = False) -> Proc:
        proc = Proc(["ip", "netns", "exec", self.ns(role), *cmd], stdin=stdin)
        self.procs.append(proc)
        return proc

    def srinspect(self, *args: str) -> Proc:
        return self.start("r", sys.executable, "-m", "srinspect", *args)

    def watch(self, *args: str) -> Proc:
        """``srinspect watch --format jsonl``, returned once its capture is running."""
        proc = self.srinspect("watch", "--format", "jsonl", *args)
        proc.wait_stdout(lambda ln: '"event":"start"' in ln, TIMEOUT)
        return proc

    def flows(self, *args: str) -> Proc:
        """``srinspect flows --format json``, returned once its capture is running."""
        proc = self.srinspect("flows", "--format", "json", *args)
        proc.wait_stderr("srinspect: capturing on", TIMEOUT)
        return proc

    def tcpdump(self, iface: str, path: Path) -> Proc:
        # Immediate mode: without it, packets still in the ring's current block when the
        # SIGINT arrives are never written (TPACKET_V3 blocks retire after a timeout).
        proc = self.start("r", "tcpdump", "--immediate-mode", "-i", iface, "-n", "-U", "-w",
                          str(path))
        proc.wait_stderr("listening on", TIMEOUT)
        return proc

    def sender(self) -> Proc:
        """The frame injector in ``r`` (srinject.py), returned once it reads its stdin."""
        proc = self.start("r", sys.executable, str(INJECT), stdin=True)
        proc.wait_stdout(lambda ln: ln.strip() == "ready", TIMEOUT)
        return proc

    def send(self, sender: Proc, count: int, dest: str, segs: Sequence[str], *,
             iface: str = "r1", mode: str = "encap", gap: float = 0.002) -> None:
        """Write ``count`` frames to ``iface``: UDP to ``dest`` encapsulated along ``segs``
        (travel order, as an ``encap seg6 ... segs`` route writes them). Returns once every
        frame was handed to the interface (and so to every capture on it)."""
        peer = self.mac("k", PEERS[iface])
        sender.send(f"{iface} {peer} {count} {gap} {dest} {','.join(segs)} {mode}")
        line = sender.wait_stdout(lambda ln: ln.startswith(("sent ", "error ")), TIMEOUT * 2)
        if not line.startswith("sent "):
            raise AssertionError(f"injecting on {iface} failed: {line.strip()}")

    def restore_r1(self) -> None:
        """Bring r1 up again after ``ip link set r1 down`` and wait for its carrier."""
        self.ip("r", "link", "set", "r1", "up")
        self._wait_carrier(["r1"])

    def recreate_r1(self) -> None:
        """Make the r1/k1 veth pair again after ``ip link del r1`` (which removed both)."""
        self._macs.pop(("r", "r1"), None)
        self._macs.pop(("k", "k1"), None)
        self._add_link("r1")
        self._wait_carrier(["r1"])

    def close(self) -> None:
        for proc in self.procs:
            proc.kill()
        for name in self.namespaces:
            kill_namespace(name)
            sh("ip", "netns", "del", name, check=False)
        self.namespaces.clear()


def kill_namespace(name: str, timeout: float = 30.0) -> None:
    """SIGKILL every process still in network namespace ``name`` (a dumpcap whose srinspect
    was killed, a sender) and wait until they are gone."""
    pids = [int(p) for p in sh("ip", "netns", "pids", name, check=False).stdout.split()]
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    end = time.monotonic() + timeout
    for pid in pids:
        while _alive(pid) and time.monotonic() < end:
            time.sleep(0.05)


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, killed and waiting for its reaper, does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except OSError:
        return False


def lab_skip_reason() -> str | None:
    """Why the namespace lab cannot run here (the suite's netns marker's rules, plus the
    capture tools)."""
    reason = netns_skip_reason("live capture tests")
    if reason:
        return reason
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


def tcpdump_count(path: Path, bpf: str, *, check: bool = True) -> int:
    """Packets in a tcpdump capture that match ``bpf``, counted by tcpdump itself."""
    out = sh("tcpdump", "-n", "-q", "-r", str(path), bpf, check=check).stdout
    return sum(1 for line in out.splitlines() if line.strip())


def wait_dumped(path: Path, bpf: str, count: int, timeout: float = TIMEOUT) -> None:
    """Wait until a running tcpdump has written ``count`` packets matching ``bpf`` (the file
    may end in a half-written record meanwhile, hence no return code check)."""
    end = time.monotonic() + timeout
    while tcpdump_count(path, bpf, check=False) < count:
        if time.monotonic() > end:
            raise AssertionError(f"{path}: fewer than {count} packets matching {bpf!r}")
        time.sleep(0.1)


def wait_stats(proc: Proc, srv6_packets: int, timeout: float = TIMEOUT) -> dict[str, object]:
    """The next periodic ``stats`` event of a ``watch`` that counts ``srv6_packets`` (or
    more): the watch's capture has handed over every frame sent so far."""
    def counted(line: str) -> bool:
        if '"event":"stats"' not in line:
            return False
        return int(json.loads(line)["srv6_packets"]) >= srv6_packets
    return json.loads(proc.wait_stdout(counted, timeout))
