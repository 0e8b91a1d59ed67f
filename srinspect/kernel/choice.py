"""Which kernel a command that needs SRv6 runs on: the host, an image in a guest, or none.

``--kernel`` takes ``host``, a vmlinuz path or a release (``6.12``, ``6.1.0-57-amd64``);
it is repeatable for a matrix. Without it: the host when its kernel has SRv6, else the
newest installed image that has it (in a guest), else nothing, with the reason and the
install hint.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass

from . import images
from .guest import vng_missing
from .images import INSTALL_HINT, ImageError, KernelImage
from .probe import host_srv6_missing

HOST = "host"


@dataclass(frozen=True, slots=True)
class Target:
    """Where to run: ``image`` None means the host kernel."""

    image: KernelImage | None

    @property
    def is_host(self) -> bool:
        return self.image is None

    @property
    def label(self) -> str:
        """A short column heading: ``host`` or the image's release."""
        return HOST if self.image is None else self.image.release

    def describe(self) -> str:
        if self.image is None:
            return f"the host kernel ({platform.release()})"
        return f"a guest booted from {self.image.path} ({self.image.release})"


class NoKernel(ImageError):
    """Nothing here can run SRv6: the host lacks it and no guest can be booted."""


def guest_missing() -> str | None:
    """Why no guest with SRv6 can be booted here (None: one can)."""
    missing = vng_missing()
    if missing:
        return missing
    if images.newest_with_srv6() is None:
        found = images.installed()
        have = (", ".join(f"{i.release} ({i.srv6_missing() or 'no config'})" for i in found)
                if found else "none")
        return f"no kernel image with SRv6 in /boot (found: {have}; {INSTALL_HINT})"
    return None


def default_target() -> Target:
    """The host when it has SRv6, else the newest image that has it; NoKernel otherwise."""
    host_missing = host_srv6_missing()
    if host_missing is None:
        return Target(None)
    guest_why = guest_missing()
    if guest_why is None:
        image = images.newest_with_srv6()
        assert image is not None
        return Target(image)
    raise NoKernel(f"the host kernel {platform.release()} has no SRv6 ({host_missing}) and "
                   f"no guest can be booted: {guest_why}")


def targets(specs: list[str]) -> list[Target]:
    """The --kernel arguments in order (duplicates dropped), or the default when none."""
    if not specs:
        return [default_target()]
    out: list[Target] = []
    for spec in specs:
        target = Target(None) if spec == HOST else Target(images.resolve(spec))
        if target not in out:
            out.append(target)
    return out
