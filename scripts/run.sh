#!/usr/bin/env bash
# The main job on the built-in defaults: set up, then
#  1. audit every bundled capture in pcaps/ (kernel-made and crafted) with the bundled test
#     keys, each under the profile it was built for; the crafted captures hold one deliberate
#     violation per rule, so findings are expected (--fail-on never: the step succeeds when
#     the audit ran);
#  2. run the conformance catalogue against the built-in Linux DUT in network namespaces,
#     on the host kernel when it has SRv6, else in a guest booted from a stock kernel image
#     (`srinspect doctor` says which and why); evidence in out/conformance/. Linux fails one
#     draft-04 MUST by design, so exit status 1 there is reported, not fatal;
#  3. the SRv6 steering-lab demo (iperf3 steered through D,B,C,E, back, then via C), on the
#     same kernel choice, headless when stdout is not a terminal; SRINSPECT_SKIP_DEMO=1
#     leaves it out.
# Steps 2 and 3 need root; without it they are skipped with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
keys=()
for k in pcaps/*keys*.toml; do [ -e "$k" ] && keys+=(--keys "$k"); done
# Each capture under the profile (and C-SID format) it was built for: the kernel's and the
# draft-04 crafted frames under draft-04 (what Linux implements), the RFC 8754 crafted frames
# under rfc8754, the RFC 9800 ones (kernel-made next-csid, crafted C-SID frames) with their
# 2001:db8::/32 16-bit C-SID format.
plain=()
for f in pcaps/kernel-*.pcap pcaps/kernel-*.pcapng; do
    if [ -e "$f" ] && [ "$f" != pcaps/kernel-next-csid.pcap ]; then plain+=("$f"); fi
done
echo "== srinspect audit (draft-04): ${plain[*]} pcaps/crafted-draft04.pcapng"
.venv/bin/srinspect audit "${keys[@]}" --fail-on never "${plain[@]}" \
    pcaps/crafted-draft04.pcapng
echo "== srinspect audit --profile rfc8754: pcaps/crafted-rfc8754.pcapng"
.venv/bin/srinspect audit "${keys[@]}" --profile rfc8754 --fail-on never \
    pcaps/crafted-rfc8754.pcapng
echo "== srinspect audit --config pcaps/crafted-csid.toml (C-SIDs 2001:db8::/32/16):" \
    "pcaps/kernel-next-csid.pcap pcaps/crafted-csid.pcapng"
.venv/bin/srinspect audit "${keys[@]}" --config pcaps/crafted-csid.toml --fail-on never \
    pcaps/kernel-next-csid.pcap pcaps/crafted-csid.pcapng
if [ "$(id -u)" -ne 0 ]; then
    echo "== conformance and lab demo skipped: they need root (network namespaces, guests)"
    exit 0
fi
echo "== srinspect doctor (where the kernel DUT runs)"
.venv/bin/srinspect doctor | tail -n 1
echo "== srinspect conformance run (Linux kernel DUT in namespaces)"
rc=0
.venv/bin/srinspect conformance run --evidence out/conformance || rc=$?
if [ "$rc" -gt 1 ]; then exit "$rc"; fi
if [ -z "${SRINSPECT_SKIP_DEMO:-}" ]; then
    echo "== srinspect lab demo (steering an iperf3 flow in namespaces)"
    .venv/bin/srinspect lab demo --hold 3
fi
