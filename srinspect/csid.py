"""Compressed SIDs (RFC 9800 NEXT-C-SID): pure arithmetic over 16-byte addresses.

A NEXT-C-SID *container* is one 128-bit address: the Locator-Block (B bits), then C-SIDs of
C bits each, the first being the active one when the address is the DA, then zero bits
(End-of-Carrier, RFC 9800 s4.1). An End with NEXT-C-SID either shifts the bits after the
block left by one C-SID (s4.1.1, "DA.Argument != 0") or, when nothing follows the active
C-SID, takes the next SRH entry. Nothing in the packet says which addresses are containers,
so the user gives the SID format (``--csid``, a config key); without one nothing here runs.

Everything is integers and bytes: no I/O, no objects per packet beyond small tuples. The
conformance suite's expected shift comes from ``shift`` too (one source of truth).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .locators import ConfigError, srv6_section

_ALL = (1 << 128) - 1


@dataclass(frozen=True, slots=True)
class CsidFormat:
    """One SID format: Locator-Block length ``block_bits`` and C-SID length ``csid_bits``.

    ``prefix`` (an int, with ``block_bits`` significant bits) limits the format to the
    addresses of one locator block; None applies it to every address (``--csid B/C``)."""

    block_bits: int
    csid_bits: int
    prefix: int | None = None

    @property
    def slots(self) -> int:
        """How many whole C-SIDs fit after the block."""
        return (128 - self.block_bits) // self.csid_bits

    @property
    def tail_bits(self) -> int:
        """Bits after the last whole C-SID slot (never part of a C-SID)."""
        return (128 - self.block_bits) % self.csid_bits

    @property
    def block_mask(self) -> int:
        return (_ALL << (128 - self.block_bits)) & _ALL

    def matches(self, addr: bytes) -> bool:
        """Whether ``addr`` lies in this format's locator block (any address without one)."""
        if self.prefix is None:
            return len(addr) == 16
        return len(addr) == 16 and int.from_bytes(addr, "big") & self.block_mask == self.prefix

    def __str__(self) -> str:
        if self.prefix is None:
            return f"{self.block_bits}/{self.csid_bits}"
        net = ipaddress.IPv6Address(self.prefix)
        return f"{net}/{self.block_bits}/{self.csid_bits}"


def parse_format(text: str) -> CsidFormat:
    """``B/C`` (every address) or ``PREFIX/B/C`` (the block PREFIX/B only), e.g. ``32/16``,
    ``2001:db8::/32/16``. B >= 1, C >= 1, B + C <= 128 (RFC 9800 fixes no lengths; Linux
    wants multiples of 8, which these include)."""
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(p.strip().isdigit() for p in parts[-2:]):
        raise ConfigError(f"bad C-SID format {text!r}: expected B/C or PREFIX/B/C, e.g. 32/16 "
                          "or 2001:db8::/32/16")
    block, csid = int(parts[-2]), int(parts[-1])
    if not (1 <= block <= 127 and 1 <= csid <= 128 - block):
        raise ConfigError(f"bad C-SID format {text!r}: need 1 <= B <= 127 and "
                          f"1 <= C <= 128 - B (got B={block}, C={csid})")
    if len(parts) == 2:
        return CsidFormat(block, csid)
    try:
        net = ipaddress.IPv6Network(f"{parts[0].strip()}/{block}", strict=True)
    except ValueError as exc:
        raise ConfigError(f"bad C-SID format {text!r}: {exc}") from None
    return CsidFormat(block, csid, int(net.network_address))


class CsidFormats:
    """The configured formats; ``find(addr)`` picks the most specific block that holds it."""

    __slots__ = ("formats",)

    def __init__(self, formats: Iterable[CsidFormat] = ()) -> None:
        unique = list(dict.fromkeys(formats))
        if sum(1 for f in unique if f.prefix is None) > 1:
            raise ConfigError("more than one C-SID format without a locator block: give "
                              "PREFIX/B/C for each block instead")
        # longest block first; the catch-all B/C last
        self.formats: tuple[CsidFormat, ...] = tuple(sorted(
            unique, key=lambda f: (f.prefix is None, -f.block_bits)))

    def __bool__(self) -> bool:
        return bool(self.formats)

    def __repr__(self) -> str:
        return f"CsidFormats({', '.join(map(str, self.formats))})"

    def find(self, addr: bytes) -> CsidFormat | None:
        for fmt in self.formats:
            if fmt.matches(addr):
                return fmt
        return None


