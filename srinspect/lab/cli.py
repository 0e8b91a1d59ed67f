"""``srinspect lab ...``: registered by ``srinspect.cli.main`` through ``register(sub)``.

Every lab error is a message and exit status 2 (not root, no SRv6 kernel, tool missing,
no lab up, bad topology); nothing here prints a traceback for a setup problem or an HMAC
secret for any reason.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from ..kernel import guest
from ..kernel.choice import Target
from ..kernel.choice import targets as choose_targets
from ..kernel.images import ImageError
from . import build, steer, traffic
from .counters import loads_between, read_counters
from .demo import DemoOptions, ensure_lab, render_step, run_steps, step_json
from .errors import LabError
from .lab import Lab
from .requirements import require_root
from .state import lab_prefix
from .topology import DemoStep, format_rate, load_topology, parse_rate

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    lab = sub.add_parser(
        "lab", help="build and drive the SRv6 steering lab (network namespaces; root)",
        description="The SRv6 steering lab: nodes in network namespaces, links shaped with "
                    "tc, iperf3 traffic from the client node to the server node, SR policies "
                    "set with iproute2. Needs root and a kernel with SRv6.")
    lab.add_argument("--prefix", help=argparse.SUPPRESS)
    cmds = lab.add_subparsers(dest="lab_command", metavar="LAB_COMMAND")

    up = cmds.add_parser("up", help="build the lab (namespaces, veths, routes, SIDs, tc)")
    _topology_args(up)
    up.set_defaults(func=cmd_up)

    down = cmds.add_parser("down", help="remove everything the lab created (also after a "
                                        "crash)")
    down.set_defaults(func=cmd_down)

    status = cmds.add_parser("status", help="nodes, links, rates, policies, traffic")
    status.add_argument("--format", choices=("text", "json"), default="text")
    status.add_argument("--sample", type=float, default=0.5, metavar="S",
                        help="measure utilisation over S seconds (0: skip; default 0.5)")
    status.set_defaults(func=cmd_status)

    tr = cmds.add_parser("traffic", help="start or stop iperf3 (client node -> server node)")
    tr.add_argument("action", choices=("start", "stop", "status"))
    tr.add_argument("--udp", action="store_true", help="UDP instead of TCP")
    tr.add_argument("--bitrate", metavar="RATE",
                    help="iperf3 -b (e.g. 30M); UDP default: 1.25 x the fastest link")
    tr.add_argument("--duration", type=int, default=0, metavar="S",
                    help="seconds to run (default 0: until `lab traffic stop`)")
    tr.set_defaults(func=cmd_traffic)

    st = cmds.add_parser(
        "steer", help="set an SR policy: steer SRC DST via X,Y,... | --shortest",
        description="Install the SR policy SRC -> X -> Y ... -> DST on SRC (`ip -6 route "
                    "replace <DST prefix> encap seg6 mode encap segs ...`), or with "
                    "--shortest put SRC's shortest-path route back.")
    st.add_argument("src", metavar="SRC")
    st.add_argument("dst", metavar="DST")
    st.add_argument("via", nargs="*", metavar="via NODES",
                    help="`via D,B,C,E` (or `via D B C E`)")
    st.add_argument("--shortest", action="store_true", help="remove the policy")
    st.add_argument("--hmac", type=int, metavar="KEYID",
                    help="add an HMAC TLV with this key id; the key is set on every node "
                         "(random, kept in the lab's 600 key file, never printed)")
    st.add_argument("--keys", type=Path, metavar="FILE",
                    help="take the --hmac key from this [[key]] TOML file instead")
    st.set_defaults(func=cmd_steer)

    demo = cmds.add_parser(
        "demo", help="the scripted steering sequence, measured (headless off a terminal)",
        description="Bring the lab up if needed, start iperf3, and step through the "
                    "topology's demo sequence (default: shortest path, via D,B,C,E, back to "
                    "shortest, via C), printing per-direction utilisation, the links "
                    "carrying the flow and the SRH segment list seen on the client's "
                    "egress.")
    _topology_args(demo)
    demo.add_argument("--headless", action="store_true",
                      help="print a report per step (automatic when stdout is not a "
                           "terminal)")
    demo.add_argument("--hold", type=float, default=5.0, metavar="S",
                      help="seconds measured per step (default 5)")
    demo.add_argument("--settle", type=float, default=1.0, metavar="S",
                      help="seconds after each change before measuring (default 1)")
    demo.add_argument("--threshold", type=float, default=50.0, metavar="PCT",
                      help="utilisation from which a direction carries the flow "
                           "(default 50)")
    demo.add_argument("--udp", action="store_true", help="UDP traffic instead of TCP")
    demo.add_argument("--hmac", type=int, metavar="KEYID", help="policies carry an HMAC")
    demo.add_argument("--capture-all", action="store_true",
                      help="capture every node's egress, not only the client's")
    demo.add_argument("--keep", action="store_true",
                      help="leave the lab up at the end (a lab that was up before is "
                           "always left up)")
    demo.add_argument("--format", choices=("text", "json"), default="text",
                      help="headless output: text, or one JSON object per step")
    demo.add_argument("--kernel", action="append", default=[], metavar="IMAGE",
                      help="run on this kernel: host, a vmlinuz path or a release in /boot "
                           "(booted in a virtme-ng guest; repeatable). Default: the host "
                           "when its kernel has SRv6, else the newest image that has it")
    demo.set_defaults(func=cmd_demo)

    lab.set_defaults(func=lambda args: _usage(lab))


def _topology_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--topology", type=Path, metavar="FILE",
                   help="topology TOML (default: the shipped six-node mesh)")
    p.add_argument("--rate", metavar="RATE",
                   help="shape every link to RATE (e.g. 10mbit), overriding the file")


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help()
    return EXIT_USAGE


def _guard(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Lab errors become one line on stderr and exit status 2."""
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except LabError as exc:
            print(f"srinspect lab: {exc}", file=sys.stderr)
            return EXIT_USAGE
    wrapped.__doc__ = fn.__doc__
    return wrapped


