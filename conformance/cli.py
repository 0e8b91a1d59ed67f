"""``srinspect conformance list|run|clean``: registered by ``srinspect.cli.main``.

Exit codes of ``run``: 0 every applicable MUST passed, 1 a MUST failed (or could not be
checked), 2 setup or usage error (not root, bad port or DUT file, nothing selected),
130 interrupted (the lab is removed first).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TextIO

from srinspect.errors import LabError
from srinspect.kernel.choice import NoKernel, Target
from srinspect.kernel.choice import targets as choose_targets
from srinspect.kernel.images import ImageError
from srinspect.rules import Profile

from . import cleanup, userload
from .case import Case, CaseResult
from .cases import CASES
from .dut.base import Dut
from .kernels import run_in_guest
from .matrix import KernelRun, render_json_matrix
from .matrix import render_text as render_matrix_text
from .model import Verdict
from .report import (
    list_json,
    progress_line,
    render_json,
    render_junit,
    render_junit_runs,
    render_list,
    render_text,
    timing,
)
from .runner import Run, Runner, select_cases
from .score import exit_status

EXIT_SETUP = 2
PROFILE_CHOICES = [str(p) for p in Profile] + ["all"]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    conf = sub.add_parser(
        "conformance", help="send crafted SRv6 packets through a device under test and score "
                            "its behaviour rule by rule",
        description="Conformance suite: each case sends tagged packets to a device under test "
                    "(the built-in Linux namespace DUT, or a real device through ports), "
                    "observes what comes back and judges it against draft-04, RFC 8754 or "
                    "RFC 8986.")
    csub = conf.add_subparsers(dest="conformance_command", metavar="ACTION")

    lst = csub.add_parser("list", help="show the case catalogue")
    lst.add_argument("--profile", choices=PROFILE_CHOICES, default="all")
    lst.add_argument("--case", action="append", default=[], metavar="GLOB")
    lst.add_argument("--format", choices=("text", "json"), default="text")
    _cases_option(lst)
    lst.set_defaults(func=cmd_list)

    run = csub.add_parser("run", help="run cases against a DUT",
                          epilog="Exit: 0 all applicable MUSTs pass, 1 a MUST fails, "
                                 "2 setup error, 130 interrupted.")
    run.add_argument("--dut", choices=("linux", "ports"), default="linux",
                     help="linux (default): a Linux kernel in network namespaces, built and "
                          "removed by the suite (needs root); ports: a device reached "
                          "through --tx/--rx, described by --dut-config, never configured")
    run.add_argument("--kernel", action="append", default=[], metavar="IMAGE",
                     help="linux DUT: the kernel to test: host, a vmlinuz path, or a release "
                          "in /boot (6.12, 6.1.0-57-amd64), booted in a virtme-ng guest "
                          "(KVM where it works, else TCG). Repeat for a matrix: one column "
                          "per kernel and the cases that differ. Default: the host when its "
                          "kernel has SRv6, else the newest image in /boot that has it "
                          "(`srinspect doctor` shows which)")
    run.add_argument("--profile", choices=PROFILE_CHOICES, default="draft-04",
                     help="rules to judge against (default draft-04; all = every profile)")
    run.add_argument("--case", action="append", default=[], metavar="GLOB",
                     help="only cases whose ID or rule matches (repeatable)")
    _cases_option(run)
    run.add_argument("--format", choices=("text", "json", "junit"), default="text")
    run.add_argument("-o", "--output", metavar="FILE", help="write the report here")
    run.add_argument("--evidence", metavar="DIR", type=Path,
                     help="write a pcapng (and JSON record) per case into DIR")
    run.add_argument("--keep", action="store_true",
                     help="linux DUT: leave the namespaces up afterwards for debugging "
                          "(remove with `srinspect conformance clean`)")
    run.add_argument("--tx", metavar="IFACE", help="ports DUT: interface to send into")
    run.add_argument("--rx", action="append", default=[], metavar="IFACE",
                     help="ports DUT: interface(s) to listen on (first = rx, second = rx2)")
    run.add_argument("--dut-config", metavar="TOML", type=Path,
                     help="ports DUT: addresses, SIDs, policies and keys of the device")
    run.add_argument("--pace", type=float, default=None, metavar="SECONDS",
                     help="pause between cases (default 0 for linux, 0.25 for ports, so a "
                          "device's ICMP rate limiter refills)")
    run.set_defaults(func=cmd_run)

    clean = csub.add_parser("clean", help="remove namespaces left by killed or --keep runs")
    clean.set_defaults(func=cmd_clean)
    conf.set_defaults(func=lambda args: (conf.print_help(), EXIT_SETUP)[1])


def _cases_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cases", action="append", default=[], metavar="DIR", type=Path,
                        help="also load the user cases (scapy) of every *.py in DIR, or of "
                             "one .py file (repeatable; see conformance/examples/)")


def catalogue(args: argparse.Namespace) -> tuple[list[Case], bool]:
    """The built-in cases plus the user cases of ``--cases``, and whether every case file
    loaded. What did not load is named (file and line) on stderr; the rest still runs."""
    if not args.cases:
        return list(CASES), True
    loaded = userload.load(args.cases, CASES)
    for err in loaded.errors:
        print(f"srinspect conformance: case file error: {err} (left out)", file=sys.stderr)
    return [*CASES, *loaded.cases], not loaded.errors


def _profiles(name: str) -> list[Profile]:
    return list(Profile) if name == "all" else [Profile(name)]


def cmd_list(args: argparse.Namespace) -> int:
    profiles = _profiles(args.profile)
    known, ok = catalogue(args)
    cases = [c for c in known if any(c in select_cases(p, args.case, known) for p in profiles)]
    sys.stdout.write(list_json(cases) if args.format == "json" else render_list(cases))
    return 0 if ok else EXIT_SETUP


def cmd_clean(args: argparse.Namespace) -> int:
    if not _is_root():
        print("srinspect conformance: clean needs root", file=sys.stderr)
        return EXIT_SETUP
    removed = cleanup.sweep_leftovers(include_kept=True)
    print(f"removed {len(removed)} namespaces" + (": " + " ".join(removed) if removed else ""))
    return 0


def _is_root() -> bool:
    return os.geteuid() == 0


def make_dut(args: argparse.Namespace, log: TextIO) -> Dut:
    def say(msg: str) -> None:
        print(f"srinspect conformance: {msg}", file=log)

    if args.dut == "linux":
        from .dut.linux import LinuxDut

        return LinuxDut(keep=args.keep, log=say)
    from .dut.ports import PortsDut

    if not args.tx or not args.rx or not args.dut_config:
        raise LabError("--dut ports needs --tx IFACE, at least one --rx IFACE and "
                       "--dut-config FILE.toml")
    return PortsDut(args.tx, args.rx, args.dut_config, log=say)


def cmd_run(args: argparse.Namespace) -> int:
    known, loaded_all = catalogue(args)
    args.catalogue = known
    plan = [(p, select_cases(p, args.case, known)) for p in _profiles(args.profile)]
    plan = [(p, cases) for p, cases in plan if cases]
    if not plan:
        print(f"srinspect conformance: no case matches {args.case} under {args.profile}",
              file=sys.stderr)
        return EXIT_SETUP
    live = sys.stdout if args.format == "text" and not args.output else sys.stderr
    try:
        where = _targets(args)
    except NoKernel as exc:
        return _nothing_to_test(args, plan, str(exc))
    except (ImageError, LabError) as exc:
        print(f"srinspect conformance: setup error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    runs: list[KernelRun] = []
    failed = False
    for target in where:
        evidence = args.evidence
        if evidence is not None and len(where) > 1:
            evidence = evidence / target.label
        try:
            run = _run_on(args, plan, target, evidence, live)
        except LabError as exc:
            on = f" ({target.describe()})" if target else ""
            print(f"srinspect conformance: setup error{on}: {exc}", file=sys.stderr)
            failed = True
            continue
        if evidence is not None:
            evidence.mkdir(parents=True, exist_ok=True)
            (evidence / "dut.json").write_text(json.dumps(run.dut, indent=2) + "\n",
                                               encoding="utf-8")
        runs.append(KernelRun(target.label if target else args.dut, run))
    if not runs:
        return EXIT_SETUP
    _write_report(args, runs, live)
    status = max(exit_status(kr.run.results) for kr in runs)
    return EXIT_SETUP if failed or not loaded_all else status


def _targets(args: argparse.Namespace) -> list[Target | None]:
    """Kernels to test (linux DUT), or [None] for a device reached through ports."""
    if args.dut != "linux":
        if args.kernel:
            raise LabError("--kernel chooses the kernel of the linux DUT; a --dut ports "
                           "device runs its own software")
        return [None]
    if not _is_root():
        raise LabError("the linux DUT needs root: it builds network namespaces (and boots "
                       "guests) and opens raw sockets (run as root, or test a device with "
                       "--dut ports)")
    return list(choose_targets(args.kernel))


def _guest_options(args: argparse.Namespace) -> list[str]:
    opts = ["--profile", args.profile]
    for path in args.cases:  # the guest sees the host's files read-only, at the same paths
        opts += ["--cases", str(Path(path).resolve())]
    for pattern in args.case:
        opts += ["--case", pattern]
    if args.pace is not None:
        opts += ["--pace", str(args.pace)]
    return opts


def _run_on(args: argparse.Namespace, plan: list[tuple[Profile, list[Case]]],
            target: Target | None, evidence: Path | None, live: TextIO) -> Run:
    """One complete run: in this process (host kernel, ports) or in a guest."""
    def say(msg: str) -> None:
        print(f"srinspect conformance: {msg}", file=sys.stderr, flush=True)

    total = sum(len(c) for _, c in plan)
    if target is not None and not target.is_host:
        if args.keep:
            say("--keep has no effect in a guest: the guest and its namespaces go with it")
        print(f"srinspect conformance: {total} case runs, profile {args.profile}, DUT linux "
              f"in {target.describe()}", file=live, flush=True)
        return run_in_guest(target, _guest_options(args), evidence=evidence, live=live,
                            log=say, cases=args.catalogue)
    started = time.monotonic()
    dut = make_dut(args, sys.stderr)
    on = f" on {target.describe()}" if target is not None else ""
    print(f"srinspect conformance: {total} case runs, profile {args.profile}, "
          f"DUT {args.dut}{on}", file=live, flush=True)
    dut.open()
    pace = args.pace if args.pace is not None else (0.0 if args.dut == "linux" else 0.25)

    def progress(result: CaseResult, done: int, total: int) -> None:
        print(progress_line(result, done, total), file=live, flush=True)

    try:
        run = Runner(dut, evidence=evidence, progress=progress, pace=pace).run(plan)
    finally:
        dut.close()
    run.total = time.monotonic() - started
    return run


def _write_report(args: argparse.Namespace, runs: list[KernelRun], live: TextIO) -> None:
    if len(runs) == 1:
        render = {"text": render_text, "json": render_json, "junit": render_junit}[args.format]
        text = render(runs[0].run)
    else:
        text = {"text": render_matrix_text, "json": render_json_matrix,
                "junit": lambda rs: render_junit_runs([(kr.label, kr.run) for kr in rs])
                }[args.format](runs)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if live is sys.stderr or args.output:
        for kr in runs:
            print(f"srinspect conformance: {kr.label}: {timing(kr.run)}", file=sys.stderr)
    if args.evidence:
        print(f"srinspect conformance: evidence in {args.evidence}", file=sys.stderr)


def _nothing_to_test(args: argparse.Namespace, plan: list[tuple[Profile, list[Case]]],
                     reason: str) -> int:
    """No kernel with SRv6 here: every case is SKIP with the reason, and the exit status
    says that nothing was tested (2)."""
    run = Run({"adapter": "linux", "kernel": None, "unavailable": reason},
              [p for p, _ in plan])
    for profile, cases in plan:
        run.results += [CaseResult(c, profile, Verdict.SKIP, detail=reason) for c in cases]
    _write_report(args, [KernelRun("none", run)], sys.stderr)
    print(f"srinspect conformance: nothing tested: {reason}", file=sys.stderr)
    return EXIT_SETUP
