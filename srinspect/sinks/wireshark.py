"""Wireshark's full dissection of one frame, through pyshark, as a plain ``dissect.Node`` tree.

Why a ``Node`` tree: it is the tree ``srinspect decode`` and the monitor already draw, with
``offset``/``length`` locating each line's bytes in the frame, so the Wireshark view reuses the
same renderer (``render_tree``), the same Textual tree and the same hex highlighting.

Why PDML and not pyshark's layer attributes: pyshark's ``XmlLayer`` flattens a layer's
fields into a dict keyed by name, which loses both nesting (the SRH's segment list under its
node) and order (repeated fields are grouped). The PDML ``<packet>`` element that pyshark
reads keeps both, with each field's ``pos``/``size``; ``pdml_tree`` is a pure function of that
element, so it is tested without a UI and without tshark.

pyshark runs tshark (``-T pdml``) on a one-frame temporary pcap, with a time limit after which
tshark is stopped and ``DissectTimeout`` raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from srinspect.dissect import Node
from srinspect.frame import Frame
from srinspect.sinks.pcapng_writer import write_pcap

#: Default time limit for one frame (tshark starts in ~0.3 s; 10 s means it is stuck).
DEFAULT_TIMEOUT = 10.0
#: PDML protocols that are tshark bookkeeping, not bytes of the frame.
SKIP_PROTOS = frozenset({"geninfo"})
#: Bound on the depth and node count taken from tshark's output (a tree is for reading).
MAX_DEPTH = 32
MAX_NODES = 20_000

TSHARK_MISSING = "tshark is not installed (apt-get install tshark): no Wireshark dissection"


class DissectError(Exception):
    """The full dissection could not be made (the message is one line, for a user)."""


class TsharkMissing(DissectError):
    """tshark is not on PATH."""


class DissectTimeout(DissectError):
    """tshark did not finish within the time limit (it has been stopped)."""


class PdmlElement(Protocol):
    """What ``pdml_tree`` needs of an XML element (lxml and ElementTree both fit)."""

    tag: Any
    attrib: Any

    def __iter__(self) -> Any: ...


def pdml_tree(packet: PdmlElement, frame_len: int | None = None) -> Node:
    """The ``<packet>`` element of tshark's PDML as a Node tree: root, then one child per
    protocol layer, fields nested as Wireshark nests them. Hidden fields and tshark's
    ``geninfo`` are left out. A ``pos``/``size`` outside the frame (a reassembled or
    decrypted data source) or of size 0 (generated fields such as a checksum status)
    becomes offset -1, so no wrong bytes are ever highlighted."""
    count = [0]
    root = Node("Wireshark dissection (pyshark)")
    for proto in packet:
        if _tag(proto) != "proto" or proto.attrib.get("name") in SKIP_PROTOS:
            continue
        root.children.append(_node(proto, frame_len, 0, count))
    if count[0] >= MAX_NODES:
        root.children.append(Node(f"... cut at {MAX_NODES} lines"))
    return root


def _node(elem: PdmlElement, frame_len: int | None, depth: int, count: list[int]) -> Node:
    count[0] += 1
    attrib = elem.attrib
    offset, length = _span(attrib, frame_len)
    node = Node(_label(attrib), str(attrib.get("name", "")), offset, length)
    if depth >= MAX_DEPTH:
        return node
    for child in elem:
        if count[0] >= MAX_NODES:
            break
        if _tag(child) in ("field", "proto") and attrib_hidden(child.attrib) is False:
            node.children.append(_node(child, frame_len, depth + 1, count))
    return node


def attrib_hidden(attrib: Any) -> bool:
    """PDML marks filter-only fields ``hide="yes"``; Wireshark does not show them."""
    return str(attrib.get("hide", "")).lower() == "yes"


def _tag(elem: PdmlElement) -> str:
    tag = elem.tag
    return tag if isinstance(tag, str) else ""  # lxml comments have a function as tag


def _label(attrib: Any) -> str:
    """What Wireshark prints on the line: ``showname``, else ``show``, else the name."""
    for key in ("showname", "show"):
        text = str(attrib.get(key, "")).strip()
        if text:
            return text
    name = str(attrib.get("name", "")).strip()
    value = str(attrib.get("value", "")).strip()
    return f"{name}: {value}" if value else (name or "?")


def _span(attrib: Any, frame_len: int | None) -> tuple[int, int]:
    try:
        pos, size = int(attrib.get("pos", "")), int(attrib.get("size", ""))
    except ValueError:
        return -1, 0
    if pos < 0 or size <= 0 or (frame_len is not None and pos + size > frame_len):
        return -1, 0
    return pos, size


def node_dict(node: Node) -> dict[str, object]:
    """A Node as JSON: label, field name, pos/size (absent when tshark gives none)."""
    d: dict[str, object] = {"label": node.label}
    if node.field:
        d["name"] = node.field
    if node.offset >= 0:
        d["pos"], d["size"] = node.offset, node.length
    if node.children:
        d["children"] = [node_dict(c) for c in node.children]
    return d


def find(root: Node, name: str) -> Node | None:
    """The first node (depth first) whose field name is ``name``."""
    for _, node in root.walk():
        if node.field == name:
            return node
    return None


# --- running pyshark ---------------------------------------------------------------------------


def tshark_path() -> str:
    """tshark on PATH, or ``TsharkMissing``: pyshark would else fall back to its own list
    of places, and the user's PATH is what decides which tshark runs."""
    path = shutil.which("tshark")
    if path is None:
        raise TsharkMissing(TSHARK_MISSING)
    return path


