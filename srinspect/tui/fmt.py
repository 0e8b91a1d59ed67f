"""Text pieces the panes share: units, sparklines, path chains, HMAC badges, colours.

Kept out of the widgets so that the same rendering is used in every pane and can be tested
without a terminal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text

from srinspect.findings import HMAC_MALFORMED, HMAC_MISMATCH, HMAC_UNKNOWN_KEY, HMAC_VERIFIED
from srinspect.flows.events import PROTO_NAMES, FlowKey, addr_text

SPARK = "▁▂▃▄▅▆▇█"
HMAC_ORDER = (HMAC_MISMATCH, HMAC_MALFORMED, HMAC_UNKNOWN_KEY, HMAC_VERIFIED)
HMAC_STYLE = {HMAC_VERIFIED: "bold green", HMAC_MISMATCH: "bold red",
              HMAC_MALFORMED: "bold red", HMAC_UNKNOWN_KEY: "bold yellow"}
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
ACTIVE_STYLE = "bold reverse"
FLASH_STYLE = "bold black on yellow"

Names = Mapping[bytes, str]


def si(value: float, unit: str = "") -> str:
    """12.3 k, 4.5 M: rates in the width of a table cell."""
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.1f} {prefix}{unit}".rstrip()
    if value == int(value):
        return f"{int(value)} {unit}".rstrip()
    return f"{value:.1f} {unit}".rstrip()


def sparkline(values: Sequence[float], width: int = 12) -> str:
    """Block characters scaled to the largest value shown (empty history: blank)."""
    data = list(values)[-width:]
    if not data:
        return " " * width
    top = max(data)
    if top <= 0:
        return (SPARK[0] * len(data)).rjust(width)
    out = "".join(SPARK[min(int(v / top * (len(SPARK) - 1) + 0.5), len(SPARK) - 1)]
                  for v in data)
    return out.rjust(width)


def addr(raw: bytes, names: Names | None = None) -> str:
    """An address, or its lab node name when the monitor knows one."""
    if names:
        name = names.get(raw)
        if name is not None:
            return name
    return addr_text(raw) if raw else "-"


def path_chain(source: bytes, segments: Sequence[bytes], active: bytes | None,
               names: Names | None = None, flash: bool = False) -> Text:
    """``A -> [D] -> B -> C -> Z``: outer source, then the segments in travel order, the
    active segment (the Destination Address at the capture point) bracketed and inverted."""
    text = Text(addr(source, names), style=FLASH_STYLE if flash else "")
    for seg in reversed(segments):
        text.append(" -> ", style="dim")
        label = addr(seg, names)
        if seg == active:
            text.append(f"[{label}]", style=ACTIVE_STYLE)
        else:
            text.append(label, style=FLASH_STYLE if flash else "")
    return text


def plain_chain(segments: Sequence[bytes], names: Names | None = None) -> str:
    return " -> ".join(addr(s, names) for s in reversed(segments))


def hmac_summary(counts: Mapping[str, int]) -> Text:
    """The worst HMAC status seen on a flow (mismatch beats verified), coloured."""
    if not counts:
        return Text("-", style="dim")
    worst = next((s for s in HMAC_ORDER if counts.get(s)), next(iter(counts)))
    label = worst if len(counts) == 1 else f"{worst}+"
    return Text(label, style=HMAC_STYLE.get(worst, ""))


def proto_name(proto: int) -> str:
    if proto < 0:
        return "?"  # the upper layer was cut off
    return PROTO_NAMES.get(proto, f"proto {proto}")


def flow_label(key: FlowKey, names: Names | None = None) -> str:
    """What the flow carries: inner 5-tuple when encapsulated, else the outer one."""
    src, final, isrc, idst, proto, sport, dport = key
    a, b = (isrc, idst) if isrc else (src, final)
    ports = (f" {'?' if sport is None else sport}->{'?' if dport is None else dport}"
             if proto in (6, 17, 132) else "")
    return f"{proto_name(proto)} {addr(a, names)} -> {addr(b, names)}{ports}"


def load_style(fraction: float) -> str:
    """Green below 40 %, yellow below 80 %, red above: how the demo colours links."""
    if fraction >= 0.8:
        return "bold red"
    if fraction >= 0.4:
        return "bold yellow"
    if fraction > 0.0:
        return "green"
    return "dim"


def bar(fraction: float, width: int = 10) -> Text:
    fraction = max(0.0, min(fraction, 1.0))
    full = int(round(fraction * width))
    return Text("█" * full + "░" * (width - full), style=load_style(fraction))


def clock(ts: float | None, base: float | None = None) -> str:
    """Seconds relative to the first packet (the packet list's time column)."""
    if ts is None:
        return "-"
    if base is not None:
        return f"{ts - base:.6f}"
    return f"{ts:.6f}"


def duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}"
