"""Shortest paths over the topology: what the static routes are, and where a policy goes.

The lab has no routing daemon: ``lab up`` installs the routes computed here. The same
computation tells the demo and the tests which links a policy should light up (a policy
``via D,B,C,E`` is the concatenation of the shortest paths A->D->B->C->E->Z), so expectation
and configuration cannot drift apart.

Ties are broken deterministically (lower total cost, then fewer hops, then the path whose
node indices compare lower), so the same file always gives the same routes.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import TopologyError


@dataclass(frozen=True, slots=True)
class Graph:
    """Nodes (in file order: the tie-break order) and undirected edges ``(a, b, cost)``.

    Both the topology file and a running lab's plan reduce to this, so paths computed for
    ``lab up`` and paths expected by a reader of the lab come from the same code.
    """

    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str, int], ...]


def _adjacency(topo: Graph) -> dict[str, list[tuple[str, int]]]:
    adj: dict[str, list[tuple[str, int]]] = {n: [] for n in topo.nodes}
    for a, b, cost in topo.edges:
        adj[a].append((b, cost))
        adj[b].append((a, cost))
    return adj


def shortest_paths(topo: Graph, source: str) -> dict[str, tuple[str, ...]]:
    """The chosen shortest path (as node names, both ends included) from ``source`` to all.

    Dijkstra keyed on (cost, hops, node indices of the path): tiny graphs, so carrying the
    whole path in the heap costs nothing and makes the tie-break exact.
    """
    index = {n: i for i, n in enumerate(topo.nodes)}
    adj = _adjacency(topo)
    best: dict[str, tuple[str, ...]] = {}
    heap: list[tuple[int, int, tuple[int, ...], tuple[str, ...]]] = [
        (0, 0, (index[source],), (source,))]
    while heap:
        cost, hops, key, path = heapq.heappop(heap)
        node = path[-1]
        if node in best:
            continue
        best[node] = path
        for peer, link_cost in adj[node]:
            if peer not in best:
                heapq.heappush(heap, (cost + link_cost, hops + 1, (*key, index[peer]),
                                      (*path, peer)))
    return best


def path_cost(topo: Graph, path: Sequence[str]) -> int:
    costs = {frozenset((a, b)): cost for a, b, cost in topo.edges}
    return sum(costs[frozenset(hop)] for hop in zip(path, path[1:], strict=False))


def equal_cost_alternatives(topo: Graph, source: str, dest: str) -> bool:
    """True when another path from ``source`` to ``dest`` has the same cost as the chosen one.

    ``lab up`` warns about it: with ECMP-like ties the demo's "shortest path" step would
    depend on the tie-break, not on the picture a person has of the mesh.
    """
    chosen = shortest_paths(topo, source)[dest]
    target = path_cost(topo, chosen)
    adj = _adjacency(topo)
    found = 0

    def walk(node: str, visited: tuple[str, ...], cost: int) -> None:
        nonlocal found
        if cost > target or found > 1:
            return
        if node == dest:
            found += cost == target
            return
        for peer, c in adj[node]:
            if peer not in visited:
                walk(peer, (*visited, peer), cost + c)

    walk(source, (source,), 0)
    return found > 1


def policy_path(topo: Graph, source: str, via: Sequence[str], dest: str) -> tuple[str, ...]:
    """The nodes a packet visits under policy ``source -> via... -> dest``.

    Each segment is reached over the shortest path from the previous one, which is what the
    kernel does with a segment list on plain shortest-path routes.
    """
    for node in (source, *via, dest):
        if node not in topo.nodes:
            raise TopologyError(f"unknown node {node!r} (nodes: {', '.join(topo.nodes)})")
    path: list[str] = [source]
    for hop in (*via, dest):
        path.extend(shortest_paths(topo, path[-1])[hop][1:])
    return tuple(path)


def path_hops(path: Sequence[str]) -> list[tuple[str, str]]:
    """Directed hops of a path: A,D,E -> [(A, D), (D, E)]."""
    return list(zip(path, path[1:], strict=False))
