"""Run one command in a virtme-ng guest booted from a kernel image, and leave nothing behind.

The guest (QEMU, KVM where it works, else TCG) sees this machine's filesystem read-only, so
the same Python, virtualenv and checkout run inside; only the directories named in
``rwdirs`` are writable and shared back. Inside, the command runs as root with a guest-local
``TMPDIR`` (iperf3 and tmux cannot create their files in the host-shared ``/tmp`` overlay).

The first line the guest prints is a marker with its release and uptime: it tells boot from
work (boot time is reported) and bounds a boot that hangs (a KVM that passes every check and
still hangs is retried under TCG). Every other line goes to ``on_line`` as it arrives.

Cleanup: vng, virtme-run and QEMU run in their own process group. The group is killed when
the command ends, on an exception, Ctrl-C or SIGTERM (the caller turns it into SystemExit);
and a watchdog process, holding a pipe only this process writes, kills the group if this
process dies without saying so (SIGKILL included).
"""

from __future__ import annotations

import contextlib
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from ..errors import LabError
from . import tools
from .images import INSTALL_HINT, KernelImage

MARKER = "@@srinspect-guest-up@@"
GUEST_TMP = "/run/srinspect-tmp"
BOOT_TIMEOUT = {"kvm": 60.0, "tcg": 240.0}


#: The environment srinspect commands get inside a guest: its own kernel is the one to use.
INNER_ENV = {"SRINSPECT_FORCE_GUEST": "0", "SRINSPECT_IN_GUEST": "1", "PYTHONUNBUFFERED": "1"}
IN_GUEST_ENV = "SRINSPECT_IN_GUEST"


class GuestError(LabError):
    """The guest could not be started or did not boot; the message says why (exit 2)."""


@dataclass(slots=True)
class GuestResult:
    image: KernelImage
    accel: str
    accel_reason: str
    release: str  # ``uname -r`` inside the guest
    boot_s: float  # from starting vng to the command's first line
    total_s: float
    returncode: int

    def to_dict(self) -> dict[str, object]:
        return {"image": str(self.image.path), "release": self.release,
                "accelerator": self.accel, "boot_s": round(self.boot_s, 1),
                "total_s": round(self.total_s, 1)}


