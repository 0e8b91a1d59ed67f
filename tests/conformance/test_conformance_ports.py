"""The ports adapter: its DUT file, and (with root) a real run against a namespace DUT that
the adapter reaches only through interfaces, resolving and answering ND itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.dut.linux import R0_ADDR, R1_ADDR, SENDER, LinuxDut
from conformance.dut.ports import PORTS_EXAMPLE, PortsDut, topology_from
from conformance.model import Verdict
from conformance.runner import Runner, select_cases
from srinspect.errors import LabError
from srinspect.kernel import netns
from srinspect.rules import Profile


def test_example_file_parses(tmp_path: Path) -> None:
    (tmp_path / "dut-hmac.key").write_text("not-printed-anywhere\n")
    import tomllib

    topo, caps = topology_from(tomllib.loads(PORTS_EXAMPLE), tmp_path)
    assert topo.sender == "2001:db8:a::1" and topo.dut == "2001:db8:d::1"
    assert topo.barrier == "2001:db8:f::ba77"
    assert {"srv6", "icmp-ratelimit", "hmac-key", "seg6local:End", "policy:encap"} <= caps
    assert "not-printed-anywhere" not in repr(topo)


@pytest.mark.parametrize(("text", "message"), [
    ("[tester]\naddress='2001:db8::1'\n", "needs [tester] address"),
    ("[tester]\naddress='x'\n[dut]\naddress='2001:db8::2'\ndownstream='2001:db8:f::/64'\n",
     "not an IPv6 address"),
    ("[tester]\naddress='2001:db8::1'\n[dut]\naddress='2001:db8::2'\n"
     "downstream='2001:db8:f::/64'\ncapabilities=['warp-drive']\n", "unknown ['warp-drive']"),
    ("[tester]\naddress='2001:db8::1'\n[dut]\naddress='2001:db8::2'\n"
     "downstream='2001:db8:f::/64'\n[hmac]\nkey_id=1\nalgo='md5'\nsecret='s3cr3t'\n",
     "algo sha1 or sha256"),
])
def test_bad_files_are_setup_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "dut.toml"
    path.write_text(text)
    with pytest.raises(LabError, match=message.replace("[", r"\[").replace("]", r"\]")) as exc:
        PortsDut("eth0", ["eth1"], path)
    assert "s3cr3t" not in str(exc.value)


@pytest.mark.kernel
def test_ports_adapter_against_a_namespace_dut(kernel: None, tmp_path: Path) -> None:
    """The linux lab provides the device (configured once, up front); the ports adapter only
    sends into s0 and listens on r0/r1. Permanent neighbours are removed so the DUT must
    resolve the sender and the next hop, and the adapter learns the DUT's MAC by ND."""
    lab = LinuxDut(hmac_secret="ports-test-key")
    lab.open()
    try:
        lab._exchanger.close()  # type: ignore[union-attr]  # the ports adapter owns the wire
        lab.prepare(frozenset({"srv6", "policy:encap", "seg6local:End", "seg6local:End.X",
                               "hmac-key"}))
        for addr, dev in ((R0_ADDR, "d1"), (R1_ADDR, "d2"), (SENDER, "d0")):
            netns.ip(lab.dut, "neigh", "del", addr, "dev", dev)
        (tmp_path / "key").write_text("ports-test-key\n")
        (tmp_path / "dut.toml").write_text(f"""
[tester]
address = "{SENDER}"
[dut]
link_address = "2001:db8:a::2"
address = "2001:db8:d::1"
downstream = "2001:db8:f::/64"
neighbors = ["{R0_ADDR}", "{R1_ADDR}"]
capabilities = ["srv6"]
[hmac]
key_id = 1
algo = "sha256"
secret_file = "key"
[sids]
End = "2001:db8:5::1"
"End.X" = "2001:db8:5::2"
[policies.encap]
prefix = "2001:db8:101::/64"
segments = ["2001:db8:f::a1", "2001:db8:f::a2", "2001:db8:f::a3"]
source = "2001:db8:d::1"
""")
        dut = PortsDut(f"{lab.snd}/s0", [f"{lab.rcv}/r0", f"{lab.rcv}/r1"],
                       tmp_path / "dut.toml")
        dut.open()
        try:
            plan = [(Profile.DRAFT04, select_cases(Profile.DRAFT04, ["endpoint-advance",
                                                                     "hmac-*", "headend-*",
                                                                     "sr-disabled-drop"])),
                    (Profile.RFC8986, select_cases(Profile.RFC8986, ["end", "end-x"]))]
            run = Runner(dut).run(plan)
            info = dut.info()
        finally:
            dut.close()
    finally:
        lab.close()
    verdicts = {(str(r.profile), r.case.id): r.verdict for r in run.results}
    assert verdicts["draft-04", "endpoint-advance"] is Verdict.PASS
    assert verdicts["draft-04", "hmac-valid"] is Verdict.PASS
    assert verdicts["draft-04", "hmac-invalid-drop"] is Verdict.PASS
    assert verdicts["draft-04", "headend-encap"] is Verdict.PASS
    assert verdicts["rfc8986", "end"] is Verdict.PASS
    assert verdicts["rfc8986", "end-x"] is Verdict.PASS
    # Never configured, so what the file does not declare is skipped, not attempted.
    assert verdicts["draft-04", "sr-disabled-drop"] is Verdict.SKIP
    assert verdicts["draft-04", "headend-inline"] is Verdict.SKIP
    assert info["dut_mac"] == "02:73:72:00:01:00"
    assert "ports-test-key" not in repr(info)
