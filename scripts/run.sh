#!/usr/bin/env bash
# The main job on the built-in defaults: set up, then
#  1. audit every bundled capture in pcaps/ (kernel-made and crafted) with the bundled test
#     keys; the crafted captures hold one deliberate violation per rule, so findings are
#     expected (--fail-on never: the step succeeds when the audit ran);
#  2. run the conformance catalogue against the built-in Linux DUT in network namespaces
#     (root and an SRv6 kernel needed), evidence in out/conformance/; Linux fails one draft-04
#     MUST by design, so exit status 1 there is reported, not fatal;
#  3. the SRv6 steering-lab demo (iperf3 steered through D,B,C,E, back, then via C), headless
#     when stdout is not a terminal; set SRINSPECT_SKIP_DEMO=1 to leave it out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
keys=()
for k in pcaps/*keys*.toml; do [ -e "$k" ] && keys+=(--keys "$k"); done
echo "== srinspect audit pcaps/"
.venv/bin/srinspect audit "${keys[@]}" --fail-on never pcaps/
if [ "$(id -u)" -eq 0 ] && [ -e /proc/sys/net/ipv6/conf/all/seg6_enabled ]; then
    echo "== srinspect conformance run (Linux kernel DUT in namespaces)"
    rc=0
    .venv/bin/srinspect conformance run --evidence out/conformance || rc=$?
    if [ "$rc" -gt 1 ]; then exit "$rc"; fi
    if [ -z "${SRINSPECT_SKIP_DEMO:-}" ]; then
        echo "== srinspect lab demo (steering an iperf3 flow in namespaces)"
        .venv/bin/srinspect lab demo --hold 3
    fi
else
    echo "== conformance and lab demo skipped: need root and a kernel with SRv6 (seg6)"
fi
