"""The command line as users and CI run it: audit/decode output contracts, exit codes, and
what happens with damaged input (a clear one-line message and exit 2, never a traceback).

Format and contract checks run ``srinspect.cli.main`` in-process (``run_cli``); anything about
exit status, stderr or pipes runs ``python -m srinspect`` in a subprocess (``run_srinspect``).
"""

from __future__ import annotations

import gzip
import json
import shlex
import struct
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from srinspect.rules import RULES, Profile

SAMPLE_SEGMENTS = ["fc00:2:0:6::1", "fc00:2:0:7::1", "fc00:2:0:5::1"]
SECRET = "hunter2-SECRET-text"
FINDING_KEYS = {"file", "frame", "rule", "severity", "message", "offset", "ref"}
SUMMARY_KEYS = {"files", "packets", "srh_packets", "by_rule", "by_severity", "hmac"}
HMAC_KEYS = {"verified", "mismatch", "unknown_key"}


@pytest.fixture(scope="module")
def crafted04(pcaps_dir: Path) -> Path:
    return pcaps_dir / "crafted-draft04.pcapng"


@pytest.fixture(scope="module")
def crafted8754(pcaps_dir: Path) -> Path:
    return pcaps_dir / "crafted-rfc8754.pcapng"


def _one_clear_line(err: bytes | str) -> str:
    text = err.decode() if isinstance(err, bytes) else err
    assert "Traceback" not in text, text
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("srinspect: "), lines[0]
    return lines[0]


def _check_finding(item: dict) -> None:
    assert item.keys() >= FINDING_KEYS, item
    assert isinstance(item["file"], str) and isinstance(item["message"], str)
    assert isinstance(item["frame"], int) and item["frame"] >= 1
    assert isinstance(item["offset"], int) and item["offset"] >= 0
    assert item["rule"] in RULES
    assert item["severity"] == RULES[item["rule"]].severity.label
    assert isinstance(item["ref"], str) and item["ref"]


def _check_summary(summary: dict, findings: list[dict]) -> None:
    assert summary.keys() >= SUMMARY_KEYS, summary
    for key in ("files", "packets", "srh_packets"):
        assert isinstance(summary[key], int)
    assert summary["hmac"].keys() >= HMAC_KEYS
    assert all(isinstance(summary["hmac"][k], int) for k in HMAC_KEYS)
    assert {"error", "warning", "info"} <= summary["by_severity"].keys()
    # The counts agree with the findings listed.
    assert summary["by_rule"] == dict(Counter(f["rule"] for f in findings))
    by_sev = Counter(f["severity"] for f in findings)
    assert {k: v for k, v in summary["by_severity"].items() if v} == dict(by_sev)


# ---------------------------------------------------------------------------------------------
# audit


def test_audit_wireshark_sample_text(run_cli: Callable, wireshark_sample: Path) -> None:
    res = run_cli("audit", wireshark_sample)
    assert res.rc == 0, res.err
    assert "10 packets, 4 with an SRH" in res.out
    assert "No findings." in res.out
    assert res.err == ""


def test_audit_wireshark_sample_json(run_cli: Callable, wireshark_sample: Path) -> None:
    res = run_cli("audit", wireshark_sample, "--format", "json")
    assert res.rc == 0
    doc = json.loads(res.out)
    assert {"summary", "findings"} <= doc.keys()
    s = doc["summary"]
    _check_summary(s, doc["findings"])
    assert (s["files"], s["packets"], s["srh_packets"]) == (1, 10, 4)
    assert s["by_severity"]["error"] == 0
    assert not any(f["severity"] == "error" for f in doc["findings"])
    assert {k: s["hmac"][k] for k in HMAC_KEYS} == {"verified": 0, "mismatch": 0,
                                                    "unknown_key": 0}


