#!/usr/bin/env bash
# make_kernel_samples_behaviours.sh - regenerate pcaps/kernel-behaviours.pcapng: the Linux
# kernel's own answers to the RFC 8986 behaviours and headends that need more than the
# four-node topology of make_kernel_samples.sh (a VRF, IPv4 on a link, an L2 frame).
#
# Rerun with:   sudo bash pcaps/make_kernel_samples_behaviours.sh
# On a host whose kernel has no SRv6:  sudo .venv/bin/srinspect vm run --kernel 6.12 \
#                                 --rwdir pcaps -- bash pcaps/make_kernel_samples_behaviours.sh
#
# How: the conformance suite's Linux DUT (namespaces of this kernel) runs the cases below and
# keeps its evidence, one pcapng per case with every frame sent to and received from the DUT,
# each frame commented (what it is, the case, its verdict); they are concatenated with
# mergecap, in the order below. The frames sent are srinspect's, the frames received the
# kernel's:
#
#   end-dt4              SRv6 (SL 0) carrying IPv4 to an End.DT4 SID in a VRF -> the IPv4
#                        packet routed out of the table's link (TTL-1)
#   end-dt46             the same with IPv6 inside, End.DT46
#   end-dx2              SRv6 carrying an Ethernet frame (Next Header 143) to End.DX2 -> the
#                        frame out of the cross-connect
#   end-psp              End with the PSP flavour at SL 1 -> SL 0, DA updated, SRH popped
#   headend-l2encap      a frame received by an H.Encaps.L2 policy (mode l2encap) -> outer
#                        IPv6 + SRH, Next Header 143, the frame inside
#   headend-l2encap-red  the same with mode l2encap.red: the first segment only in the DA
#
# Every case must PASS on the kernel it runs on (6.12 passes them all; 6.1 has no PSP), so
# that the sample shows each behaviour as the RFC describes it; the script stops otherwise.
# The capture audits clean under both profiles. Needs root, a kernel with SRv6, tshark's
# mergecap, and srinspect in .venv (scripts/setup.sh).
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
OUT=${SRINSPECT_SAMPLES_OUT:-pcaps}/kernel-behaviours.pcapng
CASES=(end-dt4 end-dt46 end-dx2 end-psp headend-l2encap headend-l2encap-red)

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
args=()
for c in "${CASES[@]}"; do args+=(--case "$c"); done

echo "== running ${#CASES[@]} conformance cases on $(uname -r)"
"$PYTHON" -m srinspect conformance run --kernel host --profile rfc8986 "${args[@]}" \
    --evidence "$TMP/ev" --format json -o "$TMP/report.json" || true

"$PYTHON" - "$TMP/report.json" "${CASES[@]}" <<'EOF'
import json, sys
report, wanted = sys.argv[1], sys.argv[2:]
verdicts = {c["id"]: (c["verdict"], c["detail"]) for c in json.load(open(report))["cases"]}
bad = [f"{c}: {verdicts.get(c, ('missing', ''))}" for c in wanted
       if verdicts.get(c, ("missing",))[0] != "PASS"]
if bad:
    sys.exit("these cases do not PASS on this kernel, no sample written:\n  " + "\n  ".join(bad))
EOF

files=()
for c in "${CASES[@]}"; do files+=("$TMP/ev/rfc8986/$c.pcapng"); done
mergecap -a -F pcapng -w "$TMP/kernel-behaviours.pcapng" "${files[@]}"
cp "$TMP/kernel-behaviours.pcapng" "$OUT.tmp-$$"
chmod 0644 "$OUT.tmp-$$"
if [[ -n ${SUDO_UID:-} && -n ${SUDO_GID:-} ]]; then chown "$SUDO_UID:$SUDO_GID" "$OUT.tmp-$$"; fi
mv -f "$OUT.tmp-$$" "$OUT"
echo "wrote $OUT"
