"""What the validator hands out: findings and HMAC verification results."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol

from .fastnew import frozen_constructor
from .rules import Severity


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule that fired on one frame, carrying everything a sink needs (no re-parsing).

    ``offset``/``length`` locate the bytes at fault from the start of the frame (for the hex
    view); ``field`` names the decoded field they belong to (for the detail tree), e.g.
    ``segments_left``, ``segments[1]`` or ``tlvs[0]``; ``srh`` is the offset of the SRH.
    """

    rule: str
    severity: Severity
    frame: int
    offset: int
    length: int
    message: str
    ref: str
    field: str = ""
    srh: int = -1

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["severity"] = self.severity.label
        return data

    def to_row(self) -> FindingRow:
        """The finding as a tuple of plain values. Parallel workers send findings home this
        way: a tuple pickles and unpickles about ten times faster than the object."""
        return (self.rule, int(self.severity), self.frame, self.offset, self.length,
                self.message, self.ref, self.field, self.srh)

    @classmethod
    def from_row(cls, row: FindingRow, frame_shift: int = 0) -> Finding:
        """Rebuild a finding from ``to_row``, its frame number moved by ``frame_shift`` (a
        unit's frames are numbered from its own start)."""
        rule, severity, frame, offset, length, message, ref, fld, srh = row
        return new_finding(rule, _SEVERITY_BY_VALUE[severity], frame + frame_shift, offset,
                           length, message, ref, fld, srh)


_SEVERITY_BY_VALUE = tuple(sorted(Severity))

#: ``Finding(...)`` at about half the cost (fastnew.py): audits make them by the million.
new_finding = frozen_constructor(Finding)

#: ``Finding.to_row()``: rule, severity (int), frame, offset, length, message, ref, field, srh.
FindingRow = tuple[str, int, int, int, int, str, str, str, int]


HMAC_VERIFIED = "verified"
HMAC_MISMATCH = "mismatch"
HMAC_UNKNOWN_KEY = "unknown-key"
HMAC_MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class HmacCheck:
    """The outcome of one HMAC TLV: verified, mismatch, unknown-key or malformed."""

    srh: int
    tlv_offset: int
    key_id: int
    status: str


#: ``HmacCheck(...)`` at about half the cost: one per HMAC TLV an audit meets.
new_hmac_check = frozen_constructor(HmacCheck)


class Checked(Protocol):
    """What an audit records of a packet, or of a run of HMAC packets verified together:
    its findings and HMAC results, in frame order. A decoded ``PacketResult`` is one, and
    so is the validator's ``Checker``, which the audit engine hands out as it is instead of
    building a result object per packet."""

    findings: list[Finding]
    hmacs: list[HmacCheck]
