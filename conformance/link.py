"""Raw Ethernet I/O on the tester's ports: send a case's packets, collect what comes back.

One AF_PACKET socket per port, keeping IPv6 and IPv4 frames (IPv4 leaves the DUT after
End.DX4/End.DT4; ARP and the rest are dropped at the socket). Both adapters use this: the linux
adapter opens the sockets inside its namespaces (``srinspect.kernel.netns.inside``; a
socket stays in the namespace it was created in), the ports adapter in the current
namespace.

Knowing when a case is over without a long fixed timeout: after a case's packets the
exchanger sends a *barrier*, a plain IPv6 packet the DUT forwards out of ``rx``. The DUT
handles packets from one port in order, and any ICMP error or reply for an earlier packet is
generated while that packet is processed, so once the barrier has come out, everything the
DUT will do with the case's packets is (almost) done; a short grace period covers the rest.
A silent drop is thus detected in milliseconds, and a DUT that stops forwarding altogether is
noticed (no barrier) instead of being mistaken for one that drops correctly.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .observe import Captured

ETH_P_IPV6 = 0x86DD
ETH_P_ALL = 0x0003
#: The frames a port keeps: what a case can be judged on.
IP_ETHERTYPES = (b"\x86\xdd", b"\x08\x00")
PACKET_OUTGOING = 4
RCVBUF = 4 << 20


class Port:
    """An AF_PACKET socket on one interface, named by its role (tx, rx, rx2)."""

    def __init__(self, role: str, ifname: str) -> None:
        self.role = role
        self.ifname = ifname
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            self.sock.bind((ifname, ETH_P_ALL))
        except OSError:
            self.sock.close()
            raise
        self.sock.setblocking(False)
        self.mac: bytes = self.sock.getsockname()[4]

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, frame: bytes) -> None:
        self.sock.send(frame)

    def drain(self) -> list[tuple[float, bytes]]:
        """Every IP frame waiting on the socket, except our own outgoing ones."""
        out: list[tuple[float, bytes]] = []
        while True:
            try:
                data, addr = self.sock.recvfrom(65535)
            except BlockingIOError:
                return out
            if addr[2] != PACKET_OUTGOING and data[12:14] in IP_ETHERTYPES:
                out.append((time.time(), data))

    def close(self) -> None:
        self.sock.close()


def ethernet(dst: bytes, src: bytes, ipv6: bytes) -> bytes:
    return dst + src + ETH_P_IPV6.to_bytes(2, "big") + ipv6


FrameHook = Callable[["Port", bytes], None]


@dataclass(slots=True)
class Exchange:
    """What one case put on the wire and what came back (for classification and evidence)."""

    sent: list[tuple[float, bytes]] = field(default_factory=list)
    captured: list[Captured] = field(default_factory=list)
    barrier_seen: bool = False


class Exchanger:
    """Sends frames out of ``tx`` to ``dut_mac`` and collects from every port.

    ``hook`` sees every received frame first (the ports adapter answers neighbour
    discovery there). ``is_barrier`` recognises the barrier packet.
    """

    def __init__(self, tx: Port, rx: list[Port], dut_mac: bytes,
                 hook: FrameHook | None = None) -> None:
        self.tx = tx
        self.ports = [tx, *rx]
        self.dut_mac = dut_mac
        self.hook = hook

    def flush(self) -> None:
        for port in self.ports:
            for _ts, frame in port.drain():
                if self.hook:
                    self.hook(port, frame)

    def frame(self, ipv6: bytes) -> bytes:
        return ethernet(self.dut_mac, self.tx.mac, ipv6)

    def exchange(self, packets: list[bytes], barrier: bytes | None,
                 is_barrier: Callable[[bytes], bool], *, timeout: float = 1.0,
                 grace: float = 0.015, window: float = 0.3) -> Exchange:
        """Send ``packets`` then ``barrier``; collect until the barrier is back plus
        ``grace`` (or ``timeout`` without it). Without a barrier, collect for ``window``."""
        self.flush()
        ex = Exchange()
        for pkt in packets:
            frame = self.frame(pkt)
            ex.sent.append((time.time(), frame))
            self.tx.send(frame)
        if barrier is not None:
            frame = self.frame(barrier)
            ex.sent.append((time.time(), frame))
            self.tx.send(frame)
            end = time.monotonic() + timeout
        else:
            end = time.monotonic() + window
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                break
            ready, _, _ = select.select(self.ports, [], [], remaining)
            for port in ready:
                for ts, frame in port.drain():
                    if self.hook:
                        self.hook(port, frame)
                    ex.captured.append(Captured(port.role, ts, frame))
                    if not ex.barrier_seen and port is not self.tx and is_barrier(frame):
                        ex.barrier_seen = True
                        end = time.monotonic() + grace
        return ex

    def close(self) -> None:
        for port in self.ports:
            port.close()
