"""What distribution on Dask costs: ``--scheduler`` with 1 and 2 workers vs ``--workers``.

All modes audit the same generated mixed captures (benchmarks/make_mixed.py: several files
of kernel-made SRv6 with and without HMAC, plain IPv6, IPv4), with the sample HMAC keys, and
must produce byte-identical JSON reports (checked; a mismatch aborts the benchmark).

Modes, each timed in this process (best of ``--repeat``):

- ``workers 1``: the single-process Auditor (``--workers 1``);
- ``workers 2``: the process pool (``--workers 2``, parallel.py), pool start-up included;
- ``dask 1`` / ``dask 2``: ``audit_distributed`` on a warm LocalCluster of 1 / 2 worker
  processes (one thread each), as a long-lived cluster would be used;
- ``cli local:N``: ``srinspect audit --scheduler local:N`` end to end, cluster start-up
  and interpreter included, next to ``srinspect audit --workers N`` the same way.

The overhead columns compare each Dask mode with ``--workers`` at the same worker count, in
wall time (what a user waits) and in CPU seconds summed over every process involved (what
the distribution costs; unlike wall time it hardly moves when other jobs share the machine).
Not a test: nothing here asserts a time.

    python benchmarks/bench_distributed.py --files 4 --packets 500000
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from distributed import Client, LocalCluster  # noqa: E402
from make_mixed import write as make_mixed  # noqa: E402

from srinspect.audit.distributed import audit_distributed, worker_version  # noqa: E402
from srinspect.audit.pool import audit_parallel  # noqa: E402
from srinspect.audit.sequential import Auditor  # noqa: E402
from srinspect.keys import build_keyring  # noqa: E402
from srinspect.rules import Profile  # noqa: E402
from srinspect.sinks.audit_json import render_json  # noqa: E402

KEYS = REPO / "pcaps" / "kernel-hmac-keys.toml"


def cpu_seconds(client: Client | None = None) -> float:
    """CPU time of this process, its reaped children (pools, CLI runs and their clusters)
    and, given a client, the live workers of a LocalCluster."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    if client is not None:
        total += sum(client.run(time.process_time).values())
    return total


def best(fn: Callable[[], str], repeat: int,
         client: Client | None = None) -> tuple[float, float, str]:
    """The fastest of ``repeat`` runs (the machine may be shared): wall seconds, CPU seconds
    across all processes, and the report it made."""
    runs = []
    for _ in range(repeat):
        cpu0, start = cpu_seconds(client), time.perf_counter()
        out = fn()
        wall = time.perf_counter() - start
        runs.append((wall, cpu_seconds(client) - cpu0, out))
    return min(runs, key=lambda r: r[0])


def cli(args: list[str], out: Path) -> str:
    subprocess.run([sys.executable, "-m", "srinspect", "audit", "--keys", str(KEYS),
                    "--format", "json", "-o", str(out), "--fail-on", "never", "--no-progress",
                    *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out.read_text()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=4, help="generated files (default 4)")
    ap.add_argument("--packets", type=int, default=500_000, help="packets per file")
    ap.add_argument("--repeat", type=int, default=3, help="runs per mode; the best counts")
    ap.add_argument("--dir", type=Path, help="keep the generated files here")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="srinspect-bench-")
    folder = args.dir or Path(tmp.name)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(args.files):
        path = folder / f"mixed-{i}.pcap"
        if not path.exists() or path.stat().st_size < args.packets * 100:
            make_mixed(path, args.packets)
        paths.append(str(path))
    total_bytes = sum(os.path.getsize(p) for p in paths)
    keys = build_keyring([], [str(KEYS)])
    prof = Profile.DRAFT04

    rows: list[tuple[str, int, float, float]] = []  # (mode, workers, wall s, CPU s)
    reports: dict[str, str] = {}

    def measure(name: str, workers: int, fn: Callable[[], str],
                client: Client | None = None) -> None:
        seconds, cpu, report = best(fn, args.repeat, client)
        rows.append((name, workers, seconds, cpu))
        reports[name] = report
        print(f"  {name:<18} {seconds:7.2f} s  {cpu:7.2f} CPU s", file=sys.stderr)

    print(f"{args.files} files, {args.packets * args.files:,} packets, "
          f"{total_bytes / 1e6:,.0f} MB; best of {args.repeat}", file=sys.stderr)
    measure("workers 1", 1,
            lambda: render_json(Auditor(prof, keys).audit_files(paths)))
    measure("workers 2", 2,
            lambda: render_json(audit_parallel(paths, 2, prof, keys)))
    for n in (1, 2):
        start = time.perf_counter()
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                          dashboard_address=":0", silence_logs=logging.ERROR) as cluster, \
                Client(cluster) as client:
            client.run(worker_version)  # workers import srinspect, as the CLI's check does
            startup = time.perf_counter() - start
            print(f"  (LocalCluster of {n}: {startup:.2f} s to start)", file=sys.stderr)
            measure(f"dask {n}", n,
                    lambda c=client: render_json(audit_distributed(c, paths, prof, keys)),
                    client)
    for n in (1, 2):
        out = folder / "cli.json"
        measure(f"cli --workers {n}", n, lambda n=n, o=out: cli(["--workers", str(n), *paths], o))
        measure(f"cli local:{n}", n,
                lambda n=n, o=out: cli(["--scheduler", f"local:{n}", *paths], o))

    first = reports["workers 1"]
    wrong = [name for name, rep in reports.items() if rep != first]
    if wrong:
        print(f"REPORTS DIFFER from workers 1: {wrong}", file=sys.stderr)
        return 1

    packets = args.packets * args.files
    base = {name: s for name, _, s, _ in rows}
    base_cpu = {name: c for name, _, _, c in rows}
    ref = {"dask 1": "workers 1", "dask 2": "workers 2", "cli local:1": "cli --workers 1",
           "cli local:2": "cli --workers 2"}
    load = os.getloadavg()
    head = (f"{date.today()}, {platform.node()}, {os.cpu_count()} cores, "
            f"{platform.python_implementation()} {platform.python_version()}, "
            f"load before {load[0]:.2f}; {args.files} files, {packets:,} packets, "
            f"{total_bytes / 1e6:,.0f} MB; best of {args.repeat}; reports identical")
    print(head)
    if args.markdown:
        print("\n| mode | workers | wall s | packets/s | vs 1 worker | overhead (wall) "
              "| CPU s, all processes | overhead (CPU) |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, workers, s, cpu in rows:
        speedup = base.get(name.replace("2", "1"), s) / s
        over = f"{s / base[ref[name]] - 1:+.0%}" if name in ref else ""
        over_cpu = f"{cpu / base_cpu[ref[name]] - 1:+.0%}" if name in ref else ""
        if args.markdown:
            print(f"| {name} | {workers} | {s:.2f} | {packets / s:,.0f} | {speedup:.2f}x | "
                  f"{over} | {cpu:.2f} | {over_cpu} |")
        else:
            print(f"{name:<18} {workers:>2} {s:7.2f} s {packets / s:>12,.0f} pkt/s "
                  f"{speedup:5.2f}x {over:>6} {cpu:7.2f} CPU s {over_cpu:>6}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
