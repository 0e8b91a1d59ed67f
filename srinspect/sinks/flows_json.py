"""The machine form of ``srinspect flows``: one JSON document (capture, table counters,
flows, link load, segment pairs); its link and pair lists are also ``watch``'s."""

from __future__ import annotations

import json

from ..flows.linkload import LinkLoad, segment_pairs
from ..flows.table import Flow, FlowTable
from .flows_text import FlowRun


def links_list(links: LinkLoad, now: float) -> list[dict[str, object]]:
    return [r.to_dict() for r in links.links(now)]


def pairs_list(table: FlowTable, now: float) -> list[dict[str, object]]:
    return [p.to_dict() for p in segment_pairs(table.paths(), now)]


def render_flows_json(run: FlowRun, flows: list[Flow], now: float) -> str:
    data = {"capture": run.capture_dict(now), "table": run.table.stats(), "now": now,
            "flows": [f.to_dict(now, run.name) for f in flows],
            "links": links_list(run.links, now), "segment_pairs": pairs_list(run.table, now)}
    return json.dumps(data, indent=2) + "\n"
