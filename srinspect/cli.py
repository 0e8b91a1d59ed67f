"""Command-line interface. Exit codes (documented in the README):

0  success, no finding of error severity
1  findings of error severity (audit), or a conformance MUST failed
2  usage error, unreadable or damaged input, bad key, setup error
130 interrupted (Ctrl-C)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import BinaryIO, TextIO

from . import __version__, skim, wireshark
from .audit import Auditor, AuditReport
from .csid import CsidFormats, build_formats, parse_format
from .dissect import packet_dict, packet_tree, render_tree
from .errors import CaptureFormatError, KeyFileError
from .inspector import Inspector, PacketResult
from .keys import Keyring, build_keyring
from .locators import ConfigError, Locators, build_locators, locator_arg
from .parallel import audit_parallel, worth_parallel
from .progress import AuditProgress
from .progress import wanted as progress_wanted
from .rules import RULES, Profile, Severity
from .sinks.annotate import Annotator
from .sinks.audit_json import iter_json, iter_jsonl_lines
from .sinks.audit_text import iter_text
from .sinks.csv_report import iter_csv
from .sinks.junit import render_junit
from .sources import CaptureReader, open_capture

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class OutputClosed(Exception):  # noqa: N818 - a condition, not a failure
    """The reader of stdout went away (``| head``). Raised from a per-packet hook so the
    audit loop does not take it for an unreadable input (BrokenPipeError is an OSError)."""


def _profile(text: str) -> Profile:
    try:
        return Profile(text)
    except ValueError:
        raise argparse.ArgumentTypeError("profile must be draft-04 or rfc8754") from None


def add_profile_and_keys(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", type=_profile, default=Profile.DRAFT04,
                   help="specification to check against: draft-04 (default, what Linux "
                        "implements) or rfc8754")
    p.add_argument("--key", action="append", default=[], metavar="ID:ALGO:SECRET",
                   help="HMAC key for key id ID, algo sha1 or sha256; SECRET may be "
                        "hex:0011... for binary keys (repeatable; never printed)")
    p.add_argument("--keys", action="append", default=[], metavar="FILE",
                   help="TOML key file of [[key]] tables with id, algo, secret (repeatable)")


def add_locator_options(p: argparse.ArgumentParser) -> None:
    """--locator and --config: where the SIDs are, for IP-in-IPv6 packets without an SRH."""
    p.add_argument("--locator", action="append", default=[], type=locator_arg,
                   metavar="PREFIX",
                   help="an SRv6 locator (repeatable): an IP-in-IPv6 packet without an SRH is "
                        "SRv6 (reduced encapsulation) only when its destination is in one; "
                        "otherwise it is an ordinary IP-in-IPv6 tunnel")
    p.add_argument("--config", action="append", default=[], metavar="FILE",
                   help="TOML config file; [srv6] locators = [\"PREFIX\", ...] adds locators, "
                        "csid = [\"FORMAT\", ...] C-SID formats (repeatable)")
    p.add_argument("--csid", action="append", default=[],  # parsed by load_csid: one line
                   metavar="[PREFIX/]B/C",
                   help="RFC 9800 NEXT-C-SID format: Locator-Block B bits, C-SID C bits, for "
                        "the block PREFIX/B (e.g. 2001:db8::/32/16) or every address (32/16); "
                        "repeatable. Shows C-SIDs and runs the csid.* rules")


def load_csid(args: argparse.Namespace) -> CsidFormats:
    """The C-SID formats of --csid and every --config file (ConfigError: exit 2)."""
    cli = [parse_format(text) for text in getattr(args, "csid", [])]
    return build_formats(cli, _config_texts(args))


def load_locators(args: argparse.Namespace) -> Locators:
    """The locators of --locator and every --config file (ConfigError: exit 2)."""
    return build_locators(args.locator, _config_texts(args))


def _config_texts(args: argparse.Namespace) -> list[tuple[str, str]]:
    texts = []
    for path in args.config:
        try:
            with open(path, encoding="utf-8") as fh:
                texts.append((path, fh.read()))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config {path}: {getattr(exc, 'strerror', exc)}"
                              ) from None
    return texts


#: Subcommands defined in this module. Running one of them skips importing the extension
#: modules (flows, monitor, conformance, lab), which would add ~0.1 s to every audit.
CORE_COMMANDS = frozenset({"audit", "decode", "rules"})


def build_parser(extensions: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="srinspect",
        description="Inspect and audit IPv6 Segment Routing (SRv6) traffic against "
                    "draft-ietf-6man-segment-routing-header-04 and RFC 8754.",
        epilog="Exit codes: 0 ok, 1 error-severity findings, 2 usage/input error, "
               "130 interrupted.")
    parser.add_argument("--version", action="version",
                        version=f"srinspect {__version__}, audit engine: {skim.describe()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

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

    dec = sub.add_parser(
        "decode", help="show each SRH packet as a detail tree (or JSON lines)",
        description="Wireshark-style detail of every SRv6 packet: every SRH field, flag "
                    "names, each TLV, HMAC status, and findings under the field they concern.")
    dec.add_argument("pcap", metavar="PCAP")
    dec.add_argument("--frame", type=int, metavar="N", help="only frame N (1-based)")
    dec.add_argument("--format", choices=("text", "jsonl"), default="text")
    dec.add_argument("--full", action="store_true",
                     help="Wireshark's full dissection of each SRv6 packet (tshark through "
                          "pyshark): every layer and field with its byte position")
    add_profile_and_keys(dec)
    add_locator_options(dec)
    dec.set_defaults(func=cmd_decode)

    rules = sub.add_parser("rules", help="list the packet rules (IDs are a stable contract)")
    rules.add_argument("--format", choices=("text", "json"), default="text")
    rules.set_defaults(func=cmd_rules)
    if extensions:
        _register_extensions(sub)
    return parser


def _register_extensions(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Subcommands that live in other modules register themselves here."""
    for module in ("srinspect.cli_flows", "srinspect.cli_monitor", "conformance.cli",
                   "srinspect.lab.cli", "srinspect.kernel.cli"):
        try:
            mod = __import__(module, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name and module.startswith(exc.name):
                continue
            raise
        mod.register(sub)


def load_keys(args: argparse.Namespace) -> Keyring:
    ring = build_keyring(args.key, args.keys)
    for warning in ring.warnings:
        print(f"srinspect: warning: {warning}", file=sys.stderr)
    return ring


def _open_out(path: str | None) -> TextIO:
    return open(path, "w", encoding="utf-8") if path else sys.stdout  # noqa: SIM115


CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz", ".cap.gz")


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


def _warn_files(report: AuditReport) -> None:
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
            out = _open_out(args.output)
            if out is not sys.stdout:
                stack.callback(out.close)
            annotate = stack.enter_context(open(args.annotate, "wb")) if args.annotate else None
        except OSError as exc:
            print(f"srinspect: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
            return EXIT_USAGE
        report = _run_audit(args, keyring, inputs, annotate, csid, load_locators(args))
        for chunk in _render(report, args.format, args.fail_on):
            out.write(chunk)
    _warn_files(report)
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
        from .distributed import cli_audit  # Dask is optional: imported only when asked for

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


def interface_name(reader: CaptureReader | None, index: int) -> str | None:
    """The pcapng name (if_name) of interface ``index`` of the capture being read."""
    interfaces = getattr(reader, "interfaces", ())  # any reader a subclass opens (URLs)
    return interfaces[index].name if 0 <= index < len(interfaces) else None


def cmd_decode(args: argparse.Namespace) -> int:
    keyring = load_keys(args)
    shown = 0
    shown_error = False  # the exit status reflects the frames shown, not the whole file

    def show(file: str, result: PacketResult) -> None:
        nonlocal shown, shown_error
        if args.frame is not None and result.frame.number != args.frame:
            return
        shown += 1
        shown_error = shown_error or any(f.severity is Severity.ERROR for f in result.findings)
        name = interface_name(auditor.reader, result.frame.interface)
        if args.full:
            text = _full_text(file, result, args.format, failed)
        elif args.format == "jsonl":
            text = json.dumps(packet_dict(result, file, args.profile, name, csid)) + "\n"
        else:
            text = render_tree(packet_tree(result, args.profile, name, csid)) + "\n\n"
        try:
            sys.stdout.write(text)
        except BrokenPipeError:
            raise OutputClosed from None

    csid = load_csid(args)
    if args.frame is not None and args.frame < 1:
        print("srinspect: --frame counts from 1", file=sys.stderr)
        return EXIT_USAGE
    failed: list[str] = []  # frames --full could not dissect (said on stderr)
    if args.full and shutil.which("tshark") is None:
        print(f"srinspect: {wireshark.TSHARK_MISSING}", file=sys.stderr)
        return EXIT_USAGE
    auditor = Auditor(args.profile, keyring, on_packet=show, csid=csid)
    auditor.inspector.locators = load_locators(args)
    report = auditor.audit_files([args.pcap])
    _warn_files(report)
    if args.frame is not None and not shown and not report.input_problem:
        tunnel = _is_tunnel(args.pcap, args.frame, auditor.inspector)
        why = _no_frame(args.frame, report.packets, args.pcap, tunnel)
        print(f"srinspect: {why}", file=sys.stderr)
        return EXIT_USAGE
    if report.input_problem or failed:
        return EXIT_USAGE
    return EXIT_FINDINGS if shown_error else EXIT_OK


def _full_text(file: str, result: PacketResult, fmt: str, failed: list[str]) -> str:
    """``decode --full``: Wireshark's tree of one frame as indented text or a JSON line. A
    frame tshark cannot dissect (time limit, tshark error) is named in one line on stderr,
    the others still print, and the exit status says so (2)."""
    number = result.frame.number
    try:
        root = wireshark.full_dissection(result.frame)
    except wireshark.DissectError as exc:
        failed.append(str(exc))
        print(f"srinspect: frame {number}: {exc}", file=sys.stderr)
        return ""
    if fmt == "jsonl":
        layers = wireshark.node_dict(root).get("children", [])
        return json.dumps({"file": file, "frame": number, "layers": layers}) + "\n"
    lines = [line for layer in root.children for line in wireshark.render_lines(layer)]
    return "\n".join(lines) + "\n\n"


def _is_tunnel(path: str, number: int, like: Inspector) -> bool:
    """Whether frame ``number`` of ``path`` is an IP-in-IPv6 tunnel without SRH (read again
    on its own: the audit's counter covers the whole file). Unknown for stdin: False."""
    if path == "-":
        return False
    insp = Inspector(like.profile, None, like.locators, like.csid)
    try:
        with open_capture(path) as reader:
            for frame in reader:
                if frame.number == number:
                    insp.feed(frame)
                    return insp.tunnel_packets > 0
    except (CaptureFormatError, OSError):
        pass
    return False


def _no_frame(number: int, frames: int, path: str, tunnel: bool) -> str:
    """Why ``decode --frame N`` showed nothing: past the end, an IP-in-IPv6 tunnel, or not
    SRv6 at all."""
    if number > frames:
        return f"frame {number} does not exist: {path} has {frames} frames"
    if tunnel:
        return (f"frame {number} is not an SRv6 packet in {path}: IP-in-IPv6 without an SRH "
                "whose destination is in no --locator (an ordinary tunnel)")
    return (f"frame {number} is not an SRv6 packet in {path} (no SRH, and no encapsulated "
            "packet behind a SID): nothing to decode")


def cmd_rules(args: argparse.Namespace) -> int:
    if args.format == "json":
        data = [{"id": r.id, "severity": r.severity.label,
                 "profiles": sorted(str(p) for p in r.profiles),
                 "refs": {str(k): v for k, v in r.refs.items()}, "summary": r.summary}
                for r in RULES.values()]
        print(json.dumps(data, indent=2))
        return EXIT_OK
    print(f"{'ID':<26} {'SEVERITY':<8} {'PROFILES':<17} {'REFERENCE':<34} EXPLANATION")
    for r in RULES.values():
        profiles = ",".join(sorted(str(p) for p in r.profiles))
        refs = " | ".join(r.refs.values()) if len(set(r.refs.values())) > 1 else r.ref(
            Profile.DRAFT04)
        print(f"{r.id:<26} {r.severity.label:<8} {profiles:<17} {refs:<34} {r.summary}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(extensions=command not in CORE_COMMANDS)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except (KeyFileError, ConfigError) as exc:
        print(f"srinspect: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("srinspect: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (BrokenPipeError, OutputClosed):
        _quiet_stdout()  # reader went away (| head): stop quietly, as Unix filters do
        return EXIT_OK
    except OSError as exc:  # e.g. disk full while writing a report: a message, not a trace
        where = f" {exc.filename}" if exc.filename else ""
        print(f"srinspect: I/O error{where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush into the closed pipe
    does not print "Exception ignored ... BrokenPipeError" on the way out."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
