"""Seed the fuzz corpora from the bundled captures (frames for the inspector target with a
control byte in front, whole small files for the reader target)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from srinspect.sources import open_capture

REPO = Path(__file__).resolve().parent.parent
LINKS = {1: 0, 101: 1, 229: 2, 113: 3, 276: 4, 0: 5, 228: 6}


def main() -> None:
    insp_dir = REPO / "fuzz/corpus/inspector"
    read_dir = REPO / "fuzz/corpus/reader"
    insp_dir.mkdir(parents=True, exist_ok=True)
    read_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(REPO.glob("pcaps/*.pcap*")):
        (read_dir / path.name).write_bytes(path.read_bytes()[:4096])
        with open_capture(path) as reader:
            for frame in reader:
                if frame.linktype not in LINKS:
                    continue
                for profile_bit in (0, 0x80):
                    seed = bytes([LINKS[frame.linktype] | profile_bit]) + frame.data
                    name = hashlib.sha1(seed).hexdigest()[:16]
                    (insp_dir / name).write_bytes(seed)
    print(f"seeds: {len(list(insp_dir.iterdir()))} inspector, "
          f"{len(list(read_dir.iterdir()))} reader")


if __name__ == "__main__":
    main()