def csids(addr: bytes, fmt: CsidFormat) -> tuple[int, ...]:
    """The C-SID slots of a container, first (active when it is the DA) first, zeros kept."""
    value = int.from_bytes(addr, "big")
    b, c = fmt.block_bits, fmt.csid_bits
    mask = (1 << c) - 1
    return tuple((value >> (128 - b - c * (i + 1))) & mask for i in range(fmt.slots))


def tail(addr: bytes, fmt: CsidFormat) -> int:
    """The bits after the last whole slot (zero in a well-formed container)."""
    return int.from_bytes(addr, "big") & ((1 << fmt.tail_bits) - 1)


def argument_next(addr: bytes, fmt: CsidFormat) -> int:
    """The bits after the active C-SID: RFC 9800 s4.1.1 shifts while they are not zero."""
    return int.from_bytes(addr, "big") & ((1 << (128 - fmt.block_bits - fmt.csid_bits)) - 1)


def shift(addr: bytes, block_bits: int, csid_bits: int) -> bytes:
    """RFC 9800 s4.1.1 pseudocode: the bits after the block move left by one C-SID, zeros
    fill in from the right, the block stays."""
    value = int.from_bytes(addr, "big")
    block_mask = (_ALL << (128 - block_bits)) & _ALL
    rest_mask = (1 << (128 - block_bits)) - 1
    return ((value & block_mask) | ((value << csid_bits) & rest_mask)).to_bytes(16, "big")


def next_shift(addr: bytes, fmt: CsidFormat) -> bytes | None:
    """The DA an End with NEXT-C-SID writes, or None when it takes the next SRH entry."""
    if not argument_next(addr, fmt):
        return None
    return shift(addr, fmt.block_bits, fmt.csid_bits)


def shifts_from(container: bytes, da: bytes, fmt: CsidFormat) -> int | None:
    """How many shifts turn ``container`` into ``da`` (0: not yet shifted), or None when no
    number of them does: the index of the DA's active C-SID within ``container``."""
    current: bytes | None = container
    for k in range(max(fmt.slots, 1)):
        if current is None:
            return None
        if current == da:
            return k
        current = next_shift(current, fmt)
    return None


def gap(addr: bytes, fmt: CsidFormat) -> int | None:
    """The index of the first non-zero slot after an End-of-Carrier (zero) C-SID, the slot
    count when only the tail bits are set, else None: bits a shift brings to the front
    after the container is spent (RFC 9800 s4.1)."""
    values = csids(addr, fmt)
    seen_zero = False
    for i, v in enumerate(values):
        if v == 0:
            seen_zero = True
        elif seen_zero:
            return i
    return len(values) if tail(addr, fmt) else None


def sids(addr: bytes, fmt: CsidFormat) -> tuple[bytes, ...]:
    """The SIDs a container carries: block + each non-zero C-SID (a SID as the node that owns
    it sees it in the DA, the argument zeroed), up to the first End-of-Carrier."""
    value = int.from_bytes(addr, "big")
    out = []
    for v in csids(addr, fmt):
        if v == 0:
            break
        out.append(((value & fmt.block_mask) | (v << (128 - fmt.block_bits - fmt.csid_bits))
                    ).to_bytes(16, "big"))
    return tuple(out)


def expand(path: Sequence[bytes], formats: CsidFormats) -> list[tuple[bytes, int]]:
    """Each address of ``path`` (travel order) as the SIDs it carries: (sid, index of the
    container in ``path``). An address in no format is its own single SID."""
    out: list[tuple[bytes, int]] = []
    for index, addr in enumerate(path):
        fmt = formats.find(addr)
        carried = sids(addr, fmt) if fmt is not None else ()
        out.extend((sid, index) for sid in (carried or (addr,)))
    return out


def expand_list(segments: Sequence[bytes], active: bytes, formats: CsidFormats
                ) -> tuple[tuple[bytes, ...], bytes]:
    """A flow's Segment List (SRH order) with every container replaced by the SIDs it
    carries, and its active SID: the DA's active C-SID as a SID when the DA is a container,
    else the DA. What the flow views show as the path of uSID traffic."""
    travel = expand(list(reversed(segments)), formats)
    fmt = formats.find(active)
    carried = sids(active, fmt) if fmt is not None else ()
    return tuple(sid for sid, _ in reversed(travel)), (carried[0] if carried else active)


