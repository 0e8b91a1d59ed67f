"""The example user cases (scapy, ``conformance/examples/``) against the Linux DUT (root and
SRv6: on the host when it has it, else in the guest scripts/test.sh boots): they must give the
verdicts Linux is known for, in text, JSON and JUnit like the built-in cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from junitparser import JUnitXml

pytestmark = pytest.mark.kernel

EXAMPLES = Path(__file__).resolve().parents[2] / "conformance" / "examples"

# Spec section 5's measured column, for the examples: Linux passes every one of them, and
# does the same under both profiles. Case -> what Linux is seen to do.
OBSERVED = {
    "scapy-endpoint-advance": "every field as expected",
    "scapy-endpoint-tag-flags": "every field as expected",
    "scapy-segleft-out-of-range": "Parameter Problem code 0 pointer 43",
    "scapy-final-echo": "Echo Reply",
    "scapy-transit-bad-hmac": "every field as expected",
}
#: The cases the examples run under draft-04 only (its HMAC).
OBSERVED_DRAFT04 = {
    "scapy-hmac-valid": "every field as expected",
    "scapy-hmac-corrupt-drop": "dropped silently",
    "scapy-hmac-unknown-key": "dropped silently",
}
EXPECTED = {(profile, case): ("PASS", observed)
            for profile, cases in (("draft-04", OBSERVED | OBSERVED_DRAFT04),
                                   ("rfc8754", OBSERVED))
            for case, observed in cases.items()}


def test_example_cases_against_linux(kernel: None, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    report, junit = tmp_path / "r.json", tmp_path / "r.xml"
    r = run_cli("conformance", "run", "--cases", EXAMPLES, "--case", "scapy-*",
                "--profile", "all", "--format", "json", "-o", report)
    assert r.rc == 0, r.err
    doc = json.loads(report.read_text())
    got = {(c["profile"], c["id"]): c for c in doc["cases"]}
    assert set(got) == set(EXPECTED)
    for key, (verdict, observed) in EXPECTED.items():
        assert got[key]["verdict"] == verdict, (key, got[key])
        assert observed in got[key]["observed"], (key, got[key])
    assert doc["score"]["draft-04"]["MUST"] == {"passed": 7, "applicable": 7}
    # The same cases in JUnit and text, next to a built-in one.
    r = run_cli("conformance", "run", "--cases", EXAMPLES, "--case", "scapy-hmac-*",
                "--case", "hmac-valid", "--format", "junit", "-o", junit)
    assert r.rc == 0, r.err
    cases = {c.name: c for suite in JUnitXml.fromfile(str(junit)) for c in suite}
    assert set(cases) == {"hmac-valid", "scapy-hmac-valid", "scapy-hmac-corrupt-drop",
                          "scapy-hmac-unknown-key"}
    assert all(c.is_passed for c in cases.values())
    assert cases["scapy-hmac-valid"].classname == "conformance.draft-04.node.hmac.valid"
    r = run_cli("conformance", "run", "--cases", EXAMPLES / "endpoint.py", "--case",
                "scapy-final-echo")
    assert r.rc == 0, r.err
    assert "scapy-final-echo" in r.out and "MUST 1/1" in r.out
