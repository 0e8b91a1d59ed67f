"""Coverage-guided fuzzing of the capture readers (pcap, pcapng, gzip).

Invariant: any byte stream yields frames and then either ends or raises CaptureFormatError;
no other exception, no unbounded allocation. Run:

    python fuzz/fuzz_reader.py -max_total_time=300 -rss_limit_mb=512 fuzz/corpus/reader
"""

from __future__ import annotations

from harness import fuzz

if __name__ == "__main__":
    fuzz("check_reader")
