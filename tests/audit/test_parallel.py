"""--workers N must give exactly what one worker gives, also when findings sit on both sides
of every unit boundary, in pcap and pcapng, and on damaged files (which fall back)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from srinspect.audit import report as report_module
from srinspect.audit.pool import audit_parallel, plan
from srinspect.audit.sequential import Auditor
from srinspect.build import ethernet, inner_udp, srv6_packet
from srinspect.frame import Frame
from srinspect.rules import Profile
from srinspect.sinks.audit_json import report_dict
from srinspect.sinks.pcapng_writer import write_pcap
from srinspect.srh import SrhSpec

SEGS = ["2001:db8:f::1", "2001:db8:3::1", "2001:db8:2::1"]
INNER = inner_udp("2001:db8:a::100", "2001:db8:f::100")
MIN_UNIT = 16 << 10  # tiny units so a small file has many boundaries


def _frames(n: int) -> list[Frame]:
    good = ethernet(srv6_packet("2001:db8:a::1", SrhSpec(SEGS, segments_left=1), INNER))
    bad = ethernet(srv6_packet("2001:db8:a::1", SrhSpec(SEGS, segments_left=5), INNER,
                               dst=SEGS[1]))
    odd = ethernet(srv6_packet("2001:db8:a::1", SrhSpec(SEGS, segments_left=1, flags=0x80),
                               INNER))
    out = []
    for i in range(n):
        data = bad if i % 7 == 3 else odd if i % 11 == 5 else good
        out.append(Frame(i + 1, 1_700_000_000 + i * 0.001, 1, data + bytes(i % 5), len(data)
                         + i % 5))
    return out


def _pcap(tmp_path: Path, n: int = 3000) -> Path:
    path = tmp_path / "many.pcap"
    write_pcap(path, _frames(n), 1)
    return path




def _same(paths: list[str], workers: int = 2, **kw: object) -> dict[str, object]:
    seq = report_dict(Auditor(Profile.DRAFT04, None, **kw).audit_files(paths))  # type: ignore[arg-type]
    par = report_dict(audit_parallel(paths, workers, Profile.DRAFT04, None,
                                     min_unit=MIN_UNIT, **kw))  # type: ignore[arg-type]
    assert par == seq
    return seq


@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_units_tile_and_report_is_identical(tmp_path: Path, kind: str, make_pcapng) -> None:
    path = _pcap(tmp_path) if kind == "pcap" else make_pcapng(tmp_path / "many.pcapng",
                                                              _frames(3000))
    units = plan([str(path)], 2, MIN_UNIT)
    assert len(units) >= 4  # several boundaries really are crossed
    rep = _same([str(path)], 4)
    rules = rep["summary"]["by_rule"]  # type: ignore[index]
    assert rules["srh.segleft.range"] == len(range(3, 3000, 7))
    assert rules["srh.flags.unused"] > 0


def test_max_findings_keeps_counts_exact(tmp_path: Path) -> None:
    rep = _same([str(_pcap(tmp_path))], 2, max_findings=10)
    assert len(rep["findings"]) == 10  # type: ignore[arg-type]
    assert rep["summary"]["findings"] > 10  # type: ignore[index]


def test_several_files_and_gzip_keep_order(tmp_path: Path, make_pcapng) -> None:
    a = _pcap(tmp_path)
    b = tmp_path / "b.pcap.gz"
    b.write_bytes(gzip.compress(a.read_bytes()))
    c = make_pcapng(tmp_path / "many.pcapng", _frames(500))
    rep = _same([str(a), str(b), str(c)], 2)
    assert [f["file"] for f in rep["files"]] == [str(a), str(b), str(c)]  # type: ignore[index]


def test_damaged_file_falls_back_to_sequential_result(tmp_path: Path) -> None:
    path = _pcap(tmp_path)
    data = path.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 30])  # cut inside the last record
    garbage = tmp_path / "garbage-mid.pcap"
    mid = len(data) // 2
    garbage.write_bytes(data[:mid] + b"\xff" * 64 + data[mid + 64:])
    for p in (cut, garbage):
        rep = _same([str(p)], 2)
        assert rep["files"][0]["status"] == "stopped"  # type: ignore[index]


def test_cli_workers_identical_output(tmp_path: Path) -> None:
    path = _pcap(tmp_path, 4000)
    outs = []
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}.json"
        proc = subprocess.run([sys.executable, "-m", "srinspect", "audit", "--workers", workers,
                               "--format", "json", "-o", str(out), str(path)],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 1, proc.stderr  # segleft.range errors are in there
        outs.append(json.loads(out.read_text()))
    assert outs[0] == outs[1]


@pytest.mark.parametrize("max_findings", [None, 700])
def test_workers_spill_findings_to_row_files(tmp_path: Path, monkeypatch, max_findings) -> None:
    """Units (and whole files) with more findings than SPILL_ROWS send them home in row
    files; the report is still the sequential one, and no file is left behind."""
    import tempfile

    monkeypatch.setattr(report_module, "SPILL_ROWS", 40)  # inherited by the forked workers
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    pcap = _pcap(tmp_path, 6000)
    gz = tmp_path / "copy.pcap.gz"
    gz.write_bytes(gzip.compress(pcap.read_bytes()))  # a whole unit
    seen: list[str] = []
    real_open = report_module.open_and_unlink

    def open_rows(path):  # noqa: ANN001, ANN202 - the parent taking a worker's row file
        seen.append(path)
        return real_open(path)

    monkeypatch.setattr(report_module, "open_and_unlink", open_rows)
    rep = _same([str(pcap), str(gz)], 2, max_findings=max_findings)
    assert any("/unit-" in p for p in seen) and any("/whole-" in p for p in seen)
    if max_findings is None:
        assert len(rep["findings"]) == rep["summary"]["findings"] > 1000  # type: ignore[arg-type,index]
    assert list((tmp_path / "tmp").iterdir()) == []
