"""``lab up`` and ``lab down``: turn a plan into namespaces, veths, routes and qdiscs, and back.

Nothing is ever created in the caller's namespace: each veth pair is created with both ends
directly inside lab namespaces, so deleting the namespaces is enough to remove every
interface, address, route and qdisc. ``down`` therefore needs no state: it removes every
namespace carrying the lab prefix, after stopping the processes inside them (a process would
keep an unnamed namespace alive).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field

from ..kernel.netns import ip, ip_batch, list_namespaces, run, sysctl, tc_batch
from .errors import LabError
from .model import Link, Plan, build_plan
from .processes import kill_namespace_processes, stop_pidfile
from .requirements import require_kernel, require_root, require_tool
from .routing import equal_cost_alternatives
from .state import RUN_ROOT, LabPaths, locked, new_state, write_state
from .topology import Topology

Log = Callable[[str], None]

#: sysctls of every lab namespace. DAD and router solicitations off: addresses are usable at
#: once and the links stay quiet apart from the lab's own traffic.
NODE_SYSCTLS = {
    "net.ipv6.conf.all.forwarding": 1,
    "net.ipv6.conf.all.seg6_enabled": 1,
    "net.ipv6.conf.default.seg6_enabled": 1,
    "net.ipv6.conf.all.accept_dad": 0,
    "net.ipv6.conf.default.accept_dad": 0,
    "net.ipv6.conf.all.accept_ra": 0,
    "net.ipv6.conf.default.accept_ra": 0,
    "net.ipv6.conf.all.router_solicitations": 0,
    "net.ipv6.conf.default.router_solicitations": 0,
}
TBF_LATENCY = "30ms"


def preflight() -> None:
    """Fail before touching anything: root, SRv6 kernel, ip/tc/sysctl."""
    require_root()
    require_kernel()
    for tool in ("ip", "tc", "sysctl"):
        require_tool(tool, "to build the lab")


def tbf_burst(link: Link) -> int:
    """Bucket size in bytes: 10 ms at the link rate, but never less than a few frames.

    A bucket smaller than one frame drops every frame; a large one lets short bursts
    exceed the rate, which would blur the utilisation the demo is about.
    """
    return max(4 * (link.mtu + 14), link.rate_bps // 8 // 100)


def up(topo: Topology, prefix: str, log: Log = lambda _m: None) -> Plan:
    """Build the lab; on any failure remove whatever was built, then re-raise."""
    preflight()
    paths = LabPaths(prefix)
    existing = list_namespaces(prefix)
    if existing:
        raise LabError(f"a lab is already up ({', '.join(existing)}); "
                       "run `srinspect lab down` first")
    plan = build_plan(topo, prefix)
    if equal_cost_alternatives(topo.graph, topo.client, topo.server):
        log(f"warning: {topo.client}->{topo.server} has several equal-cost shortest paths; "
            "the tie-break picks one")
    try:
        with locked(paths):
            _build(plan, log)
            write_state(paths, new_state(plan.to_json(), topo.source))
    except BaseException:
        down(prefix)
        raise
    return plan


def _build(plan: Plan, log: Log) -> None:
    nodes = list(plan.nodes.values())
    log(f"creating {len(nodes)} namespaces {plan.prefix}{{{','.join(plan.nodes)}}}")
    for node in nodes:
        ip(None, "netns", "add", node.netns)
        sysctl(node.netns, NODE_SYSCTLS)

    log(f"creating {len(plan.links)} veth links")
    by_ns: dict[str, list[str]] = {}
    for link in plan.links:
        by_ns.setdefault(link.a.netns, []).append(
            f"link add name {link.a.dev} mtu {link.mtu} type veth "
            f"peer name {link.b.dev} mtu {link.mtu} netns {link.b.netns}")
    for netns, cmds in by_ns.items():
        ip_batch(netns, cmds)

    for node in nodes:
        # Interfaces created after `default.seg6_enabled=1` inherit it, but set it on each
        # explicitly: the kernel takes min(all, interface), and this is what people check.
        devs = [lk.end(node.name).dev for lk in plan.links_of(node.name)]
        sysctl(node.netns, {f"net.ipv6.conf.{d}.seg6_enabled": 1 for d in devs})
        cmds = ["link set dev lo up", f"addr add {node.address}/128 dev lo"]
        for link in plan.links_of(node.name):
            end = link.end(node.name)
            # One segment per skb: counters, tbf and captures then see real frames, not
            # 64 KB GSO super-packets (veth would pass those along the whole chain).
            cmds += [f"link set dev {end.dev} gso_max_segs 1",
                     f"link set dev {end.dev} up",
                     f"addr add {end.address}/64 dev {end.dev} nodad"]
        ip_batch(node.netns, cmds)

    log("installing shortest-path routes, SIDs and tunnel sources")
    for node in nodes:
        cmds = [f"route add {r.dest} via {r.via} dev {r.dev}" for r in plan.routes[node.name]]
        if plan.sid_mode == "end":
            # Not `dev lo`: the kernel turns a non-local route via loopback into a reject
            # route, and every packet to the SID would count as Ip6InNoRoutes. Any real
            # interface works; the End behaviour routes on the next segment itself.
            dev = plan.links_of(node.name)[0].end(node.name).dev
            cmds.append(f"route add {node.sid}/128 encap seg6local action End dev {dev}")
        cmds.append(f"sr tunsrc set {node.address}")
        ip_batch(node.netns, cmds)

    log("shaping links with tbf")
    for node in nodes:
        tc_batch(node.netns, [
            f"qdisc replace dev {lk.end(node.name).dev} root tbf rate {lk.rate_bps}bit "
            f"burst {tbf_burst(lk)} latency {TBF_LATENCY}"
            for lk in plan.links_of(node.name)])


@dataclass
class DownReport:
    """What ``down`` removed (for the CLI message and the tests)."""

    namespaces: list[str] = field(default_factory=list)
    processes: list[int] = field(default_factory=list)
    state_removed: bool = False


def down(prefix: str, log: Log = lambda _m: None) -> DownReport:
    """Remove every trace of the lab with this prefix; safe to run any number of times."""
    require_root()
    paths = LabPaths(prefix)
    report = DownReport()
    for name in ("iperf3-client", "iperf3-server"):
        pid = stop_pidfile(paths.pidfile(name), "iperf3")
        if pid:
            report.processes.append(pid)
    for netns in list_namespaces(prefix):
        report.processes += kill_namespace_processes(netns)
        run(["ip", "netns", "del", netns], check=False)
        report.namespaces.append(netns)
        log(f"removed namespace {netns}")
    left = list_namespaces(prefix)
    if left:
        raise LabError(f"could not remove namespaces {', '.join(left)}")
    if paths.root.exists():
        shutil.rmtree(paths.root, ignore_errors=True)
        report.state_removed = True
    with contextlib.suppress(OSError):
        RUN_ROOT.rmdir()  # only when no other lab prefix is using it
    return report
