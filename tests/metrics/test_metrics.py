"""Prometheus metrics (``watch``/``monitor --metrics ADDR:PORT``).

Unit level: the exposition of a known capture read through a watch session (names,
``_total`` counters, base units, bounded top-N). End to end: a REAL Prometheus server
(Debian package ``prometheus``, on 127.0.0.1 only, its data in a temporary directory removed
even on failure) scrapes ``srinspect watch -r FILE --replay --metrics``, and PromQL through
its HTTP API must give what the capture holds: the packet counters and findings exactly, the
link rate within the tolerance of a 1 s scrape.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from srinspect.build import ethernet, ipv6_packet, srv6_packet, udp
from srinspect.sinks.metrics import (
    MAX_TOP,
    MetricsError,
    MetricsServer,
    MetricsSnapshot,
    exposition,
    parse_address,
    top_flows,
)
from srinspect.srh import SrhSpec

REPO = Path(__file__).resolve().parents[2]
SRC, DST = "2001:db8:20::1", "2001:db8:30::9"
SEGS = ["2001:db8:30::9", "2001:db8:5::2", "2001:db8:5::1"]  # SRH order: [0] = final
RATE = 10  # SRv6 packets per second in the busy phase
BUSY = 60  # packets in the busy phase (6 s)
BAD = 5  # packets with Segments Left beyond First Segment (srh.segleft.range)
QUIET_END = 14.0  # the last frame's time: nothing changes between ~6 s and this


def frame(sl: int = 2, sport: int = 40000) -> bytes:
    inner = ipv6_packet("2001:db8:10::1", DST, 17,
                        udp("2001:db8:10::1", DST, sport, 9, b"metrics test payload"))
    dst = SEGS[min(sl, 2)]
    return ethernet(srv6_packet(SRC, SrhSpec(SEGS, sl), inner, dst=dst))


def capture(make_pcap) -> tuple[bytes, int, int]:  # type: ignore[no-untyped-def]
    """(pcap bytes, frames, frame bytes) of the test capture: BUSY good packets at RATE/s
    with BAD malformed ones among them, then one last good packet at QUIET_END."""
    frames: list[tuple[float, bytes]] = [(i / RATE, frame()) for i in range(BUSY)]
    frames += [(0.05 + i, frame(sl=9)) for i in range(BAD)]
    frames.sort(key=lambda f: f[0])
    frames.append((QUIET_END, frame()))
    data = make_pcap([f for _, f in frames])
    # make_pcap spaces records one second apart: rewrite each record's timestamp.
    out, pos = bytearray(data[:24]), 24
    for ts, f in frames:
        rec = bytearray(data[pos:pos + 16])
        sec = 1_700_000_000 + int(ts)
        rec[0:4] = sec.to_bytes(4, "little")
        rec[4:8] = round((ts - int(ts)) * 1e6).to_bytes(4, "little")
        out += rec + f
        pos += 16 + len(f)
    return bytes(out), len(frames), sum(len(f) for _, f in frames)


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text.decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_exposition_of_a_watched_capture(tmp_path: Path, make_pcap, run_cli) -> None:  # type: ignore[no-untyped-def]
    """Read the capture through the watch code path (no replay) and check every family."""
    import argparse

    from srinspect.cli.flows import Session, WatchMetrics
    from srinspect.sources import FileSource

    data, nframes, nbytes = capture(make_pcap)
    path = tmp_path / "m.pcap"
    path.write_bytes(data)
    args = argparse.Namespace(max_flows=100, idle_timeout=60.0, window=5.0, profile=None,
                              key=[], keys=[], locator=[], config=None, bpf=None)
    from srinspect.cli.options import add_locator_options, add_profile_and_keys

    parser = argparse.ArgumentParser()
    add_profile_and_keys(parser)
    add_locator_options(parser)
    vars(args).update({k: v for k, v in vars(parser.parse_args([])).items()})
    source = FileSource(path)
    session = Session(args, source, events=False)
    server = MetricsServer(("127.0.0.1", 0))
    metrics = WatchMetrics(server, session, top=3)
    session.run()
    metrics.publish(session.last_ts or 0.0)
    got = samples(exposition(server._current()))
    link = (("direction", "any"), ("interface", "if0"))
    assert got["srinspect_link_packets_total", link] == nframes
    assert got["srinspect_link_bytes_total", link] == nbytes
    assert got["srinspect_frames_total", ()] == nframes
    assert got["srinspect_srv6_packets_total", ()] == nframes
    rule = (("rule", "srh.segleft.range"), ("severity", "error"))
    assert got["srinspect_findings_total", rule] == BAD
    pair = (("from", SRC), ("to", SEGS[2]))
    assert got["srinspect_segment_pair_flows", pair] == 1
    assert ("srinspect_segment_pair_bytes_per_second", pair) in got
    assert got["srinspect_flows", ()] == 1
    tops = [k for k in got if k[0] == "srinspect_top_flow_bytes_per_second"]
    assert len(tops) == 1 and dict(tops[0][1])["path"] == " > ".join(reversed(SEGS))
    source.close()
    text = exposition(MetricsSnapshot()).decode()
    for line in text.splitlines():  # Prometheus naming: counters end in _total
        if line.startswith("# TYPE") and line.endswith(" counter"):
            assert line.split()[2].startswith("srinspect_")


def test_top_flows_are_bounded_and_addresses_are_checked() -> None:
    key = (bytes(16), bytes(15) + b"\x01", b"", b"", 17, 1, 2)
    rows = [(i, key, (bytes(16),), 1.0, float(i + 1)) for i in range(500)]
    assert len(top_flows(rows, 10_000)) == MAX_TOP
    assert [f.id for f in top_flows(rows, 3)] == [499, 498, 497]
    assert top_flows([(1, key, (bytes(16),), 0.0, 0.0)], 5) == ()  # idle: not "top"
    assert parse_address("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_address("[::1]:9464") == ("::1", 9464)
    for bad in ("9464", "127.0.0.1:", "127.0.0.1:99999", "x:y"):
        with pytest.raises(MetricsError):
            parse_address(bad)


def test_watch_metrics_address_errors(run_cli, tmp_path: Path, make_pcap) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "m.pcap"
    path.write_bytes(capture(make_pcap)[0])
    r = run_cli("watch", "-r", path, "--metrics", "nonsense")
    assert r.rc == 2 and "ADDR:PORT" in r.err
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        r = run_cli("watch", "-r", path, "--metrics", f"127.0.0.1:{busy.getsockname()[1]}")
    assert r.rc == 2 and "--metrics 127.0.0.1:" in r.err


# --- a real Prometheus ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_json(url: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def wait_for(url: str, deadline: float) -> None:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer in time")
        time.sleep(0.2)


def wait_scraping(base: str, deadline: float) -> None:
    """Until Prometheus has tried the target once: it applies new targets only every 5 s
    after start, and a replay started before that would not be seen from its beginning."""
    while True:
        targets = http_json(f"{base}/api/v1/targets")["data"]["activeTargets"]
        if targets and targets[0]["health"] != "unknown":
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"Prometheus never scraped its target: {targets}")
        time.sleep(0.2)


@pytest.fixture
def prometheus() -> Iterator[tuple[str, int]]:
    """A Prometheus on 127.0.0.1 scraping 127.0.0.1:<target port> every second; yields
    (its base URL, the target port). Stopped and its data removed whatever happens."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus is not installed (scripts/setup.sh installs Debian's)")
    work = Path(tempfile.mkdtemp(prefix="srinspect-prometheus-"))
    target, web = free_port(), free_port()
    config = work / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: srinspect\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target}']\n")
    log = (work / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={work / 'data'}",
         f"--web.listen-address=127.0.0.1:{web}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        wait_for(f"http://127.0.0.1:{web}/-/ready", deadline)
        wait_scraping(f"http://127.0.0.1:{web}", deadline)
        yield f"http://127.0.0.1:{web}", target
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(work, ignore_errors=True)
    assert not work.exists()


def promql(base: str, query: str, at: float) -> list[dict]:  # type: ignore[type-arg]
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": query, "time": at})
    doc = http_json(url)
    assert doc["status"] == "success", doc
    return doc["data"]["result"]


def test_real_prometheus_scrapes_a_replayed_watch(prometheus, tmp_path: Path,
                                                  make_pcap) -> None:  # type: ignore[no-untyped-def]
    base, port = prometheus
    data, nframes, _nbytes = capture(make_pcap)
    path = tmp_path / "replay.pcap"
    path.write_bytes(data)
    watch = subprocess.Popen(
        [sys.executable, "-m", "srinspect", "watch", "-r", str(path), "--replay",
         "--format", "jsonl", "--no-stats", "--metrics", f"127.0.0.1:{port}"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert watch.stdout is not None
        first = json.loads(watch.stdout.readline())
        assert first["event"] == "start"
        t0 = time.time()  # the first frame (capture time 0) is being played now
        out, err = watch.communicate(timeout=QUIET_END + 30)
        assert watch.returncode == 0, err
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait()
    quiet = t0 + (BUSY / RATE + QUIET_END) / 2  # every busy packet counted, the last not yet
    time.sleep(1.5)  # let the last scrape land in the TSDB
    up = promql(base, 'up{job="srinspect"}', quiet)
    assert up and up[0]["value"][1] == "1"
    result = promql(base, 'sum(srinspect_link_packets_total{job="srinspect"})', quiet)
    assert float(result[0]["value"][1]) == BUSY + BAD
    result = promql(base, 'srinspect_findings_total{rule="srh.segleft.range"}', quiet)
    assert float(result[0]["value"][1]) == BAD
    # The Grafana-style query of the README: per-link packet rate, in the busy phase.
    busy_rate = (BUSY + BAD) / (BUSY / RATE)
    result = promql(base, "sum by (interface, direction) "
                    "(rate(srinspect_link_packets_total[3s]))", t0 + 4.5)
    assert result and abs(float(result[0]["value"][1]) - busy_rate) < 0.3 * busy_rate, result
    assert result[0]["metric"] == {"interface": "if0", "direction": "any"}
    result = promql(base, "max_over_time(srinspect_link_packets_total[1m])", t0 + QUIET_END + 1)
    assert float(result[0]["value"][1]) in (BUSY + BAD, nframes)  # the last frame: if scraped


def test_monitor_metrics_from_its_engine(tmp_path: Path, make_pcap) -> None:  # type: ignore[no-untyped-def]
    """The monitor answers scrapes from its engine's snapshot; same numbers as watch."""
    from srinspect.cli.monitor import MonitorMetrics
    from srinspect.sources import CaptureEvent, open_capture
    from srinspect.tui.engine import MonitorEngine

    path = tmp_path / "m.pcap"
    data, nframes, nbytes = capture(make_pcap)
    path.write_bytes(data)
    engine = MonitorEngine()
    with open_capture(path) as reader:
        for frame in reader:
            engine.feed(frame)
    engine.capture_event(CaptureEvent("capture-error", 0.0, ("eth9",), "gone", reason="gone",
                                      retrying=True, lost=("eth9",), source="s"))

    class NoDrops:
        def drops(self) -> list[object]:
            return []

    provider = MonitorMetrics(engine, NoDrops(), top=5)  # type: ignore[arg-type]
    got = samples(exposition(provider()))
    provider()  # a second scrape must not count the fault again
    got = samples(exposition(provider()))
    link = (("direction", "any"), ("interface", "if0"))
    assert got["srinspect_link_packets_total", link] == nframes
    assert got["srinspect_link_bytes_total", link] == nbytes
    assert got["srinspect_findings_total", (("rule", "srh.segleft.range"),
                                            ("severity", "error"))] == BAD
    assert got["srinspect_capture_faults_total", (("interface", "eth9"),
                                                  ("reason", "gone"))] == 1
    assert got["srinspect_capture_lost", (("interface", "eth9"),)] == 1
