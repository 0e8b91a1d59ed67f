"""The arrival time the decode views show: to the microsecond, as tshark rounds it, also for
nanosecond pcapng timestamps at today's epochs (where ts * 1e6 in floating point is off)."""

from __future__ import annotations

import pytest

from srinspect.dissect import arrival_time


@pytest.mark.parametrize(("ts", "epoch"), [
    (1796503127.899463415, "1796503127.899463"),  # a nanosecond stamp tshark shows as ...463
    (1796503127.9059288, "1796503127.905929"),
    (1700000000.0, "1700000000.000000"),
    (1700000000.9999996, "1700000001.000000"),  # rounds up into the next second
    (-1.5, "-1.500000"),
])
def test_epoch_to_the_microsecond(ts: float, epoch: str) -> None:
    assert arrival_time(ts)[1] == epoch


def test_utc_text_follows_the_same_rounding() -> None:
    assert arrival_time(1796503127.899463415)[0].endswith(".899463 UTC")
