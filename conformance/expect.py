"""Expected outcomes, and how each one judges an observation.

Four outcomes from the issue, plus two combinators: ``Forwarded`` (with a field-by-field diff
against the expected packet and declared don't-care fields), ``Dropped`` (silently, or with
ICMP allowed), ``IcmpErr`` (type, code, pointer, and the quoted packet), ``Answered`` (an Echo
Reply: delivered locally), ``AnyOf`` (a spec allows several outcomes) and ``RateLimited``
(a burst gets fewer ICMP errors than packets).

Each ``evaluate`` returns a Judgement with human-readable ``expected`` and ``observed``
strings: those go straight into the reports, so they are phrased for a lab engineer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .fields import FieldDiff, diff, diff_fields, packet_fields
from .model import Judgement, Send, Verdict
from .observe import ICMP_NAMES, Observation
from .packets import dec_hl

Check = Callable[[bytes], "str | None"]


class Expectation(Protocol):
    def describe(self) -> str: ...

    def evaluate(self, obs: Observation, sent: list[Send]) -> Judgement: ...


def _judge(ok: bool, exp: Expectation, observed: str, detail: str = "") -> Judgement:
    return Judgement(Verdict.PASS if ok else Verdict.FAIL, exp.describe(), observed, detail)


class _OnPort:
    """``describe`` of the expectations that say what leaves the DUT, and where."""

    what: str
    port: str

    def describe(self) -> str:
        return f"{self.what}, on {self.port}"


@dataclass(frozen=True)
class Forwarded(_OnPort):
    """The packet leaves on ``port`` exactly once, equal to ``packet`` except for the
    ``dont_care`` fields (globs over ``fields.packet_fields`` names), every ``checks``
    function returns None, and no ICMP error comes back for it."""

    packet: bytes
    what: str = "forwarded unchanged except Hop Limit-1"
    port: str = "rx"
    dont_care: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    index: int = -1

    def evaluate(self, obs: Observation, sent: list[Send]) -> Judgement:
        return _judge_forwarded(self, obs, self.index, self.port, self.checks,
                                lambda pkt: diff(self.packet, pkt, self.dont_care))


def _judge_forwarded(exp: Expectation, obs: Observation, index: int, want_port: str,
                     checks: tuple[Check, ...],
                     differences: Callable[[bytes], list[FieldDiff]]) -> Judgement:
    """The one "forwarded" judgement: leaves once, on the right port, no ICMP, no reply,
    and ``differences`` (expected vs. observed fields) empty."""
    o = obs.outcome(index)
    if not o.forwarded:
        return _judge(False, exp, o.describe())
    port, pkt = o.forwarded[0]
    problems: list[str] = []
    if port != want_port:
        problems.append(f"left on {port}, expected {want_port}")
    problems += [str(d) for d in differences(pkt)]
    for check in checks:
        msg = check(pkt)
        if msg:
            problems.append(msg)
    if len(o.forwarded) > 1:
        problems.append(f"forwarded {len(o.forwarded)} times")
    if o.errors:
        problems.append("also sent " + "; ".join(e.describe() for e in o.errors))
    if o.replies:
        problems.append("also answered it")
    if not problems:
        return _judge(True, exp, f"forwarded on {port}, every field as expected")
    observed = f"forwarded on {port}; {len(problems)} difference(s): {problems[0]}"
    return _judge(False, exp, observed, "; ".join(problems))


@dataclass(frozen=True)
class ForwardedWith:
    """Forwarded once on ``port`` as the packet was sent, Hop Limit-1, except ``changes``
    (field name from ``fields.packet_fields`` -> value: ``{"srh.segments_left": 1}``) and
    the ``dont_care`` globs. The expected packet is the one actually sent, so a case states
    only what a correct node changes."""

    changes: tuple[tuple[str, str], ...] = ()
    what: str = ""
    port: str = "rx"
    dont_care: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    index: int = -1
    hop_limit: int = 1  # how much the node decrements it

    def describe(self) -> str:
        if self.what:
            return f"{self.what}, on {self.port}"
        changed = ", ".join(f"{k}={v}" for k, v in self.changes)
        return (f"forwarded with Hop Limit-{self.hop_limit}"
                + (f", {changed}" if changed else ", otherwise unchanged") + f", on {self.port}")

    def evaluate(self, obs: Observation, sent: list[Send]) -> Judgement:
        expected = packet_fields(dec_hl(sent[self.index].data, self.hop_limit))
        expected.update(self.changes)
        return _judge_forwarded(self, obs, self.index, self.port, self.checks,
                                lambda pkt: diff_fields(expected, packet_fields(pkt),
                                                        self.dont_care))


@dataclass(frozen=True)
class ForwardedAs(_OnPort):
    """Forwarded once on ``port`` as ``transform`` makes the packet sent (``advance``,
    ``decap``... from ``packets.py``): what a correct node does, computed, not written twice."""

    transform: Callable[[bytes], bytes]
    what: str
    port: str = "rx"
    dont_care: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    index: int = -1

    def evaluate(self, obs: Observation, sent: list[Send]) -> Judgement:
        expected = self.transform(sent[self.index].data)
        return _judge_forwarded(self, obs, self.index, self.port, self.checks,
                                lambda pkt: diff(expected, pkt, self.dont_care))


@dataclass(frozen=True)
class Dropped:
    """The packet is neither forwarded nor answered. ``silent=True`` also forbids an ICMP
    error (a MUST-drop where the ICMP is judged by a separate SHOULD case allows it)."""

    silent: bool = False
    index: int = -1

    def describe(self) -> str:
        return "dropped, no ICMP" if self.silent else "dropped (ICMP error allowed)"

    def evaluate(self, obs: Observation, sent: list[Send]) -> Judgement:
        o = obs.outcome(self.index)
        ok = not o.forwarded and not o.replies and not (self.silent and o.errors)
        return _judge(ok, self, o.describe())


@dataclass(frozen=True)
class IcmpErr:
    """An ICMPv6 error of ``type``/``code`` (and ``pointer`` for Parameter Problem) comes
    back and the packet is not forwarded. The quoted packet is compared with the packet as
    sent (RFC 4443 s2.4); a difference is reported in the detail, and fails the case only
    with ``strict_quote`` (the node rules judge type, code and pointer; Linux, for one,
    quotes an endpoint's Time Exceeded after it has already advanced the SRH)."""

    type: int
    code: int
    pointer: int | None = None
    index: int = -1
    strict_quote: bool = False

    def describe(self) -> str:
        name = ICMP_NAMES.get(self.type, f"type {self.type}")
        ptr = f" pointer {self.pointer}" if self.pointer is not None else ""
        return f"ICMPv6 {name} code {self.code}{ptr}"

    def evaluate(self, obs: Observation, sent: list[Send]) -> Judgement:
        o = obs.outcome(self.index)
        match = [e for e in o.errors if e.type == self.type and e.code == self.code
                 and (self.pointer is None or e.param == self.pointer)]
        if not match:
            return _judge(False, self, o.describe())
        err = match[0]
        original = sent[self.index].data
        quote_note = f"quoted {len(err.quoted)} bytes of the packet as sent"
        if not err.quoted or original[: len(err.quoted)] != err.quoted:
            diffs = diff(original[: len(err.quoted)], err.quoted)
            quote_note = ("note: the quoted packet is not the packet as sent (RFC 4443 s2.4): "
                          + "; ".join(f"quoted {d}" for d in diffs[:3]))
        problems = ["the packet was also forwarded"] if o.forwarded else []
        if self.strict_quote and quote_note.startswith("note"):
            problems.append(quote_note)
        observed = o.describe()
        if problems:
            return _judge(False, self, observed, "; ".join(problems))
        return _judge(True, self, observed, quote_note)


@dataclass(frozen=True)
class Answered:
    """The DUT delivers the packet locally and answers it (an Echo Reply carrying the tag)."""

    index: int = -1

    def describe(self) -> str:
        return "processed locally: Echo Reply"

    def evaluate(self, obs: Observation, sent: list[Send]) -> Judgement:
        o = obs.outcome(self.index)
        return _judge(bool(o.replies) and not o.forwarded, self, o.describe())


@dataclass(frozen=True)
class AnyOf:
    """Any one of several outcomes passes (a spec that leaves a choice to local policy)."""

    options: tuple[Expectation, ...]

    def describe(self) -> str:
        return " or ".join(o.describe() for o in self.options)

    def evaluate(self, obs: Observation, sent: list[Send]) -> Judgement:
        judgements = [o.evaluate(obs, sent) for o in self.options]
        for j in judgements:
            if j.verdict is Verdict.PASS:
                return Judgement(Verdict.PASS, self.describe(), j.observed, j.detail)
        details = "; ".join(j.detail for j in judgements if j.detail)
        return Judgement(Verdict.FAIL, self.describe(), judgements[0].observed, details)


@dataclass(frozen=True)
class RateLimited:
    """A burst of error-triggering packets gets at least one, and fewer ICMPv6 errors than
    packets (RFC 4443 s2.4(f)). No error at all cannot show a rate limit: INCONCLUSIVE."""

    def describe(self) -> str:
        return "ICMPv6 errors rate-limited: 1 <= errors < packets"

    def evaluate(self, obs: Observation, sent: list[Send]) -> Judgement:
        errors = sum(len(o.errors) for o in obs.outcomes)
        observed = f"{errors} ICMPv6 error(s) for {len(sent)} packets"
        if errors == 0:
            return Judgement(Verdict.INCONCLUSIVE, self.describe(), observed,
                             "the DUT sent no ICMP error at all, so no rate limit can be seen")
        return _judge(errors < len(sent), self, observed)
