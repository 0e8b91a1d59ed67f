"""A virtual table: renders only the rows on screen, so 100k packets cost nothing to show.

Why not ``DataTable``: it measures every new row's cells (about 0.3 ms a row here), so a
live packet list refreshed five times a second at 100k packets/s would stall the UI. This
widget (Textual's Line API, ``ScrollView.render_line``) holds a plain Python list of items
and renders a row only when it is visible. Columns have fixed widths except the last one,
one flexible column (``width=None``) that takes the width left over and is cut with an
ellipsis (the full text is always shown elsewhere, e.g. the selected flow's panel). A sticky
header row sorts on click; the cursor row follows its item (by key) when rows come and go.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cell = Text | str


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int | None  # None: flexible, takes the width the other columns leave
    right: bool = False


class _TableMessage(Message):
    """A message from a VirtualTable; ``control`` lets handlers filter by table."""

    def __init__(self, table: VirtualTable) -> None:
        super().__init__()
        self.table = table

    @property
    def control(self) -> VirtualTable:
        return self.table


class _ItemMessage(_TableMessage):
    """A VirtualTable message about one item."""

    def __init__(self, table: VirtualTable, item: Any) -> None:
        super().__init__(table)
        self.item = item


class VirtualTable(ScrollView, can_focus=True):
    """Rows are ``items`` (any objects); subclasses say how an item looks (``cells``) and
    what identifies it (``key``)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "vtable--header", "vtable--cursor", "vtable--cursor-blurred", "vtable--even"}
    DEFAULT_CSS = """
    VirtualTable { background: $surface; }
    VirtualTable > .vtable--header { text-style: bold; background: $panel; color: $text; }
    VirtualTable > .vtable--cursor { background: $accent 60%; color: $text; }
    VirtualTable > .vtable--cursor-blurred { background: $accent 25%; }
    VirtualTable > .vtable--even { background: $primary 6%; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(0)", "First", show=False),
        Binding("end", "edge(1)", "Last", show=False),
        Binding("enter", "choose", "Open", show=False),
    ]

    cursor: reactive[int] = reactive(0, always_update=True)

    class Highlighted(_ItemMessage):
        """The cursor moved onto an item (by the user: keys or mouse)."""

    class Chosen(_ItemMessage):
        """Enter or a click on an item."""

    class Sorted(_TableMessage):
        """A header was clicked: ``column`` is its key."""

        def __init__(self, table: VirtualTable, column: str) -> None:
            super().__init__(table)
            self.column = column

    columns: ClassVar[Sequence[Column]] = ()

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.items: list[Any] = []
        self._index: dict[Hashable, int] | None = None
        self.sort_column: str | None = None
        self.sort_reverse = False

    # --- subclass hooks -------------------------------------------------------------------

    def cells(self, item: Any) -> Sequence[Cell]:
        raise NotImplementedError

    def key(self, item: Any) -> Hashable:
        return id(item)

    def row_style(self, item: Any) -> Style | None:
        return None

    # --- data -----------------------------------------------------------------------------

    @property
    def cursor_item(self) -> Any | None:
        if 0 <= self.cursor < len(self.items):
            return self.items[self.cursor]
        return None

    def set_items(self, items: list[Any], keep: Hashable | None = None,
                  hint: int | None = None) -> None:
        """Replace the rows; the cursor stays on the item keyed ``keep`` (default: the one
        under it now) when it is still there, without posting Highlighted. ``hint`` is
        where the caller expects that item (checked first: no index over 100k rows)."""
        if keep is None and self.cursor_item is not None:
            keep = self.key(self.cursor_item)
        self.items = items
        self._index = None
        if keep is not None:
            if hint is not None and 0 <= hint < len(items) and self.key(items[hint]) == keep:
                index: int | None = hint
            else:
                index = self.index_of(keep)
            if index is not None:
                self.set_reactive(VirtualTable.cursor, index)
        if self.cursor >= len(items):
            self.set_reactive(VirtualTable.cursor, max(len(items) - 1, 0))
        self._resize()
        self.refresh()

    def index_of(self, key: Hashable) -> int | None:
        if self._index is None:
            self._index = {self.key(item): i for i, item in enumerate(self.items)}
        return self._index.get(key)

    def move_to(self, key: Hashable, notify: bool = False) -> bool:
        index = self.index_of(key)
        if index is None:
            return False
        self._move(index, notify)
        return True

    MIN_FLEX = 16  # a narrower terminal scrolls horizontally instead

    def _flex_width(self) -> int:
        fixed = sum(c.width + 1 for c in self.columns if c.width is not None)
        return max(self.MIN_FLEX, self.size.width - fixed - 1)

    def _resize(self) -> None:
        fixed = sum(c.width + 1 for c in self.columns if c.width is not None)
        self.virtual_size = Size(fixed + self._flex_width(), len(self.items) + 1)

    def on_resize(self) -> None:
        self._resize()

    # --- rendering ------------------------------------------------------------------------

    def _row_text(self, cells: Sequence[Cell]) -> Text:
        line = Text(no_wrap=True, overflow="crop", end="")
        flex = self._flex_width()
        for col, cell in zip(self.columns, cells, strict=False):
            text = cell.copy() if isinstance(cell, Text) else Text(str(cell))
            width = flex if col.width is None else col.width
            text.truncate(width, overflow="ellipsis")
            if col.right:
                text.pad_left(width - text.cell_len)
            else:
                text.pad_right(width - text.cell_len)
            line.append_text(text)
            line.append(" ")
        return line

    def _header_cells(self) -> list[Cell]:
        out: list[Cell] = []
        for c in self.columns:
            mark = ""
            if c.key == self.sort_column:
                mark = " ▼" if self.sort_reverse else " ▲"
            out.append(c.label + mark)
        return out

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        if y == 0:
            style = self.get_component_rich_style("vtable--header")
            text = self._row_text(self._header_cells())
        else:
            index = scroll_y + y - 1
            if index >= len(self.items):
                return Strip.blank(width, self.rich_style)
            item = self.items[index]
            text = self._row_text(self.cells(item))
            style = self.rich_style
            if index % 2 == 0:
                style += self.get_component_rich_style("vtable--even")
            extra = self.row_style(item)
            if extra is not None:
                style += extra
            if index == self.cursor:
                style += self.get_component_rich_style(
                    "vtable--cursor" if self.has_focus else "vtable--cursor-blurred")
        segments = list(text.render(self.app.console))
        strip = Strip(segments).crop(scroll_x, scroll_x + width)
        return strip.extend_cell_length(width).apply_style(style)

    # --- cursor ---------------------------------------------------------------------------

    def _move(self, index: int, notify: bool) -> None:
        if not self.items:
            return
        index = max(0, min(index, len(self.items) - 1))
        self.cursor = index
        self._scroll_to_cursor()
        if notify:
            self.post_message(self.Highlighted(self, self.items[index]))

    def _scroll_to_cursor(self) -> None:
        rows = max(self.size.height - 1, 1)
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + rows:
            self.scroll_to(y=self.cursor - rows + 1, animate=False)

    def watch_cursor(self) -> None:
        self.refresh()

    def action_cursor(self, delta: int) -> None:
        self._move(self.cursor + delta, True)

    def action_page(self, direction: int) -> None:
        self._move(self.cursor + direction * max(self.size.height - 2, 1), True)

    def action_edge(self, end: int) -> None:
        self._move(len(self.items) - 1 if end else 0, True)

    def action_choose(self) -> None:
        item = self.cursor_item
        if item is not None:
            self.post_message(self.Chosen(self, item))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:  # on the border or a scrollbar
            return
        y = offset.y
        if y == 0:
            x = offset.x + int(self.scroll_x)
            at = 0
            for col in self.columns:
                w = (col.width if col.width is not None else self._flex_width()) + 1
                if at <= x < at + w:
                    self.post_message(self.Sorted(self, col.key))
                    return
                at += w
            return
        index = int(self.scroll_y) + y - 1
        if 0 <= index < len(self.items):
            # First click highlights; a click on the highlighted row (or a double click)
            # opens it, so looking at a row never switches panes by surprise.
            if index == self.cursor or event.chain > 1:
                self.cursor = index
                self.post_message(self.Chosen(self, self.items[index]))
            else:
                self._move(index, True)
