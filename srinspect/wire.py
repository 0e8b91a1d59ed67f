"""Small helpers for reading wire bytes: the truncation error and address formatting."""

from __future__ import annotations

import socket

_AF_INET6 = socket.AF_INET6
_inet_ntop = socket.inet_ntop


class Truncated(Exception):  # noqa: N818 - named after what happened to the bytes
    """Raised inside the codec when a field runs past the available bytes.

    Never escapes the inspector: it becomes an ``srh.truncated`` finding (or is ignored for
    headers srinspect does not judge).
    """

    def __init__(self, at: int, need: int) -> None:
        super().__init__(f"need {need} bytes at offset {at}")
        self.at = at
        self.need = need


def ip6(addr: bytes) -> str:
    """Format 16 address bytes the way Wireshark and iproute2 do (RFC 5952)."""
    return _inet_ntop(_AF_INET6, addr)


def ip4(addr: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET, addr)


def parse_ip6(text: str) -> bytes:
    """The 16 bytes of an IPv6 address given as text (raises ValueError when it is not one)."""
    try:
        return socket.inet_pton(_AF_INET6, text)
    except OSError as exc:
        raise ValueError(f"not an IPv6 address: {text!r}") from exc
