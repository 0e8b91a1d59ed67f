"""The linux DUT on a chosen kernel: this host's, or a guest booted from an image.

A guest run is the same command run inside the guest (``conformance run --kernel host``,
JSON report into a directory shared with the host), relayed line by line while it runs and
read back into a ``Run``; the host adds what only it knows: the image, the accelerator and
the boot time. Evidence is written by the guest straight into the user's directory.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from srinspect.kernel import guest
from srinspect.kernel.choice import Target

from .case import Case
from .cases import CASES
from .report import run_from_json
from .runner import Run

# The host prints its own header, timing and case-file errors (it loaded the same files).
_OWN_LINES = re.compile(
    r"srinspect conformance: ((\S+: )?\d+ case runs|evidence in |case file error)")


def run_in_guest(target: Target, options: Sequence[str], *, evidence: Path | None,
                 live: TextIO, log: Callable[[str], None], cases: Sequence[Case] = CASES
                 ) -> Run:
    """Run ``conformance run OPTIONS`` in a guest booted from ``target.image``; ``cases`` is
    the host's catalogue (with the user cases of ``--cases``) the report is read back with."""
    assert target.image is not None
    with tempfile.TemporaryDirectory(prefix="srinspect-guest-") as shared:
        report = Path(shared) / "report.json"
        argv = [sys.executable, "-m", "srinspect", "conformance", "run", "--kernel", "host",
                "--format", "json", "-o", str(report), *options]
        rwdirs = [Path(shared)]
        if evidence is not None:
            evidence = evidence.resolve()
            argv += ["--evidence", str(evidence)]
            rwdirs.append(evidence)

        def relay(line: str) -> None:
            if not _OWN_LINES.match(line):
                print(line, file=live, flush=True)

        result = guest.run(target.image, argv, rwdirs=rwdirs, env=guest.INNER_ENV, on_line=relay,
                           log=log)
        if not report.is_file():
            raise guest.GuestError(f"the run in the guest ({target.image.release}) ended with "
                                   f"exit status {result.returncode} and wrote no report")
        run = run_from_json(json.loads(report.read_text(encoding="utf-8")), cases)
    run.dut["kernel"] = result.release
    run.dut["guest"] = result.to_dict()
    run.total = result.total_s  # the whole guest: boot, DUT setup, cases, teardown
    return run
