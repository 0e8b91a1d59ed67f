"""Side-by-side audit speed: srinspect (1 and N workers) vs tshark, scapy, dpkt, pyshark.

All tools read the same generated mixed capture (benchmarks/make_mixed.py). The slow tools
read a slice of it and their rate is scaled (noted in the table). Prints a table of packets/s
and srinspect's ratio over each tool; ``--markdown`` prints it as a Markdown table for
benchmarks/README.md. Not a test: nothing here asserts a time.

    python benchmarks/bench_audit.py --packets 1000000 --workers 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from itertools import cycle, islice
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from make_mixed import SRH_ONLY  # noqa: E402
from make_mixed import write as make_mixed  # noqa: E402

from srinspect.sinks.pcapng_writer import write_pcap  # noqa: E402
from srinspect.sources import open_capture  # noqa: E402

SRINSPECT = [sys.executable, "-m", "srinspect"]


def timed(fn: Callable[[], int], repeat: int = 1) -> tuple[int, float]:
    """Best of ``repeat`` runs (the file is in the page cache after the first)."""
    best = float("inf")
    n = 0
    for _ in range(repeat):
        start = time.perf_counter()
        n = fn()
        best = min(best, time.perf_counter() - start)
    return n, best


def run_cmd(cmd: list[str], env: dict[str, str] | None = None) -> None:
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=None if env is None else {**os.environ, **env})


def slice_of(src: Path, count: int, out: Path) -> Path:
    with open_capture(src) as reader:
        write_pcap(out, islice(reader, count), 1)
    return out


def srinspect_audit(path: Path, workers: int, extra: list[str] | None = None,
                    pure: bool = False, env: dict[str, str] | None = None) -> Callable[[], int]:
    """A whole CLI run (start-up, audit, JSON report to /dev/null). ``pure``: without the
    compiled pre-filter (SRINSPECT_PURE=1), to show what it is worth. ``env``: more
    environment variables for the run (e.g. SRINSPECT_VERDICT_CACHE=0), so that one file can
    be timed with a feature on and off."""
    frames = count_frames(path)  # counted before timing: only the audit is timed
    run_env = {**({"SRINSPECT_PURE": "1"} if pure else {}), **(env or {})}

    def go() -> int:
        run_cmd([*SRINSPECT, "audit", "--workers", str(workers), "--format", "json",
                 "-o", os.devnull, "--fail-on", "never", *(extra or []), str(path)],
                env=run_env or None)
        return frames
    return go


_COUNTS: dict[Path, int] = {}


def count_frames(path: Path) -> int:
    if path not in _COUNTS:
        with open_capture(path) as reader:
            _COUNTS[path] = sum(1 for _ in reader)
    return _COUNTS[path]


def tshark(path: Path) -> Callable[[], int]:
    count_frames(path)

    def go() -> int:
        run_cmd(["tshark", "-n", "-r", str(path), "-Y", "ipv6.routing.type == 4", "-T", "fields",
                 "-e", "frame.number", "-e", "ipv6.routing.segleft"])
        return count_frames(path)
    return go


def scapy_reader(path: Path) -> Callable[[], int]:
    def go() -> int:
        from scapy.layers.inet6 import IPv6ExtHdrSegmentRouting
        from scapy.utils import PcapReader
        n = 0
        with PcapReader(str(path)) as reader:
            for pkt in reader:
                _ = IPv6ExtHdrSegmentRouting in pkt
                n += 1
        return n
    return go


def dpkt_reader(path: Path) -> Callable[[], int]:
    def go() -> int:
        import dpkt
        n = 0
        with path.open("rb") as f:
            for _ts, buf in dpkt.pcap.Reader(f):
                eth = dpkt.ethernet.Ethernet(buf)
                ip = eth.data
                if isinstance(ip, dpkt.ip6.IP6):
                    _ = 43 in getattr(ip, "extension_hdrs", {})
                n += 1
        return n
    return go


def pyshark_reader(path: Path) -> Callable[[], int]:
    def go() -> int:
        import pyshark
        cap = pyshark.FileCapture(str(path), keep_packets=False)
        n = 0
        for pkt in cap:
            _ = "ipv6" in pkt and getattr(pkt.ipv6, "routing_type", None)
            n += 1
        cap.close()
        return n
    return go


def faulty_capture(out: Path, packets: int) -> Path:
    """Every packet needs the full decoder and validator: the crafted frames of
    pcaps/crafted-draft04.pcapng (one per rule, most with findings) replicated. The worst
    case, next to the realistic mix."""
    if not out.exists():
        frames = list(open_capture(REPO / "pcaps" / "crafted-draft04.pcapng"))
        write_pcap(out, islice(cycle(frames), packets), frames[0].linktype)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--slice", type=int, default=20_000, help="packets for scapy/dpkt")
    ap.add_argument("--pyshark-slice", type=int, default=2_000)
    ap.add_argument("--faulty", type=int, default=100_000,
                    help="packets in the every-packet-faulty capture")
    ap.add_argument("--tshark-full", action="store_true", help="tshark on the whole file")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="best of N for srinspect runs")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/srinspect-bench"))
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    big = args.workdir / f"mixed-{args.packets}.pcap"
    if not big.exists():
        make_mixed(big, args.packets)
    small = slice_of(big, args.slice, args.workdir / "slice.pcap")
    tiny = slice_of(big, args.pyshark_slice, args.workdir / "slice-pyshark.pcap")
    tshark_in = big if args.tshark_full else slice_of(big, min(args.packets, 200_000),
                                                      args.workdir / "slice-tshark.pcap")
    srh_only = args.workdir / f"srh-only-{args.packets}.pcap"
    if not srh_only.exists():
        make_mixed(srh_only, args.packets, SRH_ONLY)
    faulty = faulty_capture(args.workdir / f"faulty-{args.faulty}.pcap", args.faulty)
    hmac_only = args.workdir / f"hmac-only-{args.faulty}.pcap"
    if not hmac_only.exists():  # every packet carries an HMAC the kernel computed
        make_mixed(hmac_only, args.faulty, {"srv6": 0, "srv6_hmac": 100, "ipv6": 0, "ipv4": 0})
    keys = ["--keys", str(REPO / "pcaps/kernel-hmac-keys.toml")]
    runs: list[tuple[str, Path, Callable[[], int]]] = [
        ("srinspect audit, 1 worker", big, srinspect_audit(big, 1)),
        (f"srinspect audit, {args.workers} workers", big, srinspect_audit(big, args.workers)),
        ("srinspect audit + HMAC keys, 1 worker", big, srinspect_audit(big, 1, keys)),
        (f"srinspect audit + HMAC keys, {args.workers} workers", big,
         srinspect_audit(big, args.workers, keys)),
        ("srinspect audit, SRH packets only, 1 worker", srh_only, srinspect_audit(srh_only, 1)),
        ("srinspect audit, 1 worker, pure Python (SRINSPECT_PURE=1)", big,
         srinspect_audit(big, 1, pure=True)),
        ("srinspect audit + HMAC keys, HMAC packets only (verification rate), 1 worker",
         hmac_only, srinspect_audit(hmac_only, 1, keys)),
        ("srinspect audit, every packet faulty (full validator), 1 worker", faulty,
         srinspect_audit(faulty, 1, ["--keys", str(REPO / "pcaps/crafted-keys.toml")])),
    ]
    if shutil.which("tshark"):
        runs.append(("tshark -Y ipv6.routing.type==4 -T fields", tshark_in, tshark(tshark_in)))
    runs.append(("scapy PcapReader + layer check", small, scapy_reader(small)))
    try:
        import dpkt  # noqa: F401
        runs.append(("dpkt pcap.Reader + Ethernet", small, dpkt_reader(small)))
    except ImportError:
        print("dpkt not installed (pip install dpkt): skipped", file=sys.stderr)
    runs.append(("pyshark FileCapture", tiny, pyshark_reader(tiny)))
    rows = []
    for name, path, fn in runs:
        n, secs = timed(fn, args.repeat if name.startswith("srinspect") else 1)
        rows.append((name, n, secs, n / secs if secs else 0.0,
                     path not in (big, srh_only, faulty, hmac_only)))
        print(f"  {name}: {n} packets in {secs:.2f} s", file=sys.stderr)
    print_table(rows, rows[0][3], rows[1][3], args.workers, args.markdown)
    return 0


def print_table(rows: list[tuple[str, int, float, float, bool]], one: float, many: float,
                workers: int, md: bool) -> None:
    """Ratios against srinspect without keys (every HMAC packet then yields a finding, the
    slower case), with 1 worker and with N."""
    if md:
        print(f"| tool | packets | seconds | packets/s | srinspect 1 worker is x faster "
              f"| srinspect {workers} workers is x faster |")
        print("|---|---:|---:|---:|---:|---:|")
    for name, n, secs, rate, sliced in rows:
        label = name + (" (slice)" if sliced else "")
        r1 = one / rate if rate else float("inf")
        rn = many / rate if rate else float("inf")
        if md:
            print(f"| {label} | {n} | {secs:.2f} | {rate:,.0f} | {r1:.1f} | {rn:.1f} |")
        else:
            print(f"{label:<60} {n:>9} {secs:>7.2f} s {rate:>11,.0f}/s  x{r1:.1f}  x{rn:.1f}")


if __name__ == "__main__":
    sys.exit(main())
