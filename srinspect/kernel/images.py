"""Kernel images this machine could boot in a guest, and whether each has SRv6.

An image is a ``vmlinuz`` file; its release string names the modules directory
(``/lib/modules/<release>``, which virtme-ng needs for the guest's drivers) and the config
file (``/boot/config-<release>``, where Debian records how it was built). SRv6 in a guest
needs ``CONFIG_IPV6_SEG6_LWTUNNEL`` (encap and seg6local routes) and
``CONFIG_IPV6_SEG6_HMAC`` (``ip sr hmac``); an image without a config file is "unknown" and
still usable when the user names it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

BOOT = Path("/boot")
MODULES = Path("/lib/modules")
SRV6_OPTIONS = ("CONFIG_IPV6_SEG6_LWTUNNEL", "CONFIG_IPV6_SEG6_HMAC")
#: What to install on Debian to get a kernel image with SRv6 for guests.
INSTALL_HINT = ("apt-get install linux-image-amd64 qemu-system-x86 busybox-static and "
                "pip install virtme-ng (scripts/setup.sh does all of it)")


class ImageError(ValueError):
    """A --kernel argument that names no usable image; the message says what to do."""


@dataclass(frozen=True, slots=True)
class KernelImage:
    path: Path
    release: str
    config: dict[str, str]  # the SRV6_OPTIONS found in the config file ("y", "m", "n")
    has_config: bool
    has_modules: bool

    @property
    def srv6(self) -> bool | None:
        """True/False from the config file, None when there is no config file."""
        if not self.has_config:
            return None
        return all(self.config.get(o) in ("y", "m") for o in SRV6_OPTIONS)

    def srv6_missing(self) -> str | None:
        if not self.has_modules:
            return f"no modules directory {MODULES / self.release} (virtme-ng needs it)"
        if self.srv6 is False:
            missing = [o for o in SRV6_OPTIONS if self.config.get(o) not in ("y", "m")]
            return f"built without {', '.join(missing)}"
        return None

    def to_dict(self) -> dict[str, object]:
        return {"path": str(self.path), "release": self.release, "srv6": self.srv6,
                "config": self.config, "modules": self.has_modules,
                "usable": self.srv6_missing() is None}


def read_config(path: Path) -> dict[str, str]:
    """The SRv6 options of a kernel config file ("n" for "# ... is not set")."""
    found: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return found
    for option in SRV6_OPTIONS:
        m = re.search(rf"^{option}=(\w+)$", text, re.M)
        found[option] = m.group(1) if m else "n"
    return found


def image_at(path: Path, release: str | None = None) -> KernelImage:
    release = release or _release_of(path)
    config_path = path.parent / f"config-{release}"
    return KernelImage(path, release, read_config(config_path), config_path.is_file(),
                       (MODULES / release).is_dir())


def _release_of(path: Path) -> str:
    name = path.name
    for prefix in ("vmlinuz-", "vmlinux-", "bzImage-"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def installed(boot: Path = BOOT) -> list[KernelImage]:
    """Every ``vmlinuz-*`` in /boot, newest release first."""
    try:
        paths = [p for p in boot.glob("vmlinuz-*") if p.is_file()]
    except OSError:
        return []
    return sorted((image_at(p) for p in paths), key=lambda i: release_key(i.release),
                  reverse=True)


def release_key(release: str) -> tuple[tuple[int, str], ...]:
    """Sort key so that 6.12.1 > 6.1.0-57 > 5.10 (numbers compare as numbers)."""
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[.\-+~]", release))


def _parts(release: str) -> list[str]:
    return re.split(r"[.\-+~]", release)


def newest_with_srv6(images: list[KernelImage] | None = None) -> KernelImage | None:
    for image in installed() if images is None else images:
        if image.srv6 and image.srv6_missing() is None:
            return image
    return None


def resolve(spec: str, images: list[KernelImage] | None = None) -> KernelImage:
    """A --kernel argument (a vmlinuz path, a release such as ``6.12.118+deb12-amd64``, or a
    unique leading part of one such as ``6.12`` or ``6.1``) as an image, or ImageError
    saying what exists."""
    path = Path(spec)
    if "/" in spec or path.is_file():
        if not path.is_file():
            raise ImageError(f"kernel image {spec} does not exist")
        return image_at(path.resolve())
    images = installed() if images is None else images
    exact = [i for i in images if i.release == spec]
    want = _parts(spec)
    matches = exact or [i for i in images if _parts(i.release)[:len(want)] == want]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(i.release for i in images) or "none"
    if not matches:
        raise ImageError(f"no kernel image matches {spec!r} (installed in {BOOT}: {known}; "
                         f"or give a vmlinuz path; {INSTALL_HINT})")
    raise ImageError(f"{spec!r} matches several kernel images ({known}); give more of the "
                     "release or a path")
