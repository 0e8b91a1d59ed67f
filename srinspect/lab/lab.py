"""``Lab``: a running lab as other code sees it (the monitor, the demo, the tests).

``Lab.load()`` reads the state ``lab up`` wrote and checks that the namespaces still exist,
so a reader never draws a lab that is gone. Everything else is derived on demand: kernel
counters are read when asked (``counters()``/``sampler()``), captures are started when asked
(``capture()``), policies and traffic are read from the state and pid files.

Directions are ``(src, dst)`` node-name pairs: ``("A", "D")`` is what A sends to D on link
A-D, counted as the tx of A's end (after A's tbf, so it never exceeds the shaped rate).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..kernel.netns import list_namespaces
from ..keys import Keyring
from .errors import NotRunning
from .hmac import lab_keys
from .model import Direction, Link, LinkEnd, Node, Plan
from .routing import path_hops, policy_path
from .state import LabPaths, lab_prefix, read_state


@dataclass(frozen=True, slots=True)
class Policy:
    """An SR policy installed on ``src`` for ``dst``'s prefix."""

    src: str
    dst: str
    via: tuple[str, ...]
    segments: tuple[str, ...]  # path order (first segment first), as given to iproute2
    hmac_key_id: int | None
    path: tuple[str, ...]  # the nodes the packets visit

    @property
    def key(self) -> str:
        return f"{self.src}>{self.dst}"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Policy:
        return cls(data["src"], data["dst"], tuple(data["via"]), tuple(data["segments"]),
                   data.get("hmac_key_id"), tuple(data["path"]))

    def to_json(self) -> dict[str, Any]:
        return {"src": self.src, "dst": self.dst, "via": list(self.via),
                "segments": list(self.segments), "hmac_key_id": self.hmac_key_id,
                "path": list(self.path)}


class Lab:
    """A running lab. Build one with ``Lab.load()``; it holds no open resources."""

    def __init__(self, plan: Plan, state: dict[str, Any], paths: LabPaths) -> None:
        self.plan = plan
        self.state = state
        self.paths = paths
        self._by_address: dict[bytes, str] = {}
        for node in plan.nodes.values():
            self._by_address[_packed(node.address)] = node.name
            self._by_address[_packed(node.sid)] = node.name
        for link in plan.links:
            for end in (link.a, link.b):
                self._by_address[_packed(end.address)] = end.node

    # -- loading -------------------------------------------------------------------------

    @classmethod
    def load(cls, prefix: str | None = None) -> Lab:
        """The running lab (prefix: argument, $SRINSPECT_LAB_PREFIX, or ``srlab-``).

        Raises NotRunning when there is no state or its namespaces are gone.
        """
        paths = LabPaths(lab_prefix(prefix))
        state = read_state(paths)
        if state is None:
            raise NotRunning("no lab is up (run `srinspect lab up`)")
        plan = Plan.from_json(state["plan"])
        present = set(list_namespaces(paths.prefix))
        missing = [n.netns for n in plan.nodes.values() if n.netns not in present]
        if missing:
            raise NotRunning(f"the lab's namespaces {', '.join(missing)} are gone "
                             "(run `srinspect lab down`, then `lab up`)")
        return cls(plan, state, paths)

    @classmethod
    def running(cls, prefix: str | None = None) -> Lab | None:
        """The running lab, or None."""
        try:
            return cls.load(prefix)
        except NotRunning:
            return None

    def refresh(self) -> None:
        """Re-read the state file: policies set since by other processes (``lab steer``)."""
        state = read_state(self.paths)
        if state is not None:
            self.state = state

    # -- topology ------------------------------------------------------------------------

    @property
    def nodes(self) -> dict[str, Node]:
        return self.plan.nodes

    @property
    def links(self) -> list[Link]:
        return self.plan.links

    def directions(self) -> list[Direction]:
        """Every (src, dst) direction of every link, in link order."""
        return [d for link in self.links for d in (link.nodes, link.nodes[::-1])]

    def link(self, a: str, b: str) -> Link:
        return self.plan.link_between(a, b)

    def egress(self, src: str, dst: str) -> LinkEnd:
        """The interface ``src`` sends on toward neighbour ``dst``."""
        return self.link(src, dst).end(src)

    def rate(self, direction: Direction) -> int:
        """Shaped rate of a direction, bits per second."""
        return self.link(*direction).rate_bps

    def node_of(self, address: str | bytes) -> str | None:
        """The node owning an address (node address, SID or link address), or None."""
        try:
            return self._by_address.get(_packed(address))
        except ValueError:
            return None

    def segment_path(self, segments: Sequence[bytes | str]) -> list[str]:
        """SRH segments (wire order, [0] = final) as node names in path order.

        Addresses outside the lab are kept as text.
        """
        out = []
        for seg in reversed(list(segments)):
            name = self.node_of(seg)
            out.append(name if name else _text(seg))
        return out

    # -- what is going on ----------------------------------------------------------------

    @property
    def policies(self) -> dict[str, Policy]:
        """Active SR policies by ``"SRC>DST"``."""
        return {k: Policy.from_json(v) for k, v in self.state.get("policies", {}).items()}

    def expected_path(self, src: str, dst: str) -> tuple[str, ...]:
        """The nodes traffic from ``src`` to ``dst`` visits, given the active policy."""
        policy = self.policies.get(f"{src}>{dst}")
        if policy is not None:
            return policy.path
        return policy_path(self.plan.graph, src, (), dst)

    def expected_hops(self, src: str, dst: str) -> list[Direction]:
        """The directions that should carry ``src``->``dst`` traffic right now."""
        return path_hops(self.expected_path(src, dst))

    def keyring(self) -> Keyring:
        """The lab's HMAC keys, for an Inspector that should verify steered packets."""
        return lab_keys(self.paths.hmac_keys)


def _packed(address: str | bytes) -> bytes:
    if isinstance(address, bytes):
        if len(address) != 16:
            raise ValueError("not 16 bytes")
        return address
    return ipaddress.IPv6Address(address).packed


def _text(address: bytes | str) -> str:
    return str(ipaddress.IPv6Address(address)) if isinstance(address, bytes) else address
