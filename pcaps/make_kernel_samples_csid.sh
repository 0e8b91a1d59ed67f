#!/usr/bin/env bash
# make_kernel_samples_csid.sh - regenerate the kernel-made RFC 9800 NEXT-C-SID and
# H.Encaps.Red sample captures in pcaps/.
#
# Rerun with:   sudo bash pcaps/make_kernel_samples_csid.sh
# On a host whose kernel has no SRv6:  sudo .venv/bin/srinspect vm run --kernel 6.12 \
#                                          --rwdir pcaps -- bash pcaps/make_kernel_samples_csid.sh
#
# Sources make_kernel_samples.sh for everything but its captures: the same requirements,
# namespaces, topology, addresses, MACs, echo traffic, four-link capture, merge, check,
# cleanup and atomic install (SRINSPECT_SAMPLES_OUT included); see that script. Also needs a
# kernel with seg6local NEXT-C-SID flavours (Linux 6.1 or later). Added here:
#
#   r2: seg6local End SID 2001:db8:2::/48 flavors next-csid lblen 32 nflen 16  (C-SID 0x0002)
#   r3: seg6local End SID 2001:db8:3::/48 flavors next-csid lblen 32 nflen 16  (C-SID 0x0003)
#   routes for the C-SID block: r1 2001:db8:2::/48 and 2001:db8:3::/48 via r2, r2
#   2001:db8:3::/48 via r3 (host2's 2001:db8:2::/64 stays more specific everywhere).
#
#   kernel-next-csid.pcap   r1: encap seg6 mode encap.red segs 2001:db8:2:3::,fc00:3::d6 for
#                           2001:db8:2::/64 (locator block 2001:db8::/32, 16-bit C-SIDs:
#                           `--csid 2001:db8::/32/16`). DA 2001:db8:2:3:: (container: r2 then
#                           r3), reduced SRH [fc00:3::d6], SL 1, FS 0. r2 shifts the container:
#                           DA 2001:db8:3::, SL still 1. r3 finds no further C-SID: SL 0, DA
#                           fc00:3::d6, its End.DX6 SID, which decapsulates to host2.
#   kernel-encap-red.pcap   r1: encap seg6 mode encap.red segs fc00:2::e,fc00:3::1 for
#                           2001:db8:2::/64: DA fc00:2::e, reduced SRH [fc00:3::1], SL 1
#                           (= Last Entry + 1), FS 0; r2's seg6local End: SL 0, DA fc00:3::1;
#                           r3 decapsulates. (The first segment is r2's seg6local End SID, not
#                           fc00:2::1: the kernel's plain SRH handling of a local address
#                           answers SL = Last Entry + 1 with a Parameter Problem on 6.12.)

# shellcheck source=pcaps/make_kernel_samples.sh
source "$(dirname "${BASH_SOURCE[0]}")/make_kernel_samples.sh"

# C-SID End SIDs (NEXT-C-SID flavour) and the routes for the C-SID block.
# (Not dev lo: the kernel makes a route via lo without a gateway a reject route.)
ip -n "$R2" -6 route add 2001:db8:2::/48 encap seg6local action End \
    flavors next-csid lblen 32 nflen 16 dev r2-r3
ip -n "$R3" -6 route add 2001:db8:3::/48 encap seg6local action End \
    flavors next-csid lblen 32 nflen 16 dev r3-h2
ip -n "$R1" -6 route add 2001:db8:2::/48 via 2001:db8:12::2 dev r1-r2
ip -n "$R1" -6 route add 2001:db8:3::/48 via 2001:db8:12::2 dev r1-r2
ip -n "$R2" -6 route add 2001:db8:3::/48 via 2001:db8:23::3 dev r2-r3

OUTPUTS=()

# 1. NEXT-C-SID: a container for r2 and r3, then r3's End.DX6 SID
capture_route kernel-next-csid.pcap next-csid encap.red 2001:db8:2:3::,fc00:3::d6

# 2. H.Encaps.Red
capture_route kernel-encap-red.pcap encap-red encap.red fc00:2::e,fc00:3::1

say "checking captures"
"$PYTHON" "$TMP/check.py" "$KEY1_ID:$KEY1_ALGO:$KEY1_SECRET" "${OUTPUTS[@]/#/$TMP/}"
install_outputs "${OUTPUTS[@]}"
