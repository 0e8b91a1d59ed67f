#!/usr/bin/env bash
# Set up, then run the whole test suite (kernel tests need root; they skip with a reason
# elsewhere) and the linter. Exit status is pytest's (0 all passed), or ruff's if it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check srinspect conformance tests pcaps benchmarks fuzz
.venv/bin/python -m pytest -q "$@"
