"""``srinspect watch``'s stream: one line per event, JSON (``jsonl``) or text, flushed per
batch so a reader at the end of a pipe sees each event as it happens."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TextIO

from ..flows.events import FlowEvent
from ..sources import CaptureEvent
from .flows_text import render_event_text


class EventWriter:
    """Writes event records to ``out``; ``name`` names capture interfaces."""

    def __init__(self, out: TextIO, fmt: str, name: Callable[[int], str]) -> None:
        self.out = out
        self.jsonl = fmt == "jsonl"
        self.name = name

    def write(self, record: dict[str, object]) -> None:
        if self.jsonl:
            self.out.write(json.dumps(record, separators=(",", ":")) + "\n")
        else:
            self.out.write(render_event_text(record) + "\n")

    def send(self, record: dict[str, object]) -> None:
        """Write one record and flush (the start, a stats tick, a capture fault)."""
        self.write(record)
        self.out.flush()

    def events(self, batch: list[FlowEvent]) -> None:
        for ev in batch:
            self.write(ev.to_dict(self.name))
        self.out.flush()

    def capture(self, event: CaptureEvent) -> None:
        self.send(event.to_dict())
