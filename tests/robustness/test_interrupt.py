"""Ctrl-C during an audit leaves a valid report that says where it stopped (exit 130) and a
valid annotated pcapng, sequential and parallel."""

from __future__ import annotations

import json
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from srinspect.build import ethernet, inner_udp, srv6_packet
from srinspect.srh import SrhSpec

SEGS = ["2001:db8:f::1", "2001:db8:3::1", "2001:db8:2::1"]


def _big_pcap(path: Path, packets: int = 1_500_000) -> Path:
    bad = ethernet(srv6_packet("2001:db8:a::1", SrhSpec(SEGS, segments_left=5),
                               inner_udp("2001:db8:a::100", "2001:db8:f::100"), dst=SEGS[1]))
    record = struct.pack("<IIII", 1_700_000_000, 0, len(bad), len(bad)) + bad
    with path.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        chunk = record * 10_000
        for _ in range(packets // 10_000):
            f.write(chunk)
    return path


def _interrupt(args: list[str], after: float = 1.5) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen([sys.executable, "-m", "srinspect", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(after)
    assert proc.poll() is None, "the audit finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_leaves_a_valid_partial_report(tmp_path: Path, workers: str) -> None:
    pcap = _big_pcap(tmp_path / "big.pcap")
    out = tmp_path / "report.json"
    done = _interrupt(["audit", "--workers", workers, "--format", "json", "-o", str(out),
                       str(pcap)])
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(out.read_text())  # valid JSON despite the interruption
    (file,) = report["files"]
    assert file["status"] == "interrupted"
    assert file["packets"] < 1_500_000
    assert report["summary"]["by_rule"].get("srh.segleft.range", 0) == file["findings"]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_ctrl_c_leaves_a_valid_annotated_pcapng(tmp_path: Path) -> None:
    pcap = _big_pcap(tmp_path / "big.pcap", 600_000)
    ann = tmp_path / "annotated.pcapng"
    done = _interrupt(["audit", "--annotate", str(ann), "--format", "json", "-o",
                       str(tmp_path / "r.json"), str(pcap)], after=2.0)
    assert done.returncode == 130, done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    audited = report["files"][0]["packets"]
    count = subprocess.run(["tshark", "-r", str(ann), "-T", "fields", "-e", "frame.number"],
                           capture_output=True, text=True, check=False)
    assert count.returncode == 0, count.stderr  # no "cut short in the middle of a packet"
    frames = count.stdout.split()
    assert len(frames) > 0 and abs(len(frames) - audited) <= 1
