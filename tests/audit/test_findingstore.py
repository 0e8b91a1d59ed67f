"""Findings beyond the memory limit go to disk and come back in order, also via pickle."""

from __future__ import annotations

import pickle

from srinspect.audit import findingstore
from srinspect.audit.findingstore import FindingStore
from srinspect.findings import Finding
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


def _rows_file(tmp_path, name: str, findings: list[Finding], batch: int):
    path = str(tmp_path / name)
    rows = [f.to_row() for f in findings]
    for i in range(0, len(rows), batch):
        findingstore.append_rows(path, rows[i:i + batch])
    return findingstore.open_and_unlink(path)


def test_adopted_row_files_keep_their_place(tmp_path, monkeypatch) -> None:
    """Memory entries, the store's own spill and adopted worker files interleave in order;
    an adopted file's frames are shifted and it contributes only the rows asked for."""
    monkeypatch.setattr(findingstore, "BATCH", 10)
    store = FindingStore(memory_limit=25)
    want: list[tuple[str, Finding]] = []
    for i in range(7):
        store.append(_f(i))
        want.append(_f(i))
    worker = [_f(i)[1] for i in range(100, 140)]
    store.adopt_rows(_rows_file(tmp_path, "a.rows", worker, 7), "unit.pcap", 1000, 33)
    want += [("unit.pcap", Finding(f.rule, f.severity, f.frame + 1000, f.offset, f.length,
                                   f.message, f.ref, f.field, f.srh)) for f in worker[:33]]
    for i in range(7, 60):  # past the memory limit: these spill
        store.append(_f(i))
        want.append(_f(i))
    store.adopt_rows(_rows_file(tmp_path, "b.rows", worker, 40), "u2", 0, 0)  # nothing taken
    store.adopt_rows(_rows_file(tmp_path, "c.rows", worker[:5], 2), "u3", 5, 5)
    want += [("u3", Finding(f.rule, f.severity, f.frame + 5, f.offset, f.length, f.message,
                            f.ref, f.field, f.srh)) for f in worker[:5]]
    store.append(_f(999))
    want.append(_f(999))
    assert store._spill is not None
    assert len(store) == len(want)
    assert list(store) == want
    assert list(store) == want  # twice
    assert list(pickle.loads(pickle.dumps(store))) == want
    assert not list(tmp_path.iterdir())  # the row files were unlinked when adopted


def _shifted(file: str, f: Finding, shift: int) -> tuple[str, Finding]:
    return (file, Finding(f.rule, f.severity, f.frame + shift, f.offset, f.length, f.message,
                          f.ref, f.field, f.srh))


def test_take_hands_over_every_kind_of_segment_up_to_a_limit(tmp_path, monkeypatch) -> None:
    """A worker's store (memory, its own spill, adopted row files) appended to another:
    entries keep their order, the limit cuts exactly, the giver is left empty and the row
    files it held past the limit are closed."""
    monkeypatch.setattr(findingstore, "BATCH", 10)
    part = FindingStore(memory_limit=25)
    want: list[tuple[str, Finding]] = []
    for i in range(40):  # past the memory limit: some spill to part's own file
        part.append(_f(i))
        want.append(_f(i))
    worker = [_f(i)[1] for i in range(100, 130)]
    part.adopt_rows(_rows_file(tmp_path, "a.rows", worker, 7), "unit", 500, 30)
    want += [_shifted("unit", f, 500) for f in worker]
    late = _rows_file(tmp_path, "b.rows", worker, 30)
    part.adopt_rows(late, "late", 0, 30)
    assert part._spill is not None
    into = FindingStore(memory_limit=25)
    into.append(_f(-1))
    into.take(part, 55)
    assert list(into) == [_f(-1), *want[:55]]
    assert len(part) == 0 and list(part) == []
    assert late.closed  # beyond the limit: never read, closed
    whole = FindingStore()
    whole.take(into)
    assert list(whole) == [_f(-1), *want[:55]]
