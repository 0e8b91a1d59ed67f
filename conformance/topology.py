"""The addresses, SIDs and policies the cases talk about, independent of the adapter.

A case never hard-codes an address: it asks the topology for "the DUT", "an address the DUT
routes out of the receive port" or "the SID of End.X". The linux adapter fills this from its
own address plan; the ports adapter from the user's TOML file describing a foreign device.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from srinspect.keys import Key


@dataclass(frozen=True, slots=True)
class Policy:
    """A headend policy configured on the DUT: traffic to ``prefix`` gets ``segments``.

    ``segments`` are in path order (as given to ``ip route ... segs``); ``source`` is the
    outer source address the DUT uses for encapsulation (None: not checked); ``key_id`` is set
    when the policy adds an HMAC TLV.
    """

    prefix: str
    segments: tuple[str, ...]
    mode: str = "encap"
    source: str | None = None
    key_id: int | None = None

    def destination(self, host: int = 0x55) -> str:
        """An address inside ``prefix`` to send test traffic to."""
        net = ipaddress.IPv6Network(self.prefix, strict=False)
        return str(net.network_address + host)


@dataclass(frozen=True, slots=True)
class Topology:
    """What cases may rely on.

    ``sender``: the tester's source address on the transmit link. ``dut``: an address (or
    SID) local to the DUT, used as the endpoint. ``downstream``/``downstream_alt``: prefixes
    the DUT routes out of the ``rx`` and ``rx2`` ports (not local to the DUT). ``barrier``: an
    address the DUT forwards out of ``rx`` with no SRv6 involved (used to know when the DUT is
    done with a case). ``sids``: behaviour name -> SID for the rfc8986 cases.
    ``sender_pool``: a prefix the DUT routes back to the transmit port, for cases that need a
    source the DUT has never answered (a fresh ICMP rate-limit bucket).
    ``downstream4``: an IPv4 prefix the DUT routes out of ``rx2`` (End.DT4 looks it up in
    the behaviour's table; End.DX4 sends to its next hop on the same link).
    """

    sender: str
    dut: str
    downstream: str
    barrier: str
    downstream_alt: str | None = None
    sids: Mapping[str, str] = field(default_factory=dict)
    policies: Mapping[str, Policy] = field(default_factory=dict)
    hmac_key: Key | None = None
    unknown_key_id: int = 0xBAD
    sender_pool: str | None = None
    downstream4: str | None = None

    def pool_address(self, n: int) -> str:
        """Address ``n`` of the sender pool (a prefix the DUT routes back to the tester's
        transmit port), or the sender itself when there is no pool."""
        return _host(self.sender_pool, n + 1) if self.sender_pool else self.sender

    def down(self, host: int) -> str:
        """Address number ``host`` inside the downstream prefix (out of the rx port)."""
        return _host(self.downstream, host)

    def alt(self, host: int) -> str:
        """Address number ``host`` inside the alternative downstream prefix (rx2)."""
        if self.downstream_alt is None:
            raise LookupError("this DUT has no second downstream prefix (rx2)")
        return _host(self.downstream_alt, host)

    def down4(self, host: int) -> str:
        """Address number ``host`` inside the IPv4 downstream prefix (rx2)."""
        if self.downstream4 is None:
            raise LookupError("this DUT has no IPv4 downstream prefix (End.DX4, End.DT4)")
        net = ipaddress.IPv4Network(self.downstream4, strict=False)
        return str(net.network_address + host)

    def sid(self, behaviour: str) -> str:
        try:
            return self.sids[behaviour]
        except KeyError:
            raise LookupError(f"no SID configured for {behaviour}") from None


def _host(prefix: str, host: int) -> str:
    net = ipaddress.IPv6Network(prefix, strict=False)
    return str(net.network_address + host)
