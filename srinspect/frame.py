"""The unit every capture source yields and every consumer takes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured frame, exactly as the source recorded it.

    ``number`` is 1-based per file, as Wireshark counts. ``ts`` is seconds since the epoch
    (float; nanosecond captures lose nothing that matters for rates). ``orig_len`` is the
    length on the wire: when it exceeds ``len(data)`` the capture was cut by its snaplen.
    ``interface`` is the pcapng interface index (0 for classic pcap) and ``comment`` the
    first pcapng packet comment, if any.
    """

    number: int
    ts: float
    linktype: int
    data: bytes
    orig_len: int
    interface: int = 0
    comment: str | None = None
