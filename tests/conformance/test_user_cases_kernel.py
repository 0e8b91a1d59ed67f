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

# Spec section 5's measured column, for the examples: Linux passes every one of them.
EXPECTED = {
    ("draft-04", "scapy-endpoint-advance"): ("PASS", "every field as expected"),
    ("draft-04", "scapy-endpoint-tag-flags"): ("PASS", "every field as expected"),
    ("draft-04", "scapy-segleft-out-of-range"): ("PASS", "Parameter Problem code 0 pointer 43"),
    ("draft-04", "scapy-final-echo"): ("PASS", "Echo Reply"),
    ("draft-04", "scapy-hmac-valid"): ("PASS", "every field as expected"),
    ("draft-04", "scapy-hmac-corrupt-drop"): ("PASS", "dropped silently"),
    ("draft-04", "scapy-hmac-unknown-key"): ("PASS", "dropped silently"),
    ("draft-04", "scapy-transit-bad-hmac"): ("PASS", "every field as expected"),
    ("rfc8754", "scapy-endpoint-advance"): ("PASS", "every field as expected"),
    ("rfc8754", "scapy-endpoint-tag-flags"): ("PASS", "every field as expected"),
    ("rfc8754", "scapy-segleft-out-of-range"): ("PASS", "Parameter Problem code 0 pointer 43"),
    ("rfc8754", "scapy-final-echo"): ("PASS", "Echo Reply"),
    ("rfc8754", "scapy-transit-bad-hmac"): ("PASS", "every field as expected"),
}


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
