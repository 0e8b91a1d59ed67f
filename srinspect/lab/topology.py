"""The lab topology file: parse and validate it, nothing else (no kernel, no I/O but reading).

A topology is data so that the lab can be reshaped without code: the shipped
``default.toml`` is the six-node mesh of the original Linux SRv6 demonstration, and
``srinspect lab up --topology FILE`` takes any other mesh written the same way. Everything a
mistake in the file could break later (a name too long for an interface, a prefix outside the
documentation/ULA space, a link to an unknown node) is rejected here, with the file and the
entry named, before a single namespace exists.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import TopologyError
from .routing import Graph

#: Address space the lab may use: unique local (RFC 4193) and documentation (RFC 3849).
ALLOWED_SPACE = (ipaddress.IPv6Network("fc00::/7"), ipaddress.IPv6Network("2001:db8::/32"))
#: Node names become parts of namespace and interface names (IFNAMSIZ is 16 with the NUL):
#: an interface is called ``<node>-<peer>``, so 7 characters each keeps it within 15.
NODE_NAME = re.compile(r"[A-Za-z0-9]{1,7}")
SID_MODES = ("address", "end")
_RATE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmg]?)(?:bit|bps|b)?(?:/s)?\s*", re.IGNORECASE)
_RATE_UNIT = {"": 1_000_000, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000}
DEFAULT_RATE = 20_000_000
DEFAULT_MTU = 2000


@dataclass(frozen=True, slots=True)
class LinkSpec:
    """One point-to-point link as the file describes it; the rate applies to each direction."""

    a: str
    b: str
    rate_bps: int
    cost: int
    mtu: int

    @property
    def id(self) -> str:
        return f"{self.a}-{self.b}"


@dataclass(frozen=True, slots=True)
class DemoStep:
    """One step of the scripted demo: the A->Z policy to set (``via`` empty = shortest)."""

    label: str
    via: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Topology:
    """A validated topology: nodes in file order (their index is their address block)."""

    name: str
    nodes: tuple[str, ...]
    links: tuple[LinkSpec, ...]
    node_pool: ipaddress.IPv6Network
    link_pool: ipaddress.IPv6Network
    sid_mode: str
    client: str
    server: str
    demo: tuple[DemoStep, ...]
    source: str = "<default>"

    @property
    def graph(self) -> Graph:
        return Graph(self.nodes, tuple((lk.a, lk.b, lk.cost) for lk in self.links))

    def with_rate(self, rate_bps: int) -> Topology:
        """The same topology with every link shaped to ``rate_bps`` (``lab up --rate``)."""
        return replace(self, links=tuple(replace(lk, rate_bps=rate_bps) for lk in self.links))


def parse_rate(value: object, where: str = "rate") -> int:
    """Bits per second from ``"20mbit"``, ``"500kbit"``, ``"1gbit"`` or a number of Mbit/s.

    tc spells rates the same way, so a file can be written by someone who knows tc.
    """
    if isinstance(value, bool):
        raise TopologyError(f"{where}: rate must be like \"20mbit\"")
    if isinstance(value, int | float):
        bps = int(value * 1_000_000)
    else:
        m = _RATE.fullmatch(str(value))
        if not m:
            raise TopologyError(f"{where}: rate {value!r} is not like \"20mbit\" or \"500kbit\"")
        bps = int(float(m.group(1)) * _RATE_UNIT[m.group(2).lower()])
    if not 64_000 <= bps <= 10_000_000_000:
        raise TopologyError(f"{where}: rate must be between 64kbit and 10gbit")
    return bps


def format_rate(bps: int) -> str:
    """Rates the way people say them: 20 Mbit/s, 500 kbit/s."""
    if bps >= 1_000_000_000 and bps % 1_000_000_000 == 0:
        return f"{bps // 1_000_000_000} Gbit/s"
    if bps >= 1_000_000:
        return f"{bps / 1_000_000:g} Mbit/s"
    return f"{bps / 1000:g} kbit/s"


def _pool(text: object, where: str) -> ipaddress.IPv6Network:
    try:
        net = ipaddress.IPv6Network(str(text), strict=True)
    except ValueError as exc:
        raise TopologyError(f"{where}: {exc}") from None
    if not any(net.subnet_of(space) for space in ALLOWED_SPACE):
        raise TopologyError(f"{where}: {net} is outside fc00::/7 and 2001:db8::/32; the lab "
                            "only uses unique local or documentation addresses")
    if net.prefixlen > 48:
        raise TopologyError(f"{where}: {net} must be a /48 or shorter (each node or link "
                            "gets a /64 in its own /48)")
    return net


def _int(value: object, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TopologyError(f"{where}: must be an integer {low}..{high}")
    return value


def _node(name: object, nodes: tuple[str, ...], where: str) -> str:
    if not isinstance(name, str) or name not in nodes:
        raise TopologyError(f"{where}: unknown node {name!r} (nodes: {', '.join(nodes)})")
    return name


def parse_topology(doc: dict[str, Any], source: str = "<topology>") -> Topology:
    """Validate a decoded TOML document; raises TopologyError naming ``source``."""
    try:
        return _parse(doc, source)
    except TopologyError as exc:
        raise TopologyError(f"{source}: {exc}") from None


def _parse(doc: dict[str, Any], source: str) -> Topology:
    raw_nodes = doc.get("nodes")
    if not isinstance(raw_nodes, list) or len(raw_nodes) < 2:
        raise TopologyError("`nodes` must list at least two node names")
    for name in raw_nodes:
        if not isinstance(name, str) or not NODE_NAME.fullmatch(name):
            raise TopologyError(f"node name {name!r} must be 1-7 letters or digits")
    nodes = tuple(raw_nodes)
    if len(set(nodes)) != len(nodes):
        raise TopologyError("node names must be unique")

    addressing = doc.get("addressing", {})
    node_pool = _pool(addressing.get("nodes", "fc00:0::/32"), "addressing.nodes")
    link_pool = _pool(addressing.get("links", "fc00:1::/32"), "addressing.links")
    if node_pool.overlaps(link_pool):
        raise TopologyError("addressing.nodes and addressing.links overlap")
    sid_mode = addressing.get("sid", "address")
    if sid_mode not in SID_MODES:
        raise TopologyError(f"addressing.sid must be one of {', '.join(SID_MODES)}")

    defaults = doc.get("defaults", {})
    rate = parse_rate(defaults.get("rate", DEFAULT_RATE / 1e6), "defaults.rate")
    cost = _int(defaults.get("cost", 1), "defaults.cost", 1, 1_000_000)
    mtu = _int(defaults.get("mtu", DEFAULT_MTU), "defaults.mtu", 1280, 9000)

    links: list[LinkSpec] = []
    seen: set[frozenset[str]] = set()
    for n, entry in enumerate(doc.get("link", []), 1):
        where = f"link #{n}"
        ends = entry.get("nodes") if isinstance(entry, dict) else None
        if not isinstance(ends, list) or len(ends) != 2:
            raise TopologyError(f"{where}: needs nodes = [\"X\", \"Y\"]")
        a, b = (_node(e, nodes, where) for e in ends)
        if a == b:
            raise TopologyError(f"{where}: a link needs two different nodes")
        if frozenset((a, b)) in seen:
            raise TopologyError(f"{where}: {a}-{b} is listed twice (parallel links are not "
                                "supported)")
        seen.add(frozenset((a, b)))
        links.append(LinkSpec(
            a, b,
            parse_rate(entry["rate"], f"{where}.rate") if "rate" in entry else rate,
            _int(entry.get("cost", cost), f"{where}.cost", 1, 1_000_000),
            _int(entry.get("mtu", mtu), f"{where}.mtu", 1280, 9000)))
    if not links:
        raise TopologyError("no [[link]] tables")
    if len(nodes) > 0xFFFF or len(links) > 0xFFFF:
        raise TopologyError("too many nodes or links")

    traffic = doc.get("traffic", {})
    client = _node(traffic.get("client", nodes[0]), nodes, "traffic.client")
    server = _node(traffic.get("server", nodes[-1]), nodes, "traffic.server")
    if client == server:
        raise TopologyError("traffic.client and traffic.server must differ")

    steps = []
    for n, entry in enumerate(doc.get("demo", []), 1):
        where = f"demo step #{n}"
        via = entry.get("via", []) if isinstance(entry, dict) else None
        if not isinstance(via, list):
            raise TopologyError(f"{where}: via must be a list of node names")
        via_t = tuple(_node(v, nodes, where) for v in via)
        label = entry.get("label") or (f"via {','.join(via_t)}" if via_t else "shortest path")
        steps.append(DemoStep(str(label), via_t))

    topo = Topology(str(doc.get("name", "lab")), nodes, tuple(links), node_pool, link_pool,
                    sid_mode, client, server, tuple(steps), source)
    _check_connected(topo)
    return topo


def _check_connected(topo: Topology) -> None:
    """Static routes need every node reachable from every other one."""
    adjacent: dict[str, set[str]] = {n: set() for n in topo.nodes}
    for link in topo.links:
        adjacent[link.a].add(link.b)
        adjacent[link.b].add(link.a)
    seen = {topo.nodes[0]}
    todo = [topo.nodes[0]]
    while todo:
        for peer in adjacent[todo.pop()] - seen:
            seen.add(peer)
            todo.append(peer)
    missing = [n for n in topo.nodes if n not in seen]
    if missing:
        raise TopologyError(f"nodes {', '.join(missing)} are not connected to "
                            f"{topo.nodes[0]}")


def load_topology(path: str | Path | None = None) -> Topology:
    """The topology in ``path``, or the shipped default (``srinspect/lab/default.toml``)."""
    if path is None:
        text = resources.files("srinspect.lab").joinpath("default.toml").read_text("utf-8")
        source = "default.toml"
    else:
        try:
            text = Path(path).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TopologyError(f"{path}: cannot read topology ({exc})") from None
        source = str(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TopologyError(f"{source}: not valid TOML ({exc})") from None
    return parse_topology(doc, source)
