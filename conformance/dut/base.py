"""What the runner needs from a DUT adapter, and the capability names cases can require.

A capability is something a case needs the DUT to *be* (SR enabled, an HMAC key known to the
tester, an encap policy installed...). The linux adapter provides a capability by configuring
the kernel before the case and probes, once, whether the kernel can; the ports adapter
provides exactly those the user's TOML file declares. A case whose needs are not met is
SKIPped with the adapter's reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..link import Exchange
from ..topology import Topology

CAPABILITIES: dict[str, str] = {
    "srv6": "SRv6 endpoint processing enabled on the ingress interface",
    "sr-disabled": "SRv6 processing disabled on the ingress interface",
    "hmac-key": "an HMAC key whose id, algorithm and secret the tester knows",
    "require-hmac": "the ingress interface requires an HMAC on SRv6 packets",
    "icmp-ratelimit": "ICMPv6 error rate limiting at its normal setting",
    "policy:encap": "a headend encap policy (H.Encaps)",
    "policy:inline": "a headend inline policy (SRH insertion)",
    "policy:hmac": "a headend encap policy that adds an HMAC TLV",
    "port:rx2": "a second receive port (cross-connect / table behaviours)",
    "seg6local:End": "an End SID",
    "seg6local:End.X": "an End.X SID cross-connecting to the rx2 neighbour",
    "seg6local:End.T": "an End.T SID whose table routes the downstream prefix out of rx2",
    "seg6local:End.DX6": "an End.DX6 SID cross-connecting to the rx2 neighbour",
    "seg6local:End.DT6": "an End.DT6 SID whose table routes the downstream prefix out of rx2",
    "seg6local:End.B6.Encaps": "an End.B6.Encaps SID bound to the 'b6' policy",
    "seg6local:End.PSP": "an End SID with the PSP flavour",
    "seg6local:End.USP": "an End SID with the USP flavour",
    "seg6local:End.USD": "an End SID with the USD flavour",
    "seg6local:End.DT46": "an End.DT46 SID whose table routes the downstream prefix out of rx2",
    "seg6local:End.DX2": "an End.DX2 SID cross-connecting to the rx2 link",
    "seg6local:End.NEXT-C-SID": "an End SID with the NEXT-C-SID flavour (RFC 9800), locator "
                                "block 32 bits, C-SID 16 bits",
    "policy:encap-red": "a headend reduced-encap policy (H.Encaps.Red)",
    "seg6local:End.DX4": "an End.DX4 SID whose IPv4 next hop is on the rx2 link",
    "seg6local:End.DT4": "an End.DT4 SID whose table routes the IPv4 downstream prefix out "
                         "of rx2",
    "policy:l2encap": "a headend L2 encapsulation policy (H.Encaps.L2) for frames received "
                      "on the tx link",
    "policy:l2encap-red": "a headend reduced L2 encapsulation policy (H.Encaps.L2.Red)",
}


class Dut(Protocol):
    """The runner's view of a device under test."""

    name: str
    topology: Topology

    def open(self) -> None:
        """Build or reach the DUT; raise LabError when that is impossible (exit 2)."""

    def info(self) -> dict[str, Any]:
        """What the reports say about the DUT (kernel version, ports...)."""

    def unsupported(self, needs: frozenset[str]) -> str | None:
        """Why the DUT cannot provide ``needs`` (SKIP), or None."""

    def prepare(self, needs: frozenset[str]) -> None:
        """Put the DUT in the state ``needs`` describe; LabError -> INCONCLUSIVE."""

    def exchange(self, packets: list[bytes], barrier: bytes | None,
                 is_barrier: Callable[[bytes], bool]) -> Exchange:
        """Send the packets, then the barrier, and return what came back."""

    def close(self) -> None:
        """Undo everything ``open`` built (idempotent)."""
