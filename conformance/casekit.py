"""What every conformance case table is written with: the level shortcuts, ``needs``,
``one`` and ``probe``, and the pieces the SRH cases and the behaviour cases share."""

from __future__ import annotations

from collections.abc import Callable

from srinspect.rules import Profile

from .model import Level, Send
from .packets import Ctx

M, S, U = Level.MUST, Level.SHOULD, Level.UNSPECIFIED
D04, R54, R86 = Profile.DRAFT04, Profile.RFC8754, Profile.RFC8986

ICMP_TIME_EXCEEDED, ICMP_PARAM_PROBLEM = 3, 4
PP_ERRONEOUS_FIELD, PP_SR_UPPER_LAYER = 0, 4
HEADEND_DONT_CARE = ("ipv6.hop_limit", "ipv6.flow_label", "ipv6.traffic_class",
                     "inner.ipv6.hop_limit")


def lv(draft04: Level, rfc8754: Level) -> dict[Profile, Level]:
    """Levels of an SRH case under draft-04 and RFC 8754."""
    return {D04: draft04, R54: rfc8754}


BOTH_MUST = lv(M, M)
NETPROG = {R86: M}


def needs(*names: str) -> frozenset[str]:
    return frozenset(names)


def one(build: Callable[[Ctx], bytes]) -> Callable[[Ctx], list[Send]]:
    """Adapt a function building one packet to the ``Case.build`` signature."""
    return lambda c: [Send(build(c))]


def probe(sent: list[Send]) -> bytes:
    """The packet a case's expectation is about: the last one sent."""
    return sent[-1].data


def headend_care(c: Ctx, policy: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """What a headend case does not judge: ``HEADEND_DONT_CARE``, ``extra``, and the outer
    source when the topology does not say which one the policy uses."""
    source_known = bool(c.topo.policies[policy].source)
    return HEADEND_DONT_CARE + extra + (() if source_known else ("ipv6.src",))


def policy_packet(name: str) -> Callable[[Ctx], bytes]:
    """A plain packet to a headend policy's destination (the DUT steers it)."""
    return lambda c: c.plain(c.topo.policies[name].destination())
