"""The rule catalogue: one table that the validator, `srinspect rules`, the docs and reports share.

Rule IDs are the project's public contract (../shared/spec/srh-rules.md section 4): they appear
in audit output and CI reports and are never renamed once released.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Severity(IntEnum):
    """Ordered so that ``max()`` over findings gives the worst one."""

    INFO = 0
    WARNING = 1
    ERROR = 2

    @property
    def label(self) -> str:
        return _SEVERITY_LABELS[self]  # a dict lookup: reports ask once per finding

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


_SEVERITY_LABELS = {s: s.name.lower() for s in Severity}


class Profile(StrEnum):
    """Which specification packets, or a device's behaviour, are judged against.

    Packet rules exist for the two SRH specifications (``PACKET_PROFILES``). ``rfc8986``
    holds the SRv6 network-programming behaviours (Linux seg6local): no packet rule belongs
    to it, the conformance suite judges a DUT's behaviours under it.
    """

    DRAFT04 = "draft-04"
    RFC8754 = "rfc8754"
    RFC8986 = "rfc8986"


#: The profiles packets are audited under (``--profile`` of audit, decode, flows, ...).
PACKET_PROFILES = (Profile.DRAFT04, Profile.RFC8754)


BOTH = frozenset({Profile.DRAFT04, Profile.RFC8754})
DRAFT04_ONLY = frozenset({Profile.DRAFT04})


@dataclass(frozen=True, slots=True)
class Rule:
    """One packet rule: what fires it is in ``summary``; ``refs`` cites the spec per profile."""

    id: str
    severity: Severity
    profiles: frozenset[Profile]
    refs: dict[Profile, str]
    summary: str
    #: what the rule needs beyond the packet: "csid" = C-SID formats (--csid); such a rule
    #: never fires without it, so its crafted frames live in crafted-csid.pcapng
    needs: str = ""

    def ref(self, profile: Profile) -> str:
        return self.refs.get(profile) or next(iter(self.refs.values()))

    def applies(self, profile: Profile) -> bool:
        return profile in self.profiles


def _rule(
    rule_id: str,
    severity: Severity,
    profiles: frozenset[Profile],
    draft04: str | None,
    rfc8754: str | None,
    summary: str,
    needs: str = "",
) -> Rule:
    refs: dict[Profile, str] = {}
    if draft04:
        refs[Profile.DRAFT04] = draft04
    if rfc8754:
        refs[Profile.RFC8754] = rfc8754
    return Rule(rule_id, severity, profiles, refs, summary, needs)


E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO  # noqa: E741 - table shorthand

_TABLE: tuple[Rule, ...] = (
    _rule("capture.snaplen", I, BOTH, "pcap snaplen", "pcap snaplen",
          "the capture cut the frame before the end of the SRH; its checks stop there"),
    _rule("srh.truncated", E, BOTH, "draft-04 s3; RFC 8200 s4", "RFC 8754 s2; RFC 8200 s4",
          "the SRH runs past the captured bytes or past the IPv6 payload length"),
    _rule("srh.hdrlen.short", E, BOTH, "draft-04 s3", "RFC 8754 s4.3.1.1",
          "(Hdr Ext Len+1)*8 < 8 + 16*(First Segment+1): the segment list does not fit"),
    _rule("srh.segleft.range", E, BOTH, "draft-04 s3; RFC 8986 s5.2", "RFC 8754 s4.3.1.1",
          "Segments Left exceeds First Segment+1 (Last Entry+1): SL == LE+1 is a reduced SRH "
          "(the first segment only in the DA), under draft-04 too (Linux encap.red)"),
    _rule("srh.da.mismatch", W, BOTH, "draft-04 s4.3", "RFC 8754 s4.3.1.1",
          "Segments Left is in range but the IPv6 DA is not Segment List[SL] (with --csid: "
          "nor Segment List[SL] shifted by whole C-SIDs, RFC 9800 s4.1.1)"),
    _rule("srh.flags.unused", W, BOTH, "draft-04 s3", "RFC 8754 s2",
          "an unused flag bit is set (draft-04: 0x80 or 0x07; RFC 8754: any bit)"),
    _rule("srh.reserved.nonzero", W, DRAFT04_ONLY, "draft-04 s3", None,
          "the Reserved field is not zero (RFC 8754 calls it Tag and allows it)"),
    _rule("srh.tlv.overrun", E, BOTH, "draft-04 s3.1", "RFC 8754 s2.1",
          "a TLV, or a lone trailing byte, runs past the end of the SRH"),
    _rule("srh.tlv.length", E, BOTH, "draft-04 s3.1", "RFC 8754 s2.1.1, s2.1.2",
          "a known TLV type carries a Length its type does not allow"),
    _rule("srh.tlv.unknown", I, BOTH, "draft-04 s3.1", "RFC 8754 s2.1",
          "a TLV type the profile does not define (skipped by its Length)"),
    _rule("srh.tlv.padding", W, BOTH, "draft-04 s3.1.4", "RFC 8754 s2.1.1",
          "non-zero padding; draft-04: padding repeated or misplaced; RFC 8754: Pad1 repeated"),
    _rule("srh.tlv.ingress.mismatch", W, DRAFT04_ONLY, "draft-04 s3.1.1", None,
          "the Ingress Node TLV address is not the IPv6 source"),
    _rule("srh.tlv.egress.mismatch", W, DRAFT04_ONLY, "draft-04 s3.1.2", None,
          "the Egress Node TLV address is not Segment List[0]"),
    _rule("srh.hmac.missing", E, DRAFT04_ONLY, "draft-04 s3.1.5", None,
          "the H flag is set but the last 40 bytes of the SRH are not an HMAC TLV"),
    _rule("srh.hmac.unflagged", E, DRAFT04_ONLY, "draft-04 s3.1.5", None,
          "an HMAC TLV is present but the H flag is clear"),
    _rule("srh.hmac.position", E, DRAFT04_ONLY, "draft-04 s3.1.5", None,
          "an HMAC TLV is not the last TLV"),
    _rule("srh.hmac.mismatch", E, BOTH, "draft-04 s5.2", "RFC 8754 s2.1.2.1",
          "the key for the key id is known and the HMAC does not verify"),
    _rule("srh.hmac.unknown-key", I, BOTH, "draft-04 s5.2", "RFC 8754 s2.1.2.1",
          "an HMAC is present but no key is configured for its key id (not verified)"),
    _rule("srh.duplicate", W, BOTH, "RFC 8200 s4.1", "RFC 8200 s4.1",
          "more than one SRH in one header chain"),
    _rule("srh.order.fragment", E, BOTH, "RFC 8200 s4.1, s4.5", "RFC 8200 s4.1, s4.5",
          "an SRH follows a Fragment header: it belongs to the unfragmentable part, before it"),
    _rule("srh.order.routing", W, BOTH, "RFC 8200 s4.1; RFC 5095",
          "RFC 8200 s4.1; RFC 5095",
          "an SRH shares its header chain with a Routing header of another type (at most one "
          "Routing header per chain)"),
    _rule("csid.container.empty", E, BOTH, "RFC 9800 s4.1, s6.1", "RFC 9800 s4.1, s6.1",
          "with --csid: an address in a C-SID locator block (the DA or an SRH entry) whose "
          "first C-SID is 0: it names the block, no node (0 is End-of-Carrier)", needs="csid"),
    _rule("csid.container.gap", E, BOTH, "RFC 9800 s4.1.1, s6.1", "RFC 9800 s4.1.1, s6.1",
          "with --csid: a container holds non-zero bits after an End-of-Carrier (zero) "
          "C-SID or in its tail bits: the shift makes the zero C-SID active, they are never "
          "reached", needs="csid"),
    _rule("srh.segment.invalid", W, BOTH, "draft-04 s4.3", "RFC 8754 s4.3.1.1; RFC 4291",
          "a segment is multicast, unspecified (::), loopback or IPv4-mapped"),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _TABLE}


def rules_for(profile: Profile) -> list[Rule]:
    """The rules that can fire under ``profile``, in catalogue order."""
    return [rule for rule in _TABLE if rule.applies(profile)]
