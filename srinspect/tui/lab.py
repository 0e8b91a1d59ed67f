"""``monitor --lab``: find the running lab, capture every link, and lay out its map.

The lab package finds the running lab (``srinspect.lab.Lab.load()``); the monitor needs only
its plan: namespaces, links (with their two ends and shaped rate) and node addresses, so it
can name addresses after nodes and colour links.

Each link is captured at one end (its ``a`` side): frames sent there are the a->b direction
and frames received the b->a direction, told apart by the interface MAC. One dumpcap per
namespace captures all the ``a`` ends living there.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from srinspect.flows.linkload import LinkRate
from srinspect.wire import parse_ip6


class LabUnavailable(Exception):  # noqa: N818 - a state the user can change
    """No lab can be attached: none is running, or its namespaces are gone."""


@dataclass(frozen=True, slots=True)
class LabLink:
    """One lab link as the monitor draws it: ``iface`` is the captured end (in ``netns``)."""

    id: str
    a: str
    b: str
    netns: str
    iface: str
    rate_bps: int


@dataclass(slots=True)
class LabMap:
    """Nodes, links, address -> node names, and a drawing position per node."""

    name: str
    nodes: list[str]
    links: list[LabLink]
    names: dict[bytes, str]
    client: str
    server: str
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)

    def capture_specs(self) -> list[str]:
        """``NETNS/IFACE`` of every captured link end, for ``feeds.live_feed``."""
        return [f"{link.netns}/{link.iface}" for link in self.links]

    def link_of_iface(self, iface: str) -> LabLink | None:
        return next((lk for lk in self.links if lk.iface == iface), None)

    def load(self, rates: Iterable[LinkRate]) -> dict[tuple[str, str], float]:
        """Fraction of capacity per lab link direction, from the captured interfaces."""
        load: dict[tuple[str, str], float] = {}
        for r in rates:
            link = self.link_of_iface(r.interface)
            if link is None:
                continue
            frac = r.bps / link.rate_bps
            if r.direction in ("tx", "any"):
                load[(link.a, link.b)] = load.get((link.a, link.b), 0.0) + frac
            if r.direction == "rx":
                load[(link.b, link.a)] = load.get((link.b, link.a), 0.0) + frac
        return load


def load_lab() -> LabMap:
    """The running lab as the monitor needs it; LabUnavailable with a clear reason."""
    from srinspect.lab import Lab  # only ``--lab`` pays for importing the lab package

    try:
        lab = Lab.load()
    except Exception as exc:  # the lab's own error says what is wrong
        raise LabUnavailable(str(exc)) from exc
    return lab_map(lab.plan)


def lab_map(plan: Any) -> LabMap:
    """Build the map from a Plan (duck-typed so it survives small changes of the model)."""
    names: dict[bytes, str] = {}
    for node in plan.nodes.values():
        for text in (node.address, node.sid):
            _name(names, text, node.name)
    links = []
    for link in plan.links:
        _name(names, link.a.address, link.a.node)
        _name(names, link.b.address, link.b.node)
        links.append(LabLink(link.id, link.a.node, link.b.node, link.a.netns, link.a.dev,
                             int(link.rate_bps)))
    nodes = list(plan.nodes)
    lab = LabMap(plan.name, nodes, links, names, plan.client, plan.server)
    lab.positions = layout(nodes, [(lk.a, lk.b) for lk in links], plan.client)
    return lab


def _name(names: dict[bytes, str], text: str, node: str) -> None:
    with contextlib.suppress(ValueError):
        names.setdefault(parse_ip6(text.split("/")[0]), node)


def layout(nodes: Sequence[str], edges: Sequence[tuple[str, str]],
           root: str) -> dict[str, tuple[int, int]]:
    """(column, row) per node: columns by hop distance from ``root`` (the traffic source,
    so a path reads left to right), rows in file order within a column.

    Rows are in half units (a lone node in a column sits between the rows of its
    neighbours' columns), so a chain like A -> {B, D} -> {C, E} -> Z draws as a lattice.
    """
    adj: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        adj[a].append(b)
        adj[b].append(a)
    dist = {root: 0} if root in adj else {}
    todo = deque(dist)
    while todo:
        n = todo.popleft()
        for peer in adj[n]:
            if peer not in dist:
                dist[peer] = dist[n] + 1
                todo.append(peer)
    far = max(dist.values(), default=0)
    for n in nodes:  # unreachable nodes (a disconnected file) go in a last column
        dist.setdefault(n, far + 1)
    columns: dict[int, list[str]] = {}
    for n in nodes:
        columns.setdefault(dist[n], []).append(n)
    height = max(len(c) for c in columns.values())
    pos: dict[str, tuple[int, int]] = {}
    for col, members in columns.items():
        offset = height - len(members)  # centre: in half rows
        for i, n in enumerate(members):
            pos[n] = (col, offset + 2 * i)
    return pos
