"""`srinspect doctor` and the commands that need SRv6 on a host that (as forced) lacks it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from srinspect.kernel import images
from srinspect.kernel.probe import probe_host

REPO_ENV = {**os.environ, "SRINSPECT_FORCE_GUEST": "1"}


@pytest.mark.netns
def test_doctor_json_reports_what_the_probe_found(run_cli) -> None:  # type: ignore[no-untyped-def]
    res = run_cli("doctor", "--format", "json")
    doc = json.loads(res.out)
    host = probe_host()
    assert doc["host"]["kernel"] == host.release
    for piece in host.pieces:
        assert doc["host"]["pieces"][piece.name]["ok"] is piece.ok
    assert [i["release"] for i in doc["images"]] == [i.release for i in images.installed()]
    assert doc["kvm"]["accelerator"] in ("kvm", "tcg")
    assert set(doc["tools"]) >= {"tshark", "dumpcap", "iperf3", "qemu-system-x86_64", "vng"}
    usable = doc["srv6_kernel"]["missing"] is None
    assert res.rc == (0 if usable else 2)


@pytest.mark.netns
def test_doctor_text_ends_with_where_conformance_runs(run_cli) -> None:  # type: ignore
    res = run_cli("doctor")
    last = res.out.strip().splitlines()[-1]
    assert last.startswith(("conformance and lab run on", "conformance and lab: cannot run"))
    if not probe_host().has_srv6:
        assert "NO   headend routes (encap seg6)" in res.out


@pytest.mark.netns
def test_lab_up_without_srv6_says_what_is_missing_and_offers_the_guest() -> None:
    proc = subprocess.run([sys.executable, "-m", "srinspect", "lab", "up"], env=REPO_ENV,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "needs a kernel with SRv6" in proc.stderr and "lab demo" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_vm_run_needs_a_command(run_cli) -> None:  # type: ignore[no-untyped-def]
    res = run_cli("vm", "run")
    assert res.rc == 2 and "give the command" in res.err


def test_vm_run_unknown_kernel_is_one_line_exit_2(run_cli) -> None:  # type: ignore
    if os.geteuid() != 0:
        pytest.skip("vm run checks root first")
    res = run_cli("vm", "run", "--kernel", "0.0.1-none", "--", "true")
    assert res.rc == 2
    assert "no kernel image matches '0.0.1-none'" in res.err
