"""Fixtures of the live flow tests; the lab itself is in srlab.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from srlab import SrLab, lab_skip_reason  # type: ignore[import-not-found]


@pytest.fixture
def srlab() -> Iterator[SrLab]:
    reason = lab_skip_reason()
    if reason:
        pytest.skip(reason)
    lab = SrLab()
    try:
        lab.build()
        yield lab
    finally:
        lab.close()
