"""Regenerate ``data/linux-observations.json.gz``: every case run against this kernel, with
the frames sent and captured, so the verdict logic can be unit-tested without root.

    sudo .venv/bin/python -m tests.conformance.record_observations

The embedded DUT normally uses a random HMAC secret; the recording pins ``RECORD_SECRET`` (a
published test value, not a secret) so the HMAC cases can be re-judged offline.
"""

from __future__ import annotations

import gzip
import json
import platform
from pathlib import Path

from conformance.dut.linux import LinuxDut
from conformance.runner import Runner, select_cases
from srinspect.rules import Profile

RECORD_SECRET = "srinspect-recorded-observations"
DATA = Path(__file__).parent / "data" / "linux-observations.json.gz"


def main() -> None:
    dut = LinuxDut(hmac_secret=RECORD_SECRET)
    dut.open()
    try:
        run = Runner(dut).run([(p, select_cases(p)) for p in Profile])
    finally:
        dut.close()
    records = [dict(r.record, verdict=str(r.verdict), observed=r.observed)
               for r in run.results if r.record]
    doc = {"kernel": platform.release(), "records": records}
    with gzip.open(DATA, "wt", encoding="utf-8") as f:
        json.dump(doc, f, separators=(",", ":"))
    print(f"wrote {len(records)} records to {DATA}")


if __name__ == "__main__":
    main()
