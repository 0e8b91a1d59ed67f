"""``lab steer``: SR policies on a head-end, with iproute2, as the original demo did.

A policy replaces the head-end's static route for the destination node's /64 with an
``encap seg6 mode encap`` route: every packet for that prefix gets an outer IPv6 header
(source: the node address set with ``ip sr tunsrc``) and an SRH listing the via nodes' SIDs
and, last, the destination's own address, which decapsulates (seg6_enabled). ``--shortest``
puts the static route back. ``route replace`` swaps either way in one netlink message, so
an established TCP flow moves without a gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..kernel.netns import run
from .errors import LabError
from .hmac import ensure_key, install_key
from .lab import Lab, Policy
from .routing import policy_path
from .state import locked, read_state, write_state


def _check(lab: Lab, src: str, dst: str, via: Sequence[str]) -> None:
    for name in (src, dst, *via):
        if name not in lab.nodes:
            raise LabError(f"unknown node {name!r} (nodes: {', '.join(lab.nodes)})")
    if src == dst:
        raise LabError("source and destination must differ")
    if src in via:
        raise LabError(f"{src} cannot be a segment of its own policy")


def steer(lab: Lab, src: str, dst: str, via: Sequence[str], *, hmac_key_id: int | None = None,
          key_file: Path | None = None) -> Policy:
    """Install (or replace) the policy ``src -> via... -> dst`` on ``src``."""
    _check(lab, src, dst, via)
    if not via:
        raise LabError("a policy needs at least one via node (use --shortest to remove it)")
    nodes = lab.nodes
    segments = [nodes[v].sid for v in via] + [nodes[dst].address]
    path = policy_path(lab.plan.graph, src, via, dst)
    # The route's device is nominal (the kernel routes the outer packet on its new
    # destination) but must be real: use the interface toward the first hop.
    dev = lab.egress(src, path[1]).dev
    argv = ["ip", "-n", nodes[src].netns, "-6", "route", "replace", nodes[dst].prefix,
            "encap", "seg6", "mode", "encap", "segs", ",".join(segments)]
    if hmac_key_id is not None:
        key = ensure_key(lab.paths.hmac_keys, hmac_key_id, key_file)
        install_key(lab.plan, key)
        argv += ["hmac", str(hmac_key_id)]
    run([*argv, "dev", dev])
    policy = Policy(src, dst, tuple(via), tuple(segments), hmac_key_id, path)
    _save(lab, policy.key, policy)
    return policy


def shortest(lab: Lab, src: str, dst: str) -> None:
    """Remove the policy: put the static shortest-path route back."""
    _check(lab, src, dst, ())
    prefix = lab.nodes[dst].prefix
    route = next((r for r in lab.plan.routes[src] if r.dest == prefix), None)
    if route is None:
        raise LabError(f"no static route from {src} to {prefix} in the lab plan")
    run(["ip", "-n", lab.nodes[src].netns, "-6", "route", "replace", prefix, "via", route.via,
         "dev", route.dev])
    _save(lab, f"{src}>{dst}", None)


def _save(lab: Lab, key: str, policy: Policy | None) -> None:
    """Record the policy in the state file (under the lock: steers may run concurrently)."""
    with locked(lab.paths):
        state = read_state(lab.paths) or lab.state
        policies = state.setdefault("policies", {})
        if policy is None:
            policies.pop(key, None)
        else:
            policies[key] = policy.to_json()
        if policy is not None and policy.hmac_key_id is not None:
            state["hmac"] = sorted({*(state.get("hmac") or []), policy.hmac_key_id})
        write_state(lab.paths, state)
        lab.state = state
