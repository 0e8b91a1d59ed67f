#!/usr/bin/env python3
"""Sustained live capture rate of ``srinspect flows -i`` on a veth pair, next to tshark.

Not a test: a measurement. Needs root (network namespaces, AF_PACKET), dumpcap, tshark.

Two namespaces joined by a veth pair; in the sender namespace, one or more plain Python
AF_PACKET senders (no scapy, no pktgen) blast prebuilt SRv6 frames (srinspect.build, 64
flows) at a fixed rate; in the capture namespace the tool under test captures the peer end.
For each target rate and tool it reports what was sent, what the tool counted, and the drops
the capture engine reported (pcapng ISB / dumpcap summary), plus the CPU time of the tool.

Frame shapes (``--shape``): ``plain`` (default), outer IPv6 + SRH with 3 segments + inner
IPv6/UDP, 222 bytes; ``ingress-padding-hmac``, the same SRH with an Ingress Node TLV (the
source), a Padding TLV and a draft-04 HMAC TLV (SHA-256, key id 1 of
pcaps/kernel-hmac-keys.toml, which srinspect is then given with --keys so that every HMAC is
verified), 286 bytes: the slowest clean shape of benchmarks/bench_shapes.py, live.

Tools: ``srinspect`` (``--command flows``, the default: flows -i, dumpcap + streaming reader
+ flow table; ``--command watch``: watch -i, the same with the JSON-lines event stream),
``tshark`` (-q -z conv,ipv6: its closest equivalent, a conversation table; it also runs
dumpcap), and ``dumpcap`` alone writing to /dev/null (the capture engine's own ceiling).

    sudo .venv/bin/python benchmarks/live_rate.py --rates 50000,100000,150000,200000 \\
        --duration 10 --write benchmarks/README-live.md
    sudo .venv/bin/python benchmarks/live_rate.py --tools srinspect --rates 20000 \\
        --duration 3 --shape ingress-padding-hmac --command watch
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KEYS = REPO / "pcaps" / "kernel-hmac-keys.toml"
#: --shape: what the frames carry between the outer IPv6 header and the inner packet (the
#: table header adds the frame size, measured on the frames themselves).
SHAPES = {
    "plain": "Ethernet + IPv6 + SRH(3 segments) + IPv6 + UDP + 64 B",
    "ingress-padding-hmac": "Ethernet + IPv6 + SRH(3 segments, Ingress Node + Padding + "
                            "HMAC SHA-256 TLVs, draft-04) + IPv6 + UDP + 64 B",
}
#: Shapes whose HMACs srinspect must be able to verify: it gets --keys KEYS for them.
KEYED_SHAPES = {"ingress-padding-hmac"}
#: --command: the srinspect commands that follow a live link, with their machine format.
COMMANDS = {"flows": "json", "watch": "jsonl"}


def build_frames(shape: str) -> list[bytes]:
    """The 64 frames the senders cycle through: one flow each (inner source port 10000+i).
    Made here, not in the sender script, so that the table header can give their size; the
    sender imports this module. An HMAC covers the outer source and the segment list, not
    the inner packet, so the 64 frames share one SRH."""
    from srinspect import build
    from srinspect.keys import load_key_file
    from srinspect.srh import SrhSpec, node_tlv, padding_tlv
    from srinspect.wire import parse_ip6

    source = "2001:db8:a::1"
    spec = SrhSpec([parse_ip6(a) for a in ("fc00:3::1", "fc00:2::1", "fc00:1::1")],
                   segments_left=2)
    if shape == "ingress-padding-hmac":
        key = next(k for k in load_key_file(KEYS)[0] if k.key_id == 1)
        spec = build.with_hmac(SrhSpec(spec.segments, segments_left=2, tlvs=(
            node_tlv(1, source), padding_tlv(4))), source, key)
    elif shape != "plain":
        raise ValueError(f"unknown shape {shape!r}")
    return [build.ethernet(build.srv6_packet(
        source, spec, build.inner_udp("2001:db8:1::1", "2001:db8:2::1", payload=b"x" * 64,
                                      sport=10000 + i)))
        for i in range(64)]


def frame_note(shape: str) -> str:
    """The table header's words for the frames of ``shape``, with their size."""
    return f"{len(build_frames(shape)[0])}-byte frames ({SHAPES[shape]})"


SENDER = r"""
import socket, sys, time
sys.path.insert(0, sys.argv[4])
sys.path.insert(0, sys.argv[4] + "/benchmarks")
from live_rate import build_frames
iface, rate, duration = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
frames = build_frames(sys.argv[5])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
send = s.send
sent = 0
print("ready", flush=True)
sys.stdin.readline()  # go
t0 = time.perf_counter()
end = t0 + duration
while True:
    now = time.perf_counter()
    if now >= end:
        break
    due = t0 + sent / rate
    if now < due:
        time.sleep(due - now)
        continue
    for f in frames:
        send(f)
    sent += len(frames)
print(sent, sent / (time.perf_counter() - t0), flush=True)
"""


