"""Conformance in a guest: boot time and the whole catalogue, per kernel image (root).

For each image (default: every image in /boot with SRv6) run
``srinspect conformance run --kernel IMAGE --profile P --format json`` and report the boot
time, the time spent running cases, and the wall time of the whole command (boot, run,
teardown, report), best of ``--repeat``. With ``--host`` the host kernel is measured too
when it has SRv6. Results go in ``benchmarks/README-guest.md``.

    python benchmarks/bench_guest.py --profile draft-04 --profile all --markdown
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from srinspect.kernel import images, tools  # noqa: E402
from srinspect.kernel.probe import host_srv6_missing  # noqa: E402


def measure(kernel: str, profile: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "srinspect", "conformance", "run",
                               "--kernel", kernel, "--profile", profile, "--format", "json",
                               "-o", str(out)], cwd=REPO, capture_output=True, text=True,
                              check=False)
        wall = time.monotonic() - t0
        if proc.returncode > 1 or not out.is_file():
            raise SystemExit(f"{kernel}: exit {proc.returncode}: {proc.stderr[-500:]}")
        doc = json.loads(out.read_text())
    guest = doc["dut"].get("guest") or {}
    return {"kernel": doc["dut"]["kernel"], "profile": profile, "cases": len(doc["cases"]),
            "boot_s": guest.get("boot_s", 0.0), "cases_s": doc["elapsed_s"], "wall_s": wall,
            "where": "guest " + guest.get("accelerator", "?").upper() if guest else "host"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kernel", action="append", default=[],
                    help="images to measure (default: every image in /boot with SRv6)")
    ap.add_argument("--profile", action="append", default=[])
    ap.add_argument("--host", action="store_true", help="measure the host kernel too")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    kernels = args.kernel or [str(i.path) for i in images.installed()
                              if i.srv6 and not i.srv6_missing()]
    if args.host and host_srv6_missing() is None:
        kernels.append("host")
    rows = []
    for kernel in kernels:
        for profile in args.profile or ["draft-04"]:
            runs = [measure(kernel, profile) for _ in range(args.repeat)]
            rows.append(min(runs, key=lambda r: float(r["wall_s"])))  # type: ignore[arg-type]
            print(json.dumps(rows[-1]), file=sys.stderr)
    accel, why = tools.accelerator()
    if args.markdown:
        print(f"Accelerator: {accel.upper()} ({why}).\n")
        print("| kernel | where | profile | case runs | boot s | cases s | whole command s |")
        print("|---|---|---|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['kernel']} | {r['where']} | {r['profile']} | {r['cases']} | "
                  f"{float(r['boot_s']):.1f} | {float(r['cases_s']):.1f} | "  # type: ignore
                  f"{float(r['wall_s']):.1f} |")  # type: ignore[arg-type]
    else:
        for r in rows:
            print(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
