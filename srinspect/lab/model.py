"""The concrete lab a topology turns into: namespaces, interfaces, addresses and routes.

``build_plan`` is pure: the same topology and name prefix always give the same plan, which
is stored as JSON in the state file so that ``Lab.load()`` (and so the monitor) sees exactly
what ``lab up`` built, even if the topology file has changed since.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field
from typing import Any

from .routing import Graph, shortest_paths
from .topology import Topology

#: One direction of a link: (sending node, receiving node).
Direction = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Node:
    """A lab node: its namespace, its /64, its address (iperf3, tunnel source) and its SID."""

    name: str
    index: int
    netns: str
    prefix: str
    address: str
    sid: str


@dataclass(frozen=True, slots=True)
class LinkEnd:
    """One side of a link: the veth ``dev`` lives in namespace ``netns`` of ``node``."""

    node: str
    netns: str
    dev: str
    address: str


@dataclass(frozen=True, slots=True)
class Link:
    """A veth pair, shaped to ``rate_bps`` in each direction (tbf on both ends)."""

    id: str
    a: LinkEnd
    b: LinkEnd
    rate_bps: int
    cost: int
    mtu: int
    prefix: str

    @property
    def nodes(self) -> tuple[str, str]:
        return self.a.node, self.b.node

    def end(self, node: str) -> LinkEnd:
        """The end of this link that sits in ``node``."""
        if node == self.a.node:
            return self.a
        if node == self.b.node:
            return self.b
        raise KeyError(f"{node} is not on link {self.id}")

    def peer(self, node: str) -> LinkEnd:
        """The far end as seen from ``node``."""
        return self.b if node == self.a.node else self.a


@dataclass(frozen=True, slots=True)
class Route:
    """A static route: ``dest`` via the neighbour address ``via`` out of ``dev``."""

    dest: str
    via: str
    dev: str


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything ``lab up`` builds, and everything a reader of the lab needs to know."""

    name: str
    prefix: str
    sid_mode: str
    client: str
    server: str
    nodes: dict[str, Node]
    links: list[Link]
    routes: dict[str, list[Route]] = field(default_factory=dict)
    demo: list[dict[str, Any]] = field(default_factory=list)

    @property
    def graph(self) -> Graph:
        return Graph(tuple(self.nodes), tuple((lk.a.node, lk.b.node, lk.cost)
                                              for lk in self.links))

    def link_between(self, a: str, b: str) -> Link:
        for link in self.links:
            if {a, b} == set(link.nodes):
                return link
        raise KeyError(f"no link between {a} and {b}")

    def links_of(self, node: str) -> list[Link]:
        return [link for link in self.links if node in link.nodes]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        links = [Link(id=d["id"], a=LinkEnd(**d["a"]), b=LinkEnd(**d["b"]),
                      rate_bps=d["rate_bps"], cost=d["cost"], mtu=d["mtu"], prefix=d["prefix"])
                 for d in data["links"]]
        return cls(
            name=data["name"], prefix=data["prefix"], sid_mode=data["sid_mode"],
            client=data["client"], server=data["server"],
            nodes={v["name"]: Node(**v)
                   for v in sorted(data["nodes"].values(), key=lambda v: v["index"])},
            links=links,
            routes={k: [Route(**r) for r in v] for k, v in data.get("routes", {}).items()},
            demo=list(data.get("demo", [])))


def _block(pool: ipaddress.IPv6Network, n: int) -> ipaddress.IPv6Network:
    """The /64 at the start of the n-th /48 of ``pool``: fc00:0::/32, 3 -> fc00:0:3::/64.

    One /48 per node keeps the node number readable in every address.
    """
    step = 1 << (128 - (pool.prefixlen + 16))
    base = int(pool.network_address) + n * step
    if n >= 1 << 16 or base > int(pool.broadcast_address):
        raise ValueError(f"{pool} has no block number {n}")
    return ipaddress.IPv6Network((base, 64))


def _host(net: ipaddress.IPv6Network, n: int) -> str:
    return str(net.network_address + n)


def build_plan(topo: Topology, prefix: str) -> Plan:
    """Namespaces ``<prefix><node>``, interfaces ``<node>-<peer>``, addresses, routes."""
    nodes: dict[str, Node] = {}
    for i, name in enumerate(topo.nodes, 1):
        net = _block(topo.node_pool, i)
        address = _host(net, 1)
        nodes[name] = Node(name, i, f"{prefix}{name}", str(net), address,
                           _host(net, 0xE) if topo.sid_mode == "end" else address)
    links: list[Link] = []
    for k, spec in enumerate(topo.links, 1):
        net = _block(topo.link_pool, k)
        a = LinkEnd(spec.a, nodes[spec.a].netns, f"{spec.a}-{spec.b}", _host(net, 1))
        b = LinkEnd(spec.b, nodes[spec.b].netns, f"{spec.b}-{spec.a}", _host(net, 2))
        links.append(Link(spec.id, a, b, spec.rate_bps, spec.cost, spec.mtu, str(net)))
    plan = Plan(topo.name, prefix, topo.sid_mode, topo.client, topo.server, nodes, links,
                demo=[{"label": s.label, "via": list(s.via)} for s in topo.demo])
    for name in topo.nodes:
        plan.routes[name] = _routes(topo, plan, name)
    return plan


def _routes(topo: Topology, plan: Plan, node: str) -> list[Route]:
    """Routes from ``node`` to every other node's /64 and every link it is not on.

    Link prefixes are routed too, so that ICMP errors sourced from a link address (Time
    Exceeded, Parameter Problem) find their way back.
    """
    paths = shortest_paths(topo.graph, node)
    index = {n: i for i, n in enumerate(topo.nodes)}

    def first_hop(dest: str) -> Route:
        nxt = paths[dest][1]
        link = plan.link_between(node, nxt)
        return Route("", link.peer(node).address, link.end(node).dev)

    routes: list[Route] = []
    for dest in topo.nodes:
        if dest != node:
            hop = first_hop(dest)
            routes.append(Route(plan.nodes[dest].prefix, hop.via, hop.dev))
    for link in plan.links:
        if node in link.nodes:
            continue
        # Toward whichever end is nearer (cost, then hops, then file order).
        near = min(link.nodes, key=lambda n: (_cost(plan, paths[n]), len(paths[n]), index[n]))
        hop = first_hop(near)
        routes.append(Route(link.prefix, hop.via, hop.dev))
    return routes


def _cost(plan: Plan, path: tuple[str, ...]) -> int:
    return sum(plan.link_between(a, b).cost for a, b in zip(path, path[1:], strict=False))
