#!/usr/bin/env bash
# Set up, then run the linter and the whole test suite.
#  1. pytest on the host: everything; tests marked `kernel` (they need SRv6 routes, seg6local
#     and HMAC in the kernel) run here when the host kernel has them and skip otherwise;
#  2. when the host kernel lacks SRv6 (or SRINSPECT_FORCE_GUEST=1), the `kernel` tests run in
#     one guest booted from a stock kernel image (`srinspect vm run -- pytest -m kernel`).
# Extra arguments go to both pytest runs. Exit status: ruff's if it fails, else the worst of
# the two pytest runs (0 all passed; "no test selected" in the guest counts as 0).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check srinspect conformance tests pcaps benchmarks fuzz
rc=0
.venv/bin/python -m pytest -q "$@" || rc=$?
if [ "$(id -u)" -eq 0 ]; then
    missing=$(.venv/bin/python -c 'from srinspect.kernel.probe import host_srv6_missing as m
print(m() or "")')
    if [ -n "$missing" ]; then
        echo "== kernel tests in a guest: the host kernel has no SRv6 ($missing)"
        grc=0
        .venv/bin/srinspect vm run --rwdir . -- .venv/bin/python -m pytest -m kernel --durations=12 \
            -p no:cacheprovider "$@" || grc=$?
        if [ "$grc" -eq 5 ]; then grc=0; fi
        if [ "$grc" -gt "$rc" ]; then rc=$grc; fi
    fi
fi
exit "$rc"
