"""CLI edges: decode --frame beyond the file or on a non-SRv6 frame,
a closed stdout, a truncated .gz, and audit's directory recursion. Real processes and pipes."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PCAPS = REPO / "pcaps"
SAMPLE = REPO.parent / "shared" / "pcaps-external" / "wireshark-sample-sr-header.pcap"
CLI = [sys.executable, "-m", "srinspect"]


def run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, cwd=REPO)


def test_decode_frame_beyond_the_file_says_so_and_fails() -> None:
    res = run("decode", "--frame", 999, SAMPLE)
    assert res.returncode == 2
    assert res.stdout == ""
    assert "frame 999 does not exist" in res.stderr and "has 10 frames" in res.stderr


def test_decode_frame_that_is_not_srv6_says_so_and_fails() -> None:
    res = run("decode", "--frame", 1, SAMPLE)  # frame 1 of the sample is plain IPv6
    assert res.returncode == 2 and res.stdout == ""
    assert "frame 1 is not an SRv6 packet" in res.stderr
    ok = run("decode", "--frame", 2, SAMPLE)  # frame 2 carries the SRH
    assert ok.returncode == 0 and "Segment Routing Header" in ok.stdout


def test_decode_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    """``decode F | head -1``: the reader goes away; no blame on the input, no traceback.
    The capture decodes to far more than a pipe buffer, so the write really fails."""
    raw = (PCAPS / "kernel-encap.pcap").read_bytes()
    big = tmp_path / "big.pcap"
    big.write_bytes(raw[:24] + raw[24:] * 400)  # classic pcap: header, then records
    decode = subprocess.Popen([*CLI, "decode", str(big)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    assert decode.stdout is not None and decode.stderr is not None
    decode.stdout.readline()
    decode.stdout.close()  # what head does after its lines
    err = decode.stderr.read().decode()
    assert decode.wait(timeout=60) == 0
    assert err == "", err


def test_audit_report_into_a_closed_pipe_exits_quietly() -> None:
    proc = subprocess.run(
        f"{shlex_join(CLI)} audit --format jsonl {PCAPS / 'crafted-draft04.pcapng'} "
        "| head -c 10 >/dev/null; echo ${PIPESTATUS[0]} >&2",
        shell=True, executable="/bin/bash", capture_output=True, text=True, cwd=REPO)
    lines = proc.stderr.strip().splitlines()
    assert lines[-1] in ("0", "1"), proc.stderr  # findings may make it 1; never 2
    assert not any("Broken pipe" in ln or "Traceback" in ln for ln in lines), proc.stderr


def shlex_join(parts: list[str]) -> str:
    import shlex

    return shlex.join(parts)


def test_truncated_gzip_names_both_streams(tmp_path: Path) -> None:
    whole = gzip.compress((PCAPS / "crafted-draft04.pcapng").read_bytes())
    cut = tmp_path / "cut.pcapng.gz"
    cut.write_bytes(whole[:1000])
    res = run("audit", "--format", "json", cut)
    assert res.returncode == 2
    fr = json.loads(res.stdout)["files"][0]
    assert fr["status"] == "stopped" and fr["compressed"] is True
    assert fr["stopped_at"] > 1000  # counted in the decompressed capture ...
    assert "after 1000 bytes of the compressed file" in fr["error"]  # ... and said so
    assert f"at byte {fr['stopped_at']} of the decompressed capture" in res.stderr
    plain = tmp_path / "cut.pcapng"
    plain.write_bytes((PCAPS / "crafted-draft04.pcapng").read_bytes()[:1000])
    res = run("audit", "--format", "json", plain)
    assert "decompressed" not in res.stderr
    assert json.loads(res.stdout)["files"][0]["compressed"] is False


def test_audit_directory_recursion(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    shutil.copy(PCAPS / "kernel-encap.pcap", tmp_path / "top.pcap")
    shutil.copy(PCAPS / "kernel-inline.pcap", tmp_path / "a" / "b" / "deep.pcap")
    flat = run("audit", "--format", "json", tmp_path)
    assert [f["file"] for f in json.loads(flat.stdout)["files"]] == [str(tmp_path / "top.pcap")]
    assert f"{tmp_path / 'a'} holds captures and was not audited (add --recursive)" in \
        flat.stderr
    deep = run("audit", "--recursive", "--format", "json", tmp_path)
    assert [f["file"] for f in json.loads(deep.stdout)["files"]] == [
        str(tmp_path / "a" / "b" / "deep.pcap"), str(tmp_path / "top.pcap")]
    assert "not audited" not in deep.stderr
