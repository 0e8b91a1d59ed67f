"""Write the audited input back out as pcapng with one packet comment per finding.

Users open the result in the tool they already know: Wireshark shows the comments in the
packet list and ``tshark -Y frame.comment`` filters on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

from ..findings import Finding
from ..frame import Frame
from .pcapng_writer import PcapngWriter


def finding_comment(f: Finding) -> str:
    return f"srinspect {f.severity.label} {f.rule}: {f.message} (offset {f.offset}; {f.ref})"


class Annotator:
    """Copies frames into one pcapng; interfaces of every input file are kept apart."""

    def __init__(self, stream: BinaryIO) -> None:
        self._writer = PcapngWriter(stream)
        self._interfaces: dict[tuple[int, int], int] = {}
        self.file_index = 0
        self.frames = 0
        self.comments = 0

    def next_file(self) -> None:
        """Call between input files: their interface numbers must not be merged."""
        self.file_index += 1

    def write(self, frame: Frame, findings: Sequence[Finding] = ()) -> None:
        key = (self.file_index, frame.interface)
        iface = self._interfaces.get(key)
        if iface is None:
            iface = self._interfaces[key] = self._writer.add_interface(frame.linktype)
        comments = [frame.comment] if frame.comment else []
        comments += [finding_comment(f) for f in findings]
        self._writer.write(frame, interface=iface, comments=comments)
        self.frames += 1
        self.comments += len(comments)
