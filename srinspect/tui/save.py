"""Saving from the monitor (``s``): packets of the ring to a pcapng file.

Kept out of the app so the file handling (atomic replace, the umask, one interface block
per captured interface) is testable without a terminal; the app only asks for the name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

from srinspect.sinks.pcapng_writer import PcapngWriter
from srinspect.tui.engine import PacketRecord


def default_path(save_dir: Path, what: str, wall: float) -> str:
    """``SAVE_DIR/srinspect-WHAT-YYYYmmdd-HHMMSS.pcapng`` (local time of ``wall``)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(wall))
    return str(save_dir / f"srinspect-{what}-{stamp}.pcapng")


def describe(what: str, count: int) -> str:
    """What the save dialog names: ``flow #3 (6 packets)``, ``view (40 packets)``."""
    return f"{what.replace('-', ' #')} ({count} packets)"


def save_records(path: str | os.PathLike[str], records: Iterable[PacketRecord],
                 name: Callable[[int], str]) -> tuple[bool, str]:
    """``write_records``, and what to tell the user: (True, ``saved N packets to PATH``) or
    (False, why it could not)."""
    try:
        n = write_records(path, records, name)
    except OSError as exc:
        return False, f"cannot save {path}: {exc.strerror or exc}"
    return True, f"saved {n} packets to {path}"


def write_records(path: str | os.PathLike[str], records: Iterable[PacketRecord],
                  name: Callable[[int], str]) -> int:
    """pcapng of ``records`` in capture order, one IDB per (interface, link type) used.

    A regular file is written to a temporary file next to it and renamed over it when
    complete, so an interrupted save (Ctrl-C, a full disk) never leaves a cut pcapng at
    ``path``: the whole file or, as before, the older one or none (a symlink is followed;
    a FIFO or device is written directly). The ring only holds whole frames, so a capture
    fault never puts a partial block in it either.
    """
    ordered = sorted(records, key=lambda r: r.seq)
    target = Path(os.path.realpath(path))
    if target.exists() and not target.is_file():
        with open(target, "wb") as out:
            return _write_pcapng(out, ordered, name)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            n = _write_pcapng(out, ordered, name)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return n


def _write_pcapng(out: BinaryIO, ordered: Sequence[PacketRecord],
                  name: Callable[[int], str]) -> int:
    writer = PcapngWriter(out)
    idbs: dict[tuple[int, int], int] = {}
    for rec in ordered:
        frame = rec.frame
        slot = (frame.interface, frame.linktype)
        index = idbs.get(slot)
        if index is None:
            index = idbs[slot] = writer.add_interface(frame.linktype,
                                                      name=name(frame.interface))
        writer.write(frame, interface=index)
    return len(ordered)


def _umask() -> int:
    """The process umask (mkstemp makes 0600 files; a save should look like open()'s),
    read from /proc: os.umask would change it for every thread meanwhile."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022