def _shift_of(earlier: bytes, later: bytes, formats: CsidFormats) -> bool:
    """Whether ``later`` is ``earlier`` after one or more NEXT-C-SID shifts."""
    fmt = formats.find(earlier)
    return fmt is not None and fmt.matches(later) and bool(shifts_from(earlier, later, fmt))


def same_path(old: Sequence[bytes], new: Sequence[bytes], formats: CsidFormats
              ) -> int | None:
    """Whether two Segment Lists of one flow are one path seen before and after shifts of a
    container (RFC 9800 s4.1.1: the DA moves along the container, the SIDs stay): 1 when
    ``new`` holds the fuller (less shifted) containers, -1 when ``old`` does, None when they
    are different paths (equal lists are not asked about)."""
    if len(old) != len(new):
        return None
    fuller = 0
    for a, b in zip(old, new, strict=True):
        if a == b:
            continue
        if _shift_of(a, b, formats):
            step = -1
        elif _shift_of(b, a, formats):
            step = 1
        else:
            return None
        if fuller and step != fuller:
            return None
        fuller = step
    return fuller or None


def parse_config(text: str, source: str = "config") -> list[CsidFormat]:
    """The formats of a TOML config: ``[srv6]`` table, ``csid = ["32/16", ...]`` (next to the
    ``locators`` key the same table holds)."""
    values = srv6_section(text, source).get("csid", [])
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{source}: srv6.csid must be a list of formats as strings, "
                          "e.g. [\"2001:db8::/32/16\"]")
    try:
        return [parse_format(v) for v in values]
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def build_formats(cli: Sequence[CsidFormat], config_texts: Sequence[tuple[str, str]]
                  ) -> CsidFormats:
    """--csid values plus those of each (name, text) config file."""
    formats = list(cli)
    for name, text in config_texts:
        formats.extend(parse_config(text, name))
    return CsidFormats(formats)


def _hex(value: int, bits: int) -> str:
    return format(value, f"0{(bits + 3) // 4}x")


def container_dict(addr: bytes, fmt: CsidFormat, active: int | None) -> dict[str, object]:
    """One container for the views: its C-SIDs in hex, which one is active, the SIDs."""
    values = csids(addr, fmt)
    return {"address": str(ipaddress.IPv6Address(addr)), "format": str(fmt),
            "csids": [_hex(v, fmt.csid_bits) for v in values], "active": active,
            "sids": [str(ipaddress.IPv6Address(s)) for s in sids(addr, fmt)]}


def view(dst: bytes, segments: Sequence[bytes], segments_left: int | None,
         formats: CsidFormats) -> dict[str, object] | None:
    """The C-SID view of a packet (decode tree and JSON): the DA and each SRH entry that is
    a container, the active C-SID (the DA's first; in Segment List[SL], or the first segment
    a reduced SRH leaves to the DA, the one the DA has shifted to), and what the DA's next
    End with NEXT-C-SID produces. None when no address is in a configured format."""
    dfmt = formats.find(dst)
    entries = []
    for index, seg in enumerate(segments):
        fmt = formats.find(seg)
        if fmt is None:
            continue
        active = shifts_from(seg, dst, fmt) if index == segments_left else None
        entries.append({"index": index, **container_dict(seg, fmt, active)})
    if dfmt is None and not entries:
        return None
    out: dict[str, object] = {"segments": entries}
    if dfmt is not None:
        out["da"] = container_dict(dst, dfmt, 0)
        out["next"] = _next_text(dst, dfmt, segments, segments_left)
    return out


def _next_text(dst: bytes, fmt: CsidFormat, segments: Sequence[bytes],
               segments_left: int | None) -> dict[str, object]:
    nxt = next_shift(dst, fmt)
    if nxt is not None:
        return {"action": "shift", "da": str(ipaddress.IPv6Address(nxt))}
    if segments_left and segments_left - 1 < len(segments):
        seg = segments[segments_left - 1]
        return {"action": "srh", "segments_left": segments_left - 1,
                "da": str(ipaddress.IPv6Address(seg))}
    return {"action": "end", "da": None}