def test_audit_crafted_json_contract(run_cli: Callable, crafted04: Path,
                                     crafted_keys: Path) -> None:
    res = run_cli("audit", crafted04, "--keys", crafted_keys, "--format", "json")
    assert res.rc == 1  # error findings
    doc = json.loads(res.out)
    s = doc["summary"]
    _check_summary(s, doc["findings"])
    assert (s["files"], s["packets"], s["srh_packets"]) == (1, 28, 28)
    for item in doc["findings"]:
        _check_finding(item)
        assert item["file"] == str(crafted04)
    # Every frame labelled with a rule shows up with that rule.
    assert {"srh.segleft.range", "srh.hmac.mismatch", "srh.duplicate"} <= s["by_rule"].keys()
    # HMAC outcomes: 5 verify (2 valid frames, the unflagged one, the 2 TLVs of the position
    # one), 1 mismatch, 1 unknown key.
    assert {k: s["hmac"][k] for k in HMAC_KEYS} == {"verified": 5, "mismatch": 1,
                                                    "unknown_key": 1}


def test_audit_jsonl(run_cli: Callable, crafted04: Path, crafted_keys: Path) -> None:
    res = run_cli("audit", crafted04, "--keys", crafted_keys, "--format", "jsonl")
    assert res.rc == 1
    lines = [json.loads(line) for line in res.out.splitlines()]
    *findings, last = lines
    assert "summary" in last and "rule" not in last
    for item in findings:
        _check_finding(item)
        assert "summary" not in item
    _check_summary(last["summary"], findings)
    doc = json.loads(run_cli("audit", crafted04, "--keys", crafted_keys, "--format",
                             "json").out)
    assert findings == doc["findings"]


def test_audit_exit_codes(run_cli: Callable, crafted04: Path, crafted8754: Path,
                          crafted_keys: Path, wireshark_sample: Path) -> None:
    assert run_cli("audit", crafted04, "--keys", crafted_keys).rc == 1
    assert run_cli("audit", crafted8754, "--profile", "rfc8754", "--keys", crafted_keys).rc == 1
    assert run_cli("audit", wireshark_sample).rc == 0
    # The sample under RFC 8754 is still clean (no flags, no tag, no TLVs).
    assert run_cli("audit", wireshark_sample, "--profile", "rfc8754").rc == 0