def full_dissection(frame: Frame, timeout: float = DEFAULT_TIMEOUT) -> Node:
    """Wireshark's tree of ``frame`` alone (written to a one-frame temporary pcap, so tshark
    reads one packet however big the capture is), through pyshark."""
    path = tshark_path()
    with tempfile.TemporaryDirectory(prefix="srinspect-ws-") as tmp:
        pcap = Path(tmp) / "frame.pcap"
        one = Frame(1, frame.ts, frame.linktype, frame.data, frame.orig_len)
        write_pcap(pcap, [one], frame.linktype)
        packets = _pdml_packets(str(pcap), path, timeout)
    if not packets:
        raise DissectError("tshark returned no packet for this frame")
    root = pdml_tree(packets[0], len(frame.data))
    _renumber(root, frame.number)
    return root


def _renumber(root: Node, number: int) -> None:
    """tshark saw the frame as number 1 of a one-frame file; say its number in the capture
    (the frame layer's line and its Frame Number field) so the view matches the list."""
    frame = next((c for c in root.children if c.field == "frame"), None)
    if frame is None:
        return
    if frame.label.startswith("Frame 1:"):
        frame.label = f"Frame {number}:" + frame.label[len("Frame 1:"):]
    for child in frame.children:
        if child.field == "frame.number":
            child.label = f"Frame Number: {number}"


def _pdml_packets(pcap: str, path: str, timeout: float) -> list[PdmlElement]:
    """Run pyshark's FileCapture on ``pcap`` in a private event loop (this may be a worker
    thread) and return the raw PDML ``<packet>`` elements it parsed."""
    import pyshark  # noqa: PLC0415 - a heavy import, only when a full dissection is asked for

    loop = asyncio.new_event_loop()
    cap = _RawPdmlCapture(pyshark, pcap, path, loop)
    out: list[PdmlElement] = []
    try:
        cap.apply_on_packets(lambda held: out.append(held[0]), timeout=timeout, packet_count=1)
    except TimeoutError:
        raise DissectTimeout(f"tshark took longer than {timeout:g} s; stopped") from None
    except Exception as exc:  # noqa: BLE001 - pyshark raises many kinds; one line for the user
        raise DissectError(f"tshark failed: {_one_line(exc)}") from None
    finally:
        with contextlib.suppress(Exception):
            cap.close()
        loop.close()
    return out


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def _RawPdmlCapture(pyshark: Any, pcap: str, path: str,  # noqa: N802 - a class factory
                    loop: asyncio.AbstractEventLoop) -> Any:
    """A pyshark FileCapture whose parser hands back the PDML element itself instead of
    pyshark's flattened Packet (see the module docstring)."""
    from pyshark.tshark.output_parser import tshark_xml  # noqa: PLC0415

    class RawParser(tshark_xml.TsharkXmlParser):  # type: ignore[misc]
        def _parse_single_packet(self, packet: bytes) -> Any:
            import lxml.etree  # noqa: PLC0415 - pyshark's own dependency

            parser = lxml.etree.XMLParser(huge_tree=True, recover=True)
            # in a 1-tuple: pyshark tests the result for truth, which lxml deprecates
            return (lxml.etree.fromstring(packet, parser),)

    class RawCapture(pyshark.FileCapture):  # type: ignore[misc]
        def _setup_tshark_output_parser(self) -> Any:
            return RawParser()

    return RawCapture(pcap, tshark_path=path, eventloop=loop, keep_packets=False)


def render_lines(node: Node, depth: int = 0) -> Iterator[str]:
    """The indented text tree (``decode --full``), each line with its byte span
    ``[pos+size]`` when tshark gives one."""
    span = f"  [{node.offset}+{node.length}]" if node.offset >= 0 else ""
    yield "    " * depth + node.label + span
    for child in node.children:
        yield from render_lines(child, depth + 1)
