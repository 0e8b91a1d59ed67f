"""Lab errors. Every one of them is a message for a person (the CLI prints it, exit 2).

``LabError`` and ``CommandError`` are the project's (srinspect.errors): the lab, the
conformance DUT and the namespace helpers raise the same ones."""

from __future__ import annotations

from ..errors import CommandError, LabError

__all__ = ["CommandError", "LabError", "NotRootError", "NotRunning", "TopologyError"]


class NotRootError(LabError):
    """Raised before anything is touched when the user is not root."""


class TopologyError(LabError):
    """The topology file is wrong; the message names the file and the entry."""


class NotRunning(LabError):  # noqa: N818 - a state, not an accident
    """No lab is up (no state file, or its namespaces are gone)."""
