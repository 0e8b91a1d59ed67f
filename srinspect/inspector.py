"""The sans-I/O facade: frames in, decoded SRv6 packets with their findings out.

Everything that reads bytes off the wire for a client (CLI, TUI, conformance runner) goes
through ``Inspector.feed``. No exception escapes it for any input bytes: malformed headers
become findings, anything the codec cannot make sense of is skipped and counted. The audit
engine (engine.py) takes ``feed``'s two steps apart (``locate``, ``decode``) to put its
fast path between them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from .csid import CsidFormats
from .fields import Header
from .findings import Finding, HmacCheck
from .frame import Frame
from .ipv6 import (
    MAX_NESTING,
    NH_ETHERNET,
    NH_IPV4,
    NH_IPV6,
    Ipv4,
    Ipv6,
    pull_inner,
    pull_ipv6,
    pull_l2,
)
from .keys import Keyring
from .linklayer import ETHERTYPE_IPV6, ethernet_payload, ipv6_offset_func
from .locators import Locators
from .rules import Profile
from .srh import Srh
from .validate import Checker, check_csid

# Next Header values after the fixed IPv6 header that may lead to an SRH or an SRv6 payload.
_INTERESTING = frozenset({0, 43, 44, 51, 60, NH_IPV6, NH_IPV4})


@dataclass(slots=True)
class PacketResult:
    """One SRv6 packet: the outer IPv6 header with its chain, the encapsulated packet (if
    any), every finding and every HMAC verification result. ``l2`` is the Ethernet header of
    an L2 encapsulation (Next Header 143); ``inner`` is then the IP packet that frame carries."""

    frame: Frame
    ip: Ipv6
    inner: Ipv6 | Ipv4 | None
    findings: list[Finding] = field(default_factory=list)
    hmacs: list[HmacCheck] = field(default_factory=list)
    layers: list[Ipv6] = field(default_factory=list)
    l2: Header | None = None

    @property
    def srh(self) -> Srh | None:
        """The first SRH of the outer header chain (the one that steers the packet)."""
        return self.ip.srhs[0] if self.ip.srhs else None

    @property
    def has_srh(self) -> bool:
        return any(layer.srhs for layer in self.layers)


class Inspector:
    """Decodes and validates frames. Pure: no files, sockets, threads or clocks.

    ``feed`` returns None for frames that are not SRv6 (cheaply, without building objects)
    and a PacketResult otherwise. Counters say what was seen (the audit engine adds what it
    consumed without ``feed``).
    """

    def __init__(self, profile: Profile = Profile.DRAFT04, keyring: Keyring | None = None,
                 locators: Locators | None = None, csid: CsidFormats | None = None) -> None:
        self.profile = profile
        self.keyring = keyring
        self.locators = locators if locators is not None else Locators()
        #: RFC 9800 SID formats; when given, no packet is called clean without the validator
        #: (the C-SID rules look at every address; see engine.py)
        self.csid = csid if csid is not None else CsidFormats()
        self._pad1 = profile is Profile.RFC8754
        self._link: dict[int, Callable[[bytes], int] | None] = {}
        self.packets = 0
        self.ipv6_packets = 0
        self.srh_packets = 0
        #: IP-in-IPv6 packets without an SRH whose DA is in no locator: tunnels, not SRv6
        self.tunnel_packets = 0
        self.unsupported_linktypes: Counter[int] = Counter()

    def is_sid(self, addr: bytes) -> bool:
        """Whether a DA without an SRH makes its IP-in-IPv6 packet SRv6: it lies in a
        locator, or in the locator block of a C-SID format given with a prefix."""
        if self.locators.contains(addr):
            return True
        fmt = self.csid.find(addr) if self.csid else None
        return fmt is not None and fmt.prefix is not None

    def link_decoder(self, linktype: int) -> Callable[[bytes], int] | None:
        try:
            return self._link[linktype]
        except KeyError:
            fn = self._link[linktype] = ipv6_offset_func(linktype)
            return fn

    def feed(self, frame: Frame, detail: bool = True) -> PacketResult | None:
        """Decode and validate one frame.

        ``detail=False`` (audits) leaves out encapsulated packets that cannot hold an SRH:
        the same findings, a less complete decode.
        """
        off = self.locate(frame)
        if off < 0:
            return None
        return self.decode(frame, off, detail)

    def locate(self, frame: Frame) -> int:
        """Count the frame; return the offset of its IPv6 header when its first Next Header
        may lead to an SRH or an SRv6 payload, else -1 (not SRv6: nothing more to do)."""
        self.packets += 1
        try:
            fn = self._link[frame.linktype]
        except KeyError:
            fn = self.link_decoder(frame.linktype)
        if fn is None:
            self.unsupported_linktypes[frame.linktype] += 1
            return -1
        data = frame.data
        off = fn(data)
        if off < 0 or off + 40 > len(data) or data[off] >> 4 != 6:
            return -1
        self.ipv6_packets += 1
        if data[off + 6] not in _INTERESTING:
            return -1
        return off

    def decode(self, frame: Frame, off: int, detail: bool = True) -> PacketResult | None:
        """``feed`` for a frame ``locate`` found IPv6 at ``off`` in: None when it turns out
        not to be SRv6 (a plain tunnel, a header too short to decode)."""
        try:
            return self._decode(frame, frame.data, off, detail)
        except Exception as exc:  # pragma: no cover - a codec bug must not stop an audit
            raise InspectorBug(frame.number, exc) from exc

    def _decode(self, frame: Frame, data: bytes, off: int, detail: bool = True
                ) -> PacketResult | None:
        ip = pull_ipv6(data, off, len(data), pad1=self._pad1)
        if ip is None:
            return None
        result = PacketResult(frame, ip, None)
        layer: Ipv6 | Ipv4 | None = ip
        for _ in range(MAX_NESTING):
            if not isinstance(layer, Ipv6):
                break
            result.layers.append(layer)
            if layer.upper == NH_ETHERNET and result.l2 is None:
                if not detail and not _l2_may_hold_srh(data, layer):
                    break  # audit only, as below: the fast path mirrors this (_fastpath.py)
                result.l2, layer = pull_l2(data, layer, pad1=self._pad1)
                if result.inner is None:
                    result.inner = layer
                continue
            if layer.upper not in (NH_IPV6, NH_IPV4):
                break
            if not detail and not _may_hold_srh(data, layer):
                break  # audit only: an inner packet without extension headers has no SRH
            layer = pull_inner(data, layer, pad1=self._pad1)
            if result.inner is None:
                result.inner = layer
        if not result.has_srh:
            if ip.upper not in (NH_IPV6, NH_IPV4):
                return None
            if not self.is_sid(ip.dst):
                self.tunnel_packets += 1  # a 6in6/4in6 tunnel: only a SID as DA makes SRv6
                return None
            if self.csid:  # reduced encapsulation without an SRH: the DA is the container
                checker = Checker(frame.number, self.profile, self.keyring, self.csid)
                check_csid(checker, ip)
                result.findings = checker.findings
        if result.has_srh:
            self.srh_packets += 1
            checker = Checker(frame.number, self.profile, self.keyring, self.csid)
            cut = frame.orig_len > len(data)
            for layer6 in result.layers:
                checker.check_ipv6(data, layer6, cut)
            result.findings = checker.findings
            result.hmacs = checker.hmacs
        return result


def _may_hold_srh(data: bytes, outer: Ipv6) -> bool:
    """Whether the encapsulated packet could carry an SRH (IPv6 with more headers)."""
    at = outer.upper_offset
    return (outer.upper == NH_IPV6 and at + 40 <= outer.limit
            and data[at + 6] in _INTERESTING)


def _l2_may_hold_srh(data: bytes, outer: Ipv6) -> bool:
    """Whether the Ethernet frame behind Next Header 143 carries IPv6 that could hold an SRH
    (_fastpath.fast_srh_py and _skim.c decide the same from the same bytes)."""
    frame = data[: outer.limit]
    ethertype, at = ethernet_payload(frame, outer.upper_offset)
    return (ethertype == ETHERTYPE_IPV6 and at + 40 <= outer.limit
            and data[at + 6] in _INTERESTING)


class InspectorBug(Exception):  # noqa: N818
    """An unexpected exception inside the codec: a bug in srinspect, reported with the frame."""

    def __init__(self, frame: int, exc: Exception) -> None:
        super().__init__(f"internal error decoding frame {frame}: {exc!r} (please report)")
        self.frame = frame