def _prefix(args: argparse.Namespace) -> str:
    return lab_prefix(args.prefix)


def _topology(args: argparse.Namespace) -> Any:
    topo = load_topology(args.topology)
    if args.rate:
        topo = topo.with_rate(parse_rate(args.rate, "--rate"))
    return topo


def _say(msg: str) -> None:
    print(msg, file=sys.stderr)


@_guard
def cmd_up(args: argparse.Namespace) -> int:
    topo = _topology(args)
    plan = build.up(topo, _prefix(args), _say)
    rates = sorted({lk.rate_bps for lk in plan.links})
    print(f"lab {plan.name} is up: {len(plan.nodes)} nodes, {len(plan.links)} links shaped "
          f"to {', '.join(format_rate(r) for r in rates)} "
          f"(namespaces {plan.prefix}{{{','.join(plan.nodes)}}})")
    return EXIT_OK


@_guard
def cmd_down(args: argparse.Namespace) -> int:
    report = build.down(_prefix(args))
    if not report.namespaces and not report.state_removed:
        print("no lab was up")
    else:
        print(f"lab down: removed {len(report.namespaces)} namespaces, stopped "
              f"{len(set(report.processes))} processes")
    return EXIT_OK


@_guard
def cmd_status(args: argparse.Namespace) -> int:
    require_root()
    lab = Lab.load(_prefix(args))
    loads = {}
    if args.sample > 0:
        before = read_counters(lab)
        time.sleep(args.sample)
        loads = loads_between(lab, before, read_counters(lab))
    t = traffic.traffic_status(lab)
    if args.format == "json":
        doc = {
            "prefix": lab.plan.prefix, "name": lab.plan.name,
            "topology": lab.state.get("topology"), "created": lab.state.get("created"),
            "nodes": {n.name: {"netns": n.netns, "address": n.address, "sid": n.sid,
                               "prefix": n.prefix} for n in lab.nodes.values()},
            "links": [{"id": lk.id, "rate_bps": lk.rate_bps, "cost": lk.cost,
                       "ends": [{"node": e.node, "netns": e.netns, "dev": e.dev,
                                 "address": e.address} for e in (lk.a, lk.b)]}
                      for lk in lab.links],
            "utilisation": {f"{a}>{b}": round(v.utilisation, 3) for (a, b), v in loads.items()},
            "policies": {k: p.to_json() for k, p in lab.policies.items()},
            "traffic": {"running": t.running, "mode": t.mode, "client_pid": t.client_pid,
                        "server_pid": t.server_pid, "client": t.client, "server": t.server},
        }
        print(json.dumps(doc, indent=2))
        return EXIT_OK
    since = datetime.fromtimestamp(lab.state.get("created", 0)).strftime("%H:%M:%S")
    print(f"lab {lab.plan.name} ({lab.state.get('topology')}), prefix {lab.plan.prefix}, "
          f"up since {since}")
    print("nodes:")
    for n in lab.nodes.values():
        sid = "" if n.sid == n.address else f"  SID {n.sid}"
        print(f"  {n.name:<8} netns {n.netns:<14} address {n.address}{sid}")
    print("links:" + ("" if loads else "  (utilisation not sampled)"))
    for lk in lab.links:
        a, b = lk.nodes
        use = ""
        if loads:
            use = "  ".join(f"{x}>{y} {loads[(x, y)].percent:3d}%" for x, y in ((a, b), (b, a)))
        print(f"  {lk.id:<8} {lk.a.dev}<->{lk.b.dev:<8} {format_rate(lk.rate_bps):>11}  "
              f"cost {lk.cost:<3} {use}")
    print("policies:" + ("" if lab.policies else " none (shortest paths)"))
    for p in lab.policies.values():
        hmac = f", HMAC key {p.hmac_key_id}" if p.hmac_key_id is not None else ""
        print(f"  {p.src}->{p.dst}: segments {','.join(p.via)},{p.dst} "
              f"(path {' '.join(p.path)}{hmac})")
    if t.running:
        print(f"traffic: iperf3 {t.mode.upper()} {t.client} -> {t.server} running "
              f"(client pid {t.client_pid}, server pid {t.server_pid})")
    else:
        print("traffic: not running")
    return EXIT_OK


