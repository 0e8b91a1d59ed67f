"""An append-only list of (file, Finding) that keeps memory constant on huge audits.

The first ``memory_limit`` entries stay in memory; after that, batches are pickled to an
anonymous temporary file (deleted when closed or collected) and read back, in order, when
the report is written. A capture with millions of findings then costs disk, not RAM.

Parallel workers spill their own findings the same way (``append_rows``: batches of
``Finding.to_row()`` tuples in a file the parent opens and unlinks); the parent adopts such
a file as one segment (``adopt_rows``) instead of reading and re-writing every finding, so
the serial part of a parallel audit stays small however many findings there are.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Iterator
from typing import IO

from ..findings import Finding, FindingRow

Entry = tuple[str, Finding]
BATCH = 20_000

# Segments, in report order: entries kept in memory, a byte range of the store's own spill
# file, or an adopted worker row file (file object, file name, frame shift, rows to take).
_Mem = tuple[str, list[Entry]]
_Spill = tuple[str, int, int]
_Rows = tuple[str, IO[bytes], str, int, int]


class FindingStore:
    __slots__ = ("memory_limit", "_mem", "_spill", "_count", "_segments")

    def __init__(self, memory_limit: int = 100_000) -> None:
        self.memory_limit = memory_limit
        self._mem: list[Entry] = []  # the open tail, after every segment
        self._spill: IO[bytes] | None = None
        self._count = 0
        self._segments: list[_Mem | _Spill | _Rows] = []

    def append(self, entry: Entry) -> None:
        self._mem.append(entry)
        self._count += 1
        if len(self._mem) >= BATCH and self._count > self.memory_limit:
            self._flush()

    def adopt_rows(self, rows: IO[bytes], file: str, shift: int, count: int) -> None:
        """Append the first ``count`` findings of a worker's row file (``append_rows``) for
        ``file``, frame numbers moved by ``shift``, without reading them now. The store owns
        ``rows`` from here on (an unlinked file: closing it frees the disk)."""
        if count <= 0:
            rows.close()
            return
        if self._mem:
            if self._count > self.memory_limit:
                self._flush()
            else:
                self._segments.append(("mem", self._mem))
                self._mem = []
        self._segments.append(("rows", rows, file, shift, count))
        self._count += count

    def take(self, other: FindingStore, limit: int | None = None) -> None:
        """Append the first ``limit`` entries of ``other`` (all of them for None) and empty
        it. Adopted row files change hands unread and in-memory entries in one piece, so
        merging a worker's report costs little however many findings it holds; the rest
        of ``other`` (row files past the limit) is closed."""
        left = len(other) if limit is None else min(limit, len(other))
        segments = [*other._segments, ("mem", other._mem)]
        other._segments, other._mem, other._count = [], [], 0
        for segment in segments:
            if segment[0] == "rows":
                _, rows, file, shift, count = segment  # type: ignore[misc]
                count = min(count, left)
                self.adopt_rows(rows, file, shift, count)  # closes it when count is 0
            elif segment[0] == "mem":
                entries = segment[1][:left]  # type: ignore[index]
                count = len(entries)
                self._extend(entries)
            else:
                _, start, end = segment  # type: ignore[misc]
                count = 0
                for entry in other._read_spill(start, end):
                    if count == left:
                        break
                    self.append(entry)
                    count += 1
            left -= count

    def _extend(self, entries: list[Entry]) -> None:
        self._mem.extend(entries)
        self._count += len(entries)
        if len(self._mem) >= BATCH and self._count > self.memory_limit:
            self._flush()

    def _flush(self) -> None:
        if self._spill is None:
            self._spill = tempfile.TemporaryFile(prefix="srinspect-findings-")  # noqa: SIM115
        self._spill.seek(0, 2)
        start = self._spill.tell()
        # As (file, row) tuples: they pickle and load several times faster than Findings.
        batch = [(file, f.to_row()) for file, f in self._mem]
        pickle.dump(batch, self._spill, protocol=pickle.HIGHEST_PROTOCOL)
        end = self._spill.tell()
        last = self._segments[-1] if self._segments else None
        if last is not None and last[0] == "spill" and last[2] == start:  # type: ignore[misc]
            self._segments[-1] = ("spill", last[1], end)  # type: ignore[misc]
        else:
            self._segments.append(("spill", start, end))
        self._mem = []

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Entry]:
        for segment in list(self._segments):
            if segment[0] == "mem":
                yield from segment[1]  # type: ignore[misc]
            elif segment[0] == "spill":
                yield from self._read_spill(segment[1], segment[2])  # type: ignore[misc]
            else:
                _, rows, file, shift, count = segment  # type: ignore[misc]
                yield from _read_rows(rows, file, shift, count)
        yield from list(self._mem)

    def _read_spill(self, start: int, end: int) -> Iterator[Entry]:
        assert self._spill is not None
        self._spill.flush()
        from_row = Finding.from_row
        with open(self._spill.fileno(), "rb", closefd=False) as reader:
            reader.seek(start)
            while reader.tell() < end:
                for file, row in pickle.load(reader):
                    yield file, from_row(row)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FindingStore | list):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        where = "memory" if len(self._segments) == 0 and self._spill is None else "memory+disk"
        return f"FindingStore({self._count} findings, {where})"

    def __getstate__(self) -> dict[str, object]:
        return {"memory_limit": self.memory_limit, "entries": list(self)}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["memory_limit"])  # type: ignore[misc, arg-type]
        for entry in state["entries"]:  # type: ignore[attr-defined]
            self.append(entry)


def _read_rows(rows: IO[bytes], file: str, shift: int, count: int) -> Iterator[Entry]:
    """The first ``count`` findings of a row file, as entries of ``file``."""
    from_row = Finding.from_row
    with open(rows.fileno(), "rb", closefd=False) as reader:
        reader.seek(0)
        while count > 0:
            batch = pickle.load(reader)
            for row in batch[:count]:
                yield file, from_row(row, shift)
            count -= len(batch)


def append_rows(path: str, rows: list[FindingRow]) -> None:
    """Append a batch of ``Finding.to_row()`` tuples to a worker's row file, so a unit with
    millions of findings neither holds them in memory nor sends them through the pool's
    pipe. The parent opens, unlinks and adopts the file (``adopt_rows``)."""
    with open(path, "ab") as f:
        pickle.dump(rows, f, protocol=pickle.HIGHEST_PROTOCOL)


def open_and_unlink(path: str) -> IO[bytes]:
    """Open a worker's row file and remove its name: the open file lives as long as the
    store that adopts it, and nothing is left on disk whatever happens next."""
    f = open(path, "rb")  # noqa: SIM115 - owned by the FindingStore
    os.unlink(path)
    return f
