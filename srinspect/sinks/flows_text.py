"""The human forms of the flow views: ``srinspect flows``' table and ``watch``'s event lines.

Both read a finished (or running) capture through ``FlowRun``, what ``cli.flows.Session``
holds, so they render the same whatever the source was; the capture summary comes from
the run's ``capture_dict``, the same data the JSON report carries.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Protocol

from ..flows.events import PROTO_NAMES, addr_text
from ..flows.linkload import LinkLoad, segment_pairs
from ..flows.packet import SrInfo
from ..flows.table import Flow, FlowTable

if TYPE_CHECKING:  # pragma: no cover
    from ..sources import Source

#: Capture events listed under the ``flows`` table (the JSON has up to the source's history).
NOTE_EVENTS = 20


class FlowRun(Protocol):
    """What the flow reports read of a run: its table and link load, its source, the
    capture times of its first and last frames, interface names, the capture summary."""

    table: FlowTable
    links: LinkLoad
    source: Source
    first_ts: float | None
    last_ts: float | None

    def name(self, index: int) -> str: ...

    def capture_dict(self, now: float) -> dict[str, object]: ...


def wall_clock(ts: float | None) -> str:
    """``HH:MM:SS.mmm`` in local time (``-`` for no time)."""
    if ts is None:
        return "-"
    return time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int(ts * 1000) % 1000:03d}"


def render_flows_text(run: FlowRun, flows: list[Flow], now: float) -> str:
    """The ``flows`` report: capture summary, one block per flow, link and pair load."""
    table = run.table
    cap = run.capture_dict(now)
    lines = []
    span = ""
    if run.first_ts is not None and run.last_ts is not None:
        span = f", {run.last_ts - run.first_ts:.3f} s of capture"
    lines.append(f"srinspect flows: {cap['source']}{' (live)' if cap['live'] else ''}{span}")
    lines.append(f"  {cap['frames']} frames, {cap['srv6_packets']} SRv6 packets, "
                 f"{len(table)} flows shown of {table.created} seen "
                 f"({table.expired} expired idle, {table.evicted} evicted at "
                 f"--max-flows {table.max_flows}), {table.path_changes} path changes")
    if cap["ip_in_ipv6_not_srv6"]:
        where = (f"in no locator ({', '.join(cap['locators'])})"  # type: ignore[arg-type]
                 if cap["locators"] else "no --locator given")
        lines.append(f"  {cap['ip_in_ipv6_not_srv6']} IP-in-IPv6 packets without an SRH "
                     f"counted as tunnels, not SRv6 (destination {where})")
    lines.extend(_drops_text(run, bool(cap["live"])))
    lines.extend(_faults_text(cap["faults"]))  # type: ignore[arg-type]
    if not flows:
        lines.append("")
        lines.append("no SRv6 flows")
    for flow in flows:
        lines.extend(_flow_text(run, flow, now))
    lines.extend(_load_text(run, now))
    return "\n".join(lines) + "\n"


def _drops_text(run: FlowRun, live: bool) -> list[str]:
    drops = run.source.drops()
    if drops:
        return ["  capture drops: " + ", ".join(
            f"{d.interface} {d.dropped if d.dropped is not None else '?'} of "
            f"{d.received if d.received is not None else '?'}" for d in drops)
            + "".join(f" ({d.detail['captures_unreported']} of {d.detail['captures']} dumpcap "
                      f"runs did not report its drops)"
                      for d in drops[:1] if d.detail.get("captures_unreported"))]
    if live:
        return ["  capture drops: not reported (dumpcap did not stop cleanly)"]
    return []


def _flow_text(run: FlowRun, flow: Flow, now: float) -> list[str]:
    info = flow.info
    pps, bps = flow.rate(now)
    dur = flow.last_seen - flow.first_seen
    avg = f", avg {_si(flow.packets / dur, 'pkt/s')}" if dur > 0 else ""
    lines = ["", f"#{flow.id} {flow_title(flow)}",
             f"   path     {addr_text(flow.key[0])} > "
             f"{_path_of(run.table, flow.segments, info)}   [{_srh_text(info)}]",
             f"   traffic  {flow.packets} pkts, {_si(flow.bytes, 'B')}; now "
             f"{_si(pps, 'pkt/s')}, {_si(bps, 'bit/s')}{avg}; "
             f"{wall_clock(flow.first_seen)} - {wall_clock(flow.last_seen)}"]
    for point in flow.points.values():
        where = run.name(point.interface)
        p_info = point.info
        sl = p_info.segments_left if p_info.segments_left is not None else "-"
        lines.append(f"   seen on  {where}: {point.packets} pkts, active "
                     f"{addr_text(p_info.active)}, SL {sl}")
    if flow.change_count:
        lines.append(f"   path changes: {flow.change_count}")
        for ch in flow.changes:
            lines.append(f"     {wall_clock(ch.ts)} on {run.name(ch.interface)}: "
                         f"{_path_text(run.table.expanded(ch.old, b'')[0])}  =>  "
                         f"{_path_text(run.table.expanded(ch.new, b'')[0])}")
    if flow.findings:
        lines.append("   findings: " + ", ".join(
            f"{rule} x{n}" for rule, n in sorted(flow.findings.items())))
    if flow.hmac:
        lines.append("   hmac: " + ", ".join(f"{s} x{n}" for s, n in flow.hmac.items()))
    return lines


def _load_text(run: FlowRun, now: float) -> list[str]:
    lines = []
    link_rates = run.links.links(now)
    if link_rates:
        lines.append("")
        lines.append("link load (all frames, link layer)")
        lines.extend(_table(("INTERFACE", "DIR", ">PACKETS", ">BYTES", ">PKT/S", ">BIT/S"), [
            (r.interface, r.direction, str(r.packets), str(r.bytes), f"{r.pps:.1f}",
             f"{r.bps:.1f}") for r in link_rates]))
    pairs = segment_pairs(run.table.paths(), now)
    if pairs:
        lines.append("")
        lines.append("segment pairs (SRv6 traffic of the flows in the table, IP layer; a "
                     "flow seen on several links counts once)")
        lines.extend(_table(("FROM", "TO", ">PACKETS", ">PKT/S", ">BIT/S", ">FLOWS"), [
            (addr_text(p.a), addr_text(p.b), str(p.packets), f"{p.pps:.1f}", f"{p.bps:.1f}",
             str(p.flows)) for p in pairs]))
    return lines


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """Columns as wide as their widest cell, so a long address never shifts the rest;
    a header starting with ``>`` is a right-aligned (numeric) column."""
    names = [h.lstrip(">") for h in header]
    right = [h.startswith(">") for h in header]
    widths = [max([len(n), *(len(r[i]) for r in rows)]) for i, n in enumerate(names)]

    def line(cells: tuple[str, ...] | list[str]) -> str:
        return "  " + " ".join(c.rjust(w) if r else c.ljust(w)
                               for c, w, r in zip(cells, widths, right, strict=True)).rstrip()

    return [line(names), *(line(r) for r in rows)]


def _si(value: float, unit: str) -> str:
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.1f} {prefix}{unit}"
    return f"{value:.1f} {unit}" if value % 1 else f"{int(value)} {unit}"


def _endpoint(addr: bytes, port: int | None, proto: int) -> str:
    text = addr_text(addr)
    if proto in (6, 17, 132, 136):
        shown = "?" if port is None else port  # cut off by the capture: unknown
        return f"[{text}]:{shown}" if ":" in text else f"{text}:{shown}"
    return text


def flow_title(flow: Flow) -> str:
    """What a flow carries, ``udp [a]:1 -> [b]:2  (encapsulated by c)``."""
    src, final, isrc, idst, proto, sport, dport = flow.key
    name = PROTO_NAMES.get(proto, f"proto {proto}" if proto >= 0 else "proto ?")
    extra = (f" type {_known(sport)} code {_known(dport)}" if proto in (1, 58) else "")
    if isrc:
        return (f"{name} {_endpoint(isrc, sport, proto)} -> {_endpoint(idst, dport, proto)}"
                f"{extra}  (encapsulated by {addr_text(src)})")
    return (f"{name} {_endpoint(src, sport, proto)} -> {_endpoint(final, dport, proto)}"
            f"{extra}  (inline SRH)")


def _known(value: int | None) -> str:
    """A field the capture may have cut off: ``?`` rather than an invented value."""
    return "?" if value is None else str(value)


def _path_text(segments: tuple[bytes, ...], active: bytes | None = None) -> str:
    return " > ".join(addr_text(s) + ("*" if s == active else "") for s in reversed(segments))


def _path_of(table: FlowTable, segments: tuple[bytes, ...], info: SrInfo) -> str:
    """The path in travel order, the active segment starred; with C-SID formats, each
    container as the SIDs it carries and the active C-SID's SID starred."""
    if not info.list_captured:
        return f"{addr_text(info.active)}* (segment list not captured)"
    return _path_text(*table.expanded(segments, info.active))


