"""Per-case evidence: a pcapng of what was sent and what came back, plus a JSON record.

The pcapng has one interface per direction and port (``tx (sent)``, ``tx``, ``rx``, ``rx2``)
and a comment on every packet saying what the suite made of it, so the file opened in
Wireshark tells the case's story. The JSON record holds the same frames in hex with the
verdict: enough to re-judge the case offline (``runner.judge``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from srinspect.linklayer import LINKTYPE_ETHERNET
from srinspect.sinks.pcapng_writer import PcapngWriter

from .observe import BARRIER_SEQ, NOISE_TYPES, icmp_type, ip_of
from .packets import find_tag

if TYPE_CHECKING:  # pragma: no cover
    from .case import CaseResult
    from .link import Exchange

INTERFACES = ("tx (sent)", "tx", "rx", "rx2")


def _label(frame: bytes, nonce: bytes, case_no: int) -> str:
    ip = ip_of(frame)
    if ip is None:
        return "not IP"
    icmp = icmp_type(ip)
    if icmp is not None and icmp[1] in NOISE_TYPES:
        return "noise (neighbour discovery / MLD)"
    tag = find_tag(ip, nonce)
    if tag is None or tag[0] != case_no:
        return "untagged (not from this case)"
    if tag[1] == BARRIER_SEQ:
        return "barrier"
    if icmp is not None and icmp[1] < 128:
        return f"ICMPv6 error type {icmp[1]} for packet seq {tag[1]}"
    if icmp is not None and icmp[1] == 129:
        return f"Echo Reply for packet seq {tag[1]}"
    return f"packet seq {tag[1]}"


def write_evidence(root: Path, result: CaseResult, ex: Exchange) -> Path:
    """Write ``<root>/<profile>/<case>.pcapng`` and ``.json``; return the pcapng path."""
    folder = root / str(result.profile)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result.case.id}.pcapng"
    nonce = bytes.fromhex(result.record["nonce"])
    case_no = int(result.record["case_no"])
    roles = result.record["roles"]
    entries: list[tuple[float, int, bytes, str]] = []
    for i, (ts, frame) in enumerate(ex.sent):
        what = f"sent #{i} ({roles[i]})" if i < len(roles) else "sent barrier"
        entries.append((ts, 0, frame, what))
    for cap in ex.captured:
        iface = INTERFACES.index(cap.port) if cap.port in INTERFACES else 1
        entries.append((cap.ts, iface, cap.frame, _label(cap.frame, nonce, case_no)))
    entries.sort(key=lambda e: e[0])
    with open(path, "wb") as f:
        w = PcapngWriter(f)
        for name in INTERFACES:
            w.add_interface(LINKTYPE_ETHERNET, name=name)
        for n, (ts, iface, frame, what) in enumerate(entries):
            comments = [what]
            if n == 0:
                comments.append(f"case {result.case.id} ({result.case.rule}, "
                                f"{result.level}): {result.verdict}")
            w.write(frame, ts=ts, interface=iface, comments=comments)
    record = dict(result.to_dict(), record=result.record)
    (folder / f"{result.case.id}.json").write_text(json.dumps(record, indent=1) + "\n")
    return path
