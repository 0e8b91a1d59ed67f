"""Capture sources: everything that turns bytes on disk, on a pipe or on a link into Frames.

``open_capture`` opens a capture file for the readers of whole files (audit, decode); the
``Source`` protocol is what the flow views, the monitor and the lab read frames through:
``FileSource`` (a file, optionally replayed or filtered), ``LiveSource`` (interfaces
captured by dumpcap or tcpdump, in a network namespace if need be), ``MergedSource``
(several sources as one), and ``open_live`` to pick among them for interface specs.
"""

from srinspect.sources.base import (
    CaptureError,
    InterfaceDrops,
    InterfaceInfo,
    Progress,
    Source,
)
from srinspect.sources.capture import CaptureReader, from_stream, open_capture
from srinspect.sources.files import FileSource
from srinspect.sources.live import CaptureEvent, LiveSource, open_live
from srinspect.sources.merged import MergedSource
from srinspect.sources.pcap import PcapReader
from srinspect.sources.pcapng import Interface, InterfaceStats, PcapngReader
from srinspect.sources.tools import Dumpcap, Tcpdump

__all__ = [
    "CaptureError",
    "CaptureEvent",
    "CaptureReader",
    "Dumpcap",
    "FileSource",
    "Interface",
    "InterfaceDrops",
    "InterfaceInfo",
    "InterfaceStats",
    "LiveSource",
    "MergedSource",
    "PcapReader",
    "PcapngReader",
    "Progress",
    "Source",
    "Tcpdump",
    "from_stream",
    "open_capture",
    "open_live",
]
