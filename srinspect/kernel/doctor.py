"""``srinspect doctor``: what this machine can do for srinspect, and what to install.

Everything comes from the probes in this package; this module only gathers and renders.
The verdict at the end is the same decision ``conformance run`` and ``lab demo`` make
(``choice.default_target``), so what doctor says is what they will do.
"""

from __future__ import annotations

import json
import platform
from typing import Any

from . import images, tools
from .choice import NoKernel, default_target, guest_missing
from .guest import vng_missing
from .probe import FORCE_GUEST_ENV, HostKernel, forced_guest, probe_host

PIECES = {
    "netns": "network namespaces",
    "veth": "veth links",
    "srh": "SRH processing (seg6_enabled)",
    "seg6-encap": "headend routes (encap seg6)",
    "seg6local": "endpoint behaviours (seg6local)",
    "hmac": "SRv6 HMAC (ip sr hmac)",
    "tbf": "tc tbf (lab link shaping)",
    "netem": "tc netem",
}
#: What each external program is needed for.
USES = {
    "ip": "everything with namespaces", "tc": "lab link shaping",
    "tshark": "Wireshark cross-check, full dissection", "dumpcap": "live capture",
    "tcpdump": "kernel samples, lab capture", "iperf3": "lab traffic",
    "tmux": "terminal tests", "qemu-system-x86_64": "guests",
    "busybox": "guests (virtme-ng's initramfs)", "vng": "guests (virtme-ng)",
}


def gather() -> dict[str, Any]:
    host = probe_host()
    accel, accel_why = tools.accelerator()
    try:
        target = default_target()
        verdict = {"runs_on": "host" if target.is_host else "guest",
                   "image": None if target.is_host else str(target.image.path),  # type: ignore[union-attr]
                   "describe": target.describe(), "missing": None}
    except NoKernel as exc:
        verdict = {"runs_on": None, "image": None, "describe": None, "missing": str(exc)}
    return {
        "host": {"kernel": platform.release(), "machine": platform.machine(),
                 "forced_guest": forced_guest(), **host.to_dict()},
        "tools": {t.name: t.to_dict() for t in tools.all_tools()},
        "kvm": {"usable": tools.kvm_missing() is None, "why": tools.kvm_missing(),
                "accelerator": accel, "reason": accel_why},
        "guest": {"missing": vng_missing() or guest_missing()},
        "images": [i.to_dict() for i in images.installed()],
        "srv6_kernel": verdict,
    }


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2) + "\n"


def _mark(ok: bool | None) -> str:
    return {True: "yes", False: "NO", None: "?"}[ok]


def render_text(report: dict[str, Any], host: HostKernel | None = None) -> str:
    h = report["host"]
    out = [f"host kernel   {h['kernel']} ({h['machine']})", "", "SRv6 pieces of the host kernel:"]
    for name, label in PIECES.items():
        piece = h["pieces"].get(name)
        if piece is None:
            continue
        note = f"  {piece['detail']}" if piece["detail"] else ""
        out.append(f"  {_mark(piece['ok']):<4} {label:<34}{note}")
    for title, key in (("seg6local actions", "seg6local_actions"), ("End flavours", "flavors"),
                       ("encap modes", "encap_modes")):
        found = h.get(key) or {}
        if found:
            have = [n for n, err in found.items() if not err]
            lack = [n for n, err in found.items() if err]
            out.append(f"       {title + ':':<20} {', '.join(have) or 'none'}"
                       + (f"  (not: {', '.join(lack)})" if lack and have else ""))
    if h["forced_guest"]:
        out.append(f"  {FORCE_GUEST_ENV} is set: commands act as if the host had no SRv6")
    out += ["", "programs:"]
    for name, t in report["tools"].items():
        if t["path"]:
            out.append(f"  yes  {name:<19} {t['version'][:70]}")
        else:
            out.append(f"  NO   {name:<19} needed for {USES[name]}: install {t['package']}")
    kvm = report["kvm"]
    out += ["", "virtualisation:",
            f"  {'yes' if kvm['usable'] else 'NO':<4} KVM{'':<16} "
            + ("guests use KVM" if kvm["usable"] else
               f"{kvm['why']}; guests run under TCG (slower)")]
    if report["guest"]["missing"]:
        out.append(f"  NO   guests{'':<13} {report['guest']['missing']}")
    out += ["", "kernel images for guests (/boot):"]
    if not report["images"]:
        out.append(f"  none ({images.INSTALL_HINT})")
    for img in report["images"]:
        srv6 = {True: "SRv6 yes", False: "SRv6 NO", None: "SRv6 ? (no config file)"}[img["srv6"]]
        extra = "" if img["modules"] else ", no modules directory"
        out.append(f"  {img['release']:<26} {img['path']:<40} {srv6}{extra}")
    v = report["srv6_kernel"]
    out.append("")
    if v["missing"]:
        out.append(f"conformance and lab: cannot run here: {v['missing']}")
    else:
        out.append(f"conformance and lab run on {v['describe']}")
    return "\n".join(out) + "\n"


def exit_status(report: dict[str, Any]) -> int:
    """0 when a kernel with SRv6 (host or guest) is available, 2 when none is."""
    return 0 if report["srv6_kernel"]["missing"] is None else 2
