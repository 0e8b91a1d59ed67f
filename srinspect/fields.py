"""The one shape of a decoded non-SRH header (link layer, transport) for every view.

A parser (linklayer.pull_link, transport.pull_transport) declares each field of its header
once, with where its bytes are and whether the capture holds them; the decode tree, the JSON
and the TUI all render from that declaration (Wireshark's field registry, done small), so a
field cannot be shown in one view and forgotten, or invented, in another.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Field:
    """One header field. ``value`` is None when the capture cut the field off: views then
    show nothing for it (tree) or null (JSON), never a value read from missing bytes."""

    key: str  # JSON key, e.g. "src"; repeated keys (VLAN tags) become a list
    title: str  # tree label, e.g. "Source"
    value: object
    text: str  # how the tree shows the value, e.g. "02:00:00:00:00:01"
    offset: int  # absolute in the frame
    length: int

    @property
    def captured(self) -> bool:
        return self.value is not None


@dataclass(frozen=True, slots=True)
class Header:
    """A decoded header: its name, where it starts, how long it is, and its fields in wire
    order. ``summary`` is the one-line description the tree puts on the header's node."""

    name: str
    offset: int
    length: int
    fields: tuple[Field, ...]
    summary: str = ""
    list_keys: tuple[str, ...] = ()  # repeatable field keys, listed in JSON even when empty

    def get(self, key: str) -> object:
        """The value of the first field called ``key`` (None: absent or not captured)."""
        return next((f.value for f in self.fields if f.key == key), None)

    @property
    def not_captured(self) -> list[str]:
        return [f.key for f in self.fields if not f.captured]

    def to_dict(self) -> dict[str, object]:
        """JSON: every declared field (null when not captured); a repeatable key ``k`` as
        the list ``ks`` of its captured values (VLAN tags: ``vlans``)."""
        d: dict[str, object] = {"name": self.name, "offset": self.offset}
        d.update((key + "s", []) for key in self.list_keys)
        for f in self.fields:
            if f.key in self.list_keys:
                lst = d.setdefault(f.key + "s", [])
                assert isinstance(lst, list)
                if f.captured:
                    lst.append(f.value)
            else:
                d[f.key] = f.value
        d["not_captured"] = self.not_captured
        return d


def uncaptured(key: str, title: str, offset: int, length: int) -> Field:
    """A field whose bytes the capture does not hold."""
    return Field(key, title, None, "", offset, length)
