"""``srinspect decode`` (the detail tree or JSON lines of each SRv6 packet, or Wireshark's
own with --full) and ``srinspect rules`` (the rule catalogue)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys

from ..audit.sequential import Auditor
from ..dissect import packet_dict, packet_tree, render_tree
from ..errors import CaptureFormatError
from ..inspector import Inspector, PacketResult
from ..rules import RULES, Profile, Severity
from ..sinks import wireshark
from ..sources import CaptureReader, open_capture
from .audit import warn_files
from .options import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    OutputClosed,
    add_locator_options,
    add_profile_and_keys,
    load_csid,
    load_keys,
    load_locators,
)


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
    warn_files(report)
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


def register_decode(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The ``decode`` and ``rules`` subcommands."""
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
