"""What the lab needs before it touches anything: root, a kernel with SRv6, the tools.
Each check fails with a message that says how to get what is missing."""

from __future__ import annotations

import os
import shutil

from .errors import LabError, NotRootError


def require_root() -> None:
    if os.geteuid() != 0:
        raise NotRootError("the lab needs root (network namespaces, tc, ip sr); "
                           "run it with sudo")


def require_kernel() -> None:
    """The lab's nodes are namespaces of this kernel: it must have SRv6 routes and HMAC."""
    from ..kernel.probe import host_srv6_missing

    missing = host_srv6_missing()
    if missing:
        raise LabError(f"the lab needs a kernel with SRv6 and this one lacks it ({missing}); "
                       "`srinspect lab demo` runs the whole demo in a guest instead "
                       "(--kernel IMAGE; `srinspect doctor` lists the images)")


def require_tool(name: str, why: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise LabError(f"{name} is not installed; it is needed {why} "
                       f"(Debian: apt-get install {_PACKAGES.get(name, name)})")
    return path


_PACKAGES = {"ip": "iproute2", "tc": "iproute2", "sysctl": "procps"}
