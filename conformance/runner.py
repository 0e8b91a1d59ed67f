"""Run cases against a DUT: build, configure, exchange, classify, judge, keep the evidence.

The runner owns the mapping from "what happened" to a verdict that is not the expectation's
business: SKIP when the DUT lacks a capability, INCONCLUSIVE when the DUT could not be put in
the case's state or did not forward the barrier (a dead DUT must not pass the drop cases),
ERROR when the suite itself raised. Everything recorded per case (sent and captured frames,
tag nonce) is enough to re-judge it offline, which is how the verdict logic is unit-tested.
"""

from __future__ import annotations

import fnmatch
import os
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srinspect.build import ipv6_packet, udp
from srinspect.errors import LabError
from srinspect.rules import Profile

from .case import Case, CaseResult
from .cases import CASES
from .dut.base import Dut
from .evidence import write_evidence
from .model import Send, Verdict
from .observe import BARRIER_SEQ, Captured, classify, ip_of
from .packets import FILLER, Ctx, find_tag, make_tag
from .topology import Topology

Progress = Callable[[CaseResult, int, int], None]


def select_cases(profile: Profile, patterns: Sequence[str] = (),
                 cases: Iterable[Case] = CASES) -> list[Case]:
    """Cases that apply to ``profile`` and match any of the glob ``patterns`` (on the ID or
    the rule ID); no pattern selects all."""
    out = []
    for case in cases:
        if profile not in case.levels:
            continue
        if patterns and not any(fnmatch.fnmatchcase(case.id, p) or
                                fnmatch.fnmatchcase(case.rule, p) for p in patterns):
            continue
        out.append(case)
    return out


@dataclass(slots=True)
class Run:
    """The outcome of a whole run: results in execution order, and how long it took."""

    dut: dict[str, Any]
    profiles: list[Profile]
    results: list[CaseResult] = field(default_factory=list)
    elapsed: float = 0.0  # running the cases
    total: float = 0.0  # wall clock including DUT setup and teardown (set by the caller)


class Tagger:
    """Hands out the tags of one case: the run's nonce, the case number, a sequence."""

    def __init__(self, nonce: bytes, case_no: int) -> None:
        self.nonce = nonce
        self.case_no = case_no
        self.seq = 0

    def __call__(self) -> bytes:
        tag = make_tag(self.nonce, self.case_no, self.seq)
        self.seq += 1
        if self.seq >= BARRIER_SEQ:
            raise ValueError("too many tagged packets in one case")
        return tag


def barrier_packet(topo: Topology, nonce: bytes, case_no: int) -> bytes:
    payload = make_tag(nonce, case_no, BARRIER_SEQ) + FILLER
    return ipv6_packet(topo.sender, topo.barrier, 17,
                       udp(topo.sender, topo.barrier, 40000, 9, payload))


def judge(case: Case, profile: Profile, topo: Topology, sent: list[Send],
          captured: list[Captured], nonce: bytes, case_no: int,
          barrier: bool = True) -> tuple[Verdict, str, str, str]:
    """(verdict, expected, observed, detail) for one case from what was captured.

    Pure: the same inputs give the same verdict, live or from a recording.
    """
    ctx = Ctx(topo, profile, Tagger(nonce, case_no), case_no)
    expectation = case.expect(ctx, sent)
    obs = classify(captured, sent, nonce, case_no)
    if barrier and not obs.barrier:
        return (Verdict.INCONCLUSIVE, expectation.describe(), "no barrier packet came back",
                f"the DUT did not forward plain IPv6 to {topo.barrier} after the case, so a "
                "drop cannot be told from a DUT that stopped forwarding")
    j = expectation.evaluate(obs, sent)
    return j.verdict, j.expected, j.observed, j.detail


class Runner:
    """Runs selected cases against an open DUT, one profile after another."""

    def __init__(self, dut: Dut, *, evidence: Path | None = None,
                 progress: Progress | None = None, pace: float = 0.0) -> None:
        self.dut = dut
        self.evidence = evidence
        self.progress = progress
        self.pace = pace
        self.nonce = os.urandom(4)
        self.case_no = 0

    def run(self, plan: list[tuple[Profile, list[Case]]]) -> Run:
        start = time.monotonic()
        run = Run(self.dut.info(), [p for p, _ in plan])
        total = sum(len(cases) for _, cases in plan)
        done = 0
        for profile, cases in plan:
            for case in cases:
                result = self.run_case(case, profile)
                run.results.append(result)
                done += 1
                if self.progress:
                    self.progress(result, done, total)
                if self.pace:
                    time.sleep(self.pace)
        run.elapsed = time.monotonic() - start
        return run

    def run_case(self, case: Case, profile: Profile) -> CaseResult:
        self.case_no += 1
        case_no = self.case_no
        t0 = time.monotonic()
        result = CaseResult(case, profile, Verdict.ERROR)
        try:
            self._run(case, profile, case_no, result)
        except LabError as exc:
            result.verdict = Verdict.INCONCLUSIVE
            result.detail = f"could not configure the DUT: {exc}"
        except Exception as exc:  # the suite's own bug: report it, carry on with the next case
            result.verdict = Verdict.ERROR
            where = traceback.extract_tb(exc.__traceback__)[-1]
            result.detail = f"{type(exc).__name__}: {exc} ({Path(where.filename).name}:" \
                            f"{where.lineno})"
        result.duration = time.monotonic() - t0
        return result

    def _run(self, case: Case, profile: Profile, case_no: int, result: CaseResult) -> None:
        topo = self.dut.topology
        reason = self.dut.unsupported(case.needs)
        if reason:
            result.verdict, result.detail = Verdict.SKIP, reason
            return
        ctx = Ctx(topo, profile, Tagger(self.nonce, case_no), case_no)
        try:
            sent = case.build(ctx)
            result.expected = case.expect(ctx, sent).describe()
        except LookupError as exc:  # the topology lacks a SID, policy or key
            result.verdict, result.detail = Verdict.SKIP, str(exc).strip("'\"")
            return
        self.dut.prepare(case.needs)
        barrier = barrier_packet(topo, self.nonce, case_no)

        def is_barrier(frame: bytes) -> bool:
            ip = ip_of(frame)
            return ip is not None and find_tag(ip, self.nonce) == (case_no, BARRIER_SEQ)

        ex = self.dut.exchange([s.data for s in sent], barrier, is_barrier)
        verdict, expected, observed, detail = judge(case, profile, topo, sent, ex.captured,
                                                    self.nonce, case_no)
        result.verdict, result.expected, result.observed = verdict, expected, observed
        result.detail = detail
        result.record = {
            "case": case.id, "profile": str(profile), "case_no": case_no,
            "nonce": self.nonce.hex(), "roles": [s.role for s in sent],
            "sent": [s.data.hex() for s in sent],
            "captured": [c.to_dict() for c in ex.captured],
        }
        if self.evidence is not None:
            result.evidence = str(write_evidence(self.evidence, result, ex))
