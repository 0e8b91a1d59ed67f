"""User cases in scapy (``conformance run --cases DIR``), without root: loading, listing,
broken files named by file and line, the scapy HMAC TLV against the spec vector, judging a
user case offline from hand-made observations, reports, and the options a guest run gets.

The run against the Linux DUT is ``test_user_cases_kernel.py`` (marker ``kernel``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from scapy.layers.inet6 import IPv6, IPv6ExtHdrSegmentRouting, IPv6ExtHdrSegmentRoutingTLVHMAC

from conformance import userload
from conformance.case import CaseResult
from conformance.cases import CASES
from conformance.cli import _guest_options
from conformance.dut.linux import LinuxDut
from conformance.model import Verdict
from conformance.observe import BARRIER_SEQ, Captured
from conformance.packets import FILLER, advance, make_tag
from conformance.report import render_json, render_junit, render_text, run_from_json
from conformance.runner import Run, judge
from conformance.scapy_srh import SRv6HmacTLV, sign
from srinspect.keys import Key
from srinspect.rules import Profile

EXAMPLES = Path(__file__).resolve().parents[2] / "conformance" / "examples"
NONCE = b"\x01\x02\x03\x04"
MAC = b"\x02\x00\x00\x00\x00\x01"

# spec srh-rules.md section 3 test vector (checked against HMACs made by the Linux kernel)
VECTOR_SHA256 = "c9bdf5a65c4e07fca04f53818fc453d42a4ee27a5719a4781fc1d4caea571eb9"


def _vector_packet(tlv: object) -> IPv6:
    srh = IPv6ExtHdrSegmentRouting(addresses=["2001:db8::3", "2001:db8::2"], segleft=1,
                                   hmac=1, tlv_objects=[tlv])
    return IPv6(src="2001:db8::1", dst="2001:db8::2") / srh


def test_scapy_hmac_tlv_is_wrong_and_ours_is_byte_exact() -> None:
    """scapy's TLV writes a 2-byte Length of len+48; ours a 1-byte Length of 38, and the MAC
    ``sign`` computes is the spec's vector."""
    theirs = bytes(IPv6ExtHdrSegmentRoutingTLVHMAC(hmackeyid=1, hmac=bytes(32)))
    assert theirs[:3] == b"\x05\x00\x50"  # Length 80 in two bytes: every field shifted
    ours = bytes(SRv6HmacTLV(keyid=1))
    assert ours[:8] == bytes.fromhex("0526000000000001") and len(ours) == 40
    signed = sign(_vector_packet(SRv6HmacTLV(keyid=1)), Key(1, "sha256", b"secret"))
    assert signed[40 + 8 + 32:].hex() == "0526000000000001" + VECTOR_SHA256
    assert signed[40 + 5] == 0x08  # H flag
    corrupt = sign(_vector_packet(SRv6HmacTLV(keyid=1)), Key(1, "sha256", b"secret"),
                   corrupt=True)
    assert corrupt != signed and corrupt[:-32] == signed[:-32]


def test_examples_load_list_and_carry_their_file(run_cli) -> None:  # type: ignore[no-untyped-def]
    loaded = userload.load([EXAMPLES], CASES)
    assert loaded.errors == []
    assert len(loaded.cases) == 8
    assert all(c.source.startswith(str(EXAMPLES)) for c in loaded.cases)
    r = run_cli("conformance", "list", "--cases", EXAMPLES, "--case", "scapy-*")
    assert r.rc == 0, r.err
    assert "8 cases (8 from case files)" in r.out
    assert "hmac.py:" in r.out and "endpoint.py:" in r.out
    r = run_cli("conformance", "list", "--cases", EXAMPLES, "--format", "json")
    doc = {c["id"]: c for c in json.loads(r.out)}
    assert doc["transit-valid"]["source"] is None  # built-in cases are still listed
    assert doc["scapy-hmac-valid"]["source"].startswith(str(EXAMPLES / "hmac.py") + ":")
    assert doc["scapy-segleft-out-of-range"]["levels"] == {"draft-04": "unspecified",
                                                           "rfc8754": "MUST"}


BROKEN = {
    "a_syntax.py": "from conformance.casefile import case\n\ndef oops(:\n    pass\n",
    "b_raises.py": "from conformance.casefile import case\nx = 1\nraise RuntimeError('boom')\n",
    "c_mixed.py": (
        "from scapy.layers.inet6 import IPv6\n"
        "from conformance.casefile import case, dropped\n"
        "\n"
        "@case('user-bad-level', rule='r', summary='s', levels='MAYBE')\n"
        "def bad_level(t):\n"
        "    return IPv6(dst=t.dut) / t.payload(), dropped()\n"
        "\n"
        "@case('user-no-tag', rule='r', summary='s')\n"
        "def no_tag(t):\n"
        "    return IPv6(dst=t.dut), dropped()\n"
        "\n"
        "@case('user-raises', rule='r', summary='s')\n"
        "def raises(t):\n"
        "    return IPv6(dst=t.dut) / t.payload(), dropped(silent=undefined_name)\n"
        "\n"
        "@case('transit-valid', rule='r', summary='clashes with a built-in case')\n"
        "def clash(t):\n"
        "    return IPv6(dst=t.dut) / t.payload(), dropped()\n"
        "\n"
        "@case('user-good', rule='node.transit.unchanged', summary='fine')\n"
        "def good(t):\n"
        "    return IPv6(src=t.sender, dst=t.down(1)) / t.payload(), dropped()\n"
    ),
}