def sh(*cmd: str, check: bool = True) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=check).stdout


def cpu_share(seconds: float = 1.0) -> float:
    """CPU share a lone busy process gets right now (1.0 = a whole core). The machine may
    be shared with other work; this puts each row's numbers in context."""
    code = ("import time\nt=time.perf_counter();c=time.process_time()\n"
            f"while time.perf_counter()-t<{seconds}: pass\n"
            "print((time.process_time()-c)/(time.perf_counter()-t))")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its children so far (0 if it is gone)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return total
    return total + sum(cpu_seconds(int(c)) for c in children)


@dataclass
class Result:
    tool: str
    target: int
    sent: int
    send_rate: float
    counted: int | None
    received: int | None
    dropped: int | None
    cpu: float
    wall: float
    share: float = 1.0
    #: srinspect only: findings it reported (flows: per-flow counts; watch: finding events,
    #: one per flow and rule) and HMACs it verified (flows only). Every shape here is clean,
    #: so a finding means a wrong frame or a wrong verdict, not a slow run.
    findings: int | None = None
    hmac_verified: int | None = None

    @property
    def loss(self) -> float:
        counted = self.counted if self.counted is not None else 0
        return 100.0 * (self.sent - counted) / self.sent if self.sent else 0.0


class Bench:
    def __init__(self, senders: int, shape: str = "plain", command: str = "flows") -> None:
        self.prefix = f"srbench{uuid.uuid4().hex[:6]}"
        self.snd, self.cap = f"{self.prefix}-snd", f"{self.prefix}-cap"
        self.senders = senders
        self.shape = shape
        self.command = command

    def __enter__(self) -> Bench:
        sh("ip", "netns", "add", self.snd)
        sh("ip", "netns", "add", self.cap)
        sh("ip", "link", "add", "va", "netns", self.snd, "type", "veth", "peer", "name", "vb",
           "netns", self.cap)
        for ns, ifc in ((self.snd, "va"), (self.cap, "vb")):
            sh("ip", "-n", ns, "link", "set", ifc, "up")
            sh("ip", "-n", ns, "link", "set", ifc, "txqueuelen", "10000")
        for ns, ifc in ((self.snd, "va"), (self.cap, "vb")):
            while sh("ip", "netns", "exec", ns, "cat",
                     f"/sys/class/net/{ifc}/operstate").strip() != "up":
                time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        for ns in (self.snd, self.cap):
            sh("ip", "netns", "del", ns, check=False)

    def tool(self, name: str) -> tuple[list[str], str]:
        """argv of the capture tool in the capture namespace, and its ready text."""
        base = ["ip", "netns", "exec", self.cap]
        if name == "srinspect":
            keys = ["--keys", str(KEYS)] if self.shape in KEYED_SHAPES else []
            return base + [sys.executable, "-m", "srinspect", self.command, "-i", "vb",
                           "--format", COMMANDS[self.command], *keys], "capturing on"
        if name == "tshark":
            return base + ["tshark", "-i", "vb", "-B", "64", "-q", "-z", "conv,ipv6"], \
                "Capturing on"
        if name == "dumpcap":
            return base + ["dumpcap", "-q", "-i", "vb", "-B", "64", "-w", "/dev/null"], \
                "Capturing on"
        raise ValueError(name)

    def run(self, name: str, rate: int, duration: float) -> Result:
        share = cpu_share()
        argv, ready = self.tool(name)
        err_path = Path(f"/tmp/{self.prefix}-{name}.err")
        out_path = Path(f"/tmp/{self.prefix}-{name}.out")
        with open(err_path, "w") as err, open(out_path, "w") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=REPO)
            deadline = time.monotonic() + 20
            while ready not in err_path.read_text():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start: {err_path.read_text()}")
                time.sleep(0.05)
            time.sleep(0.5)
            cpu0 = cpu_seconds(proc.pid)
            senders = [subprocess.Popen(
                ["ip", "netns", "exec", self.snd, sys.executable, "-c", SENDER, "va",
                 str(rate / self.senders), str(duration), str(REPO), self.shape],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                for _ in range(self.senders)]
            for s in senders:
                assert s.stdout is not None and s.stdout.readline().strip() == "ready"
            t0 = time.monotonic()
            for s in senders:
                assert s.stdin is not None
                s.stdin.write("go\n")
                s.stdin.flush()
            sent = 0
            send_rate = 0.0
            for s in senders:
                assert s.stdout is not None
                n, r = s.stdout.readline().split()
                sent += int(n)
                send_rate += float(r)
                s.wait()
            time.sleep(1.0)  # let the consumer drain its backlog
            wall = time.monotonic() - t0
            cpu = cpu_seconds(proc.pid) - cpu0
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=120)
        result = self._parse(name, rate, sent, send_rate, out_path.read_text(),
                             err_path.read_text(), cpu, wall)
        result.share = share
        return result

    def label(self, name: str) -> str:
        """The tool column: srinspect's command when it is not the default flows."""
        return f"srinspect {self.command}" if name == "srinspect" and \
            self.command != "flows" else name

    def _parse(self, name: str, rate: int, sent: int, send_rate: float, out: str, err: str,
               cpu: float, wall: float) -> Result:
        received = dropped = counted = findings = verified = None
        m = re.search(r"Packets received/dropped on interface '[^']+': (\d+)/(\d+)", err)
        if m:
            received, dropped = int(m[1]), int(m[2])
        if name == "srinspect":
            if self.command == "watch":  # JSON lines; the last stats event is the final one
                events = [json.loads(line) for line in out.splitlines() if line.strip()]
                final = next(e for e in reversed(events) if e.get("event") == "stats")
                counted = final["srv6_packets"]
                drops = final.get("drops") or []
                findings = sum(1 for e in events if e.get("event") == "finding")
            else:
                report = json.loads(out)
                counted = report["capture"]["srv6_packets"]
                drops = report["capture"]["drops"] or []
                findings = sum(sum(f["findings"].values()) for f in report["flows"])
                verified = sum((f.get("hmac") or {}).get("verified", 0)
                               for f in report["flows"])
            if drops:
                received = sum(d["received"] or 0 for d in drops)
                dropped = sum(d["dropped"] or 0 for d in drops)
        elif name == "tshark":
            m = re.search(r"(\d+) packets? captured", err)
            counted = int(m[1]) if m else None
            m = re.search(r"(\d+) packets? dropped", err)
            dropped = int(m[1]) if m else (dropped if dropped is not None else 0)
        else:
            m = re.search(r"Packets captured: (\d+)", err)
            counted = int(m[1]) if m else None
        return Result(self.label(name), rate, sent, send_rate, counted, received, dropped, cpu,
                      wall, findings=findings, hmac_verified=verified)


