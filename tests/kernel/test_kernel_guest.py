"""The guest path itself, on every host: boot a stock kernel image in a virtme-ng guest.

Each test boots one guest (about 20 s under TCG, boot included), so there are few of them:
a command's output and exit status come back; the conformance catalogue runs in a guest and
next to the host in a matrix, with the kernel named in every report; the lab demo runs in a
guest; and a killed run leaves no QEMU behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from srinspect.kernel import images
from srinspect.kernel.probe import probe_host

pytestmark = [pytest.mark.guest, pytest.mark.netns]
REPO = Path(__file__).resolve().parents[2]


def image() -> images.KernelImage:
    found = images.newest_with_srv6()
    assert found is not None
    return found


def srinspect(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "srinspect", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_vm_run_relays_output_exit_status_and_shared_directory(tmp_path: Path) -> None:
    img = image()
    res = srinspect("vm", "run", "--kernel", str(img.path), "--rwdir", str(tmp_path), "--",
                    "sh", "-c", f'uname -r; echo "$TMPDIR"; echo hi > {tmp_path}/from-guest; '
                                "exit 7")
    assert res.returncode == 7, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == img.release  # the guest runs the image's kernel, not the host's
    assert lines[1] == "/run/srinspect-tmp"  # guest-local, not the host-shared /tmp
    assert (tmp_path / "from-guest").read_text() == "hi\n"
    assert "boot" in res.stderr and ("TCG" in res.stderr or "KVM" in res.stderr)


def test_conformance_matrix_host_and_guest(tmp_path: Path) -> None:
    """One case the host may lack (an encap policy) and one it has: a column per kernel, the
    guest's kernel named with image, accelerator and boot time, evidence per kernel."""
    img = image()
    out, ev = tmp_path / "m.json", tmp_path / "ev"
    res = srinspect("conformance", "run", "--kernel", "host", "--kernel", str(img.path),
                    "--case", "transit-valid", "--case", "headend-encap", "--format", "json",
                    "-o", str(out), "--evidence", str(ev))
    assert res.returncode in (0, 1), res.stderr
    doc = json.loads(out.read_text())
    host, guest = doc["kernels"]
    assert (host["label"], guest["label"]) == ("host", img.release)
    assert host["dut"]["kernel"] == os.uname().release and "guest" not in host["dut"]
    assert guest["dut"]["kernel"] == img.release
    assert guest["dut"]["guest"]["image"] == str(img.path)
    assert guest["dut"]["guest"]["accelerator"] in ("kvm", "tcg")
    assert guest["dut"]["guest"]["boot_s"] > 0
    verdicts = {k["label"]: {c["id"]: c["verdict"] for c in k["cases"]} for k in doc["kernels"]}
    assert verdicts[img.release] == {"transit-valid": "PASS", "headend-encap": "PASS"}
    if probe_host().piece("seg6-encap").ok:
        assert doc["differences"] == []
    else:
        assert verdicts["host"]["headend-encap"] == "SKIP"
        assert [d["id"] for d in doc["differences"]] == ["headend-encap"]
    for label in ("host", img.release):
        assert (ev / label / "draft-04" / "transit-valid.pcapng").is_file()
        dut = json.loads((ev / label / "dut.json").read_text())
        assert dut["kernel"] == (os.uname().release if label == "host" else img.release)


def test_lab_demo_in_a_guest() -> None:
    res = srinspect("lab", "demo", "--kernel", str(image().path), "--hold", "2",
                    "--settle", "1", "--rate", "10mbit")
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("-> match") == 4, res.stdout
    assert "demo: 4/4 steps" in res.stdout
    assert f"ran in a guest booted from {image().path}" in res.stderr


def _qemu_pids() -> set[int]:
    out = subprocess.run(["pgrep", "-f", "qemu-system"], capture_output=True, text=True,
                         check=False).stdout
    return {int(p) for p in out.split()}


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGKILL, -9), (signal.SIGTERM, 143)])
def test_a_killed_guest_run_leaves_no_qemu_behind(sig: signal.Signals, code: int) -> None:
    """SIGTERM unwinds and stops the guest; SIGKILL leaves it to the watchdog."""
    before = _qemu_pids()
    proc = subprocess.Popen([sys.executable, "-m", "srinspect", "vm", "run", "--", "sleep",
                             "600"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not _qemu_pids() - before:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "QEMU never started"
            time.sleep(0.2)
        proc.send_signal(sig)
        assert proc.wait(timeout=20) == code
        deadline = time.monotonic() + 20
        while _qemu_pids() - before and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _qemu_pids() - before, "QEMU outlived the killed run"
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in _qemu_pids() - before:
            os.kill(pid, signal.SIGKILL)
