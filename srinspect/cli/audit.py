"""``srinspect audit``: inputs expanded (directories, --recursive), the audit run sequentially,
on a process pool or on Dask, and the report rendered in the chosen format with the exit
status that --fail-on asks for."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

from ..audit.inputs import CAPTURE_SUFFIXES
from ..audit.pool import audit_parallel, worth_parallel
from ..audit.progress import AuditProgress
from ..audit.progress import wanted as progress_wanted
from ..audit.report import AuditReport
from ..audit.sequential import Auditor
from ..csid import CsidFormats
from ..keys import Keyring
from ..locators import Locators
from ..rules import Severity
from ..sinks.annotate import Annotator
from ..sinks.audit_json import iter_json, iter_jsonl_lines
from ..sinks.audit_text import iter_text
from ..sinks.csv_report import iter_csv
from ..sinks.junit import render_junit
from .options import (
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    add_locator_options,
    add_profile_and_keys,
    load_csid,
    load_keys,
    load_locators,
    open_out,
)


def expand_inputs(paths: Sequence[str], recursive: bool = False,
                  skipped: list[str] | None = None) -> list[str]:
    """Directories become their capture files (sorted; with ``recursive`` those of every
    subdirectory too, depth first); files stay as given. Without ``recursive``, the
    subdirectories that hold captures are appended to ``skipped`` so the user hears of
    them instead of getting a silently short audit."""
    out: list[str] = []
    for path in paths:
        p = Path(path)
        if path != "-" and p.is_dir():
            out.extend(_captures_in(p, recursive, skipped))
        else:
            out.append(path)
    return out


def _captures_in(directory: Path, recursive: bool, skipped: list[str] | None) -> list[str]:
    out: list[str] = []
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return out
    for child in entries:
        if child.is_file() and child.name.endswith(CAPTURE_SUFFIXES):
            out.append(str(child))
        elif child.is_dir() and not child.is_symlink():  # a symlink loop never recurses
            below = _captures_in(child, True, None)
            if recursive:
                out.extend(below)
            elif below and skipped is not None:
                skipped.append(str(child))
    return out


def exit_code(report: AuditReport, fail_on: str = "error") -> int:
    """2 beats 1 beats 0: a damaged input is reported even when findings exist."""
    if report.input_problem:
        return EXIT_USAGE
    worst = report.worst
    if worst is None or fail_on == "never":
        return EXIT_OK
    return EXIT_FINDINGS if worst >= Severity.parse(fail_on) else EXIT_OK


def warn_files(report: AuditReport) -> None:
    for fr in report.files:
        if fr.error:
            where = f" {fr.where}" if fr.where else ""
            extra = f"; {fr.packets} frames before it were audited" if fr.packets else ""
            print(f"srinspect: {fr.file}: {fr.error}{where}{extra}", file=sys.stderr)
        for note in fr.notes:
            print(f"srinspect: {fr.file}: {note}", file=sys.stderr)


def cmd_audit(args: argparse.Namespace) -> int:
    keyring = load_keys(args)
    skipped: list[str] = []
    inputs = expand_inputs(args.pcaps, args.recursive, skipped)
    for sub_dir in skipped:
        print(f"srinspect: note: {sub_dir} holds captures and was not audited (add "
              "--recursive)", file=sys.stderr)
    if not inputs:
        print("srinspect: no capture files found in " + " ".join(args.pcaps), file=sys.stderr)
        return EXIT_USAGE
    if args.max_findings is not None and args.max_findings < 0:
        print("srinspect: --max-findings must be >= 0", file=sys.stderr)
        return EXIT_USAGE
    csid = load_csid(args)
    if csid and args.scheduler:
        print("srinspect: --csid/[srv6] csid audits in this process; it cannot be combined "
              "with --scheduler", file=sys.stderr)
        return EXIT_USAGE
    if args.scheduler and args.annotate:
        print("srinspect: --annotate writes every frame from this process; it cannot be "
              "combined with --scheduler", file=sys.stderr)
        return EXIT_USAGE
    with contextlib.ExitStack() as stack:
        try:  # before the audit, so a typo in a path does not cost a long run
            out = open_out(args.output)
            if out is not sys.stdout:
                stack.callback(out.close)
            annotate = stack.enter_context(open(args.annotate, "wb")) if args.annotate else None
        except OSError as exc:
            print(f"srinspect: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
            return EXIT_USAGE
        report = _run_audit(args, keyring, inputs, annotate, csid, load_locators(args))
        for chunk in _render(report, args.format, args.fail_on):
            out.write(chunk)
    warn_files(report)
    if report.interrupted:
        return EXIT_INTERRUPTED  # the report above is valid and says where it stopped
    return exit_code(report, args.fail_on)


def _render(report: AuditReport, fmt: str, fail_on: str) -> Iterable[str]:
    """The report in chunks: findings stream from the store, so memory stays flat."""
    if fmt == "junit":
        return [render_junit(report, fail_on)]
    renderer = {"text": iter_text, "json": iter_json, "jsonl": iter_jsonl_lines,
                "csv": iter_csv}[fmt]
    return renderer(report)


def _input_bytes(inputs: list[str]) -> dict[str, int]:
    sizes = {}
    for path in inputs:
        try:
            sizes[path] = os.path.getsize(path) if path != "-" else 0
        except OSError:
            sizes[path] = 0
    return sizes


def _run_audit(args: argparse.Namespace, keyring: Keyring, inputs: list[str],
               annotate: BinaryIO | None = None, csid: CsidFormats | None = None,
               locators: Locators | None = None) -> AuditReport:
    """Parallel when it pays (big inputs, no per-frame sink), else in this process.
    ``annotate`` is the open ``--annotate`` file. C-SID formats and locators keep the audit
    in this process (the workers' inspectors know neither)."""
    if args.scheduler:
        from ..audit.distributed import cli_audit

        return cli_audit(args, keyring, inputs)
    sizes = _input_bytes(inputs)
    with AuditProgress(sum(sizes.values()), progress_wanted(args.progress)) as bar:
        local = bool(csid) or bool(locators)
        if annotate is None and not local and worth_parallel(inputs, args.workers):
            return audit_parallel(
                inputs, args.workers, args.profile, keyring, args.max_findings,
                on_unit=lambda u: bar.add_done((u.stop - u.start) or sizes.get(u.path, 0)))
        if annotate is None:
            auditor = Auditor(args.profile, keyring, max_findings=args.max_findings, csid=csid)
            auditor.inspector.locators = locators or Locators()
            _audit_sequential(auditor, inputs, sizes, bar)
            return auditor.report
        annotator = Annotator(annotate)
        auditor = Auditor(args.profile, keyring, max_findings=args.max_findings,
                          on_frame=annotator.write, csid=csid)
        auditor.inspector.locators = locators or Locators()
        _audit_sequential(auditor, inputs, sizes, bar, annotator.next_file)
        print(f"srinspect: wrote {args.annotate}: {annotator.frames} frames, "
              f"{annotator.comments} comments", file=sys.stderr)
        return auditor.report


def _audit_sequential(auditor: Auditor, inputs: list[str], sizes: dict[str, int],
                      bar: AuditProgress, between: Callable[[], None] | None = None) -> None:
    auditor.on_progress = bar.update if bar.enabled else None
    for path in inputs:
        if auditor.interrupted:
            break
        auditor.audit_file(path)
        bar.add_done(sizes.get(path, 0))
        if between is not None:
            between()


def register_audit(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The ``audit`` subcommand and its options."""
    audit = sub.add_parser(
        "audit", help="check every SRH in capture files against the rules",
        description="Decode every Segment Routing Header in the captures (pcap, pcapng, "
                    "gzip-compressed, or - for stdin) and check it against the packet rules "
                    "(see `srinspect rules`).")
    audit.add_argument("pcaps", nargs="+", metavar="PCAP",
                       help="capture files, directories (their *.pcap, *.pcapng, *.cap and "
                            ".gz files) or - for stdin")
    audit.add_argument("-R", "--recursive", action="store_true",
                       help="also audit the captures in subdirectories of a directory "
                            "(without it, skipped subdirectories holding captures are named)")
    add_profile_and_keys(audit)
    add_locator_options(audit)
    audit.add_argument("--fail-on", choices=("error", "warning", "never"), default="error",
                       help="lowest finding severity that makes the exit status 1 "
                            "(default: error)")
    audit.add_argument("--format", choices=("text", "json", "jsonl", "junit", "csv"),
                       default="text", help="report format (default text)")
    audit.add_argument("-o", "--output", metavar="FILE", help="write the report here "
                       "instead of stdout")
    audit.add_argument("--max-findings", type=int, metavar="N",
                       help="list at most N findings (counts stay exact)")
    audit.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N",
                       help="processes to audit with (default: all cores); large files are "
                            "split on record boundaries; the report is identical to 1 worker")
    audit.add_argument("--scheduler", metavar="ADDRESS",
                       help="audit on a Dask cluster: a scheduler address, or local[:N] for a "
                            "local cluster of N worker processes (default: cores); inputs may "
                            "be fsspec URLs (s3://...); needs srinspect[dask]")
    audit.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="progress bar on stderr (default: only on a terminal, not in CI)")
    audit.add_argument("--annotate", metavar="OUT.pcapng",
                       help="also write the input as pcapng with one packet comment per "
                            "finding (open it in Wireshark; tshark -Y frame.comment)")
    audit.set_defaults(func=cmd_audit)
