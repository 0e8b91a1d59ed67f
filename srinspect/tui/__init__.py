"""``srinspect monitor``: a terminal UI over the flow table (Textual).

``MonitorApp`` is the app and ``widgets`` its tabs and panels; ``engine`` is its UI-free core
(thread-safe, testable without a terminal); ``feeds`` adapts the capture sources; ``lab``
attaches to a running SRv6 lab; ``save`` and ``dissection`` do the work of the ``s`` and
``w`` keys away from the UI.
"""

from srinspect.tui.app import MonitorApp
from srinspect.tui.engine import MonitorEngine

__all__ = ["MonitorApp", "MonitorEngine"]
