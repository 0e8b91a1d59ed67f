"""Distributed audits on a real Dask cluster must give exactly the single-process report.

Real ``distributed.LocalCluster``s with two worker processes, no mocks. Captures put findings
and HMAC TLVs (verified, mismatched, unknown key) on both sides of every unit boundary: units
are tiny (``MIN_UNIT``) so small files really are cut in many places. A worker is killed in
the middle of a unit, a unit raises once, and the report still matches byte for byte; the HMAC
secret shows up in no log and on no worker's disk.
"""

from __future__ import annotations

import functools
import gzip
import json
import logging
import os
import random
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed", reason="needs srinspect[dask]")

from srinspect.audit.distributed import (  # noqa: E402
    REDO,
    DistributedError,
    Merger,
    audit_distributed,
    parse_scheduler,
    run_unit,
)
from srinspect.audit.inputs import expand_url_inputs  # noqa: E402
from srinspect.audit.pool import audit_parallel, plan  # noqa: E402
from srinspect.audit.report import AuditReport  # noqa: E402
from srinspect.audit.sequential import Auditor  # noqa: E402
from srinspect.audit.split import WorkUnit  # noqa: E402
from srinspect.build import ethernet, inner_udp, srv6_packet, with_hmac  # noqa: E402
from srinspect.cli.audit import expand_inputs  # noqa: E402
from srinspect.frame import Frame  # noqa: E402
from srinspect.keys import Key, Keyring, build_keyring  # noqa: E402
from srinspect.rules import PACKET_PROFILES, Profile  # noqa: E402
from srinspect.sinks.audit_json import render_json, report_dict  # noqa: E402
from srinspect.sinks.pcapng_writer import write_pcap  # noqa: E402
from srinspect.srh import SrhSpec  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MIN_UNIT = 16 << 10
SECRET = "dask-test-secret-5f1c9e2b"  # must never show up in a log or on a worker's disk
KEY = Key(7, "sha256", SECRET.encode())
SRC = "2001:db8:a::1"
SEGS = ["2001:db8:f::1", "2001:db8:3::1", "2001:db8:2::1"]
INNER = inner_udp("2001:db8:a::100", "2001:db8:f::100")


# ---------------------------------------------------------------------------------------------
# Captures


def _templates() -> list[bytes]:
    good = SrhSpec(SEGS, segments_left=1)
    return [
        ethernet(srv6_packet(SRC, good, INNER)),
        ethernet(srv6_packet(SRC, SrhSpec(SEGS, segments_left=5), INNER, dst=SEGS[1])),
        ethernet(srv6_packet(SRC, SrhSpec(SEGS, segments_left=1, flags=0x80), INNER)),
        ethernet(srv6_packet(SRC, with_hmac(good, SRC, KEY), INNER)),
        ethernet(srv6_packet(SRC, with_hmac(good, SRC, KEY, corrupt=True), INNER)),
        ethernet(srv6_packet(SRC, with_hmac(good, SRC, Key(9, "sha1", b"other")), INNER)),
    ]


def _frames(n: int) -> list[Frame]:
    """Mostly clean SRv6, with rule violations and HMAC outcomes at co-prime periods."""
    t = _templates()
    out = []
    for i in range(n):
        data = (t[1] if i % 7 == 3 else t[2] if i % 11 == 5 else t[3] if i % 5 == 1
                else t[4] if i % 13 == 2 else t[5] if i % 17 == 4 else t[0]) + bytes(i % 5)
        out.append(Frame(i + 1, 1_700_000_000 + i * 0.001, 1, data, len(data)))
    return out


def _pcap(path: Path, n: int = 3000) -> Path:
    write_pcap(path, _frames(n), 1)
    return path


def _unsupported_linktype(path: Path, n: int = 3000) -> Path:
    """Link type 147 (USER0): frames counted and skipped, one note in the file report."""
    with path.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 147))
        for i in range(n):
            data = bytes(60 + i % 7)
            f.write(struct.pack("<IIII", 1_700_000_000, i, len(data), len(data)) + data)
    return path


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory, make_pcapng) -> list[str]:
    """One multi-file run: split pcap and pcapng, gzip and small files (whole units), a cut
    file and one with garbage in the middle (units do not tile: re-audited whole), and an
    unsupported link type (re-audited whole for its note)."""
    d = tmp_path_factory.mktemp("captures")
    big = _pcap(d / "a-big.pcap")
    gz = d / "b-big.pcap.gz"
    gz.write_bytes(gzip.compress(big.read_bytes()))
    ng = make_pcapng(d / "c-many.pcapng", _frames(2000))
    small = _pcap(d / "d-small.pcap", 40)
    data = big.read_bytes()
    cut = d / "e-cut.pcap"
    cut.write_bytes(data[: len(data) - 30])
    garbage = d / "f-garbage.pcap"
    mid = len(data) // 2
    garbage.write_bytes(data[:mid] + b"\xff" * 64 + data[mid + 64:])
    lt = _unsupported_linktype(d / "g-linktype.pcap")
    return [str(p) for p in (big, gz, ng, small, cut, garbage, lt)]


