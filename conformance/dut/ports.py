"""The ports adapter: a real router or another stack, reached through named interfaces.

The suite never configures a foreign device. The user describes it in a TOML file (its
addresses, the prefix it routes out of each receive port, its SIDs and policies, which
capabilities are configured) and the adapter only sends into ``--tx`` and listens on every
``--rx``. Cases needing a capability the file does not declare are SKIPped. Neighbour
discovery is handled here: the DUT's MAC is learnt by NS unless given, and NS from the DUT
for the tester's addresses (and for declared next hops on the receive links) are answered.

An interface may be given as ``NETNS/IFACE`` to use one inside a named network namespace
(a DUT in a container or a lab built with ``ip netns``).

Example file: see ``PORTS_EXAMPLE`` below (also in the README).
"""

from __future__ import annotations

import ipaddress
import time
import tomllib
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from srinspect.errors import LabError
from srinspect.kernel import netns
from srinspect.keys import Key
from srinspect.wire import parse_ip6

from .. import nd
from ..link import Exchange, Exchanger, Port
from ..topology import Policy, Topology
from .base import CAPABILITIES

PORTS_EXAMPLE = """\
[tester]
address = "2001:db8:a::1"         # our source address on the tx link
pool = "2001:db8:a:1::/64"        # optional: more sources the DUT routes back to tx

[dut]
link_address = "2001:db8:a::2"    # the DUT's address on the tx link (for ND)
# mac = "02:73:72:00:01:00"       # optional: skip ND
address = "2001:db8:d::1"         # an address / SID of the DUT: the DA of endpoint cases
downstream = "2001:db8:f::/64"    # routed by the DUT out of the first --rx
downstream_alt = "2001:db8:e::/64"  # optional: routed out of the second --rx
neighbors = ["2001:db8:b::1"]     # next hops on the rx links the tester answers ND for
capabilities = ["srv6", "icmp-ratelimit"]

[hmac]                            # optional: a key configured on the DUT
key_id = 1
algo = "sha256"
secret_file = "dut-hmac.key"      # the secret, on the file's first line

[sids]                            # optional: rfc8986 behaviours configured on the DUT
End = "2001:db8:5::1"

[policies.encap]                  # optional: headend policies configured on the DUT
prefix = "2001:db8:101::/64"
segments = ["2001:db8:f::a1", "2001:db8:f::a2"]
source = "2001:db8:d::1"
"""


def _addr(value: object, where: str) -> str:
    try:
        return str(ipaddress.IPv6Address(str(value)))
    except ValueError:
        raise LabError(f"{where}: not an IPv6 address: {value!r}") from None


def _prefix(value: object, where: str) -> str:
    try:
        return str(ipaddress.IPv6Network(str(value), strict=False))
    except ValueError:
        raise LabError(f"{where}: not an IPv6 prefix: {value!r}") from None


def _mac(value: str, where: str) -> bytes:
    try:
        mac = bytes.fromhex(value.replace(":", "").replace("-", ""))
    except ValueError:
        mac = b""
    if len(mac) != 6:
        raise LabError(f"{where}: not a MAC address: {value!r}")
    return mac