def test_broken_case_files_are_named_by_file_and_line(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    for name, text in BROKEN.items():
        (tmp_path / name).write_text(text)
    loaded = userload.load([tmp_path], CASES)
    assert [c.id for c in loaded.cases] == ["user-good"]  # the rest of the file still loads
    errors = [str(e) for e in loaded.errors]
    syntax, raises, level, tag, name, clash = errors
    assert syntax.startswith(f"{tmp_path / 'a_syntax.py'}:3: SyntaxError")
    assert raises == f"{tmp_path / 'b_raises.py'}:3: RuntimeError: boom"
    mixed = tmp_path / "c_mixed.py"
    assert level.startswith(f"{mixed}:4: case user-bad-level: 'MAYBE' is not a valid Level")
    assert tag.startswith(f"{mixed}:8: packet 0 carries no tag")
    assert name == f"{mixed}:14: NameError: name 'undefined_name' is not defined"
    assert clash.startswith(f"{mixed}:16: case id 'transit-valid' is already used by the "
                            "built-in catalogue")
    r = run_cli("conformance", "list", "--cases", tmp_path, "--cases", EXAMPLES)
    assert r.rc == 2  # the listing is printed, and the status says something was left out
    assert "user-good" in r.out and "scapy-hmac-valid" in r.out
    assert r.err.count("case file error:") == 6
    assert f"{mixed}:14: NameError" in r.err
    r = run_cli("conformance", "list", "--cases", tmp_path / "missing")
    assert r.rc == 2 and "no such directory" in r.err


def _eth(ip: bytes) -> bytes:
    return MAC + MAC + b"\x86\xdd" + ip


def test_a_user_case_is_judged_and_reported_like_a_builtin_one() -> None:
    """Build the example through the runner's path, fake what a correct and a wrong DUT
    return, judge it offline, and render text/JSON/JUnit; the JSON reads back (the way a
    guest's report does) only with the user cases in the catalogue."""
    cases = {c.id: c for c in userload.load([EXAMPLES], CASES).cases}
    topo = LinuxDut(hmac_secret="x").topology
    from conformance.packets import Ctx
    from conformance.runner import Tagger, barrier_packet

    case = cases["scapy-endpoint-advance"]
    sent = case.build(Ctx(topo, Profile.DRAFT04, Tagger(NONCE, 1), 1))
    assert sent[0].data[6] == 43 and FILLER in sent[0].data
    bar = Captured("rx", 0.0, _eth(barrier_packet(topo, NONCE, 1)))
    good = Captured("rx", 0.0, _eth(advance(sent[0].data)))
    verdict, expected, observed, _ = judge(case, Profile.DRAFT04, topo, sent, [good, bar],
                                           NONCE, 1)
    assert verdict is Verdict.PASS, observed
    assert "srh.segments_left=0" in expected and "ipv6.dst=2001:db8:f::2" in expected
    wrong = bytearray(advance(sent[0].data))
    wrong[43] = 1  # SL not decremented
    verdict, _, observed, detail = judge(case, Profile.DRAFT04, topo, sent,
                                         [Captured("rx", 0.0, _eth(bytes(wrong))), bar],
                                         NONCE, 1)
    assert verdict is Verdict.FAIL and "srh.segments_left: expected 0, got 1" in detail
    verdict, _, observed, _ = judge(case, Profile.DRAFT04, topo, sent, [bar], NONCE, 1)
    assert verdict is Verdict.FAIL and observed == "dropped silently"

    run = Run({"adapter": "linux"}, [Profile.DRAFT04])
    run.results.append(CaseResult(case, Profile.DRAFT04, Verdict.PASS, expected, "ok"))
    assert "scapy-endpoint-advance" in render_text(run)
    assert 'name="scapy-endpoint-advance"' in render_junit(run)
    doc = json.loads(render_json(run))
    with pytest.raises(ValueError, match="unknown here"):
        run_from_json(doc)
    back = run_from_json(doc, [*CASES, *cases.values()])
    assert back.results[0].case is case
    assert make_tag(NONCE, 1, BARRIER_SEQ)  # the barrier is this case's (sanity)


def test_hmac_example_signs_with_the_dut_key() -> None:
    from conformance.packets import Ctx
    from conformance.runner import Tagger
    from srinspect.frame import Frame
    from srinspect.inspector import Inspector, PacketResult
    from srinspect.keys import Keyring
    from srinspect.linklayer import LINKTYPE_RAW
    from srinspect.rules import Profile as CoreProfile

    cases = {c.id: c for c in userload.load([EXAMPLES], CASES).cases}
    topo = LinuxDut(hmac_secret="user-case-secret").topology
    assert topo.hmac_key is not None

    def status(case_id: str) -> list[str]:
        pkt = cases[case_id].build(Ctx(topo, Profile.DRAFT04, Tagger(NONCE, 1), 1))[0].data
        res = Inspector(CoreProfile.DRAFT04, Keyring([topo.hmac_key])).feed(
            Frame(1, 0.0, LINKTYPE_RAW, pkt, len(pkt)))
        assert isinstance(res, PacketResult)
        return [h.status for h in res.hmacs]

    assert status("scapy-hmac-valid") == ["verified"]
    assert status("scapy-hmac-corrupt-drop") != ["verified"]
    assert status("scapy-hmac-unknown-key") == ["unknown-key"]


def test_guest_runs_get_the_case_directories() -> None:
    args = argparse.Namespace(profile="draft-04", case=["scapy-*"], pace=None,
                              cases=[Path("conformance/examples")])
    opts = _guest_options(args)
    i = opts.index("--cases")
    assert Path(opts[i + 1]) == EXAMPLES and Path(opts[i + 1]).is_absolute()
