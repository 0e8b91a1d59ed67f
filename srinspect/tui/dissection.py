"""Wireshark's tree of one packet (``w``), within a time limit that holds.

``sinks.wireshark.full_dissection`` runs tshark with a time limit of its own; this wraps it
for the UI: it runs in a daemon thread and is waited for at most that limit (plus a grace
period), so a stuck tshark can neither hang the worker nor show a result after the limit,
and a newer request (the worker cancelled) ends the wait at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from textual.dom import DOMNode
from textual.worker import Worker, get_current_worker

from srinspect.dissect import Node
from srinspect.frame import Frame
from srinspect.sinks import wireshark

#: Time tshark gets after the limit to be stopped and cleaned up before the UI gives up.
DISSECT_GRACE = 1.0

Dissector = Callable[[Frame, float], Node]


def dissect_limited(dissector: Dissector, frame: Frame, limit: float,
                    worker: Worker[None] | None = None) -> Node | str | None:
    """``dissector(frame, limit)`` in a daemon thread, waited for at most ``limit`` seconds
    (plus a moment for tshark to be stopped): the dissector's own limit is a promise, this
    one holds even if it is not kept. Returns the tree, a one-line message (error, time
    limit), or None once ``worker`` is cancelled (a newer request replaced this one)."""
    box: list[Node | str] = []

    def attempt() -> None:
        try:
            box.append(dissector(frame, limit))
        except wireshark.DissectError as exc:
            box.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - a bad frame must not take the monitor down
            box.append(f"Wireshark dissection failed: {type(exc).__name__}: {exc}")

    thread = threading.Thread(target=attempt, name="srinspect-dissect", daemon=True)
    thread.start()
    deadline = time.monotonic() + limit + DISSECT_GRACE
    while thread.is_alive() and time.monotonic() < deadline:
        if worker is not None and worker.is_cancelled:
            return None
        thread.join(0.05)
    if box:
        return box[0]
    return f"Wireshark dissection of frame {frame.number} took longer than {limit:g} s; gave up"


def start_dissection(node: DOMNode, frame: Frame, dissector: Dissector, limit: float,
                     done: Callable[[Node | str], None]) -> None:
    """``dissect_limited`` in a thread worker of ``node``, then ``done(result)`` on the UI
    thread. Exclusive: a newer request cancels this one, whose result is then dropped (its
    tshark stops at its own time limit)."""

    def run() -> None:
        worker = get_current_worker()
        result = dissect_limited(dissector, frame, limit, worker)
        if result is not None and not worker.is_cancelled:
            node.app.call_from_thread(done, result)

    node.run_worker(run, thread=True, exclusive=True, group="wireshark", exit_on_error=False)
