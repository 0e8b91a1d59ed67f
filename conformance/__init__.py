"""srinspect's conformance suite: crafted SRv6 packets through a device under test, judged
rule by rule (spec section 5) with the packets kept as evidence.

The catalogue is ``cases.CASES``; ``runner.Runner`` runs it against a DUT adapter
(``dut.linux.LinuxDut``, ``dut.ports.PortsDut``); ``report`` renders the results. The CLI is
``srinspect conformance list|run|clean`` (``conformance.cli``).
"""

from srinspect.rules import Profile

from .case import Case, CaseResult
from .cases import BY_ID, CASES
from .model import Level, Send, Verdict
from .runner import Run, Runner, judge, select_cases
from .score import exit_status, score

__all__ = [
    "BY_ID", "CASES", "Case", "CaseResult", "Level", "Profile", "Run", "Runner", "Send",
    "Verdict", "exit_status", "judge", "score", "select_cases",
]
