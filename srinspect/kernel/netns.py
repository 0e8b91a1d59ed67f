"""The one place that runs ip and tc and enters network namespaces: the lab, the conformance
DUT and the kernel probe all drive the kernel through here.

Configuration goes through iproute2 rather than netlink from Python so that every step is a
command a person can read, copy and replay (``SRINSPECT_LAB_TRACE=1`` prints them). Commands
for one namespace are sent as one ``ip -batch`` where possible: building a topology then costs
a few dozen processes instead of hundreds. Sysctls are written through ``/proc`` from inside
the namespace (``inside``), which needs no process at all.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import CommandError, LabError

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)


def _trace(argv: Sequence[str], input: str | None) -> None:
    if os.environ.get("SRINSPECT_LAB_TRACE"):
        print("+ " + " ".join(argv), file=sys.stderr)
        if input and "sr hmac" not in " ".join(argv):
            for line in input.splitlines():
                print(f"+   {line}", file=sys.stderr)


def attempt(argv: Sequence[str], *, input: str | None = None, timeout: float = 30,
            new_session: bool = False) -> subprocess.CompletedProcess[str]:
    """Run a command and return how it ended, whatever its status (callers that probe the
    kernel read the kernel's own words from stderr). A missing program or a hang is a
    LabError: neither is an answer from the kernel.

    ``new_session`` detaches from the controlling terminal: ``ip sr hmac set`` reads the
    secret with getpass(3), which would prompt on /dev/tty instead of reading stdin.
    """
    argv = list(argv)
    _trace(argv, input)
    try:
        return subprocess.run(argv, input=input, capture_output=True, text=True,
                              timeout=timeout, check=False, start_new_session=new_session)
    except FileNotFoundError:
        raise LabError(f"{argv[0]} not found; install it (iproute2 provides ip and tc)") from None
    except subprocess.TimeoutExpired:
        raise LabError(f"`{' '.join(argv)}` did not finish within {timeout:g} s") from None


def run(argv: Sequence[str], *, input: str | None = None, check: bool = True,
        timeout: float = 30, new_session: bool = False) -> str:
    """Run a command and return its stdout; a failure raises CommandError with its stderr."""
    proc = attempt(argv, input=input, timeout=timeout, new_session=new_session)
    if check and proc.returncode != 0:
        raise CommandError(list(argv), proc.returncode, proc.stderr)
    return proc.stdout


def ip_argv(netns: str | None, *args: str) -> list[str]:
    """``ip [-n NETNS] ARGS`` as an argument vector."""
    return ["ip", *(["-n", netns] if netns else []), *args]


def ip(netns: str | None, *args: str, check: bool = True) -> str:
    """``ip [-n NETNS] ARGS``."""
    return run(ip_argv(netns, *args), check=check)


def ip_json(netns: str | None, *args: str) -> Any:
    """``ip -j [-n NETNS] ARGS`` decoded (empty output is an empty list)."""
    out = run(["ip", "-j", *ip_argv(netns, *args)[1:]])
    return json.loads(out) if out.strip() else []


def ip_batch(netns: str | None, commands: Iterable[str]) -> None:
    """Several ``ip`` commands in one process; the first failure stops it and is reported."""
    text = "".join(f"{c}\n" for c in commands)
    if text:
        run(ip_argv(netns, "-batch", "-"), input=text)


def tc_batch(netns: str, commands: Iterable[str]) -> None:
    """Several ``tc`` commands in one process, as ``ip_batch``."""
    text = "".join(f"{c}\n" for c in commands)
    if text:
        run(["tc", "-n", netns, "-batch", "-"], input=text)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextmanager
def inside(name: str) -> Iterator[None]:
    """Run the block with this thread in namespace ``name``: sockets opened here stay in it
    (and answer for it from any thread), and /proc/sys/net opened here is that namespace's.
    setns changes only the calling thread, so the rest of the process is not disturbed."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(NETNS_DIR / name, os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(home)


def _sysctl_path(key: str) -> str:
    """sysctl(8) names: dotted (``net.ipv6.conf.all.forwarding``) or with slashes, which
    keeps interface names with dots intact (``net/ipv6/conf/eth0.100/forwarding``)."""
    return "/proc/sys/" + (key if "/" in key else key.replace(".", "/"))


def sysctl(netns: str, settings: Mapping[str, object]) -> None:
    """Set sysctls inside a namespace (net.* sysctls are per namespace). A key this kernel
    does not have is a LabError naming it."""
    if os.environ.get("SRINSPECT_LAB_TRACE"):
        _trace(["ip", "netns", "exec", netns, "sysctl", "-q", "-w",
                *(f"{k}={v}" for k, v in settings.items())], None)
    with inside(netns):
        for key, value in settings.items():
            try:
                with open(_sysctl_path(key), "w") as f:
                    f.write(str(value))
            except FileNotFoundError:
                raise LabError(f"sysctl {key} does not exist in this kernel") from None


def sysctl_exists(netns: str, key: str) -> bool:
    """Whether this kernel has sysctl ``key`` (sysctl(8) name) in namespace ``netns``."""
    with inside(netns):
        return os.path.exists(_sysctl_path(key))


def list_namespaces(prefix: str = "") -> list[str]:
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


def delete(names: Iterable[str]) -> list[str]:
    """Delete the namespaces that exist; return the ones deleted."""
    gone = []
    for name in names:
        if (NETNS_DIR / name).exists() and attempt(["ip", "netns", "del", name]).returncode == 0:
            gone.append(name)
    return gone
