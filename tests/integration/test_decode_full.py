"""``srinspect decode --full``: Wireshark's tree through pyshark, as text and JSON lines, and
one line with exit status 2 when tshark is not on PATH (no traceback)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ENCAP = REPO / "pcaps" / "kernel-encap.pcap"
SAMPLE = REPO.parent / "shared" / "pcaps-external" / "wireshark-sample-sr-header.pcap"


def walk(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for n in nodes:
        out.append(n)
        out.extend(walk(n.get("children", [])))
    return out


@pytest.mark.tshark
def test_full_text_tree(run_cli: Callable[..., Any]) -> None:
    r = run_cli("decode", "--full", "--frame", "2", ENCAP)
    assert r.rc == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].startswith("Frame 2: 198 bytes on wire") and lines[0].endswith("[0+198]")
    assert "    Routing Header for IPv6 (Segment Routing)  [54+40]" in lines
    assert "        Segments Left: 1  [57+1]" in lines  # nested one level under the SRH
    assert "        Address[0]: fc00:3::1  [62+16]" in lines


@pytest.mark.tshark
def test_full_jsonl_every_srv6_frame(run_cli: Callable[..., Any]) -> None:
    if not SAMPLE.exists():
        pytest.skip(f"third-party capture not found: {SAMPLE}")
    r = run_cli("decode", "--full", "--format", "jsonl", SAMPLE)
    assert r.rc == 0, r.err
    objs = [json.loads(line) for line in r.out.splitlines()]
    assert [o["frame"] for o in objs] == [2, 5, 6, 9]  # the sample's SRH frames
    for o in objs:
        fields = walk(o["layers"])
        seg_left = next(f for f in fields if f.get("name") == "ipv6.routing.segleft")
        srh = next(f for f in fields if f.get("name") == "ipv6.routing")
        assert seg_left["pos"] == srh["pos"] + 3 and seg_left["size"] == 1
        assert seg_left["label"] == "Segments Left: 2"
        addrs = [f["label"] for f in fields if f.get("name") == "ipv6.routing.srh.addr"]
        assert [a.split(": ")[1] for a in addrs] == ["fc00:2:0:6::1", "fc00:2:0:7::1",
                                                     "fc00:2:0:5::1"]


def test_full_without_tshark_one_line_exit_2() -> None:
    """A PATH without tshark, in a fresh interpreter (as a user would run it)."""
    import subprocess

    env = dict(os.environ, PATH=str(Path(sys.executable).parent))
    proc = subprocess.run([sys.executable, "-m", "srinspect", "decode", "--full", str(ENCAP)],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=60,
                          check=False)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "tshark is not installed" in proc.stderr
