"""The vocabulary of the conformance suite: levels, verdicts, packets sent, judgements.

Everything here is plain data, imported by every other module of the suite and importing
none of them; a case and its result are in ``case.py``, the profiles are srinspect's
(``srinspect.rules.Profile``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    """How binding a rule is under one profile. ``unspecified`` cases are informational:
    their verdict is reported but never scored and never changes the exit status."""

    MUST = "MUST"
    SHOULD = "SHOULD"
    UNSPECIFIED = "unspecified"


class Verdict(StrEnum):
    """PASS/FAIL judge the DUT; SKIP means the DUT lacks a capability the case needs;
    INCONCLUSIVE means the case could not be set up or observed (the DUT stopped forwarding
    baseline traffic, a configuration step failed); ERROR means the suite itself failed."""

    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"
    INCONCLUSIVE = "INCONCLUSIVE"
    ERROR = "ERROR"


@dataclass(frozen=True, slots=True)
class Send:
    """One packet a case sends: the IPv6 packet bytes (no link header) and its role.

    ``role`` names the packet in reports and evidence ("probe" is the one an expectation
    judges by default; "burst" packets only load the DUT).
    """

    data: bytes
    role: str = "probe"


@dataclass(slots=True)
class Judgement:
    """What an expectation concluded about an observation (before scoring)."""

    verdict: Verdict
    expected: str
    observed: str
    detail: str = ""