def _srh_text(info: SrInfo) -> str:
    """The SRH fields of a flow's latest packet; ``?`` for those the capture cut off."""
    if not info.has_srh:
        return "no SRH (SID in the DA)"
    flags = "?" if info.flags is None else f"0x{info.flags:02x}"
    return f"SL {_known(info.segments_left)}, flags {flags}, tag {_known(info.tag)}"


def _faults_text(faults: dict[str, object] | None) -> list[str]:
    """The note on capture interruptions under the ``flows`` header (none: no lines)."""
    if not faults or not faults["errors"]:
        return []
    events: list[dict[str, object]] = faults["events"]  # type: ignore[assignment]
    lost: list[str] = faults["lost_at_end"]  # type: ignore[assignment]
    errors = faults["errors"]
    state = (f"not capturing {', '.join(lost)} at the end" if lost
             else "capturing everything at the end")
    lines = [f"  capture interrupted: {errors} capture error{'s' if errors != 1 else ''}, "
             f"{faults['captures']} dumpcap run{'s' if faults['captures'] != 1 else ''}; "
             f"{state}; the table holds every packet captured"]
    shown = events[-NOTE_EVENTS:]
    if len(events) > len(shown):
        lines.append(f"    ({len(events) - len(shown)} earlier capture events not listed)")
    for ev in shown:
        when = wall_clock(ev["ts"])  # type: ignore[arg-type]
        if ev["event"] == "capture-error":
            lines.append(f"    {when} lost {ev['interface']}: {ev['message']}")
        else:
            lines.append(f"    {when} resumed {ev['interface']} after "
                         f"{ev['lost_for'] or 0.0:.1f} s")
    return lines


