"""The packet detail: a tree of every field (findings under theirs) and a hex dump.

The tree comes from ``dissect.packet_tree``, the same one ``srinspect decode`` prints, so
the CLI, JSON and TUI agree on what a field is called and where its bytes are. The hex view
paints every finding's bytes (``Finding.offset/length``) in the colour of its severity and
the bytes of the field under the tree cursor in reverse video, so "what is wrong" and
"where it is on the wire" are one glance apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from srinspect.dissect import Node
from srinspect.findings import Finding
from srinspect.tui import fmt

FINDING_BG = {"error": "on dark_red", "warning": "on dark_orange3", "info": "on dark_cyan"}
SELECT_STYLE = "reverse bold"
BYTES_PER_LINE = 16


class DetailTree(Tree[Node | Finding]):
    """Tree of one packet; ``NodeHighlighted`` carries a Node or a Finding."""

    DEFAULT_CSS = "DetailTree { background: $surface; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("no packet selected", id=id)
        self.show_root = True
        self.guide_depth = 3

    def show(self, root: Node | None, *, expand: bool = True) -> None:
        """Rebuild from a ``dissect`` tree (None: empty). ``expand=False`` shows only the
        top level open (Wireshark's tree: dozens of lines per layer, opened one by one)."""
        self.clear()
        if root is None:
            self.reset("no packet selected")
            return
        self.reset(root.label, root)
        self._add(self.root, root, expand)
        if expand:
            self.root.expand_all()
        else:
            self.root.expand()

    def _add(self, parent: TreeNode[Node | Finding], node: Node, expand: bool = True) -> None:
        for f in node.findings:
            label = Text(f"!! {f.severity.label.upper()} {f.rule}: {f.message} [{f.ref}]",
                         style=fmt.SEVERITY_STYLE.get(f.severity.label, ""))
            parent.add_leaf(label, f)
        for child in node.children:
            label = Text(child.label)
            if _has_findings(child):
                label.stylize("bold")
            if "HMAC status: verified" in child.label:
                label.stylize("green")
            elif "HMAC status:" in child.label:
                label.stylize("bold red")
            if child.children or child.findings:
                branch = parent.add(label, child, expand=expand)
                self._add(branch, child, expand)
            else:
                parent.add_leaf(label, child)

    def finding_nodes(self) -> list[TreeNode[Node | Finding]]:
        """Tree nodes that are findings (tests and jump-to-finding use them)."""
        out = []
        stack = [self.root]
        while stack:
            node = stack.pop()
            if isinstance(node.data, Finding):
                out.append(node)
            stack.extend(reversed(node.children))
        return out


def _has_findings(node: Node) -> bool:
    return bool(node.findings) or any(_has_findings(c) for c in node.children)


@dataclass(frozen=True, slots=True)
class Highlight:
    offset: int
    length: int
    style: str
    why: str


class HexView(Static):
    """Offset, 16 bytes of hex, ASCII; findings' bytes and the selected field painted."""

    DEFAULT_CSS = "HexView { width: auto; padding: 0 1; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.data = b""
        self.findings: list[Highlight] = []
        self.selected: Highlight | None = None

    def show(self, data: bytes, findings: list[Finding]) -> None:
        self.data = data
        self.findings = [Highlight(f.offset, max(f.length, 1),
                                   FINDING_BG.get(f.severity.label, "on red"), f.rule)
                         for f in findings if f.offset >= 0]
        self.selected = None
        self.update(self.render_hex())

    def select(self, offset: int, length: int, why: str = "") -> None:
        self.selected = Highlight(offset, length, SELECT_STYLE, why) if offset >= 0 else None
        self.update(self.render_hex())

    def styles_at(self, offset: int) -> list[str]:
        """Styles painted on byte ``offset`` (what a test checks)."""
        out = [h.style for h in self.findings if h.offset <= offset < h.offset + h.length]
        sel = self.selected
        if sel is not None and sel.offset <= offset < sel.offset + sel.length:
            out.append(sel.style)
        return out

    def render_hex(self) -> Text:
        data = self.data
        if not data:
            return Text("no packet selected", style="dim")
        paint: list[str | None] = [None] * len(data)
        for h in self.findings:
            for i in range(h.offset, min(h.offset + h.length, len(data))):
                paint[i] = h.style
        sel = self.selected
        if sel is not None:
            for i in range(sel.offset, min(sel.offset + sel.length, len(data))):
                paint[i] = f"{paint[i]} {SELECT_STYLE}" if paint[i] else SELECT_STYLE
        out = Text(no_wrap=True)
        for line in range(0, len(data), BYTES_PER_LINE):
            out.append(f"{line:04x}  ", style="dim")
            chunk = data[line:line + BYTES_PER_LINE]
            for i, b in enumerate(chunk):
                out.append(f"{b:02x}", style=paint[line + i] or "")
                out.append("  " if i == 7 else " ")
            out.append("   " * (BYTES_PER_LINE - len(chunk)) + (" " if len(chunk) <= 8 else ""))
            out.append(" ")
            for i, b in enumerate(chunk):
                out.append(chr(b) if 32 <= b < 127 else ".", style=paint[line + i] or "dim")
            out.append("\n")
        out.rstrip()
        return out

    def line_of(self, offset: int) -> int:
        return offset // BYTES_PER_LINE
