#!/usr/bin/env bash
# The main job on the built-in default: set up, then audit every bundled capture in pcaps/
# (kernel-made and crafted ones) with the bundled test keys. The crafted captures contain
# one deliberate violation per rule, so the report lists findings; the command succeeds when
# the audit ran (--fail-on never).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
keys=()
for k in pcaps/*keys*.toml; do [ -e "$k" ] && keys+=(--keys "$k"); done
.venv/bin/srinspect audit "${keys[@]}" --fail-on never pcaps/
