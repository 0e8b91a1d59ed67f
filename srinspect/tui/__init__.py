"""``srinspect monitor``: a terminal UI over the flow table (Textual).

``MonitorApp`` is the app; ``engine`` is its UI-free core (thread-safe, testable without a
terminal); ``feeds`` adapts the capture sources; ``lab`` attaches to a running SRv6 lab.
"""

from srinspect.tui.app import MonitorApp
from srinspect.tui.engine import MonitorEngine

__all__ = ["MonitorApp", "MonitorEngine"]
