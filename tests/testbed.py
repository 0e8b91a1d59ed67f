"""Where the suite's captures are, and whether this host can build network namespaces.

A plain module rather than fixtures: ``conftest.py``, helper modules (``flows/srlab.py``) and
test modules that parametrize on captures at collection time import it (``tests/`` is on
``sys.path`` as the root conftest's folder; ``conftest`` itself is not importable by that name,
every folder's conftest.py being called so).

Paths are computed from this file, never from the working directory: CI clones the repo to
``X/main`` with the shared material (spec, third-party captures) at ``X/shared``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PCAPS = REPO / "pcaps"
EXTERNAL = REPO.parent / "shared" / "pcaps-external"
WIRESHARK_SAMPLE = EXTERNAL / "wireshark-sample-sr-header.pcap"


def capture_files() -> list[Path]:
    """Every capture the project ships, plus the third-party sample when it is there."""
    files = sorted([*PCAPS.glob("*.pcap"), *PCAPS.glob("*.pcapng")])
    if WIRESHARK_SAMPLE.is_file():
        files.append(WIRESHARK_SAMPLE)
    return files


def netns_skip_reason(tests: str = "namespace tests") -> str | None:
    """Why ``tests`` that build network namespaces and veth links cannot run here."""
    if not sys.platform.startswith("linux"):
        return f"{tests} need Linux"
    if os.geteuid() != 0:
        return f"{tests} need root (network namespaces, raw sockets, capture)"
    if shutil.which("ip") is None:
        return f"{tests} need iproute2's `ip` in PATH"
    return None
