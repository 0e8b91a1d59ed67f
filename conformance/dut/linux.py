"""The embedded DUT: this machine's own kernel, in network namespaces.

    sender ns            dut ns                       receiver ns
    s0 ------veth------ d0   d1 ------veth------ r0   (rx)
                             d2 ------veth------ r1   (rx2)

The lab is built once per run and reconfigured per case: each capability a case needs maps to
a piece of kernel state (a sysctl, an HMAC key, a route); ``prepare`` applies only the
difference from the current state, so most cases cost no exec at all. Sender and receiver
interfaces have IPv6 disabled: their kernels never answer, forward or reject anything, so
every packet the suite sees came from the DUT. The DUT has permanent neighbour entries, so no
neighbour discovery delays or pollutes a case.

Addresses come only from 2001:db8::/32 (documentation) and the namespaces are named
``src-<pid>-snd|dut|rcv``; see ``cleanup.py`` for how they are always removed.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import platform
import secrets
import shutil
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from srinspect.errors import LabError
from srinspect.kernel import netns
from srinspect.kernel.probe import kernel_words
from srinspect.keys import Key

from .. import cleanup
from ..link import Exchange, Exchanger, Port
from ..topology import Policy, Topology

S0_MAC, D0_MAC = "02:73:72:00:00:01", "02:73:72:00:01:00"
D1_MAC, R0_MAC = "02:73:72:00:01:01", "02:73:72:00:02:00"
D2_MAC, R1_MAC = "02:73:72:00:01:02", "02:73:72:00:02:01"
SENDER, D0_ADDR = "2001:db8:a::1", "2001:db8:a::2"
R0_ADDR, D1_ADDR = "2001:db8:b::1", "2001:db8:b::2"
R1_ADDR, D2_ADDR = "2001:db8:c::1", "2001:db8:c::2"
DUT_ADDR = "2001:db8:d::1"
# IPv4 on the rx2 link for End.DX4/End.DT4 (TEST-NET-1), and the prefix routed there.
D2_ADDR4, R1_ADDR4, DOWNSTREAM4 = "192.0.2.1", "192.0.2.2", "198.51.100.0/24"
SENDER_POOL = "2001:db8:a:1::/64"  # routed back to the sender: fresh ICMP destinations
DOWNSTREAM, DOWNSTREAM_ALT = "2001:db8:f::/48", "2001:db8:e::/48"
TABLE = "100"
VRF = "vrf100"  # End.DT4/DT46 find TABLE through a VRF device (and net.vrf.strict_mode=1)
HMAC_KEY_ID = 1
PROBE_KEY_ID = 4000000000

SIDS = {"End": "2001:db8:5::1", "End.X": "2001:db8:5::2", "End.T": "2001:db8:5::3",
        "End.DX6": "2001:db8:5::4", "End.DT6": "2001:db8:5::5",
        "End.B6.Encaps": "2001:db8:5::6", "End.PSP": "2001:db8:5::7",
        "End.USP": "2001:db8:5::8", "End.USD": "2001:db8:5::9", "End.DT46": "2001:db8:5::a",
        "End.DX2": "2001:db8:5::b", "End.DX4": "2001:db8:5::c", "End.DT4": "2001:db8:5::d",
        # RFC 9800 NEXT-C-SID: locator block 2001:db8::/32 (32 bits), this node's C-SID c51
        # (16 bits); the SID prefix is block + C-SID.
        "End.NEXT-C-SID": "2001:db8:c51::"}
CSID_FORMAT = (32, 16)  # locator-block length, C-SID (node + function) length, in bits
POLICIES = {
    "encap": Policy("2001:db8:101::/64", ("2001:db8:f::a1", "2001:db8:f::a2", "2001:db8:f::a3"),
                    "encap", DUT_ADDR),
    "inline": Policy("2001:db8:102::/64", ("2001:db8:f::b1", "2001:db8:f::b2"), "inline"),
    "hmac": Policy("2001:db8:103::/64", ("2001:db8:f::c1", "2001:db8:f::c2"), "encap",
                   DUT_ADDR, HMAC_KEY_ID),
    "b6": Policy("", ("2001:db8:f::d1", "2001:db8:f::d2"), "encap", DUT_ADDR),
    "encap-red": Policy("2001:db8:104::/64",
                        ("2001:db8:f::e1", "2001:db8:f::e2", "2001:db8:f::e3"), "encap.red",
                        DUT_ADDR),
    "l2encap": Policy("2001:db8:105::/64", ("2001:db8:f::f1", "2001:db8:f::f2"), "l2encap",
                      DUT_ADDR),
    "l2encap-red": Policy("2001:db8:106::/64",
                          ("2001:db8:f::f3", "2001:db8:f::f4", "2001:db8:f::f5"),
                          "l2encap.red", DUT_ADDR),
}


def _segs(policy: Policy) -> str:
    return ",".join(policy.segments)


def _policy(name: str, extra: str = "") -> dict[str, str]:
    """The route of headend policy ``name``: its prefix steered into its SID list."""
    pol = POLICIES[name]
    return {pol.prefix: f"{pol.prefix} encap seg6 mode {pol.mode} segs {_segs(pol)}"
                        f"{extra} dev d1"}


def _local(behaviour: str, action: str, dev: str = "d1", prefix_len: int = 128
           ) -> dict[str, str]:
    """The route of the SID of ``behaviour``: ``seg6local action ACTION`` on ``dev``."""
    sid = SIDS[behaviour]
    key = sid if prefix_len == 128 else f"{sid}/{prefix_len}"
    return {key: f"{sid}/{prefix_len} encap seg6local action {action} dev {dev}"}


# Routes a capability installs: key (the destination) -> arguments after "route add".
ROUTES: dict[str, dict[str, str]] = {
    "policy:encap": _policy("encap"),
    "policy:inline": _policy("inline"),
    "policy:hmac": _policy("hmac", f" hmac {HMAC_KEY_ID}"),
    "seg6local:End": _local("End", "End"),
    "seg6local:End.X": _local("End.X", f"End.X nh6 {R1_ADDR}", "d2"),
    "seg6local:End.T": _local("End.T", f"End.T table {TABLE}"),
    "seg6local:End.DX6": _local("End.DX6", f"End.DX6 nh6 {R1_ADDR}", "d2"),
    "seg6local:End.DT6": _local("End.DT6", f"End.DT6 table {TABLE}"),
    "seg6local:End.B6.Encaps": _local("End.B6.Encaps",
                                      f"End.B6.Encaps srh segs {_segs(POLICIES['b6'])}"),
    "seg6local:End.PSP": _local("End.PSP", "End flavors psp"),
    "seg6local:End.USP": _local("End.USP", "End flavors usp"),
    "seg6local:End.USD": _local("End.USD", "End flavors usd"),
    "seg6local:End.DT46": _local("End.DT46", f"End.DT46 vrftable {TABLE}", VRF),
    "seg6local:End.DX2": _local("End.DX2", "End.DX2 oif d2"),
    "seg6local:End.NEXT-C-SID": _local(
        "End.NEXT-C-SID", f"End flavors next-csid lblen {CSID_FORMAT[0]} "
        f"nflen {CSID_FORMAT[1]}", prefix_len=sum(CSID_FORMAT)),
    "policy:encap-red": _policy("encap-red"),
    "policy:l2encap": _policy("l2encap"),
    "policy:l2encap-red": _policy("l2encap-red"),
    "seg6local:End.DX4": _local("End.DX4", f"End.DX4 nh4 {R1_ADDR4}", "d2"),
    "seg6local:End.DT4": _local("End.DT4", f"End.DT4 vrftable {TABLE}", VRF),
}
SYSCTLS: dict[str, dict[str, str]] = {
    "srv6": {"ipv6/conf/d0/seg6_enabled": "1"},
    "sr-disabled": {"ipv6/conf/d0/seg6_enabled": "0"},
    "require-hmac": {"ipv6/conf/d0/seg6_require_hmac": "1"},
    "icmp-ratelimit": {"ipv6/icmp/ratelimit": "1000"},
}
# The state every case starts from. ICMPv6 errors are not rate-limited (ratelimit 0) so one
# case's errors cannot starve the next case's; icmp-ratelimit restores the kernel default.
BASE_SYSCTLS = {
    "ipv6/conf/all/seg6_enabled": "1",
    "ipv6/conf/d0/seg6_enabled": "1",
    "ipv6/conf/all/seg6_require_hmac": "0",
    "ipv6/conf/d0/seg6_require_hmac": "0",
    "ipv6/icmp/ratelimit": "0",
}


@dataclass(slots=True)
class KernelState:
    """The per-case part of the DUT's configuration."""

    sysctls: dict[str, str] = field(default_factory=dict)
    routes: dict[str, str] = field(default_factory=dict)
    hmac_keys: set[int] = field(default_factory=set)


