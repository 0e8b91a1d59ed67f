"""Scores per profile and level, and the exit status they imply.

Applicable means "not skipped": a MUST case that is INCONCLUSIVE or ERROR was applicable and
did not pass, so it counts against the score and the exit status (a suite that could not
check a MUST must not report success). ``unspecified`` cases are informational: counted by
verdict, never in the MUST/SHOULD ratios.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from srinspect.rules import Profile

from .case import CaseResult
from .model import Level, Verdict

EXIT_OK = 0
EXIT_MUST_FAILED = 1


@dataclass(slots=True)
class Tally:
    passed: int = 0
    applicable: int = 0

    def add(self, verdict: Verdict) -> None:
        self.applicable += 1
        self.passed += verdict is Verdict.PASS

    def __str__(self) -> str:
        return f"{self.passed}/{self.applicable}"

    def to_dict(self) -> dict[str, int]:
        return {"passed": self.passed, "applicable": self.applicable}


@dataclass(slots=True)
class ProfileScore:
    must: Tally = field(default_factory=Tally)
    should: Tally = field(default_factory=Tally)
    informational: Counter[str] = field(default_factory=Counter)
    verdicts: Counter[str] = field(default_factory=Counter)

    @property
    def must_ok(self) -> bool:
        return self.must.passed == self.must.applicable

    def to_dict(self) -> dict[str, Any]:
        return {"MUST": self.must.to_dict(), "SHOULD": self.should.to_dict(),
                "informational": dict(sorted(self.informational.items())),
                "verdicts": dict(sorted(self.verdicts.items()))}


def score(results: Iterable[CaseResult]) -> dict[Profile, ProfileScore]:
    scores: dict[Profile, ProfileScore] = {}
    for r in results:
        s = scores.setdefault(r.profile, ProfileScore())
        s.verdicts[str(r.verdict)] += 1
        if r.verdict is Verdict.SKIP:
            continue
        if r.level is Level.UNSPECIFIED:
            s.informational[str(r.verdict)] += 1
        elif r.level is Level.MUST:
            s.must.add(r.verdict)
        else:
            s.should.add(r.verdict)
    return scores


def exit_status(results: Iterable[CaseResult]) -> int:
    """0 when every applicable MUST passed, 1 otherwise."""
    ok = all(s.must_ok for s in score(results).values())
    return EXIT_OK if ok else EXIT_MUST_FAILED
