"""Shared paths, CLI runners and skip rules for the srinspect test suite.

The paths (``REPO``, ``PCAPS``, ``EXTERNAL``: the third-party captures at
``REPO.parent / "shared" / "pcaps-external"``) and the namespace skip rule come from
``testbed.py``, which helper and test modules import directly (this module cannot be
imported by name: every folder's conftest.py is called ``conftest``).

Test modules get what is here through fixtures (``run_cli``, ``run_srinspect``,
``wireshark_sample``, ...) and through two parametrizing fixture names that
``pytest_generate_tests`` fills in at collection time:

- ``crafted_frame``: every frame of ``pcaps/crafted-*.pcapng`` as a ``CraftedFrame``;
- ``capture_path``: every ``pcaps/*.pcap`` / ``*.pcapng`` plus the external Wireshark sample.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from testbed import EXTERNAL, PCAPS, REPO, WIRESHARK_SAMPLE, capture_files, netns_skip_reason

from srinspect.frame import Frame
from srinspect.rules import Profile

CRAFTED_KEYS = PCAPS / "crafted-keys.toml"
CRAFTED = {
    Profile.DRAFT04: PCAPS / "crafted-draft04.pcapng",
    Profile.RFC8754: PCAPS / "crafted-rfc8754.pcapng",
}
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101


# ---------------------------------------------------------------------------------------------
# Markers and skips


def kernel_skip_reason() -> str | None:
    """Why kernel-behaviour tests (seg6 routes, seg6local, HMAC) cannot run on this host, or
    None when they can. Where the host lacks SRv6, scripts/test.sh runs exactly these tests
    in one guest boot (``srinspect vm run -- pytest -m kernel``)."""
    reason = netns_skip_reason()
    if reason:
        return reason
    from srinspect.kernel.probe import host_srv6_missing

    missing = host_srv6_missing()
    if missing:
        return (f"host kernel has no SRv6 ({missing}); scripts/test.sh runs the kernel "
                "tests in a guest")
    return None


def guest_skip_reason() -> str | None:
    """Why a guest cannot be booted here (the guest tests need an image, QEMU, virtme-ng)."""
    from srinspect.kernel.choice import guest_missing

    return guest_missing()


def tshark_skip_reason() -> str | None:
    return None if shutil.which("tshark") else "tshark is not installed"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marked tests skip with a clear reason where their needs are missing."""
    checks = {"tshark": tshark_skip_reason, "kernel": kernel_skip_reason,
              "netns": netns_skip_reason, "guest": guest_skip_reason}
    reasons: dict[str, str | None] = {}
    for item in items:
        for marker, check in checks.items():
            if item.get_closest_marker(marker) is None:
                continue
            if marker not in reasons:
                reasons[marker] = check()
            if reasons[marker]:
                item.add_marker(pytest.mark.skip(reason=reasons[marker]))


@pytest.fixture
def kernel() -> None:
    """Use in kernel tests (besides the marker) to skip when namespaces cannot be built."""
    reason = kernel_skip_reason()
    if reason:
        pytest.skip(reason)


# ---------------------------------------------------------------------------------------------
# Nothing left behind: the run fails if it leaves namespaces or processes


#: Programs the suite starts (directly or through srinspect) that must never outlive it.
WATCHED_PROGRAMS = ("iperf3", "dumpcap", "tcpdump", "tshark", "qemu-system-x86_64", "vng",
                    "virtme-run", "virtiofsd", "tmux", "prometheus")


def _netns_names() -> set[str]:
    try:
        return set(os.listdir("/run/netns"))
    except OSError:
        return set()