@_guard
def cmd_traffic(args: argparse.Namespace) -> int:
    require_root()
    lab = Lab.load(_prefix(args))
    if args.action == "start":
        t = traffic.start(lab, udp=args.udp, bitrate=args.bitrate, duration=args.duration)
        print(f"traffic: iperf3 {t.mode.upper()} {t.client} -> {t.server} started (client "
              f"pid {t.client_pid}, server pid {t.server_pid}; log "
              f"{lab.paths.log('iperf3-client')})")
    elif args.action == "stop":
        pids = traffic.stop(lab)
        print(f"traffic: stopped {len(pids)} iperf3 processes" if pids
              else "traffic: was not running")
    else:
        t = traffic.traffic_status(lab)
        print(f"traffic: {t.mode.upper()} running (client pid {t.client_pid})" if t.running
              else "traffic: not running")
    return EXIT_OK


def _parse_via(words: list[str]) -> list[str]:
    if words and words[0] == "via":
        words = words[1:]
    return [n for w in words for n in w.split(",") if n]


@_guard
def cmd_steer(args: argparse.Namespace) -> int:
    require_root()
    lab = Lab.load(_prefix(args))
    via = _parse_via(args.via)
    if args.shortest:
        if via:
            raise LabError("give either via NODES or --shortest, not both")
        steer.shortest(lab, args.src, args.dst)
        print(f"{args.src}->{args.dst}: shortest path "
              f"({' '.join(lab.expected_path(args.src, args.dst))})")
        return EXIT_OK
    if not via:
        raise LabError("give via NODES (e.g. `via D,B,C,E`) or --shortest")
    policy = steer.steer(lab, args.src, args.dst, via, hmac_key_id=args.hmac,
                         key_file=args.keys)
    hmac = f", HMAC key {policy.hmac_key_id}" if policy.hmac_key_id is not None else ""
    print(f"{args.src}->{args.dst}: segments {','.join((*policy.via, policy.dst))} "
          f"= {','.join(policy.segments)} (path {' '.join(policy.path)}{hmac})")
    return EXIT_OK


