"""The capture programs a live source runs: their command lines and what they say on stderr.

dumpcap is the default (see ``srinspect.sources.live`` for why a capture program at all);
tcpdump is there for what dumpcap 4.0 cannot do: deliver each packet at once
(``--immediate-mode``) and capture one direction only (``-Q``). Without immediate mode
libpcap hands packets over a ring block at a time, a block retiring after dumpcap's 250 ms
read timeout, so a capture compared with kernel counters over a short window (the lab)
would count packets of the window before. Both write a capture to stdout; everything else
(process, restarts, health) is the live source's and the same for both.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from srinspect.sources.base import CaptureError, InterfaceDrops

#: Seconds between a stop request and the SIGINT to dumpcap. libpcap (TPACKET_V3) hands
#: packets over a ring block at a time, a block retiring after dumpcap's 250 ms read
#: timeout, and dumpcap 4.0 has no immediate mode: a SIGINT right away loses the packets
#: of the current block, and they are not even counted as received. Waiting for the
#: block to retire delivers every packet captured before the stop request.
STOP_FLUSH = 0.5

# dumpcap's summary line on stderr when it stops (Wireshark 3.x/4.x wording).
_DUMPCAP_DROPS = re.compile(
    r"Packets received/dropped on interface '(?P<iface>.+?)': (?P<recv>\d+)/(?P<drop>\d+)"
    r"(?: \(pcap:(?P<pcap>\d+)/dumpcap:(?P<dumpcap>\d+)/flushed:(?P<flushed>\d+)"
    r"(?:/ps_ifdrop:(?P<ifdrop>\d+))?\))?")


class CaptureTool(Protocol):
    """A program that captures interfaces into a pcap or pcapng stream on stdout."""

    #: the program's name in messages
    name: ClassVar[str]
    #: seconds between a stop request and the SIGINT (what the program may still hold)
    flush: ClassVar[float]
    #: what to do about a permission error, after "no permission to capture on X (...)"
    permission_hint: ClassVar[str]

    def argv(self, interfaces: Sequence[str], *, bpf: str | None, snaplen: int,
             buffer_mb: int) -> list[str]:
        """The command line; CaptureError when the program is not installed."""

    def error(self, lines: Sequence[str]) -> str:
        """The program's first line of error on stderr ('' when it said none)."""

    def drops(self, lines: Sequence[str]) -> list[InterfaceDrops]:
        """Drop counts from the summary the program wrote on stderr when it stopped."""


def _first_error(lines: Sequence[str], chatter: re.Pattern[str], name: str) -> str:
    """The first stderr line that is not ``chatter``, without the program's name prefix
    (what follows that line is the program's own advice)."""
    errors = [ln.strip() for ln in lines if ln.strip() and not chatter.match(ln)]
    text = errors[0] if errors else ""
    return text.removeprefix(f"{name}: ")


@dataclass(frozen=True)
class Dumpcap:
    """dumpcap, Wireshark's capture engine (``path``: None finds it). Several interfaces
    are captured as pcapng (interface ids, names, per-interface statistics blocks); one as
    classic pcap, which the reader parses about a quarter faster; its drops then come from
    dumpcap's summary (the same counters)."""

    path: str | None = None

    name: ClassVar[str] = "dumpcap"
    flush: ClassVar[float] = STOP_FLUSH
    permission_hint: ClassVar[str] = (
        "live capture needs root, or capture capabilities on dumpcap (setcap "
        "cap_net_raw,cap_net_admin=eip /usr/bin/dumpcap; on Debian dpkg-reconfigure "
        "wireshark-common and join the wireshark group)")
    _CHATTER: ClassVar[re.Pattern[str]] = re.compile(
        "Capturing on|File:|Packets captured|Packets received/dropped")

    def argv(self, interfaces: Sequence[str], *, bpf: str | None, snaplen: int,
             buffer_mb: int) -> list[str]:
        """Options before the first -i apply to every -i."""
        fmt = "-n" if len(interfaces) > 1 else "-P"
        cmd = [self.path or find_dumpcap(), "-q", fmt, "-B", str(buffer_mb)]
        if snaplen:
            cmd += ["-s", str(snaplen)]
        if bpf:
            cmd += ["-f", bpf]
        for name in interfaces:
            cmd += ["-i", name]
        return [*cmd, "-w", "-"]

    def error(self, lines: Sequence[str]) -> str:
        return _first_error(lines, self._CHATTER, self.name)

    def drops(self, lines: Sequence[str]) -> list[InterfaceDrops]:
        out = []
        for line in lines:
            m = _DUMPCAP_DROPS.search(line)
            if m:
                detail = {k: int(v) for k, v in m.groupdict().items()
                          if k not in ("iface", "recv", "drop") and v is not None}
                out.append(InterfaceDrops(m["iface"], int(m["recv"]), int(m["drop"]),
                                          "dumpcap", detail))
        return out


@dataclass(frozen=True)
class Tcpdump:
    """tcpdump on one interface (``any`` for all of a namespace's), each packet written
    at once (``-U --immediate-mode``), only those going ``direction`` (``in``/``out``;
    None: both). It keeps libpcap's default kernel buffer: its users capture shaped lab
    links, not line rate. Its summary counts no interface, so it reports no drops."""

    direction: str | None = None

    name: ClassVar[str] = "tcpdump"
    flush: ClassVar[float] = 0.0  # immediate mode: nothing waits in a ring block
    permission_hint: ClassVar[str] = "live capture with tcpdump needs root"
    _CHATTER: ClassVar[re.Pattern[str]] = re.compile(
        r"tcpdump: (listening on|data link type)|\d+ packets? "
        r"(captured|received by filter|dropped by kernel)")

    def argv(self, interfaces: Sequence[str], *, bpf: str | None, snaplen: int,
             buffer_mb: int) -> list[str]:
        if len(interfaces) != 1:
            raise CaptureError("tcpdump captures one interface (\"any\" for all of them)")
        path = shutil.which("tcpdump")
        if path is None:
            raise CaptureError("this capture needs tcpdump, which is not installed "
                               "(apt-get install tcpdump, or run scripts/setup.sh)")
        cmd = [path, "-i", interfaces[0]]
        if self.direction:
            cmd += ["-Q", self.direction]
        cmd += ["-n", "-U", "--immediate-mode"]
        if snaplen:
            cmd += ["-s", str(snaplen)]
        return [*cmd, "-w", "-", *([bpf] if bpf else [])]

    def error(self, lines: Sequence[str]) -> str:
        return _first_error(lines, self._CHATTER, self.name)

    def drops(self, lines: Sequence[str]) -> list[InterfaceDrops]:
        return []


def find_dumpcap() -> str:
    """Path of dumpcap, or a CaptureError saying how to install it."""
    path = shutil.which("dumpcap") or next(
        (p for p in ("/usr/bin/dumpcap", "/usr/sbin/dumpcap") if os.access(p, os.X_OK)), None)
    if path is None:
        raise CaptureError("live capture needs dumpcap, which is not installed "
                           "(Debian/Ubuntu: apt-get install tshark, or run scripts/setup.sh)")
    return path
