"""The sans-I/O facade: frames in, decoded SRv6 packets with their findings out.

Everything that reads bytes off the wire for a client (CLI, TUI, conformance runner) goes
through ``Inspector.feed``. No exception escapes it for any input bytes: malformed headers
become findings, anything the codec cannot make sense of is skipped and counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from ._fastpath import fast_srh
from .csid import CsidFormats
from .fastnew import frozen_constructor
from .fields import Header
from .findings import HMAC_MISMATCH, HMAC_UNKNOWN_KEY, HMAC_VERIFIED, Finding, HmacCheck
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
from .keys import Keyring, compute_draft04, macs_equal
from .linklayer import ETHERTYPE_IPV6, ethernet_payload, ipv6_offset_func
from .locators import Locators
from .rules import RULES, Profile
from .srh import Srh
from .validate import Checker, check_csid

# Next Header values after the fixed IPv6 header that may lead to an SRH or an SRv6 payload.
_INTERESTING = frozenset({0, 43, 44, 51, 60, NH_IPV6, NH_IPV4})


class _Clean:
    """Type of CLEAN: what ``feed(detail=False)`` returns for a clean, simple SRH packet."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "CLEAN"


CLEAN = _Clean()


class FastResult:
    """What ``feed(detail=False)`` returns for a simple HMAC-carrying SRH: only the findings
    and HMAC results an audit records, without the decoded headers."""

    __slots__ = ("findings", "hmacs")

    def __init__(self, findings: list[Finding], hmacs: list[HmacCheck]) -> None:
        self.findings = findings
        self.hmacs = hmacs


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
    and a PacketResult otherwise. Counters say what was seen.
    """

    def __init__(self, profile: Profile = Profile.DRAFT04, keyring: Keyring | None = None,
                 locators: Locators | None = None, csid: CsidFormats | None = None) -> None:
        self.profile = profile
        self.keyring = keyring
        self.locators = locators if locators is not None else Locators()
        #: RFC 9800 SID formats; when given, no packet is called clean without the validator
        #: (the C-SID rules look at every address), see ``skim_mode``
        self.csid = csid if csid is not None else CsidFormats()
        self._pad1 = profile is Profile.RFC8754
        self._draft04 = profile is Profile.DRAFT04
        self._link: dict[int, Callable[[bytes], int] | None] = {}
        unknown = RULES["srh.hmac.unknown-key"]
        self._unknown_key_rule = (unknown.id, unknown.severity, unknown.ref(profile))
        self.packets = 0
        self.ipv6_packets = 0
        self.srh_packets = 0
        #: IP-in-IPv6 packets without an SRH whose DA is in no locator: tunnels, not SRv6
        self.tunnel_packets = 0
        self.unsupported_linktypes: Counter[int] = Counter()

    def add_skimmed(self, records: int, ipv6: int, srh: int) -> None:
        """Count packets the readers' compiled pre-filter consumed on this inspector's
        behalf (each one exactly what ``feed(frame, detail=False)`` returns None or CLEAN
        for; see _skim.c)."""
        self.packets += records
        self.ipv6_packets += ipv6
        self.srh_packets += srh

    @property
    def skim_mode(self) -> int:
        """What the compiled pre-filter is told: bit 0 the draft-04 profile, bit 1 C-SID
        formats are configured (then it calls no SRH packet clean, _skim.c)."""
        return int(self._draft04) | (2 if self.csid else 0)

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

    def feed(self, frame: Frame, detail: bool = True
             ) -> PacketResult | FastResult | _Clean | None:
        """Decode and validate one frame.

        With ``detail=False`` (the audit's fast path) a packet that provably fires no rule
        (see fastpath.py) is only counted and CLEAN is returned instead of a PacketResult.
        """
        self.packets += 1
        try:
            fn = self._link[frame.linktype]
        except KeyError:
            fn = self.link_decoder(frame.linktype)
        if fn is None:
            self.unsupported_linktypes[frame.linktype] += 1
            return None
        data = frame.data
        off = fn(data)
        if off < 0 or off + 40 > len(data) or data[off] >> 4 != 6:
            return None
        self.ipv6_packets += 1
        if data[off + 6] not in _INTERESTING:
            return None
        if not detail and not self.csid:
            tlv = fast_srh(data, off, self._draft04)
            if tlv == -1:
                self.srh_packets += 1
                return CLEAN
            if tlv >= 0:
                self.srh_packets += 1
                return self.fast_hmac(frame.number, data, off, tlv)
        try:
            return self._decode(frame, data, off, detail)
        except Exception as exc:  # pragma: no cover - a codec bug must not stop an audit
            raise InspectorBug(frame.number, exc) from exc

    def fast_hmac(self, number: int, data: bytes, off: int, tlv: int) -> FastResult:
        """A simple draft-04 SRH whose only TLV is its HMAC: verify (or report the unknown
        key) straight from the bytes. Gives exactly what the full validator gives; a
        property test holds the two together. Called by ``feed`` and, for the packets the
        readers' pre-filter set aside (``PcapReader.skim(hmac_batch=True)``, already
        counted), by the audit loops."""
        s = off + 40
        key_id = int.from_bytes(data[tlv + 4 : tlv + 8], "big")
        key = self.keyring.get(key_id) if self.keyring is not None else None
        if key is None:
            rule_id, severity, ref = self._unknown_key_rule
            finding = _new_finding(rule_id, severity, number, tlv + 4, 4,
                                   _unknown_key_message(key_id), ref, "tlvs[0]", s)
            return FastResult([finding], [_new_check(s, tlv, key_id, HMAC_UNKNOWN_KEY)])
        fs, flags = data[s + 4], data[s + 5]
        text = data[off + 8 : off + 24] + bytes((fs, flags)) + data[tlv + 4 : tlv + 8] + \
            data[s + 8 : tlv]
        if macs_equal(compute_draft04(key, text), data[tlv + 8 : tlv + 40]):
            return FastResult([], [_new_check(s, tlv, key_id, HMAC_VERIFIED)])
        rule = RULES["srh.hmac.mismatch"]
        finding = Finding(rule.id, rule.severity, number, tlv + 8, 32,
                          f"HMAC (key id {key_id}, {key.algo}) does not verify",
                          rule.ref(self.profile), "tlvs[0]", s)
        return FastResult([finding], [_new_check(s, tlv, key_id, HMAC_MISMATCH)])

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
                    break  # audit only, as below: the fast path mirrors this (fastpath.py)
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


_new_finding = frozen_constructor(Finding)
_new_check = frozen_constructor(HmacCheck)


@lru_cache(maxsize=1024)
def _unknown_key_message(key_id: int) -> str:
    """The same few key ids repeat across a capture; the cache is bounded against crafted
    captures that use a new one in every packet."""
    return f"HMAC key id {key_id} has no configured key: not verified"


def _may_hold_srh(data: bytes, outer: Ipv6) -> bool:
    """Whether the encapsulated packet could carry an SRH (IPv6 with more headers)."""
    at = outer.upper_offset
    return (outer.upper == NH_IPV6 and at + 40 <= outer.limit
            and data[at + 6] in _INTERESTING)


def _l2_may_hold_srh(data: bytes, outer: Ipv6) -> bool:
    """Whether the Ethernet frame behind Next Header 143 carries IPv6 that could hold an SRH
    (fastpath.clean_simple_srh and _skim.c decide the same from the same bytes)."""
    frame = data[: outer.limit]
    ethertype, at = ethernet_payload(frame, outer.upper_offset)
    return (ethertype == ETHERTYPE_IPV6 and at + 40 <= outer.limit
            and data[at + 6] in _INTERESTING)


class InspectorBug(Exception):  # noqa: N818
    """An unexpected exception inside the codec: a bug in srinspect, reported with the frame."""

    def __init__(self, frame: int, exc: Exception) -> None:
        super().__init__(f"internal error decoding frame {frame}: {exc!r} (please report)")
        self.frame = frame