def load_config(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LabError(f"{path}: cannot read the DUT file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise LabError(f"{path}: not valid TOML ({exc})") from None


def _key(section: dict[str, Any], base: Path) -> Key:
    """The DUT's HMAC key. The secret comes from ``secret_file`` (preferred) or ``secret``;
    no error message ever includes it."""
    where = "[hmac]"
    try:
        key_id = int(section["key_id"])
        algo = str(section.get("algo", "sha256")).lower()
        if "secret_file" in section:
            secret = (base / str(section["secret_file"])).read_text().splitlines()[0]
        else:
            secret = str(section["secret"])
    except (KeyError, ValueError, IndexError):
        raise LabError(f"{where} needs key_id, algo and secret_file (or secret)") from None
    except OSError as exc:
        raise LabError(f"{where}: cannot read secret_file ({exc.strerror})") from None
    if algo not in ("sha1", "sha256") or not secret or not 0 < key_id <= 0xFFFFFFFF:
        raise LabError(f"{where}: key_id 1..4294967295, algo sha1 or sha256, and a "
                       "non-empty secret")
    return Key(key_id, algo, secret.encode())


def topology_from(doc: dict[str, Any], base: Path) -> tuple[Topology, set[str]]:
    """The Topology and the declared capabilities described by a ports TOML document."""
    tester, dut = doc.get("tester", {}), doc.get("dut", {})
    if "address" not in tester or "address" not in dut or "downstream" not in dut:
        raise LabError("the DUT file needs [tester] address, [dut] address and "
                       "[dut] downstream")
    policies = {}
    for name, p in doc.get("policies", {}).items():
        where = f"[policies.{name}]"
        policies[name] = Policy(
            _prefix(p.get("prefix", "::/128"), where),
            tuple(_addr(s, where) for s in p.get("segments", [])),
            str(p.get("mode", "inline" if name == "inline" else "encap")),
            _addr(p["source"], where) if "source" in p else None,
            int(p["key_id"]) if "key_id" in p else None)
    sids = {str(k): _addr(v, f"[sids] {k}") for k, v in doc.get("sids", {}).items()}
    downstream = _prefix(dut["downstream"], "[dut] downstream")
    barrier = dut.get("barrier") or str(ipaddress.IPv6Network(downstream).network_address +
                                        0xBA77)
    key = _key(doc["hmac"], base) if "hmac" in doc else None
    topo = Topology(
        sender=_addr(tester["address"], "[tester] address"),
        dut=_addr(dut["address"], "[dut] address"), downstream=downstream,
        barrier=_addr(barrier, "[dut] barrier"),
        downstream_alt=_prefix(dut["downstream_alt"], "[dut] downstream_alt")
        if "downstream_alt" in dut else None,
        sids=sids, policies=policies, hmac_key=key,
        sender_pool=_prefix(tester["pool"], "[tester] pool") if "pool" in tester else None)
    caps = set(dut.get("capabilities", ["srv6", "icmp-ratelimit"]))
    unknown = caps - set(CAPABILITIES)
    if unknown:
        raise LabError(f"[dut] capabilities: unknown {sorted(unknown)}; known: "
                       f"{', '.join(CAPABILITIES)}")
    caps |= {f"policy:{name}" for name in policies}
    caps |= {f"seg6local:{name}" for name in sids}
    if key is not None:
        caps.add("hmac-key")
    return topo, caps


def _where(spec: str) -> tuple[str | None, str]:
    """``NETNS/IFACE`` -> (netns, iface); a plain name stays in the current namespace."""
    if "/" in spec:
        ns, iface = spec.split("/", 1)
        return ns, iface
    return None, spec


def _open_port(role: str, spec: str) -> Port:
    ns, iface = _where(spec)
    ctx: AbstractContextManager[None] = netns.inside(ns) if ns else nullcontext()
    try:
        with ctx:
            return Port(role, iface)
    except OSError as exc:
        raise LabError(f"cannot open {spec} for raw capture: {exc.strerror or exc}") from None


class PortsDut:
    """A foreign DUT: described, never configured."""

    name = "ports"

    def __init__(self, tx: str, rx: list[str], config: Path, *,
                 log: Callable[[str], None] | None = None) -> None:
        self.tx_spec, self.rx_specs, self.config = tx, list(rx), config
        self.log = log or (lambda msg: None)
        doc = load_config(config)
        self.topology, self.caps = topology_from(doc, config.parent)
        if len(rx) >= 2:
            self.caps.add("port:rx2")
        dut = doc.get("dut", {})
        self._dut_mac = _mac(str(dut["mac"]), "[dut] mac") if "mac" in dut else None
        self._link_address = _addr(dut["link_address"], "[dut] link_address") \
            if "link_address" in dut else None
        self._answer = {parse_ip6(self.topology.sender)} | {
            parse_ip6(_addr(a, "[dut] neighbors")) for a in dut.get("neighbors", [])}
        self._pool = ipaddress.IPv6Network(self.topology.sender_pool) \
            if self.topology.sender_pool else None
        self._exchanger: Exchanger | None = None
        self.nd_answered = 0

    def open(self) -> None:
        if self._dut_mac is None and self._link_address is None:
            raise LabError("the DUT file needs [dut] mac or [dut] link_address (for ND)")
        tx = _open_port("tx", self.tx_spec)
        ports = [tx]
        try:
            roles = ["rx", "rx2"] + [f"rx{i}" for i in range(3, len(self.rx_specs) + 1)]
            ports += [_open_port(role, spec) for role, spec in zip(roles, self.rx_specs,
                                                                     strict=False)]
            mac = self._dut_mac or self._resolve(tx)
        except BaseException:
            for p in ports:
                p.close()
            raise
        self._exchanger = Exchanger(tx, ports[1:], mac, hook=self._on_frame)

    def _ours(self, target: bytes) -> bool:
        if target in self._answer:
            return True
        return self._pool is not None and ipaddress.IPv6Address(target) in self._pool

    def _on_frame(self, port: Port, frame: bytes) -> None:
        """Answer the DUT's neighbour solicitations for addresses the tester stands for."""
        ns = nd.parse_ns(frame)
        if ns is None:
            return
        mac, src, target = ns
        if self._ours(target):
            port.send(nd.advert(port.mac, mac, target, src if any(src) else b""))
            self.nd_answered += 1

    def _resolve(self, tx: Port, timeout: float = 2.0) -> bytes:
        assert self._link_address is not None
        target = parse_ip6(self._link_address)
        sender = parse_ip6(self.topology.sender)
        deadline = time.monotonic() + timeout
        next_ns = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() >= next_ns:
                tx.send(nd.solicit(tx.mac, sender, target))
                next_ns = time.monotonic() + 0.5
            for _ts, frame in tx.drain():
                na = nd.parse_na(frame)
                if na and na[0] == target:
                    return na[1]
                self._on_frame(tx, frame)
            time.sleep(0.005)
        raise LabError(f"the DUT did not answer neighbour solicitation for "
                       f"{self._link_address} on {self.tx_spec}")

    def unsupported(self, needs: frozenset[str]) -> str | None:
        missing = sorted(needs - self.caps)
        if missing:
            return (f"{missing[0]}: not declared in {self.config.name} (the ports adapter "
                    "never configures the device)")
        return None

    def prepare(self, needs: frozenset[str]) -> None:
        """Nothing to do: a foreign device is used as it is configured."""

    def exchange(self, packets: list[bytes], barrier: bytes | None,
                 is_barrier: Callable[[bytes], bool]) -> Exchange:
        if self._exchanger is None:
            raise LabError("the ports are not open")
        return self._exchanger.exchange(packets, barrier, is_barrier)

    def info(self) -> dict[str, Any]:
        ports = {"tx": self.tx_spec}
        ports.update({("rx" if i == 0 else f"rx{i + 1}"): s for i, s in
                      enumerate(self.rx_specs)})
        data: dict[str, Any] = {"adapter": "ports", "ports": ports,
                                "dut_config": str(self.config),
                                "capabilities": sorted(self.caps)}
        if self._exchanger:
            data["dut_mac"] = self._exchanger.dut_mac.hex(":")
        return data

    def close(self) -> None:
        if self._exchanger:
            self._exchanger.close()
            self._exchanger = None
