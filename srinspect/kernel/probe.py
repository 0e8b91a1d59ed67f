"""What the running kernel can do for SRv6, found by trying it.

Reading ``/proc/config.gz`` or looking for sysctls is not enough: cloud kernels keep the SRH
sysctls (``seg6_enabled``) but build without ``CONFIG_IPV6_SEG6_LWTUNNEL``, so every
``encap seg6`` route is refused, and an iproute2 older than the kernel cannot even ask for
new behaviours. So each piece is tried once in a throwaway network namespace (named
``srinspect-probe-<pid>``, removed before returning, whatever happens) and reported with the
kernel's own words when it is refused. Probing needs root; without it every piece is
"unknown".

``SRINSPECT_FORCE_GUEST=1`` makes :func:`host_srv6_missing` say the host has no SRv6, so the
guest path can be exercised on any machine.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LabError
from . import netns

FORCE_GUEST_ENV = "SRINSPECT_FORCE_GUEST"
PROBE_PREFIX = "srinspect-probe-"
SEG6_SYSCTL = Path("/proc/sys/net/ipv6/conf/all/seg6_enabled")

#: seg6local actions and the arguments that make each a complete route on device p0.
SEG6LOCAL_ACTIONS: dict[str, str] = {
    "End": "action End",
    "End.X": "action End.X nh6 fc00:9::2",
    "End.T": "action End.T table 100",
    "End.DX2": "action End.DX2 oif p0",
    "End.DX4": "action End.DX4 nh4 192.0.2.2",
    "End.DX6": "action End.DX6 nh6 fc00:9::2",
    "End.DT4": "action End.DT4 vrftable 100",  # with vrf100 (table 100) and strict_mode
    "End.DT6": "action End.DT6 table 100",
    "End.DT46": "action End.DT46 vrftable 100",
    "End.B6": "action End.B6 srh segs fc00:9::a",
    "End.B6.Encaps": "action End.B6.Encaps srh segs fc00:9::a",
}
#: End flavours (RFC 8986 section 4.16, RFC 9800 NEXT-C-SID).
FLAVORS: dict[str, str] = {
    "psp": "action End flavors psp",
    "usp": "action End flavors usp",
    "usd": "action End flavors usd",
    "next-csid": "action End flavors next-csid lblen 32 nflen 16",
}
#: Headend encapsulation modes of ``encap seg6``.
ENCAP_MODES = ("encap", "inline", "l2encap", "encap.red", "l2encap.red")


@dataclass(frozen=True, slots=True)
class Piece:
    """One capability: ``ok`` is True/False, or None when it could not be probed."""

    name: str
    ok: bool | None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class HostKernel:
    """The running kernel and its SRv6 pieces."""

    release: str
    pieces: tuple[Piece, ...]
    seg6local_actions: dict[str, str] = field(default_factory=dict)  # name -> "" or error
    flavors: dict[str, str] = field(default_factory=dict)
    encap_modes: dict[str, str] = field(default_factory=dict)

    def piece(self, name: str) -> Piece:
        for p in self.pieces:
            if p.name == name:
                return p
        return Piece(name, None, "not probed")

    @property
    def has_srv6(self) -> bool:
        """True when the DUT and the lab can run here: headend encap, seg6local, HMAC."""
        return all(self.piece(n).ok for n in ("srh", "seg6-encap", "seg6local", "hmac"))

    def srv6_missing(self) -> str | None:
        """The first missing SRv6 piece, in words, or None."""
        for name in ("netns", "veth", "srh", "seg6-encap", "seg6local", "hmac"):
            p = self.piece(name)
            if not p.ok:
                return f"{name}: {p.detail}" if p.detail else name
        return None

    def to_dict(self) -> dict[str, object]:
        return {"release": self.release, "srv6": self.has_srv6,
                "pieces": {p.name: {"ok": p.ok, "detail": p.detail} for p in self.pieces},
                "seg6local_actions": self.seg6local_actions, "flavors": self.flavors,
                "encap_modes": self.encap_modes}


def forced_guest() -> bool:
    return os.environ.get(FORCE_GUEST_ENV, "") not in ("", "0")


def host_srv6_missing(host: HostKernel | None = None) -> str | None:
    """Why commands needing SRv6 cannot use this host's kernel (None: they can)."""
    if forced_guest():
        return f"{FORCE_GUEST_ENV} is set, so the host kernel is not used"
    return (host or probe_host()).srv6_missing()


@functools.cache
def probe_host() -> HostKernel:
    """Probe once per process (about 0.1 s as root); see the module docstring."""
    release = platform.release()
    if platform.system() != "Linux":
        return HostKernel(release, (Piece("netns", False, "not Linux"),))
    if os.geteuid() != 0:
        why = "needs root to probe"
        return HostKernel(release, tuple(Piece(n, None, why) for n in
                                         ("netns", "veth", "srh", "seg6-encap", "seg6local",
                                          "hmac", "tbf", "netem")))
    if shutil.which("ip") is None:
        return HostKernel(release, (Piece("netns", False,
                                          "iproute2's `ip` is missing (apt-get install "
                                          "iproute2)"),))
    return _Prober(f"{PROBE_PREFIX}{os.getpid()}").run(release)


