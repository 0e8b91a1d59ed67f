"""A conformance case and its result: a row of the catalogue and what running it gave.

A case is a row of the catalogue (``cases.py``, ``behaviours.py``): what it checks (rule ID
from spec section 5), how binding that rule is under each profile, what the DUT must offer
(capabilities), a function that builds the packets and one that states the expected
outcome. Keeping behaviour out of these classes lets the catalogue stay a readable table and
lets ``list``, the reports and the JUnit names all come from that one table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from srinspect.rules import Profile

from .expect import Expectation
from .model import Level, Send, Verdict
from .packets import Ctx


@dataclass(frozen=True, slots=True)
class Case:
    """One row of the catalogue.

    ``levels`` maps each profile the case applies to onto the rule's level there; ``needs``
    are capability names the DUT adapter must provide (``dut/base.py`` lists them); ``build``
    returns the packets (every payload carries a tag from ``ctx``); ``expect`` returns the
    expected outcome given the context and the packets actually built.
    """

    id: str
    rule: str
    levels: Mapping[Profile, Level]
    summary: str
    build: Callable[[Ctx], list[Send]]
    expect: Callable[[Ctx, list[Send]], Expectation]
    needs: frozenset[str] = frozenset({"srv6"})
    ref: str = ""
    source: str = ""  # "FILE:LINE" of a user case (``--cases``); empty for the catalogue

    @property
    def profiles(self) -> list[Profile]:
        return [p for p in Profile if p in self.levels]

    def level(self, profile: Profile) -> Level:
        return self.levels[profile]


@dataclass(slots=True)
class CaseResult:
    """One case run under one profile: the verdict plus what backs it up."""

    case: Case
    profile: Profile
    verdict: Verdict
    expected: str = ""
    observed: str = ""
    detail: str = ""
    duration: float = 0.0
    evidence: str | None = None
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def level(self) -> Level:
        return self.case.level(self.profile)

    def to_dict(self) -> dict[str, Any]:
        """The per-case entry of the JSON report (field names are part of its contract)."""
        data: dict[str, Any] = {
            "id": self.case.id, "rule": self.case.rule, "level": str(self.level),
            "profile": str(self.profile), "verdict": str(self.verdict),
            "expected": self.expected, "observed": self.observed, "detail": self.detail,
            "duration_ms": round(self.duration * 1000, 1),
        }
        if self.evidence:
            data["evidence"] = self.evidence
        return data
