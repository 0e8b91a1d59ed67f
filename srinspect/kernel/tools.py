"""External programs srinspect drives, their versions, and whether KVM can run a guest.

KVM is judged without booting anything: the device must open read-write, answer
``KVM_GET_API_VERSION`` with 12, and the CPU must advertise ``vmx`` or ``svm``. A machine
that has ``/dev/kvm`` but no such flag (nested virtualisation switched off) hangs a KVM
guest; such a machine gets TCG. The guest runner still bounds the first boot, so a KVM that
passes these checks and hangs anyway falls back to TCG too.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

KVM_DEVICE = Path("/dev/kvm")
KVM_GET_API_VERSION = 0xAE00
ACCEL_ENV = "SRINSPECT_VM_ACCEL"

#: program -> (version arguments, Debian package providing it)
TOOLS: dict[str, tuple[tuple[str, ...], str]] = {
    "ip": (("-V",), "iproute2"),
    "tc": (("-V",), "iproute2"),
    "tshark": (("-v",), "tshark"),
    "dumpcap": (("-v",), "tshark"),
    "tcpdump": (("--version",), "tcpdump"),
    "iperf3": (("-v",), "iperf3"),
    "tmux": (("-V",), "tmux"),
    "qemu-system-x86_64": (("--version",), "qemu-system-x86"),
    "busybox": (("--help",), "busybox-static"),
    "vng": (("--version",), "virtme-ng (pip)"),
}


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    path: str | None
    version: str
    package: str

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "version": self.version, "package": self.package}


def find(name: str) -> str | None:
    """A program on PATH, or beside this Python (a venv's ``bin``: vng lives there)."""
    found = shutil.which(name)
    if found:
        return found
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def tool(name: str) -> Tool:
    args, package = TOOLS[name]
    path = find(name)
    if path is None:
        return Tool(name, None, "", package)
    try:
        proc = subprocess.run([path, *args], capture_output=True, text=True, timeout=15,
                              check=False)
        lines = [ln.strip() for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
        version = lines[0] if lines else ""
    except (OSError, subprocess.TimeoutExpired) as exc:
        version = f"(cannot run: {exc})"
    return Tool(name, path, version, package)


def all_tools() -> list[Tool]:
    return [tool(name) for name in TOOLS]


def cpu_virt_flag(cpuinfo: str | None = None) -> str | None:
    """``vmx`` (Intel) or ``svm`` (AMD) when the CPU offers hardware virtualisation."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
        except OSError:
            return None
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            for flag in ("vmx", "svm"):
                if flag in flags:
                    return flag
    return None


def kvm_missing() -> str | None:
    """Why a KVM guest cannot run here (None: KVM looks usable)."""
    if not KVM_DEVICE.exists():
        return f"{KVM_DEVICE} does not exist"
    try:
        fd = os.open(KVM_DEVICE, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        return f"cannot open {KVM_DEVICE}: {exc.strerror}"
    try:
        api = fcntl.ioctl(fd, KVM_GET_API_VERSION)
    except OSError as exc:
        return f"{KVM_DEVICE} does not answer: {exc.strerror}"
    finally:
        os.close(fd)
    if api != 12:
        return f"{KVM_DEVICE} speaks KVM API {api}, not 12"
    if cpu_virt_flag() is None:
        return ("the CPU advertises no vmx/svm flag (nested virtualisation is off); a KVM "
                "guest would hang")
    return None


def accelerator() -> tuple[str, str]:
    """("kvm" | "tcg", why): ``SRINSPECT_VM_ACCEL`` forces one."""
    forced = os.environ.get(ACCEL_ENV, "").lower()
    if forced in ("kvm", "tcg"):
        return forced, f"{ACCEL_ENV}={forced}"
    missing = kvm_missing()
    if missing:
        return "tcg", f"KVM unusable: {missing}"
    return "kvm", "KVM usable"
