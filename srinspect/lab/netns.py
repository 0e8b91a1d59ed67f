"""The only place that runs ip, tc and sysctl: thin, checked wrappers around iproute2.

The lab drives the kernel through iproute2 rather than netlink from Python so that every
step is a command a person can read, copy and replay (``SRINSPECT_LAB_TRACE=1`` prints
them). Commands for one namespace are sent as one ``ip -batch`` where possible: building the
lab then costs a few dozen processes instead of hundreds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import CommandError, LabError, NotRootError

NETNS_DIR = Path("/run/netns")


def _trace(argv: Sequence[str], input: str | None) -> None:
    if os.environ.get("SRINSPECT_LAB_TRACE"):
        print("+ " + " ".join(argv), file=sys.stderr)
        if input and "sr hmac" not in " ".join(argv):
            for line in input.splitlines():
                print(f"+   {line}", file=sys.stderr)


def run(argv: Sequence[str], *, input: str | None = None, check: bool = True,
        timeout: float = 30, new_session: bool = False) -> str:
    """Run a command and return its stdout; a failure raises CommandError with its stderr.

    ``new_session`` detaches from the controlling terminal: ``ip sr hmac set`` reads the
    secret with getpass(3), which would prompt on /dev/tty instead of reading stdin.
    """
    argv = list(argv)
    _trace(argv, input)
    try:
        proc = subprocess.run(argv, input=input, capture_output=True, text=True,
                              timeout=timeout, check=False, start_new_session=new_session)
    except FileNotFoundError:
        raise LabError(f"{argv[0]} not found; install it (iproute2 provides ip and tc)") from None
    except subprocess.TimeoutExpired:
        raise LabError(f"`{' '.join(argv)}` did not finish within {timeout:g} s") from None
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stderr)
    return proc.stdout


def ip(netns: str | None, *args: str, check: bool = True) -> str:
    """``ip [-n NETNS] ARGS``."""
    return run(["ip", *(["-n", netns] if netns else []), *args], check=check)


def ip_json(netns: str | None, *args: str) -> Any:
    """``ip -j [-n NETNS] ARGS`` decoded (empty output is an empty list)."""
    out = run(["ip", "-j", *(["-n", netns] if netns else []), *args])
    return json.loads(out) if out.strip() else []


def ip_batch(netns: str, commands: Iterable[str]) -> None:
    """Several ``ip`` commands in one process; the first failure stops it and is reported."""
    text = "".join(f"{c}\n" for c in commands)
    if text:
        run(["ip", "-n", netns, "-batch", "-"], input=text)


def tc_batch(netns: str, commands: Iterable[str]) -> None:
    text = "".join(f"{c}\n" for c in commands)
    if text:
        run(["tc", "-n", netns, "-batch", "-"], input=text)


def sysctl(netns: str, settings: Mapping[str, object]) -> None:
    """Set sysctls inside a namespace (net.* sysctls are per namespace)."""
    args = [f"{k}={v}" for k, v in settings.items()]
    run(["ip", "netns", "exec", netns, "sysctl", "-q", "-w", *args])


def list_namespaces(prefix: str) -> list[str]:
    """Named namespaces whose name starts with ``prefix``."""
    try:
        names = [p.name for p in NETNS_DIR.iterdir()]
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.startswith(prefix))


def namespace_pids(netns: str) -> list[int]:
    """Processes running inside a namespace (``ip netns pids``)."""
    out = run(["ip", "netns", "pids", netns], check=False)
    return [int(p) for p in out.split() if p.isdigit()]


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