def desired_state(needs: frozenset[str]) -> KernelState:
    state = KernelState(dict(BASE_SYSCTLS))
    for need in sorted(needs):
        state.sysctls.update(SYSCTLS.get(need, {}))
        state.routes.update(ROUTES.get(need, {}))
        if need in ("hmac-key", "policy:hmac"):
            state.hmac_keys.add(HMAC_KEY_ID)
    return state


class LinuxDut:
    """Builds the lab on ``open``, reconfigures per case, removes everything on ``close``."""

    name = "linux"

    def __init__(self, *, keep: bool = False, hmac_secret: str | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.keep = keep
        self.log = log or (lambda msg: None)
        self.pid = os.getpid()
        base = f"{cleanup.PREFIX}{self.pid}"
        self.snd, self.dut, self.rcv = f"{base}-snd", f"{base}-dut", f"{base}-rcv"
        # A fresh random secret per run unless a test pins one; it reaches the kernel on
        # ip's stdin only, never a command line, a log or a report.
        self._secret = hmac_secret or secrets.token_hex(16)
        key = Key(HMAC_KEY_ID, "sha256", self._secret.encode())
        self.topology = Topology(
            sender=SENDER, dut=DUT_ADDR, downstream="2001:db8:f::/64",
            barrier="2001:db8:f::ba77", downstream_alt="2001:db8:e::/64", sids=dict(SIDS),
            policies=dict(POLICIES), hmac_key=key, sender_pool=SENDER_POOL,
            downstream4=DOWNSTREAM4)
        self._state = KernelState()
        self._support: dict[str, str | None] = {}
        self._exchanger: Exchanger | None = None
        self._reaper: cleanup.Reaper | None = None
        self._built: list[str] = []
        self._old_handlers: dict[int, Any] = {}
        self._closed = False
        self._absent: set[str] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> None:
        _preflight()
        swept = cleanup.sweep_leftovers()
        if swept:
            self.log(f"removed {len(swept)} namespaces left by a killed run: {' '.join(swept)}")
        self._install_handlers()
        try:
            self._build()
            self._probe()
            self._open_ports()
        except BaseException:
            self.close()
            raise

    def _install_handlers(self) -> None:
        atexit.register(self.close)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                self._old_handlers[sig] = signal.signal(sig, _raise_exit)
            except ValueError:  # not the main thread: the reaper still covers us
                break

    def _build(self) -> None:
        names = [self.snd, self.dut, self.rcv]
        self._built = names
        self._reaper = cleanup.Reaper(names)  # before anything exists that could leak
        netns.ip_batch(None, [f"netns add {n}" for n in names])
        netns.ip_batch(self.dut, [
            f"link add d0 address {D0_MAC} type veth peer name s0 address {S0_MAC} "
            f"netns {self.snd}",
            f"link add d1 address {D1_MAC} type veth peer name r0 address {R0_MAC} "
            f"netns {self.rcv}",
            f"link add d2 address {D2_MAC} type veth peer name r1 address {R1_MAC} "
            f"netns {self.rcv}",
        ])
        # Tester-side interfaces: no IPv6 stack, so those kernels stay silent.
        netns.sysctl(self.snd, _net({"ipv6/conf/s0/disable_ipv6": "1"}))
        netns.sysctl(self.rcv, _net({"ipv6/conf/r0/disable_ipv6": "1",
                                     "ipv6/conf/r1/disable_ipv6": "1"}))
        dut_sysctls = {"ipv6/conf/all/forwarding": "1", "ipv4/ip_forward": "1"}
        for dev in ("all", "default", "d0", "d1", "d2"):
            dut_sysctls[f"ipv6/conf/{dev}/accept_dad"] = "0"
            dut_sysctls[f"ipv6/conf/{dev}/accept_ra"] = "0"
        # A kernel without SRv6 HMAC has no seg6_require_hmac: such sysctls are never
        # written (the cases needing them are SKIPped by the probe).
        every = {*BASE_SYSCTLS, *(k for keys in SYSCTLS.values() for k in keys)}
        self._absent = {k for k in every if not netns.sysctl_exists(self.dut, f"net/{k}")}
        dut_sysctls.update(self._present(BASE_SYSCTLS))
        netns.sysctl(self.dut, _net(dut_sysctls))
        self._state.sysctls = dict(BASE_SYSCTLS)
        netns.ip_batch(self.dut, [
            "link set lo up", "link set d0 up", "link set d1 up", "link set d2 up",
            f"addr add {D0_ADDR}/64 dev d0 nodad",
            f"addr add {D1_ADDR}/64 dev d1 nodad",
            f"addr add {D2_ADDR}/64 dev d2 nodad",
            f"addr add {DUT_ADDR}/128 dev lo",
            f"neigh replace {SENDER} lladdr {S0_MAC} dev d0 nud permanent",
            f"neigh replace {R0_ADDR} lladdr {R0_MAC} dev d1 nud permanent",
            f"neigh replace {R1_ADDR} lladdr {R1_MAC} dev d2 nud permanent",
            f"route add {DOWNSTREAM} via {R0_ADDR} dev d1",
            f"route add {SENDER_POOL} via {SENDER} dev d0",
            f"route add {DOWNSTREAM_ALT} via {R1_ADDR} dev d2",
            f"route add {DOWNSTREAM} via {R1_ADDR} dev d2 table {TABLE}",
            f"addr add {D2_ADDR4}/24 dev d2",
            f"neigh replace {R1_ADDR4} lladdr {R1_MAC} dev d2 nud permanent",
            f"route add {DOWNSTREAM4} via {R1_ADDR4} dev d2 table {TABLE}",
            f"sr tunsrc set {DUT_ADDR}",
        ])
        self._add_vrf()
        netns.ip_batch(self.snd, ["link set lo up", "link set s0 up"])
        netns.ip_batch(self.rcv, ["link set lo up", "link set r0 up", "link set r1 up"])

    def _add_vrf(self) -> None:
        """A VRF device bound to TABLE for End.DT46 (best effort: without VRF support in the
        kernel the probe finds End.DT46 refused, and its case is SKIPped with the reason)."""
        if shutil.which("modprobe"):
            subprocess.run(["modprobe", "-q", "vrf"], capture_output=True, check=False)
        with contextlib.suppress(LabError):  # no VRF module: no strict_mode either
            netns.sysctl(self.dut, {"net/vrf/strict_mode": "1"})
        for line in (f"link add {VRF} type vrf table {TABLE}", f"link set {VRF} up"):
            netns.ip(self.dut, *line.split(), check=False)

    def _open_ports(self) -> None:
        with netns.inside(self.snd):
            tx = Port("tx", "s0")
        with netns.inside(self.rcv):
            rx = [Port("rx", "r0"), Port("rx2", "r1")]
        self._exchanger = Exchanger(tx, rx, bytes.fromhex(D0_MAC.replace(":", "")))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._exchanger:
            self._exchanger.close()
        if not self.keep:
            netns.delete(self._built)
        elif self._built:
            cleanup.mark_kept(self.pid)
        if self._reaper:
            self._reaper.finish(self.keep)
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        atexit.unregister(self.close)

    # -- capabilities and per-case state ----------------------------------------------------

    def _probe(self) -> None:
        """Find out once what this kernel can do, by trying it (then undoing it)."""
        for need, keys in SYSCTLS.items():
            missing = [k for k in keys if not netns.sysctl_exists(self.dut, f"net/{k}")]
            self._support[need] = (f"kernel has no net.{missing[0].replace('/', '.')}"
                                   if missing else None)
        self._support["port:rx2"] = None
        try:
            self._set_key(PROBE_KEY_ID, self._secret)
            self._set_key(PROBE_KEY_ID, "")
            self._support["hmac-key"] = None
        except LabError as exc:
            self._support["hmac-key"] = f"kernel refuses SRv6 HMAC keys: {kernel_words(str(exc))}"
        if self._support["hmac-key"] is None:
            self._set_key(HMAC_KEY_ID, self._secret)
        # One ip per route: a kernel without the behaviour answers with an error for that
        # line, but an iproute2 too old to parse it exits, which would end a whole batch.
        for need, routes in ROUTES.items():
            for dst, spec in routes.items():
                proc = netns.attempt(netns.ip_argv(self.dut, "route", "add", *spec.split()))
                if proc.returncode != 0:
                    self._support[need] = ("kernel refused the route: "
                                           f"{kernel_words(proc.stderr)}")
                    break
                netns.ip(self.dut, "route", "del", dst, check=False)
            else:
                self._support[need] = None
        if self._support["hmac-key"] is None:
            self._set_key(HMAC_KEY_ID, "")

    def unsupported(self, needs: frozenset[str]) -> str | None:
        for need in sorted(needs):
            reason = self._support.get(need, f"the linux DUT does not offer {need}")
            if reason:
                return f"{need}: {reason}"
        return None

    def prepare(self, needs: frozenset[str]) -> None:
        want = desired_state(needs)
        cur = self._state
        changed = {k: v for k, v in want.sysctls.items() if cur.sysctls.get(k) != v}
        if changed:
            netns.sysctl(self.dut, _net(self._present(changed)))
            cur.sysctls.update(changed)
        for key_id in sorted(want.hmac_keys - cur.hmac_keys):
            self._set_key(key_id, self._secret)
        lines = [f"route del {dst}" for dst, spec in cur.routes.items()
                 if want.routes.get(dst) != spec]
        lines += [f"route add {spec}" for dst, spec in want.routes.items()
                  if cur.routes.get(dst) != spec]
        if lines:
            cur.routes = {}
            netns.ip_batch(self.dut, lines)
            cur.routes = dict(want.routes)
        for key_id in sorted(cur.hmac_keys - want.hmac_keys):
            self._set_key(key_id, "")
        cur.hmac_keys = set(want.hmac_keys)

    def _present(self, sysctls: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in sysctls.items() if k not in self._absent}

    def _set_key(self, key_id: int, secret: str) -> None:
        """``ip sr hmac set`` reads the secret from stdin; an empty one deletes the key.
        ip's messages are reported, its stdin never."""
        netns.run(netns.ip_argv(self.dut, "sr", "hmac", "set", str(key_id), "sha256"),
                  input=secret + "\n", new_session=True)

    # -- traffic -----------------------------------------------------------------------------

    def exchange(self, packets: list[bytes], barrier: bytes | None,
                 is_barrier: Callable[[bytes], bool]) -> Exchange:
        if self._exchanger is None:
            raise LabError("the lab is not open")
        return self._exchanger.exchange(packets, barrier, is_barrier)

    def info(self) -> dict[str, Any]:
        return {"adapter": "linux", "kernel": platform.release(),
                "namespaces": [self.snd, self.dut, self.rcv],
                "ports": {"tx": f"{self.snd}:s0", "rx": f"{self.rcv}:r0",
                          "rx2": f"{self.rcv}:r1"},
                "kept": self.keep}


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    """SIGTERM/SIGHUP unwind the stack like an exception, so every ``finally`` cleans up."""
    raise SystemExit(128 + signum)


def _preflight() -> None:
    if os.geteuid() != 0:
        raise LabError("the linux DUT needs root: it builds network namespaces and opens raw "
                       "sockets (run as root, or test a device with --dut ports)")
    if shutil.which("ip") is None:
        raise LabError("the linux DUT needs iproute2's `ip` command")
    if not os.path.exists("/proc/sys/net/ipv6"):
        raise LabError("this kernel has no IPv6")


def _net(settings: dict[str, str]) -> dict[str, str]:
    """The suite names its sysctls below /proc/sys/net, as the kernel's documentation of
    them does; sysctl(8) names start at /proc/sys."""
    return {f"net/{k}": v for k, v in settings.items()}
