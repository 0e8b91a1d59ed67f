"""Exception types.

Bad *packets* never raise out of the core: they become findings. Exceptions are kept for bad
*files* (a capture that cannot be read any further), bad user input (keys) and API misuse.
"""

from __future__ import annotations


class SrinspectError(Exception):
    """Base class of every error srinspect raises on purpose."""


class CaptureFormatError(SrinspectError):
    """A capture file cannot be read (any further).

    Readers yield every good frame before raising, so the caller keeps the work done so far;
    ``offset`` is the byte position in the (decompressed) stream where reading stopped, and
    ``frames`` the number of frames yielded before it.
    """

    def __init__(self, message: str, *, offset: int = 0, frames: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.frames = frames

    def __str__(self) -> str:
        return f"{self.message} (at byte {self.offset}, after {self.frames} frames)"


class KeyFileError(SrinspectError):
    """An HMAC key argument or key file is unusable. Never carries the secret itself."""


class BuildError(SrinspectError):
    """The packet builder was asked for something it cannot encode (caller's mistake)."""


class LabError(SrinspectError):
    """Network-namespace lab or DUT setup failed: a message for a person (the CLI prints
    it, exit 2)."""


class CommandError(LabError):
    """A command (ip, tc, iperf3, ...) failed; carries its stderr."""

    def __init__(self, argv: list[str], returncode: int, stderr: str) -> None:
        cmd = " ".join(argv)
        detail = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit {returncode}"
        super().__init__(f"`{cmd}` failed: {detail}")
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr
