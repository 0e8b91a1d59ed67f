"""An append-only list of (file, Finding) that keeps memory constant on huge audits.

The first ``memory_limit`` entries stay in memory; after that, batches are pickled to an
anonymous temporary file (deleted when closed or collected) and read back, in order, when
the report is written. A capture with millions of findings then costs disk, not RAM.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterator
from typing import IO

from .findings import Finding

Entry = tuple[str, Finding]
BATCH = 20_000


class FindingStore:
    __slots__ = ("memory_limit", "_mem", "_spill", "_count")

    def __init__(self, memory_limit: int = 100_000) -> None:
        self.memory_limit = memory_limit
        self._mem: list[Entry] = []
        self._spill: IO[bytes] | None = None
        self._count = 0

    def append(self, entry: Entry) -> None:
        self._mem.append(entry)
        self._count += 1
        if len(self._mem) >= BATCH and self._count > self.memory_limit:
            self._flush()

    def _flush(self) -> None:
        if self._spill is None:
            self._spill = tempfile.TemporaryFile(prefix="srinspect-findings-")  # noqa: SIM115
        self._spill.seek(0, 2)
        pickle.dump(self._mem, self._spill, protocol=pickle.HIGHEST_PROTOCOL)
        self._mem = []

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Entry]:
        if self._spill is not None:
            self._spill.flush()
            with open(self._spill.fileno(), "rb", closefd=False) as reader:
                reader.seek(0)
                while True:
                    try:
                        batch = pickle.load(reader)
                    except EOFError:
                        break
                    yield from batch
        yield from list(self._mem)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FindingStore | list):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        where = "memory" if self._spill is None else "memory+disk"
        return f"FindingStore({self._count} findings, {where})"

    def __getstate__(self) -> dict[str, object]:
        return {"memory_limit": self.memory_limit, "entries": list(self)}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["memory_limit"])  # type: ignore[misc, arg-type]
        for entry in state["entries"]:  # type: ignore[attr-defined]
            self.append(entry)
