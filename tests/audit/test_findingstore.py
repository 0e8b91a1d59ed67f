"""Findings beyond the memory limit go to disk and come back in order, also via pickle."""

from __future__ import annotations

import pickle

from srinspect import findingstore
from srinspect.findings import Finding
from srinspect.findingstore import FindingStore
from srinspect.rules import Severity


def _f(i: int) -> tuple[str, Finding]:
    return (f"file{i % 3}", Finding("srh.segleft.range", Severity.ERROR, i, 43, 1, f"m{i}", "r"))


def test_spills_to_disk_and_keeps_order(monkeypatch) -> None:
    monkeypatch.setattr(findingstore, "BATCH", 100)
    store = FindingStore(memory_limit=250)
    entries = [_f(i) for i in range(1234)]
    for e in entries:
        store.append(e)
    assert store._spill is not None  # really on disk
    assert len(store._mem) < 250
    assert len(store) == 1234
    assert list(store) == entries
    assert list(store) == entries  # iterating twice works
    store.append(_f(5000))
    assert list(store)[-1] == _f(5000)
    clone = pickle.loads(pickle.dumps(store))
    assert list(clone) == list(store)
