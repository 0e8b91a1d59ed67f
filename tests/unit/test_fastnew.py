"""The generated constructors build exactly what the dataclass constructors build."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given
from hypothesis import strategies as st

from srinspect.fastnew import frozen_constructor
from srinspect.findings import Finding
from srinspect.frame import Frame
from srinspect.rules import Severity
from srinspect.sources.pcap import make_frame


@given(st.integers(), st.floats(allow_nan=False), st.integers(0, 300), st.binary(),
       st.integers(0), st.integers(0, 9), st.one_of(st.none(), st.text()))
def test_make_frame_equals_frame(number, ts, linktype, data, orig_len, iface, comment) -> None:
    assert make_frame is not Frame  # the fast path is really in use
    assert make_frame(number, ts, linktype, data, orig_len) == Frame(
        number, ts, linktype, data, orig_len)
    assert make_frame(number, ts, linktype, data, orig_len, iface, comment) == Frame(
        number, ts, linktype, data, orig_len, iface, comment)
    assert make_frame(number, ts, linktype, data, orig_len, comment=comment) == Frame(
        number, ts, linktype, data, orig_len, comment=comment)


def test_finding_defaults_and_keywords() -> None:
    new = frozen_constructor(Finding)
    assert new is not Finding
    args = ("r", Severity.ERROR, 3, 4, 5, "m", "ref")
    assert new(*args) == Finding(*args)
    assert new(*args, srh=9) == Finding(*args, srh=9)
    made = new(*args, "f", 2)
    assert made == Finding(*args, "f", 2) and hash(made) == hash(Finding(*args, "f", 2))


def test_classes_it_cannot_mirror_get_their_own_constructor() -> None:
    @dataclass(frozen=True, slots=True)
    class WithFactory:
        items: list[int] = field(default_factory=list)

    @dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclass(frozen=True, slots=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    for cls in (WithFactory, NoSlots, PostInit):
        assert frozen_constructor(cls) is cls
