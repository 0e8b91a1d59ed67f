"""Progress on stderr for long audits: a rich bar with packets/s and ETA on a terminal,
nothing at all in CI or when stderr is a file (logs stay clean)."""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType


def wanted(flag: bool | None = None) -> bool:
    """Explicit flag wins; otherwise only on an interactive stderr outside CI."""
    if flag is not None:
        return flag
    return sys.stderr.isatty() and not os.environ.get("CI")


class AuditProgress:
    """Tracks bytes done against the total input size; cheap to call often."""

    def __init__(self, total_bytes: int, enabled: bool) -> None:
        self.enabled = enabled and total_bytes > 0
        self.total = total_bytes
        self.done_files = 0  # bytes of files already finished
        self.packets = 0
        self._start = time.monotonic()
        self._bar = None
        self._task = None

    def __enter__(self) -> AuditProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
                TextColumn("{task.fields[pps]} pkt/s"), TimeRemainingColumn(),
                console=Console(stderr=True), transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task("auditing", total=self.total, pps="-")
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.__exit__(et, ev, tb)

    def update(self, name: str, packets: int, file_bytes: int) -> None:
        """Within a file: ``packets`` so far overall, ``file_bytes`` read of this file."""
        if self._bar is None:
            return
        elapsed = max(time.monotonic() - self._start, 1e-6)
        self._bar.update(self._task, completed=min(self.done_files + file_bytes, self.total),
                         description=os.path.basename(name), pps=f"{packets / elapsed:,.0f}")

    def add_done(self, nbytes: int, packets: int = 0) -> None:
        """A file or unit finished (``nbytes`` of input)."""
        self.done_files += nbytes
        self.packets += packets
        self.update("auditing", self.packets, 0)
