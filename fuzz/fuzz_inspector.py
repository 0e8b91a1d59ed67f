"""Coverage-guided fuzzing of the codec, validator and views (atheris / libFuzzer).

Invariant (the inspector's public promise): for any bytes, ``Inspector.feed`` returns None
or a PacketResult, never raises (nor does the audit engine's fast path); every finding's
offset lies inside the frame; the detail tree and the JSON view can be built for every
result. Run:

    python fuzz/fuzz_inspector.py -max_total_time=300 fuzz/corpus/inspector
"""

from __future__ import annotations

from harness import fuzz

if __name__ == "__main__":
    fuzz("check_inspector")
