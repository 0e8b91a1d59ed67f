"""The compiled pre-filter, if it was built, the switch that turns it off, and the interface
through which the capture readers hand it their buffers.

``srinspect._skim`` (C) consumes capture records that need no Python: packets without IPv6,
IPv6 that cannot lead to an SRH, and clean simple SRv6 packets (see ``_skim.c``). It walks
the readers' own buffers, so the readers call it from their hot loops, through a
``Skimmer`` a consumer gives them (``PcapReader.skim``); the audit engine (engine.py) is
that consumer and decides everything else. Whatever the pre-filter does not consume takes
the normal Python path, which stays the authority on findings.

It is optional: an install without a C compiler runs the same audit in pure Python.
``SRINSPECT_PURE=1`` disables it at run time (tests and benchmarks compare both ways).
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Protocol


def _load() -> ModuleType | None:
    if os.environ.get("SRINSPECT_PURE", "") not in ("", "0"):
        return None
    try:
        from . import _skim
    except ImportError:
        return None
    return _skim


#: The compiled module, or None (not built, or disabled by SRINSPECT_PURE).
native: ModuleType | None = _load()


class Skimmer(Protocol):
    """What a capture reader lets consume whole records straight from its buffer.

    The reader knows the container (where records start, byte order, link types); the
    skimmer knows which packets nobody needs to see. Each call starts at the record header
    at ``pos`` (frame number ``number`` is the record before it) and returns where the
    first record it did not consume starts, and how many it consumed; it never consumes a
    record starting at or after ``limit``, nor one the reader would reject.
    """

    def supports(self, linktype: int) -> bool:
        """Whether records of this link type may be consumed at all."""
        ...

    def pcap(self, buf: bytes, pos: int, end: int, limit: int, big_endian: bool,
             caplen_cap: int, linktype: int, number: int) -> tuple[int, int]:
        """Classic pcap records in ``buf[pos:end]``."""
        ...

    def pcapng(self, buf: bytes, pos: int, end: int, limit: int, big_endian: bool,
               linktypes: bytes, number: int) -> tuple[int, int]:
        """pcapng Enhanced Packet Blocks in ``buf[pos:end]``; ``linktypes``: one native int32
        per declared interface, -1 for one whose records must not be consumed."""
        ...


def describe() -> str:
    """One line for ``--version``: which audit engine this install runs."""
    if native is not None:
        return "compiled pre-filter (srinspect._skim)"
    if os.environ.get("SRINSPECT_PURE", "") not in ("", "0"):
        return "pure Python (SRINSPECT_PURE is set)"
    return "pure Python (srinspect._skim not built: install a C compiler and reinstall)"