def test_audit_output_file(run_cli: Callable, crafted04: Path, crafted_keys: Path,
                           tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    res = run_cli("audit", crafted04, "--keys", crafted_keys, "--format", "json", "-o", out)
    assert res.rc == 1
    assert res.out == ""
    doc = json.loads(out.read_text())
    assert doc["summary"]["packets"] == 28
    assert doc == json.loads(run_cli("audit", crafted04, "--keys", crafted_keys, "--format",
                                     "json").out)


def test_audit_text_lists_each_rule(run_cli: Callable, crafted04: Path,
                                    crafted_keys: Path) -> None:
    res = run_cli("audit", crafted04, "--keys", crafted_keys)
    assert res.rc == 1
    for rule_id in ("srh.truncated", "srh.tlv.overrun", "srh.hmac.position",
                    "srh.segment.invalid", "capture.snaplen"):
        assert rule_id in res.out
    assert "HMAC: 5 verified, 1 mismatch, 1 unknown key" in res.out


# ---------------------------------------------------------------------------------------------
# decode


def _decode_jsonl(run_cli: Callable, *args: object) -> list[dict]:
    res = run_cli("decode", *args, "--format", "jsonl")
    assert res.rc in (0, 1), res.err
    return [json.loads(line) for line in res.out.splitlines()]


def _check_packet(obj: dict) -> None:
    assert {"file", "frame", "src", "dst", "srh", "findings"} <= obj.keys()
    srh = obj["srh"]
    assert {"next_header", "hdr_ext_len", "segments_left", "first_segment", "flags",
            "reserved", "segments", "tlvs", "hmac"} <= srh.keys()
    for tlv in srh["tlvs"]:
        assert {"type", "length"} <= tlv.keys()
    if srh["hmac"] is not None:
        assert {"key_id", "status"} <= srh["hmac"].keys()
    for item in obj["findings"]:
        assert {"rule", "severity", "message", "offset", "ref"} <= item.keys()


def test_decode_jsonl_wireshark_sample(run_cli: Callable, wireshark_sample: Path) -> None:
    objs = _decode_jsonl(run_cli, wireshark_sample)
    assert [o["frame"] for o in objs] == [2, 5, 6, 9]
    for obj in objs:
        _check_packet(obj)
        srh = obj["srh"]
        assert (srh["next_header"], srh["hdr_ext_len"], srh["segments_left"],
                srh["first_segment"], srh["flags"], srh["reserved"]) == (41, 6, 2, 2, 0, 0)
        assert srh["segments"] == SAMPLE_SEGMENTS
        assert srh["tlvs"] == [] and srh["hmac"] is None
        assert obj["dst"] == SAMPLE_SEGMENTS[2]
        assert obj["findings"] == []


def test_decode_jsonl_crafted(run_cli: Callable, crafted04: Path, crafted_keys: Path) -> None:
    objs = {o["frame"]: o for o in _decode_jsonl(run_cli, crafted04, "--keys", crafted_keys)}
    assert sorted(objs) == list(range(1, 29))
    for obj in objs.values():
        _check_packet(obj)
        assert obj["file"] == str(crafted04)
    assert objs[3]["srh"]["hmac"] == {"key_id": 1, "status": "verified"}
    assert objs[4]["srh"]["hmac"] == {"key_id": 2, "status": "verified"}
    assert objs[23]["srh"]["hmac"]["status"] == "mismatch"
    assert objs[24]["srh"]["hmac"] == {"key_id": 99, "status": "unknown-key"}
    hmac_tlv = objs[3]["srh"]["tlvs"][-1]
    assert (hmac_tlv["type"], hmac_tlv["length"], hmac_tlv["key_id"]) == (5, 38, 1)
    assert [(t["type"], t["length"]) for t in objs[5]["srh"]["tlvs"]] == [
        (1, 18), (2, 18), (3, 18), (4, 2)]
    assert objs[5]["srh"]["tlvs"][0]["address"] == "2001:db8:a::1"
    assert (objs[12]["srh"]["flags"], objs[13]["srh"]["reserved"]) == (0x80, 0x1234)
    assert objs[10]["srh"]["segments_left"] == 5
    assert [f["rule"] for f in objs[10]["findings"]] == ["srh.segleft.range"]
    assert objs[1]["findings"] == []


def test_decode_frame_text_tree(run_cli: Callable, crafted04: Path, crafted_keys: Path) -> None:
    res = run_cli("decode", crafted04, "--keys", crafted_keys, "--frame", "3")
    assert res.rc == 0
    assert res.out.startswith("Frame 3:")
    assert "Frame 4:" not in res.out
    assert "Flags: 0x08 [H (HMAC)]" in res.out
    assert "HMAC (type 5, Length 38)" in res.out
    assert "HMAC status: verified" in res.out
    res = run_cli("decode", crafted04, "--frame", "5")
    for name in ("Ingress Node", "Egress Node", "Opaque Container", "Padding"):
        assert name in res.out
    res = run_cli("decode", crafted04, "--frame", "24")
    assert "HMAC status: unknown-key" in res.out


@pytest.mark.parametrize(("frame", "field_line", "rule"), [
    (12, "Flags: 0x80", "srh.flags.unused"),
    (10, "Segments Left: 5", "srh.segleft.range"),
    (11, "Destination: 2001:db8:9::1", "srh.da.mismatch"),
    (15, "[0] Ingress Node (type 1, Length 10)", "srh.tlv.length"),
])
def test_decode_finding_sits_under_its_field(run_cli: Callable, crafted04: Path, frame: int,
                                             field_line: str, rule: str) -> None:
    res = run_cli("decode", crafted04, "--frame", str(frame))
    lines = res.out.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.strip().startswith(field_line))
    below = lines[at + 1]
    assert rule in below and below.strip().startswith("!!"), below

    def indent(line: str) -> int:
        return len(line) - len(line.lstrip())

    assert indent(below) > indent(lines[at])


