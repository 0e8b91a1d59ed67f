"""Lab errors. Every one of them is a message for a person (the CLI prints it, exit 2)."""

from __future__ import annotations

from ..errors import LabError as _BaseLabError


class LabError(_BaseLabError):
    """Something the user can fix: not root, a tool missing, a bad topology, no lab up."""


class NotRootError(LabError):
    """Raised before anything is touched when the user is not root."""


class TopologyError(LabError):
    """The topology file is wrong; the message names the file and the entry."""


class NotRunning(LabError):  # noqa: N818 - a state, not an accident
    """No lab is up (no state file, or its namespaces are gone)."""


class CommandError(LabError):
    """A command (ip, tc, iperf3, ...) failed; carries its stderr."""

    def __init__(self, argv: list[str], returncode: int, stderr: str) -> None:
        cmd = " ".join(argv)
        detail = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit {returncode}"
        super().__init__(f"`{cmd}` failed: {detail}")
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr
