"""Coverage-guided fuzzing of the capture readers (pcap, pcapng, gzip).

Invariant: any byte stream yields frames and then either ends or raises CaptureFormatError;
no other exception, no unbounded allocation. Run:

    python fuzz/fuzz_reader.py -max_total_time=300 -rss_limit_mb=512 fuzz/corpus/reader
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["srinspect", "targets"]):
    from targets import check_reader


def main() -> None:
    atheris.Setup(sys.argv, lambda data: check_reader(bytes(data)))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