def _keys() -> Keyring:
    return Keyring([KEY])


def _sequential(paths: Sequence[str], keyring: Keyring | None = None,
                profile: Profile = Profile.DRAFT04, **kw: object) -> str:
    return render_json(Auditor(profile, keyring, **kw).audit_files(paths))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    """Two worker processes with one thread each, as ``--scheduler local:2`` makes."""
    with _cluster() as c:
        yield c


@contextmanager
def _cluster() -> Iterator[distributed.Client]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=logging.WARNING) as cl, \
            distributed.Client(cl) as c:
        yield c


class _Recorder:
    """A UnitProgress that remembers what it was told."""

    def __init__(self, client: distributed.Client | None = None) -> None:
        self.units: list[WorkUnit] = []
        self.done: list[WorkUnit] = []
        self.packets = 0
        self.client = client
        self.most_held = 0  # results the cluster held at once, seen at each arrival

    def start(self, units: Sequence[WorkUnit]) -> None:
        self.units = list(units)

    def unit_done(self, unit: WorkUnit, packets: int) -> None:
        self.done.append(unit)
        self.packets += packets
        if self.client is not None:
            held = sum(len(keys) for keys in self.client.has_what().values())
            self.most_held = max(self.most_held, held)


# ---------------------------------------------------------------------------------------------
# Unit tasks that misbehave once (module-level: the workers import them by reference)


def kill_worker_once(marks: str, victim: tuple[int, int], unit: WorkUnit, profile: Profile,
                     keyring: Keyring | None, max_findings: int | None) -> object:
    """The victim unit's first attempt audits the unit, then SIGKILLs its worker process
    before returning; every attempt leaves ``attempt-<pid>`` behind."""
    if (unit.file_index, unit.unit_index) == victim:
        Path(marks, f"attempt-{os.getpid()}").touch()
        first = Path(marks, "killed")
        if not first.exists():
            first.write_text(str(os.getpid()))
            run_unit(unit, profile, keyring, max_findings)
            os.kill(os.getpid(), signal.SIGKILL)
    return run_unit(unit, profile, keyring, max_findings)


def raise_once(marks: str, victim: tuple[int, int], unit: WorkUnit, profile: Profile,
               keyring: Keyring | None, max_findings: int | None) -> object:
    """The victim unit raises on its first attempt (Dask retries it)."""
    if (unit.file_index, unit.unit_index) == victim:
        first = Path(marks, "raised")
        if not first.exists():
            first.touch()
            raise RuntimeError("transient storage error (test)")
    return run_unit(unit, profile, keyring, max_findings)


def always_raise(unit: WorkUnit, profile: Profile, keyring: Keyring | None,
                 max_findings: int | None) -> object:
    """A storage error that does not go away."""
    raise OSError(f"cannot read {unit.path}")


# ---------------------------------------------------------------------------------------------
# The merge alone (results computed for real, offered in any order, some twice)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_merger_any_arrival_order_and_duplicates_counted_once(captures: list[str],
                                                               seed: int) -> None:
    keys = _keys()
    units = plan(captures, 2, MIN_UNIT)
    results = {(u.file_index, u.unit_index): run_unit(u, Profile.DRAFT04, keys, None)
               for u in units}
    arrivals = list(results.items()) * 2  # every unit id twice: as if each ran twice
    random.Random(seed).shuffle(arrivals)
    report = AuditReport(Profile.DRAFT04)
    merger = Merger(report, captures, units)
    offered = 0
    for uid, res in arrivals:
        offered += merger.offer(uid, res)
        redo = merger.drain()
        while redo is not None:  # a file whose units do not tile: its whole-file audit
            whole = WorkUnit(captures[redo], redo, 0, 0, 0, "whole")
            assert merger.offer((redo, REDO), run_unit(whole, Profile.DRAFT04, keys, None))
            redo = merger.drain()
    assert merger.finished
    assert offered <= len(units)
    assert render_json(report) == _sequential(captures, keys)


