"""``monitor --lab``: find the running lab, capture every link, and lay out its map.

An adapter over ``srinspect.lab`` (issue 7, written concurrently): it prefers a
``Lab.load()`` API when the package has one and otherwise reads the state file that
``lab up`` writes (``/run/srinspect-lab/<prefix>/state.json``, holding the built ``Plan``).
Either way the monitor needs only the plan: namespaces, links (with their two ends and
shaped rate) and node addresses, so it can name addresses after nodes and colour links.

Each link is captured at one end (its ``a`` side): frames sent there are the a->b direction
and frames received the b->a direction, told apart by the interface MAC. One dumpcap per
namespace captures all the ``a`` ends living there.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from srinspect.wire import parse_ip6


class LabUnavailable(Exception):  # noqa: N818 - a state the user can change
    """No lab can be attached: not running, or the lab package lacks what is needed."""


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


def _plan() -> Any:
    """The running lab's Plan, from ``Lab.load()`` when it exists, else the state file."""
    try:
        import srinspect.lab as labpkg
    except ImportError as exc:  # pragma: no cover - the package ships with srinspect
        raise LabUnavailable(f"the lab package cannot be imported ({exc})") from exc
    lab_cls = getattr(labpkg, "Lab", None)
    if lab_cls is not None and hasattr(lab_cls, "load"):
        try:
            lab = lab_cls.load()
        except Exception as exc:  # the lab's own error says what is wrong
            raise LabUnavailable(str(exc)) from exc
        plan = getattr(lab, "plan", lab)
        if plan is None:
            raise LabUnavailable("no lab is running (start one with `srinspect lab up`)")
        return plan
    try:
        from srinspect.kernel.netns import list_namespaces
        from srinspect.lab.model import Plan
        from srinspect.lab.state import LabPaths, lab_prefix, read_state
    except ImportError as exc:
        raise LabUnavailable("this srinspect's lab package has neither Lab.load() nor the "
                             f"state reader the monitor falls back to ({exc})") from exc
    prefix = lab_prefix()
    state = read_state(LabPaths(prefix))
    if state is None:
        raise LabUnavailable(f"no lab is running (no state for prefix {prefix!r}; start one "
                             "with `srinspect lab up`)")
    plan = Plan.from_json(state["plan"])
    missing = [n.netns for n in plan.nodes.values() if n.netns not in list_namespaces(prefix)]
    if missing:
        raise LabUnavailable(f"the lab's namespaces are gone ({', '.join(missing)}); run "
                             "`srinspect lab down` and `srinspect lab up`")
    return plan


def load_lab() -> LabMap:
    """The running lab as the monitor needs it; LabUnavailable with a clear reason."""
    return lab_map(_plan())


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
