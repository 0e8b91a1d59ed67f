"""Shared paths, CLI runners and skip rules for the srinspect test suite.

Paths are computed from this file, never from the working directory: CI clones the repo to
``X/main`` with the shared material (spec, third-party captures) at ``X/shared``, so the
external captures live at ``REPO.parent / "shared" / "pcaps-external"``.

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

from srinspect.frame import Frame
from srinspect.rules import Profile

REPO = Path(__file__).resolve().parents[1]
PCAPS = REPO / "pcaps"
EXTERNAL = REPO.parent / "shared" / "pcaps-external"
WIRESHARK_SAMPLE = EXTERNAL / "wireshark-sample-sr-header.pcap"
CRAFTED_KEYS = PCAPS / "crafted-keys.toml"
CRAFTED = {
    Profile.DRAFT04: PCAPS / "crafted-draft04.pcapng",
    Profile.RFC8754: PCAPS / "crafted-rfc8754.pcapng",
}
SEG6_SYSCTL = Path("/proc/sys/net/ipv6/conf/all/seg6_enabled")
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101


# ---------------------------------------------------------------------------------------------
# Markers and skips


def kernel_skip_reason() -> str | None:
    """Why kernel (network namespace) tests cannot run here, or None when they can."""
    if not sys.platform.startswith("linux"):
        return "kernel tests need Linux"
    if os.geteuid() != 0:
        return "kernel tests need root (network namespaces, ip sr, sysctl)"
    if shutil.which("ip") is None:
        return "kernel tests need iproute2's `ip` in PATH"
    if not SEG6_SYSCTL.exists():
        return f"kernel has no SRv6 support ({SEG6_SYSCTL} is missing)"
    return None


def tshark_skip_reason() -> str | None:
    return None if shutil.which("tshark") else "tshark is not installed"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``@pytest.mark.tshark`` / ``@pytest.mark.kernel`` tests skip with a clear reason."""
    reasons = {"tshark": tshark_skip_reason(), "kernel": kernel_skip_reason()}
    for item in items:
        for marker, reason in reasons.items():
            if reason and item.get_closest_marker(marker) is not None:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def kernel() -> None:
    """Use in kernel tests (besides the marker) to skip when namespaces cannot be built."""
    reason = kernel_skip_reason()
    if reason:
        pytest.skip(reason)


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


def capture_files() -> list[Path]:
    """Every capture the project ships, plus the third-party sample when it is there."""
    files = sorted([*PCAPS.glob("*.pcap"), *PCAPS.glob("*.pcapng")])
    if WIRESHARK_SAMPLE.is_file():
        files.append(WIRESHARK_SAMPLE)
    return files


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
    from srinspect.cli import main

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