def _watched_processes() -> set[tuple[int, str]]:
    """(pid, command line) of running programs from ``WATCHED_PROGRAMS``."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            continue
        names = {os.path.basename(a.decode(errors="replace")) for a in argv[:2] if a}
        if names & set(WATCHED_PROGRAMS):
            found.add((int(entry), b" ".join(argv).decode(errors="replace").strip()))
    return found


def leftovers(before: tuple[set[str], set[tuple[int, str]]], *, grace: float = 5.0
              ) -> list[str]:
    """What exists now that did not before the run (after ``grace`` s for slow exits)."""
    import time

    deadline = time.monotonic() + grace
    while True:
        netns = sorted(_netns_names() - before[0])
        procs = sorted(_watched_processes() - before[1])
        if (not netns and not procs) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return ([f"network namespace {n}" for n in netns]
            + [f"process {pid}: {cmd}" for pid, cmd in procs])


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_BEFORE] = (_netns_names(), _watched_processes())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when it leaves namespaces or processes behind. They are reported, not
    removed: on a shared machine they may belong to someone else's concurrent work."""
    before = session.config.stash.get(_BEFORE, None)
    if before is None:
        return
    left = leftovers(before)
    if not left:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = ["the test run left these behind:", *(f"  {x}" for x in left)]
    if reporter:
        reporter.write_line("")
        for line in lines:
            reporter.write_line(line, red=True)
    else:  # pragma: no cover
        print("\n".join(lines), file=sys.stderr)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


_BEFORE = pytest.StashKey[tuple[set[str], set[tuple[int, str]]]]()


# ---------------------------------------------------------------------------------------------
# Paths


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def pcaps_dir() -> Path:
    return PCAPS


@pytest.fixture(scope="session")
def crafted_keys() -> Path:
    return CRAFTED_KEYS


@pytest.fixture(scope="session")
def external_dir() -> Path:
    if not EXTERNAL.is_dir():
        pytest.skip(f"third-party captures not found at {EXTERNAL} (expected next to the repo "
                    "as ../shared/pcaps-external)")
    return EXTERNAL


@pytest.fixture(scope="session")
def wireshark_sample(external_dir: Path) -> Path:
    if not WIRESHARK_SAMPLE.is_file():
        pytest.skip(f"{WIRESHARK_SAMPLE} is missing")
    return WIRESHARK_SAMPLE


# ---------------------------------------------------------------------------------------------
# Minimal, independent classic-pcap reader/writer (ground truth that does not go through
# srinspect's own readers; also used to make damaged captures for the CLI tests)

_PCAP_HEADER = struct.Struct("<IHHiIII")
_PCAP_RECORD = struct.Struct("<IIII")


def read_pcap(path: Path) -> tuple[int, list[bytes]]:
    """(link type, frames) of a little-endian microsecond classic pcap file."""
    raw = path.read_bytes()
    magic, _maj, _min, _tz, _sig, _snap, linktype = _PCAP_HEADER.unpack_from(raw, 0)
    assert magic == 0xA1B2C3D4, f"{path}: not a little-endian usec pcap"
    frames, pos = [], _PCAP_HEADER.size
    while pos < len(raw):
        _sec, _usec, incl, _orig = _PCAP_RECORD.unpack_from(raw, pos)
        pos += _PCAP_RECORD.size
        frames.append(raw[pos:pos + incl])
        pos += incl
    return linktype, frames


def pcap_bytes(frames: Iterable[bytes | tuple[bytes, int]], linktype: int = LINKTYPE_ETHERNET,
               snaplen: int = 262144) -> bytes:
    """A classic pcap holding ``frames`` (``(data, orig_len)`` for snaplen-cut ones)."""
    out = [_PCAP_HEADER.pack(0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)]
    for n, item in enumerate(frames):
        data, orig = item if isinstance(item, tuple) else (item, len(item))
        out.append(_PCAP_RECORD.pack(1_700_000_000 + n, 0, len(data), orig) + data)
    return b"".join(out)


def write_pcapng(path: Path, frames: Iterable[Frame], comment_every: int = 13) -> Path:
    """Ethernet ``frames`` as a one-interface pcapng, every ``comment_every``-th one with a
    packet comment (EPB options the readers and the compiled pre-filter must step over)."""
    from srinspect.sinks.pcapng_writer import PcapngWriter

    with path.open("wb") as out:
        w = PcapngWriter(out)
        w.add_interface(LINKTYPE_ETHERNET)
        for i, f in enumerate(frames):
            w.write(f, comments=[f"c{i}"] if i % comment_every == 0 else ())
    return path


