"""The ``/`` filter line: hidden until opened, Enter applies, Esc cancels."""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import Input

PLACEHOLDER = ("filter: address, segment, rule id, hmac status; "
               "src: dst: seg: rule: hmac: flow:  (Enter apply, Esc cancel)")


class FilterBox(Input):
    """An Input shown only while a filter is typed. Closing it (Enter or Esc) posts
    ``Closed`` so the app can give the focus back and apply the text. Esc is not stopped
    here: it goes on to the app's own Esc, as when the box was part of the app."""

    class Closed(Message):
        """The box closed: ``text`` to apply (Enter), or None (Esc)."""

        def __init__(self, text: str | None) -> None:
            super().__init__()
            self.text = text

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder=PLACEHOLDER, id=id)

    def open(self, text: str) -> None:
        """Show the box holding ``text`` and take the keys."""
        self.value = text
        self.add_class("visible")
        self.focus()

    def _close(self, text: str | None) -> None:
        self.remove_class("visible")
        self.post_message(self.Closed(text))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._close(event.value)

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape":
            self._close(None)