@contextlib.contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """SIGTERM (and SIGHUP) raise SystemExit(128 + signal) inside the block, so the ``finally``
    that stops the guest runs; outside the main thread the watchdog still covers us."""
    def raise_exit(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    old = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            old[sig] = signal.signal(sig, raise_exit)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def vng_missing() -> str | None:
    """What the guest path lacks on this machine, with how to get it (None: complete)."""
    if os.environ.get(IN_GUEST_ENV) == "1":
        return "already inside a guest (no nested guests: they would be far too slow)"
    for name in ("vng", "qemu-system-x86_64"):
        if tools.find(name) is None:
            return f"{name} is not installed ({INSTALL_HINT})"
    if tools.find("busybox") is None:
        return f"busybox is not installed; virtme-ng builds its initramfs with it " \
               f"({INSTALL_HINT})"
    return None


def guest_script(argv: Sequence[str], *, cwd: Path | None = None,
                 env: Mapping[str, str] | None = None) -> str:
    """The shell line the guest runs: marker, guest-local TMPDIR, environment, command."""
    exports = {"TMPDIR": GUEST_TMP, "TMUX_TMPDIR": GUEST_TMP, **(env or {})}
    parts = [
        f'echo "{MARKER} $(uname -r) $(cut -d" " -f1 /proc/uptime)"',
        f"mkdir -p {GUEST_TMP}",
        "export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in exports.items()),
    ]
    if cwd is not None:
        parts.append(f"cd {shlex.quote(str(cwd))}")
    parts.append("exec " + shlex.join(argv))
    return " && ".join(parts)


def vng_argv(image: KernelImage, script: str, *, accel: str, rwdirs: Sequence[Path],
             memory: str, cpus: int) -> list[str]:
    vng = tools.find("vng") or "vng"
    argv = [vng, "--run", str(image.path), "--user", "root", "--memory", memory,
            "--cpus", str(cpus)]
    for d in rwdirs:
        argv += ["--rwdir", str(d)]
    if accel == "tcg":
        argv.append("--disable-kvm")
    return [*argv, "--", script]


def run(image: KernelImage, argv: Sequence[str], *, rwdirs: Sequence[Path] = (),
        cwd: Path | None = None, env: Mapping[str, str] | None = None,
        on_line: Callable[[str], None] = print, log: Callable[[str], None] = lambda m: None,
        memory: str = "2G", cpus: int | None = None, timeout: float | None = None,
        accel: str | None = None) -> GuestResult:
    """Boot ``image``, run ``argv`` in it, relay its output; raise GuestError if it cannot.

    ``log`` receives one line about the boot (image, accelerator and why).
    """
    missing = vng_missing()
    if missing:
        raise GuestError(missing)
    if not image.has_modules:
        raise GuestError(f"cannot boot {image.path}: {image.srv6_missing()}")
    if accel is None:
        accel, why = tools.accelerator()
    else:
        why = "requested"
    cpus = cpus or min(2, os.cpu_count() or 1)
    rw = [Path(d).resolve() for d in rwdirs]
    for d in rw:
        d.mkdir(parents=True, exist_ok=True)
    script = guest_script(argv, cwd=cwd, env=env)
    with sigterm_unwinds():
        while True:
            log(f"booting {image.path} ({image.release}) in a guest, {accel.upper()} ({why})")
            try:
                return _Boot(image, vng_argv(image, script, accel=accel, rwdirs=rw,
                                             memory=memory, cpus=cpus), accel, why
                             ).run(on_line, timeout)
            except _BootHung as exc:
                if accel != "kvm":
                    raise GuestError(str(exc)) from None
                accel, why = "tcg", f"a KVM guest did not boot in {BOOT_TIMEOUT['kvm']:.0f} s"


class _BootHung(Exception):
    pass


_WATCHDOG = r"""
import os, signal, sys, time
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
word = sys.stdin.read()
if "done" not in word:
    pgid = int(sys.argv[1])
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        time.sleep(2)
"""


class _Boot:
    """One vng process: start, wait for the marker, relay, reap."""

    def __init__(self, image: KernelImage, argv: list[str], accel: str, why: str) -> None:
        self.image, self.argv, self.accel, self.why = image, argv, accel, why
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.tail: list[str] = []

    def run(self, on_line: Callable[[str], None], timeout: float | None) -> GuestResult:
        env = dict(os.environ)
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"
        started = time.monotonic()
        try:
            proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, errors="replace",
                                    bufsize=1, env=env, start_new_session=True)
        except OSError as exc:
            raise GuestError(f"cannot start vng: {exc}") from exc
        watchdog = subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(proc.pid)],
                                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
        threading.Thread(target=self._pump, args=(proc,), daemon=True).start()
        try:
            release, boot_s = self._wait_marker(proc, started)
            deadline = None if timeout is None else time.monotonic() + timeout
            while (line := self._next(deadline)) is not None:
                on_line(line)
            rc = proc.wait()
            return GuestResult(self.image, self.accel, self.why, release, boot_s,
                               time.monotonic() - started, rc)
        finally:
            _kill_group(proc)
            with contextlib.suppress(OSError):
                assert watchdog.stdin is not None
                watchdog.stdin.write(b"done")
                watchdog.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                watchdog.wait(timeout=5)

    def _pump(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _next(self, deadline: float | None) -> str | None:
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            return self.lines.get(timeout=wait)
        except queue.Empty:
            raise GuestError("the command in the guest did not finish in time") from None

    def _wait_marker(self, proc: subprocess.Popen[str], started: float) -> tuple[str, float]:
        limit = BOOT_TIMEOUT[self.accel]
        deadline = started + limit
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise _BootHung(f"the guest ({self.accel.upper()}) did not boot in "
                                f"{limit:.0f} s") from None
            if line is None:
                rc = proc.wait()
                said = " | ".join(self.tail[-5:]) or "no output"
                raise GuestError(f"the guest from {self.image.path} did not start (vng exit "
                                 f"{rc}): {said}")
            if line.startswith(MARKER):
                words = line.split()
                return (words[1] if len(words) > 1 else "?"), time.monotonic() - started
            self.tail.append(line)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
    # vng may have exited while QEMU (same group) lingers: sweep the group anyway.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