def machine() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text()
                .splitlines() if ln.startswith("model name")), platform.processor())
    dumpcap = sh("dumpcap", "--version").splitlines()[0].rstrip(".")
    tshark = sh("tshark", "--version").splitlines()[0].rstrip(".")
    return (f"{datetime.date.today().isoformat()}, Linux {platform.release()}, {os.cpu_count()} "
            f"CPUs ({cpu}), Python {platform.python_version()}, {dumpcap}, {tshark}")


def table(results: list[Result]) -> str:
    head = ("| tool | target pkt/s | sent pkt/s | sent | counted | engine received | "
            "engine dropped | lost % | tool CPU % | idle-core share |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = [head]
    def num(value: int | None) -> str:
        return "?" if value is None else f"{value:,}"

    for r in results:
        rows.append(
            f"| {r.tool} | {r.target:,} | {r.send_rate:,.0f} | {r.sent:,} | {num(r.counted)} | "
            f"{num(r.received)} | {num(r.dropped)} | {max(r.loss, 0.0):.1f} | "
            f"{100 * r.cpu / r.wall:.0f} | {r.share:.2f} |")
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", default="50000,100000,150000,200000",
                    help="comma-separated target rates in packets/s")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of traffic per run")
    ap.add_argument("--senders", type=int, default=1, help="sender processes")
    ap.add_argument("--tools", default="srinspect,tshark,dumpcap")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="plain",
                    help="frames to send (default plain; ingress-padding-hmac also gives "
                         "srinspect --keys for their HMACs)")
    ap.add_argument("--command", choices=sorted(COMMANDS), default="flows",
                    help="srinspect command following the link (default flows: flows -i; "
                         "watch: watch -i, the JSON-lines event stream)")
    ap.add_argument("--write", metavar="MD", help="append the results to this markdown file")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("live_rate: needs root (namespaces, AF_PACKET)", file=sys.stderr)
        return 2
    rates = [int(x) for x in args.rates.split(",")]
    tools = args.tools.split(",")
    results = []
    note = frame_note(args.shape)
    with Bench(args.senders, args.shape, args.command) as bench:
        for rate in rates:
            for tool in tools:
                r = bench.run(tool, rate, args.duration)
                results.append(r)
                checks = "" if r.findings is None else f" findings {r.findings}" + (
                    "" if r.hmac_verified is None else f" hmac verified {r.hmac_verified}")
                print(f"{r.tool:9} target {rate:>7} sent {r.send_rate:>9.0f}/s {r.sent:>9} "
                      f"counted {r.counted} engine recv {r.received} drop {r.dropped} "
                      f"lost {r.loss:.1f}% cpu {100 * r.cpu / r.wall:.0f}% "
                      f"(idle-core share before the run {r.share:.2f}){checks}", flush=True)
                if r.findings:
                    print(f"live_rate: {r.tool} reported {r.findings} findings on clean "
                          f"frames", file=sys.stderr)
    text = (f"\n### Run of {machine()}\n\n{args.duration:g} s of traffic per row, "
            f"{args.senders} sender process(es), {note}.\n\n{table(results)}\n")
    print(text)
    if args.write:
        with open(args.write, "a", encoding="utf-8") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
