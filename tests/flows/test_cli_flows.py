"""``srinspect flows`` / ``srinspect watch`` on files, and the sources behind them.

The file path must look exactly like the live one downstream, so the same commands run on
pcapng files written here (two named interfaces, a path change, a finding), and the pipe
reader is checked to deliver frames as they arrive rather than after a large read.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from srinspect import build
from srinspect.sinks.pcapng_writer import PcapngWriter
from srinspect.sources import CaptureError, Dumpcap, FileSource, LiveSource, tools
from srinspect.sources.capture import from_stream
from srinspect.sources.pcap import CHUNK_SIZE
from srinspect.sources.process import QueuedPipe
from srinspect.srh import SrhSpec
from srinspect.wire import parse_ip6

SRC = "2001:db8:a::1"
H1, H2 = "2001:db8:1::1", "2001:db8:2::1"
OLD = ["fc00:1::1", "fc00:9::1"]
NEW = ["fc00:2::1", "fc00:9::1"]
T0 = 1_700_000_000.0


def srv6(path: list[str], *, flags: int = 0, sport: int = 40000) -> bytes:
    spec = SrhSpec([parse_ip6(s) for s in reversed(path)], segments_left=len(path) - 1,
                   flags=flags)
    return build.ethernet(build.srv6_packet(SRC, spec, build.inner_udp(H1, H2, sport=sport)))


def write_capture(path: Path, *, n: int = 20, gap: float = 0.25) -> Path:
    """Interface 0 "r1": n packets on OLD then n on NEW (one flagged), ``gap`` s apart;
    interface 1 "r2": a second flow, and a non-SRv6 frame."""
    with open(path, "wb") as fh:
        w = PcapngWriter(fh)
        w.add_interface(1, name="r1")
        w.add_interface(1, name="r2")
        for i in range(2 * n):
            data = srv6(OLD if i < n else NEW, flags=0x01 if i == n + 3 else 0)
            w.write(data, ts=T0 + i * gap, interface=0)
            if i % 4 == 0:
                w.write(srv6(OLD, sport=7), ts=T0 + i * gap + 0.001, interface=1)
        w.write(build.ethernet(build.inner_udp(H1, H2)), ts=T0 + 2 * n * gap, interface=1)
    return path


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    return write_capture(tmp_path / "two.pcapng")


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(ln) for ln in text.splitlines() if ln.strip()]


def test_flows_json_from_a_file(run_cli, capture: Path) -> None:  # noqa: ANN001
    res = run_cli("flows", "-r", capture, "--format", "json")
    assert res.rc == 0, res.err
    report = json.loads(res.out)
    flows = {f["source_port"]: f for f in report["flows"]}
    main, other = flows[40000], flows[7]
    assert main["packets"] == 40 and main["path_changes"] == 1
    assert main["path_history"][0]["old"] == OLD and main["path_history"][0]["new"] == NEW
    assert main["path"] == NEW and main["srhSegmentIPv6BasicList"] == list(reversed(NEW))
    assert main["findings"] == {"srh.flags.unused": 1}
    assert main["capture_points"][0]["interface"] == "r1"
    assert other["capture_points"][0]["interface"] == "r2" and other["packets"] == 10
    assert report["capture"]["frames"] == 51 and report["capture"]["srv6_packets"] == 50
    assert {(x["interface"], x["direction"]) for x in report["links"]} == \
        {("r1", "any"), ("r2", "any")}
    assert report["table"]["path_changes"] == 1
    assert report["now"] == report["capture"]["last_ts"]


def test_flows_text_from_a_file(run_cli, capture: Path) -> None:  # noqa: ANN001
    res = run_cli("flows", "-r", capture, "--sort", "first", "--top", "1")
    assert res.rc == 0, res.err
    assert "#1 udp [2001:db8:1::1]:40000 -> [2001:db8:2::1]:5201" in res.out
    assert "path changes: 1" in res.out and "fc00:1::1 > fc00:9::1  =>  fc00:2::1" in res.out
    assert "srh.flags.unused x1" in res.out
    assert "#2 " not in res.out  # --top 1
    assert "link load" in res.out and "segment pairs" in res.out


def test_watch_jsonl_from_a_file(run_cli, capture: Path) -> None:  # noqa: ANN001
    res = run_cli("watch", "-r", capture, "--format", "jsonl")
    assert res.rc == 0, res.err
    evs = lines(res.out)
    kinds = [e["event"] for e in evs]
    assert kinds[0] == "start" and evs[0]["ts"] == T0 and evs[0]["live"] is False
    assert kinds.count("flow-new") == 2 and kinds.count("path-change") == 1
    assert kinds.count("finding") == 1
    change = evs[kinds.index("path-change")]
    assert change["old"] == OLD and change["new"] == NEW and change["interface"] == "r1"
    assert change["ts"] == T0 + 20 * 0.25
    finding = evs[kinds.index("finding")]
    assert finding["rule"] == "srh.flags.unused" and finding["severity"] == "warning"
    stats = [e for e in evs if e["event"] == "stats"]
    # one per second of capture time (10 s of capture), plus the final one
    assert 9 <= len(stats) - 1 <= 11
    assert all(b["ts"] >= a["ts"] for a, b in zip(stats, stats[1:], strict=False))
    assert stats[-1]["final"] is True and stats[-1]["drops"] is None
    assert stats[-1]["frames"] == 51
    assert all(isinstance(e["ts"], float) for e in evs)


def test_watch_text_and_no_stats(run_cli, capture: Path) -> None:  # noqa: ANN001
    res = run_cli("watch", "-r", capture, "--no-stats")
    assert res.rc == 0, res.err
    out = res.out.splitlines()
    assert sum(ln.split()[1] == "stats" for ln in out) == 1  # only the final one
    assert any("path-change" in ln and "fc00:1::1 > fc00:9::1  =>  fc00:2::1" in ln
               for ln in out)
    assert any("flow-new" in ln and "on r2" in ln for ln in out)


def test_duration_on_a_file_is_capture_time(run_cli, capture: Path) -> None:  # noqa: ANN001
    res = run_cli("flows", "-r", capture, "--format", "json", "--duration", "2")
    report = json.loads(res.out)
    assert report["capture"]["last_ts"] < T0 + 2
    assert sum(f["packets"] for f in report["flows"]) == 8 + 2


def test_replay_at_recorded_speed(tmp_path: Path, run_cli) -> None:  # noqa: ANN001
    path = write_capture(tmp_path / "short.pcapng", n=5, gap=0.1)  # 1 s of capture
    t0 = time.monotonic()
    res = run_cli("watch", "-r", path, "--replay", "--format", "jsonl",
                  "--stats-interval", "0.3")
    took = time.monotonic() - t0
    assert res.rc == 0, res.err
    assert 0.8 <= took < 10
    evs = lines(res.out)
    assert [e["event"] for e in evs].count("path-change") == 1
    periodic = [e for e in evs if e["event"] == "stats" and not e.get("final")]
    assert periodic, "paced sources tick on the wall clock"
    assert all(T0 <= e["ts"] <= T0 + 1.5 for e in periodic)  # ticks in capture time
    fast = run_cli("flows", "-r", path, "--replay", "--speed", "50", "--format", "json")
    assert sum(f["packets"] for f in json.loads(fast.out)["flows"]) == 13


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
def test_bpf_filter_on_a_file_through_tcpdump(run_cli, capture: Path) -> None:  # noqa: ANN001
    res = run_cli("flows", "-r", capture, "-f", "icmp6", "--format", "json")
    assert res.rc == 0, res.err
    assert json.loads(res.out)["flows"] == []
    res = run_cli("flows", "-r", capture, "-f", "ip6[6] == 43", "--format", "json")
    report = json.loads(res.out)
    assert sum(f["packets"] for f in report["flows"]) == 50
    res = run_cli("flows", "-r", capture, "-f", "not a filter (", "--format", "json")
    assert res.rc == 2 and "tcpdump" in res.err


def test_usage_errors(run_cli, capture: Path) -> None:  # noqa: ANN001
    res = run_cli("flows")
    assert res.rc == 2 and "-r PCAP" in res.err
    res = run_cli("watch", "-i", "lo", "--replay")
    assert res.rc == 2 and "--replay" in res.err
    res = run_cli("flows", "-r", capture, "-i", "lo")
    assert res.rc == 2  # argparse: mutually exclusive
    res = run_cli("flows", "-r", "/nonexistent.pcap")
    assert res.rc == 2 and "nonexistent" in res.err


def test_damaged_file_still_prints_the_table(tmp_path: Path, run_cli,  # noqa: ANN001
                                             capture: Path) -> None:
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(capture.read_bytes()[:-40])
    res = run_cli("flows", "-r", cut, "--format", "json")
    assert res.rc == 2 and "before it" in res.err
    assert json.loads(res.out)["flows"]


def test_missing_dumpcap_is_a_clear_error(monkeypatch, run_cli) -> None:  # noqa: ANN001
    monkeypatch.setattr(tools.shutil, "which", lambda name: None)
    monkeypatch.setattr(tools.os, "access", lambda path, mode: False)
    res = run_cli("flows", "-i", "lo", "--duration", "1")
    assert res.rc == 2
    assert "needs dumpcap" in res.err and "apt-get install tshark" in res.err


def test_dumpcap_failure_is_reported(run_cli) -> None:  # noqa: ANN001
    if shutil.which("dumpcap") is None:
        pytest.skip("dumpcap is not installed")
    res = run_cli("watch", "-i", "srinspect-no-such-if0", "--duration", "1")
    assert res.rc == 2 and "dumpcap failed" in res.err and "srinspect-no-such-if0" in res.err


def test_live_command_line() -> None:
    src = LiveSource(["r1", "r2"], bpf="udp", snaplen=256, buffer_mb=8,
                     tool=Dumpcap("dumpcap"))
    cmd = src.command()
    # options before the first -i apply to every interface
    assert cmd[:1] == ["dumpcap"] and cmd.index("-f") < cmd.index("-i")
    assert cmd.index("-B") < cmd.index("-i") and cmd.index("-s") < cmd.index("-i")
    assert cmd[-2:] == ["-w", "-"] and cmd.count("-i") == 2
    assert "-n" in cmd  # several interfaces: pcapng
    assert "-P" in LiveSource(["r1"], tool=Dumpcap("dumpcap")).command()  # one: classic pcap


# --- the streaming reader on a pipe ------------------------------------------------------


def _pcapng_prefix(frames: int) -> bytes:
    buf = io.BytesIO()
    w = PcapngWriter(buf)
    w.add_interface(1, name="veth0")
    for i in range(frames):
        w.write(srv6(OLD), ts=T0 + i)
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["live-pipe", "buffered-stdin"])
def test_pipe_delivers_frames_as_they_arrive(kind: str) -> None:
    """A frame is yielded as soon as its block is complete, although the writer keeps the
    pipe open (a 1 MiB blocking read would stall a live view until 1 MiB or EOF)."""
    rfd, wfd = os.pipe()
    got: list[int] = []
    done = threading.Event()

    def consume() -> None:
        # dumpcap's pipe as LiveSource reads it (through the queue thread), or a
        # BufferedReader like sys.stdin.buffer
        if kind == "live-pipe":
            stream = QueuedPipe(rfd, lambda: 0.05, 1 << 20)
        else:
            stream = os.fdopen(rfd, "rb")
        reader = from_stream(stream)
        for frame in reader:
            got.append(frame.number)
            if len(got) == 2:
                done.set()
                return

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    data = _pcapng_prefix(2)
    os.write(wfd, data[: len(data) // 2])
    time.sleep(0.1)
    assert not got
    os.write(wfd, data[len(data) // 2 :])
    assert done.wait(5), f"frames not delivered while the pipe stays open ({got})"
    os.close(wfd)
    t.join(5)
    if kind != "buffered-stdin":
        time.sleep(0.1)  # the queue thread sees EOF before the descriptor goes
        os.close(rfd)


def test_file_source_interfaces_and_stop(capture: Path) -> None:
    src = FileSource(str(capture))
    it = iter(src)
    first = next(it)
    assert src.interface(first.interface).name == "r1"
    assert src.interface(1).name == "r2" and src.interface(1).linktype == 1
    src.stop()
    assert list(it) == []
    assert src.drops() == []
    src.close()
    with pytest.raises(CaptureError):
        FileSource(str(capture), replay=True, speed=0)


def test_capture_queue_is_bounded_and_ticks_while_data_flows() -> None:
    """The queue thread stops reading at its limit (dumpcap then blocks and the kernel
    counts drops), and the wall-clock work runs once per chunk even on a busy pipe."""
    rfd, wfd = os.pipe()
    polls = []
    pipe = QueuedPipe(rfd, lambda: polls.append(1) or 0.05, 64 << 10)
    os.set_blocking(wfd, False)
    written = 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # fill the queue and then the pipe
        try:
            written += os.write(wfd, bytes(16 << 10))
        except BlockingIOError:
            time.sleep(0.05)
            try:
                written += os.write(wfd, bytes(16 << 10))
            except BlockingIOError:
                break
    assert pipe.backlog <= (64 << 10) + CHUNK_SIZE
    assert written > pipe.backlog  # the rest waits in the pipe: back-pressure
    got = 0
    while got < written:
        got += len(pipe.read1(1 << 20))
    assert got == written and len(polls) >= 2
    os.close(wfd)
    assert pipe.read1(1 << 20) == b""
    os.close(rfd)


def test_profile_and_keys_options(run_cli, capture: Path) -> None:  # noqa: ANN001
    res = run_cli("watch", "-r", capture, "--format", "jsonl", "--profile", "rfc8754",
                  "--key", "1:sha256:secret", "--no-stats")
    assert res.rc == 0, res.err
    finding = next(e for e in lines(res.out) if e["event"] == "finding")
    assert "8754" in finding["ref"]  # the rule is cited per the chosen profile
    res = run_cli("watch", "-r", capture, "--format", "jsonl", "--no-stats")
    finding = next(e for e in lines(res.out) if e["event"] == "finding")
    assert "draft-04" in finding["ref"]