@_guard
def cmd_demo(args: argparse.Namespace) -> int:
    """The demo on each chosen kernel: this host's in this process, an image in a guest."""
    require_root()
    try:
        where = choose_targets(args.kernel)
    except ImageError as exc:
        raise LabError(str(exc)) from None
    status = EXIT_OK
    for target in where:
        rc = _demo_here(args) if target.is_host else _demo_in_guest(args, target)
        status = max(status, rc)
    return status


def _demo_in_guest(args: argparse.Namespace, target: Target) -> int:
    """The same demo, headless, inside a guest booted from ``target.image``; its report is
    relayed line by line (the live view needs the terminal, which the guest does not have)."""
    assert target.image is not None
    opts = ["--hold", str(args.hold), "--settle", str(args.settle),
            "--threshold", str(args.threshold), "--format", args.format]
    for flag, value in (("--topology", args.topology), ("--rate", args.rate),
                        ("--hmac", args.hmac)):
        if value is not None:
            opts += [flag, str(Path(value).resolve() if flag == "--topology" else value)]
    opts += [flag for flag, on in (("--udp", args.udp), ("--capture-all", args.capture_all))
             if on]
    prefix = ["--prefix", args.prefix] if args.prefix else []
    argv = [sys.executable, "-m", "srinspect", "lab", *prefix, "demo", "--kernel", "host",
            "--headless", *opts]
    if not (args.headless or not sys.stdout.isatty()):
        _say("the live view needs a terminal, which a guest does not have: headless report")
    result = guest.run(target.image, argv, env=guest.INNER_ENV,
                       on_line=lambda line: print(line, flush=True), log=_say)
    _say(f"the demo ran in a guest booted from {target.image.path} ({result.release}, "
         f"{result.accel.upper()}, boot {result.boot_s:.1f} s, {result.total_s:.0f} s in all)")
    return result.returncode


def _demo_here(args: argparse.Namespace) -> int:
    prefix = _prefix(args)
    topo = _topology(args)
    headless = args.headless or not sys.stdout.isatty()
    lab, built = ensure_lab(topo, prefix, _say)
    if not built and (args.topology or args.rate):
        _say("note: a lab is already up; --topology/--rate apply only when the demo builds it")
    steps = [DemoStep(s["label"], tuple(s["via"])) for s in lab.plan.demo] or [
        DemoStep(s.label, s.via) for s in topo.demo]
    if not steps:
        raise LabError("the topology has no [[demo]] steps")
    opts = DemoOptions(hold=args.hold, settle=args.settle, threshold=args.threshold / 100,
                       udp=args.udp, hmac_key_id=args.hmac,
                       capture_nodes=list(lab.nodes) if args.capture_all else None)
    results = []
    try:
        if headless:
            if args.format == "text":
                print(f"srinspect lab demo: {lab.plan.client} -> {lab.plan.server}, "
                      f"{'UDP' if args.udp else 'TCP'}, {len(steps)} steps, {args.hold:g} s "
                      f"each, links {_rates(lab)}", flush=True)

            def show(r: Any) -> None:
                text = (json.dumps(step_json(r)) if args.format == "json"
                        else render_step(lab, r, opts.threshold) + "\n")
                print(text, flush=True)

            results = run_steps(lab, steps, opts, show)
        else:
            from .live import LiveView

            with LiveView(lab) as view:
                results = run_steps(lab, steps, opts, lambda r: None, view.update)
            for r in results:
                print(render_step(lab, r, opts.threshold) + "\n")
    finally:
        if built and not args.keep:
            build.down(prefix)
            _say("lab down")
    ok = all(r.matches for r in results)
    if args.format == "text":
        print(f"demo: {sum(r.matches for r in results)}/{len(results)} steps carried the "
              "flow on the expected links")
    return EXIT_OK if ok else EXIT_FAIL


def _rates(lab: Lab) -> str:
    rates = sorted({lk.rate_bps for lk in lab.links})
    return "shaped to " + ", ".join(format_rate(r) for r in rates)
