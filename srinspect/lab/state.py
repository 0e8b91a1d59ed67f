"""Where a running lab keeps its state: /run/srinspect-lab/<prefix>/.

/run is a tmpfs, so a reboot (which also destroys the namespaces) forgets the lab too. The
state file is a convenience, not the source of truth for cleaning up: ``lab down`` finds
namespaces by their name prefix and processes by namespace, so it works after a crash that
left no state, or a state file without namespaces.

The prefix (``srlab-`` by default) can be changed with ``SRINSPECT_LAB_PREFIX`` so that the
test suite never touches a lab someone is presenting with.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import LabError

DEFAULT_PREFIX = "srlab-"
RUN_ROOT = Path("/run/srinspect-lab")
STATE_VERSION = 1
_PREFIX = re.compile(r"[a-z][a-z0-9]{0,9}-")


def lab_prefix(prefix: str | None = None) -> str:
    """The namespace name prefix: argument, else $SRINSPECT_LAB_PREFIX, else ``srlab-``."""
    value = prefix or os.environ.get("SRINSPECT_LAB_PREFIX") or DEFAULT_PREFIX
    if not _PREFIX.fullmatch(value):
        raise LabError(f"lab prefix {value!r} must be a lower-case letter, up to 9 more "
                       "letters or digits, and a final '-' (e.g. srlab-)")
    return value


@dataclass(frozen=True, slots=True)
class LabPaths:
    """The files of one lab (one prefix)."""

    prefix: str

    @property
    def root(self) -> Path:
        return RUN_ROOT / self.prefix.rstrip("-")

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def hmac_keys(self) -> Path:
        """TOML ``[[key]]`` file (mode 600), usable as ``srinspect audit --keys``."""
        return self.root / "hmac-keys.toml"

    def pidfile(self, name: str) -> Path:
        return self.root / f"{name}.pid"

    def log(self, name: str) -> Path:
        return self.root / f"{name}.log"

    @property
    def lockfile(self) -> Path:
        return self.root / "lock"


def new_state(plan: dict[str, Any], source: str) -> dict[str, Any]:
    return {"version": STATE_VERSION, "created": time.time(), "topology": source,
            "plan": plan, "policies": {}, "hmac": None}


def read_state(paths: LabPaths) -> dict[str, Any] | None:
    """The state, or None when there is none (a damaged file counts as none)."""
    try:
        data = json.loads(paths.state.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        return None
    return data


def write_state(paths: LabPaths, state: dict[str, Any]) -> None:
    """Atomically (write then rename): a reader never sees half a file."""
    paths.root.mkdir(parents=True, exist_ok=True, mode=0o755)
    tmp = paths.state.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True), "utf-8")
    os.replace(tmp, paths.state)


@contextmanager
def locked(paths: LabPaths) -> Iterator[None]:
    """Serialise read-modify-write of the state between concurrent lab commands."""
    paths.root.mkdir(parents=True, exist_ok=True, mode=0o755)
    with open(paths.lockfile, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
