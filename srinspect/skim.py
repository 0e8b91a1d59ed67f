"""The compiled pre-filter, if it was built, and the switch that turns it off.

``srinspect._skim`` (C) consumes capture records that need no Python: packets without IPv6,
IPv6 that cannot lead to an SRH, and clean simple SRv6 packets (see ``_skim.c``). The
readers call it from their hot loops when a consumer asks (``PcapReader.skim``); everything
it does not consume takes the normal Python path, which stays the authority on findings.

It is optional: an install without a C compiler runs the same audit in pure Python.
``SRINSPECT_PURE=1`` disables it at run time (tests and benchmarks compare both ways).
"""

from __future__ import annotations

import os
from types import ModuleType

from .linklayer import ipv6_offset_func


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


def supports(linktype: int) -> bool:
    """Whether the pre-filter knows this link type (the same set linklayer.py decodes)."""
    return native is not None and ipv6_offset_func(linktype) is not None


def describe() -> str:
    """One line for ``--version``: which audit engine this install runs."""
    if native is not None:
        return "compiled pre-filter (srinspect._skim)"
    if os.environ.get("SRINSPECT_PURE", "") not in ("", "0"):
        return "pure Python (SRINSPECT_PURE is set)"
    return "pure Python (srinspect._skim not built: install a C compiler and reinstall)"
