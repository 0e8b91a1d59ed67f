"""Coverage-guided fuzzing of the codec, validator and views (atheris / libFuzzer).

Invariant (the inspector's public promise): for any bytes, ``Inspector.feed`` returns None,
CLEAN or a PacketResult, never raises; every finding's offset lies inside the frame; the
detail tree and the JSON view can be built for every result. Run:

    python fuzz/fuzz_inspector.py -max_total_time=300 fuzz/corpus/inspector
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["srinspect", "targets"]):
    from targets import check_inspector


def main() -> None:
    atheris.Setup(sys.argv, lambda data: check_inspector(bytes(data)))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
