"""What every frame source offers its consumers (the ``Source`` protocol) and the values
it hands out: interface descriptions, drop counts, read progress.

A source is a capture file (``FileSource``, optionally replayed at recorded speed), a live
capture (``LiveSource``) or several live captures merged (``MergedSource``). The flow
views, the monitor and the lab all read frames through this one protocol, so what differs
between them is only which source they open.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from srinspect.errors import SrinspectError
from srinspect.frame import Frame
from srinspect.sources.capture import CaptureReader

#: A wall-clock callback (``set_tick``), called with the current time (capture time when a
#: file is replayed) while frames are awaited.
Tick = Callable[[float], None]


class CaptureError(SrinspectError):
    """A capture source cannot be started or read: missing tool, privilege, interface."""


class InterfaceInfo(NamedTuple):
    """What a consumer needs of a capture interface to decode its frames and name it: its
    name, link type (-1 when not known yet) and MAC (live Ethernet only, to tell the
    frames it sent from those it received). A tuple, so it unpacks as
    ``name, linktype, mac``."""

    name: str
    linktype: int
    mac: bytes | None = None


@dataclass(frozen=True, slots=True)
class InterfaceDrops:
    """What the capture engine reports for one interface. ``dropped`` is None when the
    source cannot know (a file without statistics, or dumpcap killed before reporting).
    ``detail`` holds the engine's breakdown (pcap/dumpcap/flushed/ps_ifdrop, or the pcapng
    ISB counter names); ``origin`` says where the numbers come from.
    """

    interface: str
    received: int | None
    dropped: int | None
    origin: str
    detail: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"interface": self.interface, "received": self.received,
                "dropped": self.dropped, "origin": self.origin, "detail": dict(self.detail)}


@dataclass(frozen=True, slots=True)
class Progress:
    """How much input a source has taken: ``done`` bytes of ``total``. ``total`` is None
    when the end is not known in advance (live capture, a pipe, a compressed file, the
    output of a filter)."""

    done: int
    total: int | None = None

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(self.done / self.total, 1.0)


class Source(Protocol):
    """What every frame source offers.

    Iterate for Frames; ``interface(i)`` describes interface ``i`` of the frames;
    ``drops()`` is what the capture engine lost; ``progress()`` how far the input has
    been read; ``set_tick`` registers a wall-clock callback for while frames are awaited;
    ``stop()`` ends the iteration early (safe from a signal handler or another thread);
    ``close()`` releases files and processes.
    """

    name: str
    #: True when frames arrive in real time (live, or a file replayed at recorded speed):
    #: periodic output then follows the wall clock (``set_tick``), else capture time.
    paced: bool

    def __iter__(self) -> Iterator[Frame]: ...

    def interface(self, index: int) -> InterfaceInfo: ...

    def drops(self) -> list[InterfaceDrops]: ...

    def progress(self) -> Progress: ...

    def set_tick(self, callback: Tick | None, interval: float = 1.0) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


def interface_from_reader(reader: CaptureReader, index: int, fallback: str,
                          linktype: int = -1) -> InterfaceInfo:
    """Interface ``index`` as the capture declares it (a pcapng IDB); else ``fallback``
    with ``linktype``, or the capture's only link type when it has just one."""
    for iface in reader.interfaces:
        if iface.index == index:
            return InterfaceInfo(iface.name or fallback, iface.linktype)
    if linktype < 0 and len(reader.linktypes) == 1:
        linktype = next(iter(reader.linktypes))
    return InterfaceInfo(fallback, linktype)


def isb_drops(reader: CaptureReader, name: Callable[[int], str]) -> list[InterfaceDrops]:
    """The capture's pcapng Interface Statistics Blocks as drop counts, one per interface
    (``name`` maps the capture's interface index to the name reported)."""
    out = []
    for index, st in sorted(reader.interface_stats.items()):
        parts = {k: v for k, v in (("ifdrop", st.ifdrop), ("osdrop", st.osdrop))
                 if v is not None}
        detail = {k: v for k, v in (("ifrecv", st.ifrecv), ("ifdrop", st.ifdrop),
                                    ("osdrop", st.osdrop), ("filteraccept", st.filteraccept),
                                    ("usrdeliv", st.usrdeliv)) if v is not None}
        out.append(InterfaceDrops(name(index), st.ifrecv,
                                  sum(parts.values()) if parts else None, "pcapng-isb",
                                  detail))
    return out