# ---------------------------------------------------------------------------------------------
# On the cluster


@pytest.mark.parametrize("profile", list(PACKET_PROFILES))
def test_pcaps_dir_identical(client: distributed.Client, profile: Profile) -> None:
    paths = expand_inputs([str(REPO / "pcaps")])
    keys = build_keyring([], [str(REPO / "pcaps" / "crafted-keys.toml"),
                              str(REPO / "pcaps" / "kernel-hmac-keys.toml")])
    progress = _Recorder()
    got = audit_distributed(client, paths, profile, keys, min_unit=MIN_UNIT, progress=progress)
    assert render_json(got) == _sequential(paths, keys, profile)
    assert len(progress.done) == len(progress.units) >= len(paths)
    assert progress.packets == got.packets


def test_generated_files_identical_with_progress(client: distributed.Client,
                                                 captures: list[str]) -> None:
    keys = _keys()
    progress = _Recorder(client)
    got = audit_distributed(client, captures, Profile.DRAFT04, keys, min_unit=MIN_UNIT,
                            progress=progress, window=6)
    # results are fetched and released as they come: what the cluster holds stays near the
    # window (releases reach the scheduler a moment later), far below the number of units
    assert progress.most_held <= 2 * 6 < len(progress.units)
    deadline = time.monotonic() + 10
    while any(client.has_what().values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(client.has_what().values())  # nothing left behind on the workers
    expected = _sequential(captures, keys)
    assert render_json(got) == expected
    split = [u for u in progress.units if u.kind != "whole"]
    assert len({u.file_index for u in split}) >= 4 and len(split) >= 20  # boundaries crossed
    assert sorted(progress.done, key=lambda u: (u.file_index, u.unit_index)) == progress.units
    doc = json.loads(expected)
    assert doc["summary"]["hmac"] == {"verified": got.hmac["verified"],
                                      "mismatch": got.hmac["mismatch"],
                                      "unknown_key": got.hmac["unknown-key"]}
    assert all(doc["summary"]["hmac"].values())
    # units of damaged files also read frames past the damage, which the report leaves out
    assert progress.packets >= doc["summary"]["packets"]


def test_max_findings_keeps_counts_exact(client: distributed.Client,
                                         captures: list[str]) -> None:
    got = audit_distributed(client, captures, Profile.DRAFT04, _keys(), 25, min_unit=MIN_UNIT)
    assert render_json(got) == _sequential(captures, _keys(), max_findings=25)
    assert len(got.findings) == 25 and sum(got.by_rule.values()) > 25


def test_fsspec_file_urls(client: distributed.Client, captures: list[str],
                          tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.pcap")
    paths = [*captures, missing]
    urls = ["file://" + p for p in paths]
    got = render_json(audit_distributed(client, urls, Profile.DRAFT04, _keys(),
                                        min_unit=MIN_UNIT))
    assert "file://" + captures[0] in got
    assert got.replace("file://", "") == _sequential(paths, _keys())
    folder = "file://" + os.path.dirname(captures[0])
    assert expand_url_inputs([folder]) == sorted("file://" + p for p in captures)


def test_unit_that_raises_is_retried_and_keys_stay_secret(
        client: distributed.Client, captures: list[str], tmp_path: Path,
        capfd: pytest.CaptureFixture[str]) -> None:
    task = functools.partial(raise_once, str(tmp_path), (0, 2))
    got = audit_distributed(client, captures, Profile.DRAFT04, _keys(), min_unit=MIN_UNIT,
                            task=task)
    assert (tmp_path / "raised").exists()
    assert render_json(got) == _sequential(captures, _keys())
    logs = [client.get_scheduler_logs(), *client.get_worker_logs().values(),
            *client.get_worker_logs(nanny=True).values()]
    text = "\n".join(msg for log in logs for _level, msg in log)
    text += capfd.readouterr().err  # what the workers printed (their stderr is ours)
    assert "Compute Failed" in text  # the failure was logged, with the task...
    assert SECRET not in text and SECRET.encode().hex() not in text  # ...without the secret
    dirs = client.run(lambda dask_worker: dask_worker.local_directory)
    for d in dirs.values():
        for root, _dirs, files in os.walk(d):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    assert SECRET.encode() not in f.read()


def test_unit_failing_for_good_ends_the_run(client: distributed.Client,
                                            captures: list[str]) -> None:
    failed = r"a-big.pcap: unit \d+ .*failed on the cluster: OSError\('cannot read"
    with pytest.raises(DistributedError, match=failed):
        audit_distributed(client, captures, Profile.DRAFT04, None, min_unit=MIN_UNIT,
                          task=always_raise, retries=1)
    # the rest was cancelled; the cluster audits the next run as usual
    got = audit_distributed(client, captures[:2], Profile.DRAFT04, None, min_unit=MIN_UNIT)
    assert render_json(got) == _sequential(captures[:2])


def test_worker_killed_mid_unit(captures: list[str], tmp_path: Path) -> None:
    """Its own cluster: the nanny restarts the killed worker, Dask reruns the unit."""
    task = functools.partial(kill_worker_once, str(tmp_path), (0, 3))
    with _cluster() as c:
        got = audit_distributed(c, captures, Profile.DRAFT04, _keys(), min_unit=MIN_UNIT,
                                task=task, retries=0)
    killed = (tmp_path / "killed").read_text()
    attempts = sorted(p.name for p in tmp_path.glob("attempt-*"))
    assert len(attempts) == 2 and f"attempt-{killed}" in attempts  # ran twice, elsewhere
    assert render_json(got) == _sequential(captures, _keys())


def test_parallel_workers_note_unsupported_linktype(captures: list[str]) -> None:
    """--workers too: a split file of an unsupported link type gets the sequential note."""
    path = [captures[-1]]
    par = report_dict(audit_parallel(path, 2, Profile.DRAFT04, None, min_unit=MIN_UNIT))
    assert par == report_dict(Auditor(Profile.DRAFT04).audit_files(path))
    assert par["files"][0]["notes"]  # type: ignore[index]


# ---------------------------------------------------------------------------------------------
# The command line


def _cli(*args: str, pre: str = "") -> subprocess.CompletedProcess[str]:
    code = f"import sys\n{pre}\nfrom srinspect.cli.main import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120, check=False)


def test_cli_local_scheduler_same_bytes(captures: list[str], tmp_path: Path) -> None:
    keys = str(REPO / "pcaps" / "kernel-hmac-keys.toml")
    files = [captures[0], captures[1], captures[4], str(REPO / "pcaps")]
    outs = []
    for mode in (["--workers", "1"], ["--scheduler", "local:2"]):
        out = tmp_path / f"{mode[1]}.json"
        proc = subprocess.run([sys.executable, "-m", "srinspect", "audit", *mode, "--keys", keys,
                               "--format", "json", "-o", str(out), *files],
                              capture_output=True, text=True, cwd=REPO, timeout=120,
                              check=False)
        assert proc.returncode == 2, proc.stderr  # the cut file is an input problem
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_cli_scheduler_address(client: distributed.Client, captures: list[str],
                               tmp_path: Path) -> None:
    """``--scheduler tcp://...``: an existing cluster, as `dask scheduler` would run it."""
    address = client.scheduler.address
    assert address.startswith("tcp://")
    out = tmp_path / "tcp.json"
    proc = subprocess.run([sys.executable, "-m", "srinspect", "audit", "--scheduler", address,
                           "--format", "json", "-o", str(out), captures[0], captures[2]],
                          capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr  # segments-left errors are in there
    assert out.read_text() == _sequential(captures[0:3:2])
    assert "relative" not in proc.stderr  # absolute paths: no warning


def test_cli_without_dask_says_what_to_install(captures: list[str]) -> None:
    proc = _cli("audit", "--scheduler", "local:2", captures[0],
                pre="sys.modules['distributed'] = None  # as if not installed")
    assert proc.returncode == 2
    assert "pip install 'srinspect[dask]'" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--scheduler", "local:0"], "local:N with N >= 1"),
    (["--scheduler", "local:2", "--annotate", "x.pcapng"], "cannot be combined"),
    (["--scheduler", "local:2", "-"], "cannot audit stdin"),
])
def test_cli_usage_errors(args: list[str], message: str, captures: list[str]) -> None:
    inputs = [] if "-" in args else [captures[3]]
    proc = _cli("audit", *args, *inputs)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_parse_scheduler() -> None:
    assert parse_scheduler("local") == (os.cpu_count() or 1)
    assert parse_scheduler("local:3") == 3
    assert parse_scheduler("tcp://10.0.0.1:8786") == "tcp://10.0.0.1:8786"
    with pytest.raises(ValueError, match="local:N"):
        parse_scheduler("local:x")
