"""The kernel-made samples in pcaps/ are what this kernel makes: regenerate them with
pcaps/make_kernel_samples.sh and make_kernel_samples_csid.sh into a temporary directory and
compare frame by frame (the scripts make every byte but the timestamps the same on every run),
then audit them clean (kernel-next-csid.pcap with its C-SID format). kernel-behaviours.pcapng
(make_kernel_samples_behaviours.sh: conformance evidence) differs from run to run only in the
conformance tags, which the comparison masks."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from srinspect.sources import open_capture

pytestmark = pytest.mark.kernel
PCAPS = Path(__file__).resolve().parents[2] / "pcaps"
SAMPLES = ("kernel-encap.pcap", "kernel-inline.pcap", "kernel-hmac.pcap",
           "kernel-endpoint-seg6local.pcap")
CSID_SAMPLES = ("kernel-next-csid.pcap", "kernel-encap-red.pcap")  # make_kernel_samples_csid.sh
CSID = "2001:db8::/32/16"  # the C-SID format of kernel-next-csid.pcap


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("samples")
    for script in ("make_kernel_samples.sh", "make_kernel_samples_csid.sh"):
        proc = subprocess.run(["bash", str(PCAPS / script)],
                              env={**os.environ, "SRINSPECT_SAMPLES_OUT": str(out)},
                              capture_output=True, text=True, timeout=600, check=False)
        assert proc.returncode == 0, script + ": " + proc.stdout + proc.stderr
    return out


@pytest.mark.parametrize("name", SAMPLES + CSID_SAMPLES)
def test_regenerated_sample_has_the_same_frames(regenerated: Path, name: str) -> None:
    shipped, made = frames(PCAPS / name), frames(regenerated / name)
    assert len(made) == len(shipped) > 0
    assert Counter(made) == Counter(shipped)


def frames(path: Path) -> list[tuple[int, bytes]]:
    """(link type, bytes) of every frame: everything but the timestamps."""
    with open_capture(path) as reader:
        return [(f.linktype, bytes(f.data)) for f in reader]


def test_regenerated_samples_audit_clean(regenerated: Path, run_cli) -> None:  # type: ignore
    res = run_cli("audit", "--keys", regenerated / "kernel-hmac-keys.toml", "--format",
                  "json", *(regenerated / n for n in SAMPLES))
    assert res.rc == 0, res.out + res.err
    summary = json.loads(res.out)["summary"]
    assert summary["findings"] == 0 and summary["srh_packets"] > 0
    assert summary["hmac"]["verified"] > 0 and summary["hmac"]["mismatch"] == 0


@pytest.mark.parametrize(("name", "extra"), [("kernel-encap-red.pcap", ()),
                                             ("kernel-next-csid.pcap", ("--csid", CSID))])
def test_regenerated_csid_samples_audit_clean(regenerated: Path, run_cli,  # type: ignore
                                              name: str, extra: tuple[str, ...]) -> None:
    res = run_cli("audit", *extra, "--format", "json", regenerated / name)
    assert res.rc == 0, res.out + res.err
    summary = json.loads(res.out)["summary"]
    assert summary["findings"] == 0 and summary["srh_packets"] == 6


def _masked(data: bytes) -> bytes:
    """A frame of kernel-behaviours.pcapng without what differs from run to run: each run's
    conformance tag (the nonce after the ``SRIN`` magic, the case and sequence numbers) and
    the UDP checksum just before it, which covers the tag."""
    pos = data.find(b"SRIN")
    if pos < 0:
        return data
    return data[: pos - 2] + b"\0\0SRIN" + data[pos + 12 :]


def test_regenerated_behaviours_sample_has_the_same_frames(tmp_path: Path, run_cli) -> None:  # type: ignore
    """make_kernel_samples_behaviours.sh runs conformance cases on this kernel and keeps
    their evidence: the same frames every run but for the per-run tags."""
    proc = subprocess.run(["bash", str(PCAPS / "make_kernel_samples_behaviours.sh")],
                          env={**os.environ, "SRINSPECT_SAMPLES_OUT": str(tmp_path)},
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    name = "kernel-behaviours.pcapng"
    shipped = [(lt, _masked(d)) for lt, d in frames(PCAPS / name)]
    made = [(lt, _masked(d)) for lt, d in frames(tmp_path / name)]
    assert len(made) == len(shipped) > 0
    assert Counter(made) == Counter(shipped)
    for profile in ("draft-04", "rfc8754"):
        res = run_cli("audit", "--profile", profile, "--format", "json", tmp_path / name)
        assert res.rc == 0, res.out + res.err
        assert json.loads(res.out)["summary"]["findings"] == 0
