"""SRv6 locators: which destinations are SIDs, for packets that carry no SRH.

An IPv6 packet with another IP packet behind Next Header 41 or 4 and no SRH is SRv6 only
when its destination is a SID (RFC 8986 reduced encapsulation: H.Encaps.Red with one
segment); the same bytes are an ordinary 6in6/4in6 tunnel (DS-Lite, MAP-E, plain 6in6)
otherwise. Nothing in the packet tells the two apart, so the user says where the SIDs are:
``--locator PREFIX`` (repeatable) or a config file. Without locators, no such packet is
counted as SRv6. Pure: parsing and matching only; reading the file is the caller's.
"""

from __future__ import annotations

import argparse
import ipaddress
import tomllib
from collections.abc import Iterable, Sequence

from .errors import SrinspectError


class ConfigError(SrinspectError):
    """A config file or --locator value that cannot be used."""


class Locators:
    """A set of IPv6 prefixes; ``contains(addr16)`` is a few integer operations per prefix."""

    __slots__ = ("prefixes", "_masks")

    def __init__(self, prefixes: Iterable[ipaddress.IPv6Network] = ()) -> None:
        self.prefixes: tuple[ipaddress.IPv6Network, ...] = tuple(dict.fromkeys(prefixes))
        self._masks = tuple((int(p.network_address), int(p.netmask)) for p in self.prefixes)

    def __bool__(self) -> bool:
        return bool(self.prefixes)

    def __repr__(self) -> str:
        return f"Locators({', '.join(map(str, self.prefixes))})"

    def contains(self, addr: bytes) -> bool:
        """Whether the 16-byte address ``addr`` lies in one of the locators."""
        if len(addr) != 16 or not self._masks:
            return False
        value = int.from_bytes(addr, "big")
        return any(value & mask == net for net, mask in self._masks)


def parse_prefix(text: str) -> ipaddress.IPv6Network:
    """An IPv6 prefix such as ``fc00:0:1::/48`` (host bits must be zero)."""
    try:
        net = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        raise ConfigError(f"not an IPv6 prefix: {text!r} ({exc})") from None
    if not isinstance(net, ipaddress.IPv6Network):
        raise ConfigError(f"not an IPv6 prefix: {text!r} (a locator is IPv6)")
    return net


def locator_arg(text: str) -> ipaddress.IPv6Network:
    """argparse type for ``--locator``."""
    try:
        return parse_prefix(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def srv6_section(text: str, source: str = "config") -> dict[str, object]:
    """The ``[srv6]`` table of a config file (empty when absent): the one reader of the file
    that ``--locator`` and ``--csid`` share."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    srv6 = doc.get("srv6", {})
    if not isinstance(srv6, dict):
        raise ConfigError(f"{source}: [srv6] must be a table")
    return srv6


def parse_config(text: str, source: str = "config") -> list[ipaddress.IPv6Network]:
    """The locators of a TOML config: ``[srv6]`` table, ``locators = ["fc00::/16", ...]``."""
    values = srv6_section(text, source).get("locators", [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{source}: srv6.locators must be a list of prefixes as strings")
    try:
        return [parse_prefix(v) for v in values]
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def build_locators(cli: Sequence[ipaddress.IPv6Network], config_texts: Sequence[tuple[str, str]]
                   ) -> Locators:
    """--locator values plus those of each (name, text) config file, duplicates once."""
    prefixes = list(cli)
    for name, text in config_texts:
        prefixes.extend(parse_config(text, name))
    return Locators(prefixes)