def test_decode_frame_that_is_not_srv6(run_cli: Callable, wireshark_sample: Path) -> None:
    res = run_cli("decode", wireshark_sample, "--frame", "1")
    assert res.out == "" and res.rc == 2  # nothing shown is an error
    assert "frame 1 is not an SRv6 packet" in res.err


# ---------------------------------------------------------------------------------------------
# Damaged and odd input: exit 2, one clear line on stderr, no traceback


def _pcapng_with_huge_block() -> bytes:
    shb = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
    idb = struct.pack("<IIHHI", 1, 20, 1, 0, 262144) + struct.pack("<I", 20)
    epb = struct.pack("<II", 6, 0xFFFFFFF0) + bytes(64)
    return shb + idb + epb


def _pcapng_huge_shb() -> bytes:
    return struct.pack("<IIIHHq", 0x0A0D0D0A, 0xFFFFFFF0, 0x1A2B3C4D, 1, 0, -1) + bytes(64)


@pytest.mark.parametrize(("name", "content", "needle"), [
    ("garbage.pcap", b"this is not a capture file, just text\n" * 4, "not a pcap"),
    ("empty.pcap", b"", "empty"),
    ("huge-block.pcapng", _pcapng_with_huge_block(), "block length"),
    ("huge-shb.pcapng", _pcapng_huge_shb(), "block length"),
    ("half-header.pcap", bytes.fromhex("d4c3b2a1020004000000"), ""),
    ("bad-gzip.pcap.gz", b"\x1f\x8b\x08\x00" + b"\xff" * 40, ""),
])
def test_bad_files_exit_2(run_srinspect: Callable, tmp_path: Path, name: str, content: bytes,
                          needle: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    proc = run_srinspect(["audit", path])
    assert proc.returncode == 2
    line = _one_clear_line(proc.stderr)
    assert str(path) in line
    assert needle in line


def test_nonexistent_file_exits_2(run_srinspect: Callable, tmp_path: Path) -> None:
    path = tmp_path / "no-such.pcap"
    proc = run_srinspect(["audit", path])
    assert proc.returncode == 2
    line = _one_clear_line(proc.stderr)
    assert str(path) in line and "No such file" in line
    proc = run_srinspect(["decode", path])
    assert proc.returncode == 2
    _one_clear_line(proc.stderr)


def test_truncated_pcap_keeps_the_findings_so_far(run_srinspect: Callable, tmp_path: Path,
                                                  crafted_by_profile: dict,
                                                  make_pcap: Callable) -> None:
    """Cut mid-record: the frames before the cut are audited and reported, then exit 2."""
    frames = [cf.frame for cf in crafted_by_profile[Profile.DRAFT04]]
    whole = make_pcap([(f.data, f.orig_len) for f in frames])
    path = tmp_path / "cut.pcap"
    path.write_bytes(whole[:-20])  # the last record loses its last 20 bytes
    proc = run_srinspect(["audit", path, "--format", "jsonl"])
    assert proc.returncode == 2
    line = _one_clear_line(proc.stderr)
    assert str(path) in line and "truncat" in line.lower()
    *findings, last = [json.loads(ln) for ln in proc.stdout.decode().splitlines()]
    assert last["summary"]["packets"] == len(frames) - 1
    rules = {(f["frame"], f["rule"]) for f in findings}
    assert (10, "srh.segleft.range") in rules  # findings from before the cut are there
    assert (25, "srh.duplicate") in rules
    assert not any(f["frame"] == len(frames) for f in findings)  # the cut frame is not


def test_gzip_capture_works(run_srinspect: Callable, tmp_path: Path,
                            wireshark_sample: Path) -> None:
    path = tmp_path / "sample.pcap.gz"
    path.write_bytes(gzip.compress(wireshark_sample.read_bytes()))
    proc = run_srinspect(["audit", path, "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr
    s = json.loads(proc.stdout)["summary"]
    assert (s["packets"], s["srh_packets"], s["by_severity"]["error"]) == (10, 4, 0)


@pytest.mark.parametrize("compress", [False, True], ids=["pcap", "gzip"])
def test_stdin(tmp_path: Path, repo: Path, wireshark_sample: Path, compress: bool) -> None:
    """``cat file | srinspect audit -`` (stdin is a pipe: nothing may seek)."""
    src = wireshark_sample
    if compress:
        src = tmp_path / "sample.pcap.gz"
        src.write_bytes(gzip.compress(wireshark_sample.read_bytes()))
    cmd = (f"cat {shlex.quote(str(src))} | {shlex.quote(sys.executable)} -m srinspect "
           "audit - --format json")
    proc = subprocess.run(cmd, shell=True, capture_output=True, cwd=repo, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert (doc["summary"]["packets"], doc["summary"]["srh_packets"]) == (10, 4)


@pytest.mark.parametrize("key", [
    f"0:sha256:{SECRET}",
    f"4294967296:sha256:{SECRET}",
    f"1:md5:{SECRET}",
    f"1:sha256:hex:{SECRET}",
    SECRET,
])
def test_bad_key_exits_2_without_the_secret(run_srinspect: Callable, wireshark_sample: Path,
                                            key: str) -> None:
    for command in ("audit", "decode"):
        proc = run_srinspect([command, wireshark_sample, "--key", key])
        assert proc.returncode == 2
        assert SECRET.encode() not in proc.stdout
        assert SECRET.encode() not in proc.stderr
        _one_clear_line(proc.stderr)


def test_bad_key_file_exits_2_without_the_secret(run_srinspect: Callable, tmp_path: Path,
                                                 wireshark_sample: Path) -> None:
    keys = tmp_path / "keys.toml"
    keys.write_text(f'[[key]]\nid = 0\nalgo = "sha256"\nsecret = "{SECRET}"\n')
    keys.chmod(0o600)
    proc = run_srinspect(["audit", wireshark_sample, "--keys", keys])
    assert proc.returncode == 2
    assert SECRET.encode() not in proc.stdout + proc.stderr
    assert str(keys) in _one_clear_line(proc.stderr)


def test_bad_profile_is_a_usage_error(run_srinspect: Callable, wireshark_sample: Path) -> None:
    proc = run_srinspect(["audit", wireshark_sample, "--profile", "rfc9999"])
    assert proc.returncode == 2
    assert b"Traceback" not in proc.stderr
    assert b"draft-04 or rfc8754" in proc.stderr


def test_decode_shows_frame_link_ipv6_and_transport(run_cli: Callable, crafted04: Path) -> None:
    """What tshark -V shows besides the SRH, in the tree and the JSON."""
    res = run_cli("decode", crafted04, "--frame", "2")
    assert res.rc == 0
    for line in ("Arrival Time: 2023-11-14 22:13:21.000000 UTC", "Interface: 0 (crafted)",
                 "Encapsulation: Ethernet (1)",
                 "Ethernet II, Src: 02:00:00:00:00:01, Dst: 02:00:00:00:00:02",
                 "Version: 6", "Traffic Class: 0x00 (DSCP: CS0, ECN: Not-ECT)",
                 "Flow Label: 0x00000", "User Datagram Protocol, Src Port: 1000, Dst Port: 2000",
                 "Length: 14", "Checksum: 0x5351"):
        assert line in res.out, line
    assert "link type" not in res.out
    obj = next(o for o in _decode_jsonl(run_cli, crafted04) if o["frame"] == 2)
    assert obj["interface_name"] == "crafted" and obj["time"] == 1700000001.0
    assert obj["link"]["src"] == "02:00:00:00:00:01" and obj["link"]["vlans"] == []
    assert (obj["version"], obj["dscp"], obj["ecn"], obj["flow_label"]) == (6, 0, 0, 0)
    assert obj["inner"] is None and obj["transport"]["sport"] == 1000  # an inline SRH
