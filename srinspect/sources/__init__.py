"""Capture sources: everything that turns bytes on disk or on a pipe into Frames.

``open_capture`` is the entry point; the format readers are exported for callers that
already hold an open stream.
"""

from srinspect.sources.capture import CaptureReader, from_stream, open_capture
from srinspect.sources.pcap import PcapReader
from srinspect.sources.pcapng import Interface, InterfaceStats, PcapngReader

__all__ = [
    "CaptureReader",
    "Interface",
    "InterfaceStats",
    "PcapReader",
    "PcapngReader",
    "from_stream",
    "open_capture",
]
