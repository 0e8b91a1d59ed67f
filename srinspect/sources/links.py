"""The captured interfaces as the kernel sees them: up, down or gone, and their MACs, in our
network namespace or in another one (``ip netns`` names, as the lab's links live in).

A capture program does not say when an interface it captures goes down (it waits, and
captures again once it is up) and says it only on stderr when it is deleted; a live source
asks the kernel itself (``LinkWatch``).
"""

from __future__ import annotations

import errno
import fcntl
import socket
import struct

from srinspect.kernel.netns import inside

_SIOCGIFFLAGS = 0x8913
_SIOCGIFHWADDR = 0x8927
_IFF_UP = 0x1
_ARPHRD_ETHER = 1
_IFNAMSIZ = 16
_IFREQ = struct.Struct("16sH14s")  # name, then a sockaddr: family, data


def split_netns(spec: str) -> tuple[str | None, str]:
    """``NETNS/IFACE`` -> (netns, iface); a plain name has no namespace ('/' is never part
    of an interface name, so the split is unambiguous)."""
    netns, sep, iface = spec.rpartition("/")
    return (netns, iface) if sep and netns and iface else (None, spec)


def _netns_socket(netns: str) -> socket.socket | None:
    """A socket of network namespace ``netns`` (an ``ip netns`` name), or None: made while
    this thread is inside the namespace, it stays there, and its interface ioctls answer
    for it from any thread. Needs CAP_SYS_ADMIN, as ``ip netns exec`` does."""
    if "/" in netns or netns in ("", ".", ".."):
        return None
    try:
        with inside(netns):
            return socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    except OSError:
        return None


class LinkWatch:
    """Whether interfaces are up, down or gone, asked of the kernel (SIOCGIFFLAGS) through a
    socket of the capture's network namespace: a few microseconds per interface, no
    privilege needed in our own namespace. ``state`` is None when it cannot tell (``any``,
    an interface index, a name no interface has)."""

    def __init__(self, netns: str | None = None) -> None:
        self._sock: socket.socket | None
        if netns is None:
            try:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            except OSError:
                self._sock = None
        else:
            self._sock = _netns_socket(netns)

    def _ifreq(self, name: str, request: int) -> tuple[int, bytes] | None:
        """The kernel's answer to interface ioctl ``request``: the ifreq's first short and
        the bytes after it; None when it cannot be asked, OSError when it refuses."""
        raw = name.encode("utf-8", "surrogateescape")
        if self._sock is None or not raw or len(raw) >= _IFNAMSIZ:
            return None
        res = fcntl.ioctl(self._sock.fileno(), request, _IFREQ.pack(raw, 0, b""))
        _, short, rest = _IFREQ.unpack(res)
        return short, rest

    def state(self, name: str) -> str | None:
        try:
            res = self._ifreq(name, _SIOCGIFFLAGS)
        except OSError as exc:
            return "gone" if exc.errno in (errno.ENODEV, errno.ENXIO) else None
        if res is None:
            return None
        return "up" if res[0] & _IFF_UP else "down"

    def mac(self, name: str) -> bytes | None:
        """The interface's Ethernet address, if it has one (asked in the same namespace)."""
        try:
            res = self._ifreq(name, _SIOCGIFHWADDR)
        except OSError:
            return None
        if res is None or res[0] != _ARPHRD_ETHER:
            return None
        mac = res[1][:6]
        return mac if any(mac) else None

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