@pytest.fixture(scope="session")
def make_pcapng() -> Callable[..., Path]:
    """``make_pcapng(path, frames, comment_every=13)``: ``write_pcapng``."""
    return write_pcapng


@pytest.fixture(scope="session")
def make_pcap() -> Callable[..., bytes]:
    """``make_pcap(frames, linktype=1)``: the bytes of a classic pcap holding ``frames``."""
    return pcap_bytes


@pytest.fixture(scope="session")
def wireshark_frames(wireshark_sample: Path) -> list[bytes]:
    """The frames of the external sample (link type RAW), read without srinspect."""
    linktype, frames = read_pcap(wireshark_sample)
    assert linktype == LINKTYPE_RAW
    return frames


# ---------------------------------------------------------------------------------------------
# Crafted captures: one frame per rule, labelled ``expect=<rule|valid> profile=<p> | why``

_COMMENT = re.compile(r"expect=(?P<expect>\S+) profile=(?P<profile>\S+) \| (?P<why>.*)")


@dataclass(frozen=True)
class CraftedFrame:
    path: Path
    profile: Profile
    frame: Frame
    expect: str  # a rule id or "valid"
    why: str

    @property
    def id(self) -> str:
        return f"{self.profile}-{self.frame.number:02d}-{self.expect}"


def crafted_frames(profile: Profile | None = None) -> list[CraftedFrame]:
    """Every labelled frame of the crafted captures (of one profile, or of both)."""
    from srinspect.sources import open_capture

    out = []
    for prof, path in CRAFTED.items():
        if profile is not None and prof is not profile:
            continue
        with open_capture(path) as reader:
            for frame in reader:
                m = _COMMENT.fullmatch(frame.comment or "")
                assert m, f"{path} frame {frame.number}: comment {frame.comment!r} is not a label"
                assert m["profile"] == str(prof), f"{path} frame {frame.number}: wrong profile"
                out.append(CraftedFrame(path, prof, frame, m["expect"], m["why"]))
    return out


@pytest.fixture(scope="session")
def crafted_by_profile() -> dict[Profile, list[CraftedFrame]]:
    return {profile: crafted_frames(profile) for profile in CRAFTED}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "crafted_frame" in metafunc.fixturenames:
        cases = crafted_frames()
        metafunc.parametrize("crafted_frame", cases, ids=[c.id for c in cases])
    if "capture_path" in metafunc.fixturenames:
        files = capture_files()
        metafunc.parametrize("capture_path", files, ids=[p.name for p in files])


# ---------------------------------------------------------------------------------------------
# Running the CLI


@dataclass(frozen=True)
class CliResult:
    rc: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``srinspect.cli.main(argv)`` in-process; returns exit code, stdout, stderr."""
    from srinspect.cli.main import main

    def run(*argv: str | os.PathLike[str]) -> CliResult:
        capsys.readouterr()  # drop anything printed before
        try:
            rc = main([os.fspath(a) for a in argv])
        except SystemExit as exc:  # argparse errors and --version
            rc = exc.code if isinstance(exc.code, int) else 2
        captured = capsys.readouterr()
        return CliResult(rc, captured.out, captured.err)

    return run


def srinspect_subprocess(args: Sequence[str | os.PathLike[str]], *, input: bytes | None = None,
                         timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    """``python -m srinspect ARGS`` in a fresh interpreter, from the repo root."""
    return subprocess.run([sys.executable, "-m", "srinspect", *map(os.fspath, args)],
                          input=input, capture_output=True, cwd=REPO, timeout=timeout,
                          check=False)


@pytest.fixture
def run_srinspect() -> Callable[..., subprocess.CompletedProcess[bytes]]:
    return srinspect_subprocess
