"""The machine form of ``srinspect flows``: one JSON document (capture, table counters,
flows, link load, segment pairs); its link and pair lists are also ``watch``'s."""

from __future__ import annotations

import json

from ..flows.events import addr_text, travel_order
from ..flows.linkload import LinkLoad, segment_pairs
from ..flows.table import Flow, FlowTable
from .flows_text import FlowRun


def links_list(links: LinkLoad, now: float) -> list[dict[str, object]]:
    return [r.to_dict() for r in links.links(now)]


def pairs_list(table: FlowTable, now: float) -> list[dict[str, object]]:
    return [p.to_dict() for p in segment_pairs(table.paths(), now)]


def _flow_dict(run: FlowRun, flow: Flow, now: float) -> dict[str, object]:
    """A flow's export; with C-SID formats also its path as the SIDs the containers carry
    (travel order) and the active C-SID's SID."""
    out = flow.to_dict(now, run.name)
    if run.table.csid and flow.info.list_captured:
        sids, active = run.table.expanded(flow.segments, flow.info.active)
        out["path_sids"] = travel_order(sids)
        out["active_sid"] = addr_text(active)
    return out


def render_flows_json(run: FlowRun, flows: list[Flow], now: float) -> str:
    data = {"capture": run.capture_dict(now), "table": run.table.stats(), "now": now,
            "flows": [_flow_dict(run, f, now) for f in flows],
            "links": links_list(run.links, now), "segment_pairs": pairs_list(run.table, now)}
    return json.dumps(data, indent=2) + "\n"
