"""The catalogue as data: coverage of spec section 5, well-formed rows, buildable packets.

No root needed: packets are built against the linux adapter's topology without opening it.
"""

from __future__ import annotations

import pytest

from conformance.cases import BY_ID, CASES
from conformance.dut.base import CAPABILITIES
from conformance.dut.linux import LinuxDut
from conformance.model import Level
from conformance.packets import Ctx, find_tag
from conformance.runner import Tagger, select_cases
from srinspect.ipv6 import pull_ipv6
from srinspect.rules import Profile

# Spec section 5 (../shared/spec/srh-rules.md): every node rule ID, a public contract.
SECTION5_RULES = {
    "node.transit.unchanged", "node.endpoint.advance", "node.endpoint.fields",
    "node.endpoint.final", "node.endpoint.decap", "node.segleft.bounds",
    "node.lastentry.bounds", "node.hoplimit", "node.hmac.invalid", "node.hmac.valid",
    "node.hmac.required", "node.sr.disabled", "node.rtype.unknown", "node.malformed.survives",
    "node.icmp.ratelimit", "headend.encap", "headend.inline", "headend.hmac",
}
RFC8986_BEHAVIOURS = {"End", "End.X", "End.T", "End.DX6", "End.DT6", "End.B6.Encaps",
                      "End.PSP", "End.USP", "End.USD", "End.DT46", "End.DX2",
                      "End.NEXT-C-SID", "End.DX4", "End.DT4"}
NONCE = b"\x01\x02\x03\x04"


def test_at_least_25_cases_and_every_section5_rule_covered() -> None:
    assert len(CASES) >= 25
    covered = {c.rule for c in CASES}
    assert covered >= SECTION5_RULES, SECTION5_RULES - covered


def test_rows_are_well_formed() -> None:
    assert len(BY_ID) == len(CASES)
    for case in CASES:
        assert case.levels, case.id
        assert all(isinstance(lv, Level) for lv in case.levels.values())
        assert case.needs <= set(CAPABILITIES), (case.id, case.needs - set(CAPABILITIES))
        assert case.summary and case.ref, case.id


def test_issue_examples_are_in_the_catalogue() -> None:
    """The rows the issue names explicitly."""
    assert BY_ID["segleft-out-of-range"].levels == {Profile.DRAFT04: Level.UNSPECIFIED,
                                                    Profile.RFC8754: Level.MUST}
    assert BY_ID["hmac-invalid-drop"].level(Profile.DRAFT04) is Level.MUST
    assert BY_ID["hmac-invalid-icmp"].level(Profile.DRAFT04) is Level.SHOULD
    assert {"rtype0-sl1", "rtype33-sl1", "sr-disabled-sl0", "sr-disabled-drop",
            "hmac-unknown-key", "segleft-reduced", "malformed-burst-survives",
            "icmp-ratelimit"} <= set(BY_ID)
    behaviours = {need.split(":", 1)[1] for c in CASES for need in c.needs
                  if need.startswith("seg6local:")}
    assert behaviours == RFC8986_BEHAVIOURS


@pytest.mark.parametrize("profile", list(Profile))
def test_every_case_builds_tagged_packets(profile: Profile) -> None:
    topo = LinuxDut().topology
    for n, case in enumerate(select_cases(profile), 1):
        ctx = Ctx(topo, profile, Tagger(NONCE, n), n)
        sent = case.build(ctx)
        assert sent, case.id
        expectation = case.expect(ctx, sent)
        assert expectation.describe()
        probe = sent[-1].data
        assert probe[0] >> 4 == 6
        assert find_tag(probe, NONCE) is not None, f"{case.id}: probe carries no tag"
        assert pull_ipv6(probe, 0, len(probe), pad1=False) is not None


def test_csid_shift_moves_the_argument_by_one_csid() -> None:
    """RFC 9800 s4.1.1 on a uSID container (32-bit block, 16-bit C-SIDs)."""
    from conformance.behaviours import csid_shifted

    assert csid_shifted("2001:db8:c51:f:a1::", 32, 16) == "2001:db8:f:a1::"
    assert csid_shifted("2001:db8:f:a1::", 32, 16) == "2001:db8:a1::"
    assert csid_shifted("2001:db8:a1::", 32, 16) == "2001:db8::"
    assert csid_shifted("fc00:0:1:2:3:4:5:6", 48, 16) == "fc00:0:1:3:4:5:6:0"


def test_profile_selection_and_globs() -> None:
    assert all(Profile.RFC8986 in c.levels for c in select_cases(Profile.RFC8986))
    assert not any(c.id.startswith("transit") for c in select_cases(Profile.RFC8986))
    hmac = select_cases(Profile.DRAFT04, ["node.hmac.*"])
    assert {c.rule for c in hmac} == {"node.hmac.invalid", "node.hmac.valid",
                                      "node.hmac.required"}
    assert [c.id for c in select_cases(Profile.DRAFT04, ["endpoint-advance"])] == \
        ["endpoint-advance"]
