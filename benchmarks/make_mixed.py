"""Generate a realistic mixed capture of a chosen size for the audit benchmarks.

Templates are real frames the Linux kernel made (pcaps/kernel-*.pcap: SRv6 encap, inline and
HMAC, plus the plain IPv6 replies in the same captures) and a plain IPv4 UDP frame; they are
replicated with advancing timestamps in a fixed mix (SRv6 without HMAC, SRv6 with HMAC, plain
IPv6, IPv4). Output is classic little-endian pcap, Ethernet.

    python benchmarks/make_mixed.py OUT.pcap --packets 1000000
"""

from __future__ import annotations

import argparse
import struct
import sys
from collections.abc import Iterable
from pathlib import Path

from srinspect.build import ethernet
from srinspect.inspector import Inspector
from srinspect.sources import open_capture

REPO = Path(__file__).resolve().parent.parent
# share of each class in the mix, in percent
MIX = {"srv6": 40, "srv6_hmac": 10, "ipv6": 30, "ipv4": 20}
IPV4_UDP = bytes.fromhex(
    "4500003c1c4640004011b1e6c0000201c0000202d43114510028a5a2") + b"x" * 32


def load_templates() -> dict[str, list[bytes]]:
    """Kernel-made frames sorted into the mix's classes (Ethernet frames only)."""
    classes: dict[str, list[bytes]] = {k: [] for k in MIX}
    insp = Inspector()
    for path in sorted(REPO.glob("pcaps/kernel-*.pcap")):
        with open_capture(path) as reader:
            for frame in reader:
                if frame.linktype != 1:
                    continue
                result = insp.feed(frame)
                if result is not None and result.has_srh:
                    cls = "srv6_hmac" if result.hmacs else "srv6"
                    classes[cls].append(frame.data)
                elif frame.data[12:14] == b"\x86\xdd" and frame.data[20] in (58, 17, 6):
                    classes["ipv6"].append(frame.data)
    classes["ipv4"].append(ethernet(IPV4_UDP, ethertype=0x0800))
    missing = [k for k, v in classes.items() if not v]
    if missing:
        sys.exit(f"no kernel templates for {missing}: run pcaps/make_kernel_samples.sh")
    return classes


SRH_ONLY = {"srv6": 100, "srv6_hmac": 0, "ipv6": 0, "ipv4": 0}


def schedule(classes: dict[str, list[bytes]], mix: dict[str, int] = MIX) -> list[bytes]:
    """One period of 100 frames in the mix proportions, templates taken round-robin."""
    period: list[bytes] = []
    for cls, share in mix.items():
        pool = classes[cls]
        period.extend(pool[i % len(pool)] for i in range(share))
    # interleave deterministically so classes are spread, not in blocks
    return [period[(i * 37) % len(period)] for i in range(len(period))]


def write_frames(out: Path, frames: Iterable[bytes]) -> int:
    """Classic little-endian pcap, Ethernet, timestamps 10 us apart; returns the count."""
    rec = struct.Struct("<IIII")
    n = 0
    with out.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        buf = bytearray()
        for n, data in enumerate(frames, 1):
            i = n - 1
            buf += rec.pack(1_700_000_000 + i // 100_000, (i % 100_000) * 10, len(data),
                            len(data))
            buf += data
            if len(buf) > 1 << 22:
                f.write(buf)
                buf.clear()
        f.write(buf)
    return n


def write(out: Path, packets: int, mix: dict[str, int] = MIX) -> None:
    period = schedule(load_templates(), mix)
    write_frames(out, (period[i % len(period)] for i in range(packets)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--packets", type=int, default=1_000_000)
    args = ap.parse_args()
    write(args.out, args.packets)
    print(f"wrote {args.out}: {args.packets} packets, {args.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