class _Prober:
    """Tries each piece inside one namespace; ``run`` always deletes it."""

    def __init__(self, ns: str) -> None:
        self.ns = ns
        self.pieces: list[Piece] = []

    def run(self, release: str) -> HostKernel:
        _ip(["netns", "del", self.ns])  # a leftover of a killed probe with our pid
        made = _ip(["netns", "add", self.ns])
        if made.returncode != 0:
            return HostKernel(release, (Piece("netns", False, _words(made)),))
        try:
            return self._probe(release)
        finally:
            _ip(["netns", "del", self.ns])

    def _probe(self, release: str) -> HostKernel:
        self.pieces.append(Piece("netns", True))
        self._ipn(["link", "set", "lo", "up"])
        veth = self._ipn(["link", "add", "p0", "type", "veth", "peer", "name", "p1"])
        self._add("veth", veth)
        if veth.returncode == 0:
            self._ipn(["link", "set", "p0", "up"])
            self._ipn(["link", "set", "p1", "up"])
            self._ipn(["addr", "add", "fc00:9::1/64", "dev", "p0", "nodad"])
        self.pieces.append(Piece("srh", SEG6_SYSCTL.exists(),
                                 "" if SEG6_SYSCTL.exists() else
                                 "no net.ipv6.conf.all.seg6_enabled (CONFIG_IPV6 without "
                                 "SRH processing)"))
        dev = "p0" if veth.returncode == 0 else "lo"
        self._prepare_vrf()
        modes = {m: self._route(f"fc00:6:{i}::/64 encap seg6 mode {m} segs fc00:9::a dev {dev}")
                 for i, m in enumerate(ENCAP_MODES, 1)}
        self._add_from("seg6-encap", modes["encap"], "CONFIG_IPV6_SEG6_LWTUNNEL")
        actions = {a: self._route(f"fc00:5::{i:x}/128 encap seg6local {args} dev {dev}")
                   for i, (a, args) in enumerate(SEG6LOCAL_ACTIONS.items(), 1)}
        self._add_from("seg6local", actions["End"], "CONFIG_IPV6_SEG6_LWTUNNEL")
        flavors = {f: self._route(f"fc00:5::1:{i:x}/128 encap seg6local {args} dev {dev}")
                   for i, (f, args) in enumerate(FLAVORS.items(), 1)}
        self._probe_hmac()
        for qdisc, args in (("tbf", "tbf rate 10mbit burst 32kbit latency 30ms"),
                            ("netem", "netem delay 1ms")):
            proc = netns.attempt(["tc", "-n", self.ns, "qdisc", "replace", "dev", dev,
                                  "root", *args.split()]) if shutil.which("tc") else None
            if proc is None:
                self.pieces.append(Piece(qdisc, False, "tc is missing (apt-get install "
                                                       "iproute2)"))
            else:
                self._add(qdisc, proc)
        return HostKernel(release, tuple(self.pieces), actions, flavors, modes)

    def _prepare_vrf(self) -> None:
        """End.DT4 and End.DT46 look their table up through a VRF device and need the
        namespace's ``net.vrf.strict_mode=1``: give them both, as the DUT does (a kernel
        without VRF support then refuses those two actions with its reason)."""
        if shutil.which("modprobe"):
            netns.attempt(["modprobe", "-q", "vrf"])
        with contextlib.suppress(LabError):  # no VRF module: DT4/DT46 say so below
            netns.sysctl(self.ns, {"net.vrf.strict_mode": 1})
        self._ipn(["link", "add", "vrf100", "type", "vrf", "table", "100"])
        self._ipn(["link", "set", "vrf100", "up"])

    def _probe_hmac(self) -> None:
        proc = self._ipn(["sr", "hmac", "set", "4000000000", "sha256"], stdin="probe\n")
        if proc.returncode == 0:
            self._ipn(["sr", "hmac", "set", "4000000000", "sha256"], stdin="\n")
            has_sysctl = Path("/proc/sys/net/ipv6/conf/all/seg6_require_hmac").exists()
            self.pieces.append(Piece("hmac", True, "" if has_sysctl else
                                     "keys accepted, but no seg6_require_hmac sysctl"))
        else:
            self.pieces.append(Piece("hmac", False, f"{_words(proc)} (CONFIG_IPV6_SEG6_HMAC)"))

    def _route(self, spec: str) -> str:
        """"" when the kernel accepted the route, else its error message."""
        proc = self._ipn(["-6", "route", "add", *spec.split()])
        return "" if proc.returncode == 0 else _words(proc)

    def _add_from(self, name: str, error: str, config: str) -> None:
        self.pieces.append(Piece(name, not error, f"{error} ({config})" if error else ""))

    def _add(self, name: str, proc: subprocess.CompletedProcess[str]) -> None:
        self.pieces.append(Piece(name, proc.returncode == 0,
                                 "" if proc.returncode == 0 else _words(proc)))

    def _ipn(self, args: Sequence[str], stdin: str | None = None
             ) -> subprocess.CompletedProcess[str]:
        return _ip(["-n", self.ns, *args], stdin=stdin)


def _ip(args: Sequence[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return netns.attempt(["ip", *args], input=stdin)


def _words(proc: subprocess.CompletedProcess[str]) -> str:
    return kernel_words(proc.stderr or proc.stdout) or f"exit {proc.returncode}"


def kernel_words(message: str) -> str:
    """The kernel's reason in an iproute2 complaint: its last line without prompts and
    prefixes; the bare errno 524 (ENOTSUPP) in words."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    if not lines:
        return ""
    text = lines[-1].rpartition("RTNETLINK answers: ")[2].removeprefix("Error: ").rstrip(".")
    return "not supported by this kernel" if text == "Unknown error 524" else text