# --- watch ----------------------------------------------------------------------------------


def render_event_text(ev: dict[str, object]) -> str:
    """One ``watch`` event (its JSON form) as one line; unknown kinds as their JSON."""
    kind = ev["event"]
    ts = ev.get("ts")
    head = f"{wall_clock(ts) if isinstance(ts, float) else '-':<12} {kind:<11}"
    flow = ev.get("flow")
    fid = f"#{flow['id']}" if isinstance(flow, dict) else ""
    if kind == "flow-new" and isinstance(flow, dict):
        who = (f"{flow['inner_source']} -> {flow['inner_destination']}"
               if flow["inner_source"] else f"{flow['source']} -> {flow['final_destination']}")
        return (f"{head} {fid} {flow['protocol_name']} {who} ports {flow['source_port']}/"
                f"{flow['destination_port']} from {flow['source']} via "
                f"{' > '.join(ev['path'])} on {ev['interface']}")  # type: ignore[arg-type]
    if kind == "path-change":
        return (f"{head} {fid} {' > '.join(ev['old'])}  =>  "  # type: ignore[arg-type]
                f"{' > '.join(ev['new'])} on {ev['interface']}")  # type: ignore[arg-type]
    if kind == "finding":
        return (f"{head} {fid} {ev['severity']} {ev['rule']}: {ev['message']} "
                f"(frame {ev['frame']}, {ev['interface']})")
    if kind == "flow-end":
        return f"{head} {fid} {ev['reason']} after {ev['packets']} pkts, {ev['bytes']} B"
    if kind == "stats":
        return head + _stats_text(ev)
    if kind == "capture-error":
        return (f"{head} {ev['interface']}: {ev['message']}"
                + ("; retrying" if ev.get("retrying") else ""))
    if kind == "capture-resumed":
        lost_for = ev.get("lost_for")
        return (f"{head} {ev['interface']}: capturing again"
                + (f" after {lost_for:.1f} s" if isinstance(lost_for, float) else ""))
    if kind == "start":
        what = "capturing on" if ev.get("live") else "reading"
        bpf = f" with filter {ev['filter']!r}" if ev.get("filter") else ""
        return f"{head} {what} {ev.get('source')}{bpf}"
    return f"{head} {json.dumps(ev)}"


def _stats_text(ev: dict[str, object]) -> str:
    links = "; ".join(f"{lk['interface']} {lk['direction']} {_si(lk['pps'], 'pkt/s')} "
                      f"{_si(lk['bps'], 'bit/s')}"
                      for lk in ev.get("links", []))  # type: ignore[union-attr]
    text = (f" frames {ev['frames']}, SRv6 {ev['srv6_packets']}, flows {ev['flows']}"
            f" (evicted {ev['evicted']})" + (f" | {links}" if links else ""))
    if ev.get("final"):
        drops = ev.get("drops")
        if isinstance(drops, list):
            text += " | drops " + ", ".join(f"{d['interface']} {d['dropped']}" for d in drops)
        else:
            text += " | drops unknown"
        if ev.get("capture_errors"):
            lost = ev.get("capture_lost")
            text += (f" | {ev['capture_errors']} capture errors, "
                     + (f"lost {', '.join(lost)} at the end" if lost  # type: ignore[arg-type]
                        else "capturing at the end"))
    return text
