"""Modal screens: the help and the save-to-file question."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

HELP = """\
[b]srinspect monitor[/b]: SRv6 flows, paths, links and findings on a link

[b]Panes[/b] (tabs; 1-4 or click)
  1 Flows     one row per flow; segment path with the active segment in [ ];
              path changes flash yellow and are listed under the table
  2 Packets   SRv6 packets, newest first (of the chosen flow, or all);
              Enter/click opens the detail tree and the hex view
  3 Findings  counts per rule and the newest findings; Enter jumps to the packet
  4 Links     load per segment pair and per capture interface and direction
              (with --lab: the lab map, both directions of every link)

[b]Keys[/b]
  /         filter: words that must all match (address, segment, rule id, HMAC
            status); prefixes src: dst: seg: rule: hmac: flow:  (Esc clears)
  space     pause/resume the display (capture goes on, nothing is lost)
  s         save the chosen flow (Flows pane) or the packets view to pcapng
  w         Wireshark's tree of the open packet (pyshark; w again: srinspect's)
  enter     open: flow -> its packets, packet -> detail, finding -> packet
  a         packets of all flows again
  o         sort the flow list by the next column (or click a column header)
  tab       next pane widget;  arrows, PgUp/PgDn, Home/End move; mouse works
  ?         this help;  q quit
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 86; height: auto; max-height: 90%; border: thick $accent;
                            background: $surface; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(HELP, id="help-text")
            yield Label("[dim]Esc, ? or q to close[/dim]")


class SaveScreen(ModalScreen[str | None]):
    """Ask for a file name; dismisses with the name, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    SaveScreen { align: center middle; }
    SaveScreen > Vertical { width: 80; height: auto; border: thick $accent;
                            background: $surface; padding: 0 1; }
    """

    def __init__(self, what: str, default: str) -> None:
        super().__init__()
        self.what = what
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Save {self.what} to pcapng (Enter to save, Esc to cancel):")
            yield Input(value=self.default, id="save-path")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
