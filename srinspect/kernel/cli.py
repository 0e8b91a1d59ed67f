"""``srinspect doctor`` and ``srinspect vm run``: registered by ``srinspect.cli.main``.

Exit codes: doctor 0 when a kernel with SRv6 is available (host or guest), 2 when none is;
``vm run`` the command's own exit status, 2 when no guest could be booted, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import LabError
from . import doctor, guest, images
from .images import ImageError

EXIT_SETUP = 2


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    doc = sub.add_parser(
        "doctor", help="what this machine can do: SRv6 pieces of the kernel, tools, KVM, "
                       "kernel images for guests",
        description="Probe the host kernel's SRv6 pieces by trying them in a throwaway "
                    "namespace (root), list the programs srinspect drives with their "
                    "versions, whether KVM works, and the kernel images a guest could boot. "
                    "Ends with where conformance and the lab will run.",
        epilog="Exit: 0 a kernel with SRv6 is available (host or guest), 2 none is.")
    doc.add_argument("--format", choices=("text", "json"), default="text")
    doc.set_defaults(func=cmd_doctor)

    vm = sub.add_parser("vm", help="run a command in a guest booted from a kernel image",
                        description="Kernels in guests (virtme-ng, QEMU; KVM where it works, "
                                    "else TCG). The guest sees this machine's files "
                                    "read-only, except --rwdir directories.")
    vsub = vm.add_subparsers(dest="vm_command", metavar="ACTION")
    run = vsub.add_parser(
        "run", help="boot a kernel and run one command in it as root",
        description="Boot the kernel (default: the newest image in /boot with SRv6) and run "
                    "COMMAND inside as root, in the current directory, with a guest-local "
                    "TMPDIR. Output is relayed as it comes; the exit status is the command's.",
        epilog="Example: srinspect vm run --kernel 6.1 --rwdir . -- ip -6 route show")
    run.add_argument("--kernel", default=None, metavar="IMAGE",
                     help="a vmlinuz path or a release in /boot (6.12, 6.1.0-57-amd64); "
                          "default: the newest image with SRv6")
    run.add_argument("--rwdir", action="append", default=[], type=Path, metavar="DIR",
                     help="a directory the guest may write (repeatable)")
    run.add_argument("--memory", default="2G", help="guest memory (default 2G)")
    run.add_argument("--timeout", type=float, default=None, metavar="S",
                     help="give up after S seconds of running (boot not included)")
    run.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND",
                     help="what to run in the guest")
    run.set_defaults(func=cmd_vm_run)
    vm.set_defaults(func=lambda args: (vm.print_help(), EXIT_SETUP)[1])


def cmd_doctor(args: argparse.Namespace) -> int:
    report = doctor.gather()
    text = doctor.render_json(report) if args.format == "json" else doctor.render_text(report)
    sys.stdout.write(text)
    return doctor.exit_status(report)


def cmd_vm_run(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        print("srinspect vm run: give the command after --", file=sys.stderr)
        return EXIT_SETUP
    if os.geteuid() != 0:
        print("srinspect vm run: needs root (QEMU, and the guest's view of this machine)",
              file=sys.stderr)
        return EXIT_SETUP
    try:
        image = images.resolve(args.kernel) if args.kernel else images.newest_with_srv6()
        if image is None:
            raise ImageError(f"no kernel image with SRv6 in /boot ({images.INSTALL_HINT})")
        result = guest.run(image, command, rwdirs=args.rwdir, cwd=Path.cwd(),
                           env=guest.INNER_ENV, memory=args.memory, timeout=args.timeout,
                           on_line=lambda line: print(line, flush=True),
                           log=lambda m: print(f"srinspect vm: {m}", file=sys.stderr,
                                               flush=True))
    except (ImageError, LabError) as exc:
        print(f"srinspect vm run: {exc}", file=sys.stderr)
        return EXIT_SETUP
    print(f"srinspect vm: {result.release}, {result.accel.upper()}, boot {result.boot_s:.1f} s, "
          f"{result.total_s:.1f} s in all, exit {result.returncode}", file=sys.stderr)
    return result.returncode
