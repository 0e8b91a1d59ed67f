#!/usr/bin/env bash
# make_kernel_samples.sh - regenerate the kernel-made SRv6 sample captures in pcaps/.
#
# Rerun with:   sudo bash pcaps/make_kernel_samples.sh
# On a host whose kernel has no SRv6:  sudo .venv/bin/srinspect vm run --rwdir pcaps -- \
#                                          bash pcaps/make_kernel_samples.sh
#
# Needs root, iproute2 (ip netns, veth, seg6/seg6local routes, ip sr), tcpdump, python3
# (standard library only) and setsid (util-linux), and a kernel with CONFIG_IPV6_SEG6_LWTUNNEL
# and CONFIG_IPV6_SEG6_HMAC. Nothing outside the per-run namespaces is changed; the namespaces
# (named srk-<pid>-*) and the tcpdump processes are removed on exit, Ctrl-C or TERM, so the
# script can be rerun any number of times. Output files are replaced atomically.
#
# Topology (one network namespace per node, veth links, documentation addresses only):
#
#   host1 ------------ r1 ------------- r2 ------------- r3 ------------ host2
#        2001:db8:1::/64  2001:db8:12::/64  2001:db8:23::/64  2001:db8:2::/64
#   h1-r1 ::10    r1-h1 ::1   r1-r2 ::1   r2-r1 ::2   r2-r3 ::2   r3-r2 ::3   r3-h2 ::1   h2-r3 ::20, ::21
#                 lo fc00:1::1            lo fc00:2::1            lo fc00:3::1
#                 (headend,               (endpoint:              (endpoint/final:
#                  ip sr tunsrc            SRH processing with     SRH processing with
#                  fc00:1::1)              seg6_enabled=1;         seg6_enabled=1, decap
#                                          seg6local End SID       at SL=0 with NH 41;
#                                          fc00:2::e)              seg6local End.DX6 SID
#                                                                  fc00:3::d6)
#
#   Interface MACs are fixed: 02:00:00:00:<node>:<peer> with host1=11, r1=01, r2=02, r3=03,
#   host2=22 (e.g. r1's port towards r2 is 02:00:00:00:01:02), so the link a frame was
#   captured on can be told from its Ethernet addresses. Link-local addresses follow (EUI-64).
#   Return traffic (echo replies) is routed plainly, without SRv6.
#
# Traffic: host1 sends 3 ICMPv6 Echo Requests per destination, 0.2 s apart, id 0x5352,
# seq 1..3, 56 data bytes of the pattern "SR" (0x53 0x52) repeated - built by a small python
# sender instead of ping(8) so that every byte except the capture timestamps is the same on
# every run (ping puts a timestamp in its payload). Flow labels are 0 (auto_flowlabels=0).
# The sender fails the run unless every request gets its reply.
#
# Each capture is recorded on all four links at once (on r1-h1, r1-r2, r2-r3 and r3-h2: one
# tcpdump -U per link, Ethernet, default snaplen) and merged in time order into one classic
# pcap, so every packet appears once per link it crossed: before the headend, after it, after
# the endpoint and after the final node. Capture filter: IPv6 only, no Hop-by-Hop (MLD) and no
# ICMPv6 type >= 130 directly after the fixed header (MLD, RS/RA, NS/NA, redirect).
#
#   kernel-encap.pcap              r1: encap seg6 mode encap segs fc00:2::1,fc00:3::1 for
#                                  2001:db8:2::/64. SRH frames: SL=1 on r1-r2, SL=0 on r2-r3
#                                  (FS=1, NH 41); r3 decapsulates.
#   kernel-inline.pcap             r1: mode inline, same segments. SRH after the original
#                                  header, list [host2, fc00:3::1, fc00:2::1], FS=2; SL=2 on
#                                  r1-r2, 1 on r2-r3, 0 on r3-h2 (host2 consumes it).
#   kernel-hmac.pcap               like encap, with an HMAC TLV: key id 1 (HMAC-SHA256) for
#                                  2001:db8:2::20 and key id 2 (HMAC-SHA1) for 2001:db8:2::21.
#                                  The keys are set on r1, r2 and r3 (r2 and r3 verify the HMAC
#                                  and drop the packet if they do not know the key id).
#                                  Keys: kernel-hmac-keys.toml.
#   kernel-endpoint-seg6local.pcap encap segs fc00:2::e,fc00:3::d6: seg6local End on r2,
#                                  End.DX6 (nh6 host2) on r3.
#   kernel-hmac-keys.toml          the test-only HMAC keys, in the project's key-file format.
#
# Before writing, the script checks every capture (SRH frames present; every HMAC TLV in
# kernel-hmac.pcap equal to the draft-04/Linux HMAC computed from the key file) and prints a
# summary. See pcaps/README.md for a description of each file.

set -euo pipefail

if [[ ${EUID} -ne 0 ]]; then
    echo "make_kernel_samples.sh: must run as root (sudo bash $0)" >&2
    exit 1
fi
for tool in ip tcpdump python3 setsid; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "make_kernel_samples.sh: '$tool' not found" >&2
        exit 1
    fi
done

PYTHON=$(command -v python3)
# SRINSPECT_SAMPLES_OUT writes elsewhere (the tests regenerate into a temporary directory).
OUT_DIR=${SRINSPECT_SAMPLES_OUT:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
PREFIX="srk-$$-"
H1=${PREFIX}host1
R1=${PREFIX}r1
R2=${PREFIX}r2
R3=${PREFIX}r3
H2=${PREFIX}host2

# Test-only HMAC keys (published in kernel-hmac-keys.toml; not secret).
KEY1_ID=1 KEY1_ALGO=sha256 KEY1_SECRET=srinspect-sample-key-1
KEY2_ID=2 KEY2_ALGO=sha1 KEY2_SECRET=srinspect-sample-key-2

# No MLD (Hop-by-Hop), no ND/RS/RA/MLD ICMPv6 right after the fixed header.
CAPTURE_FILTER='ip6 and ip6[6] != 0 and not (ip6[6] == 58 and ip6[40] >= 130)'

NAMESPACES=()
TCPDUMP_PIDS=()
CAPTURE_FILES=()
TMP=$(mktemp -d /tmp/srk-$$-XXXXXX)
CLEANED=0

cleanup() {
    local rc=${1:-$?}
    trap - EXIT INT TERM
    if [[ $CLEANED -eq 0 ]]; then
        CLEANED=1
        set +e
        local pid ns
        for pid in "${TCPDUMP_PIDS[@]}"; do
            kill -TERM "$pid" 2>/dev/null
        done
        for pid in "${TCPDUMP_PIDS[@]}"; do
            wait "$pid" 2>/dev/null
        done
        for ns in "${NAMESPACES[@]}"; do
            ip netns del "$ns" 2>/dev/null
        done
        rm -rf "$TMP"
        rm -f "$OUT_DIR"/.srk-$$-*
    fi
    exit "$rc"
}
trap 'cleanup' EXIT
trap 'cleanup 130' INT
trap 'cleanup 143' TERM

say() { printf '%s\n' "$*"; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
nsysctl() { local ns=$1; shift; local kv; for kv in "$@"; do nsx "$ns" sysctl -q -w "$kv" >/dev/null; done; }

# ---------------------------------------------------------------------------------------------
# Helpers written to the temp dir: echo sender, pcap merger, checker.

cat >"$TMP/echo.py" <<'PYEOF'
"""Send COUNT ICMPv6 Echo Requests to DST (id 0x5352, seq 1..COUNT, 56 bytes "SR"*28),
INTERVAL s apart; exit 1 unless every one is answered within 1 s."""
import select, socket, struct, sys, time

dst, count, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
IDENT = 0x5352
PAYLOAD = b"SR" * 28
dst = socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, dst))
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)  # kernel fills checksum
answered = 0
for seq in range(1, count + 1):
    start = time.monotonic()
    s.sendto(struct.pack("!BBHHH", 128, 0, 0, IDENT, seq) + PAYLOAD, (dst, 0))
    deadline = start + 1.0
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            break
        data, addr = s.recvfrom(2048)
        if (len(data) >= 8 and data[0] == 129 and addr[0] == dst
                and struct.unpack("!HH", data[4:8]) == (IDENT, seq) and data[8:] == PAYLOAD):
            answered += 1
            break
    if seq < count:
        time.sleep(max(0.0, start + interval - time.monotonic()))
if answered != count:
    print(f"echo to {dst}: {answered}/{count} replies", file=sys.stderr)
    sys.exit(1)
PYEOF

cat >"$TMP/merge.py" <<'PYEOF'
"""merge.py OUT IN...: merge classic pcaps (same link type) in timestamp order."""
import struct, sys

out, inputs = sys.argv[1], sys.argv[2:]
records, header = [], None
for fi, path in enumerate(inputs):
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        e = "<"
    elif magic == b"\xa1\xb2\xc3\xd4":
        e = ">"
    else:
        sys.exit(f"{path}: not a microsecond classic pcap")
    _, _, _, _, _, snaplen, linktype = struct.unpack(e + "IHHiIII", data[:24])
    if header is None:
        header = (snaplen, linktype)
    elif linktype != header[1]:
        sys.exit(f"{path}: link type {linktype} differs")
    header = (max(header[0], snaplen), header[1])
    off, ri = 24, 0
    while off + 16 <= len(data):
        sec, usec, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        records.append(((sec, usec, fi, ri), orig, frame))
        off += 16 + incl
        ri += 1
records.sort(key=lambda r: r[0])
with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, header[0], header[1]))
    for (sec, usec, _, _), orig, frame in records:
        f.write(struct.pack("<IIII", sec, usec, len(frame), orig) + frame)
PYEOF

cat >"$TMP/check.py" <<'PYEOF'
"""check.py KEYS FILE...: summarise SRH frames; verify every HMAC TLV whose key is in KEYS
(id:algo:secret,...); exit 1 if a file has no SRH frame or an HMAC does not verify."""
import collections, hashlib, hmac, ipaddress, os, struct, sys

keys = {}
for item in sys.argv[1].split(","):
    kid, algo, secret = item.split(":", 2)
    keys[int(kid)] = (algo, secret.encode())
ok = True
for path in sys.argv[2:]:
    with open(path, "rb") as f:
        data = f.read()
    e = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    off, frames, kinds, hmacs_ok, hmacs_bad = 24, 0, collections.Counter(), 0, 0
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        fr = data[off + 16:off + 16 + incl]
        off += 16 + incl
        frames += 1
        if len(fr) < 54 or fr[12:14] != b"\x86\xdd":
            continue
        ip6, nh, p = fr[14:54], fr[20], 54
        while nh in (0, 43, 60) and p + 8 <= len(fr):
            if nh == 43 and fr[p + 2] == 4:
                break
            nh, p = fr[p], p + (fr[p + 1] + 1) * 8
        if nh != 43 or p + 8 > len(fr) or fr[p + 2] != 4:
            continue
        srh = fr[p:p + (fr[p + 1] + 1) * 8]
        sl, fs, flags = srh[3], srh[4], srh[5]
        segs = [srh[8 + 16 * i:24 + 16 * i] for i in range(fs + 1)]
        tlv, key = None, ""
        t = 8 + 16 * (fs + 1)
        if len(srh) - t >= 40 and srh[-40] == 5 and srh[-39] == 38:
            tlv = srh[-40:]
        if tlv is not None:
            kid = struct.unpack("!I", tlv[4:8])[0]
            key = f" hmac-key={kid}"
            if kid in keys:
                algo, secret = keys[kid]
                text = ip6[8:24] + bytes([fs, flags]) + tlv[4:8] + b"".join(segs)
                mac = hmac.new(secret, text, algo).digest().ljust(32, b"\0")
                if hmac.compare_digest(mac, tlv[8:40]):
                    hmacs_ok += 1
                    key += "(ok)"
                else:
                    hmacs_bad += 1
                    key += "(MISMATCH)"
                    ok = False
        da = str(ipaddress.IPv6Address(ip6[24:40]))
        lst = ",".join(str(ipaddress.IPv6Address(s)) for s in segs)
        kinds[f"SL={sl} FS={fs} flags=0x{flags:02x} nh={srh[0]} DA={da} list=[{lst}]{key}"] += 1
    n = sum(kinds.values())
    print(f"  {os.path.basename(path)}: {frames} frames, {n} with an SRH"
          + (f", {hmacs_ok} HMACs verified, {hmacs_bad} mismatches" if hmacs_ok or hmacs_bad else ""))
    for k, c in sorted(kinds.items()):
        print(f"    {c} x {k}")
    if n == 0:
        ok = False
sys.exit(0 if ok else 1)
PYEOF

# ---------------------------------------------------------------------------------------------
# Topology.

add_ns() { # name forwarding(0|1)
    ip netns add "$1"
    NAMESPACES+=("$1")
    nsysctl "$1" \
        net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
        net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
        net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.router_solicitations=0 \
        net.ipv6.conf.all.seg6_enabled=1 net.ipv6.conf.default.seg6_enabled=1 \
        net.ipv6.conf.all.forwarding="$2" \
        net.ipv6.auto_flowlabels=0
    ip -n "$1" link set lo up
}

add_link() { # ns_a if_a mac_a ns_b if_b mac_b
    ip -n "$1" link add "$2" address "$3" type veth peer name "$5" address "$6" netns "$4"
    ip -n "$1" link set "$2" up
    ip -n "$4" link set "$5" up
}

add_addr() { # ns prefix dev
    ip -n "$1" -6 addr add "$2" dev "$3" nodad
}

hmac_set() { # ns id algo secret
    # `ip sr hmac set` reads the secret with getpass(3), which prefers /dev/tty; setsid drops the
    # controlling terminal so that it reads the secret from stdin even in an interactive sudo.
    printf '%s\n' "$4" | setsid -w ip -n "$1" sr hmac set "$2" "$3" >/dev/null 2>&1
    if ! ip -n "$1" sr hmac show | grep -qxF "hmac $2 algo $3 secret \"$4\""; then
        echo "HMAC key $2 not set in $1" >&2
        exit 1
    fi
}

say "building namespaces ${PREFIX}*"
add_ns "$H1" 0
add_ns "$R1" 1
add_ns "$R2" 1
add_ns "$R3" 1
add_ns "$H2" 0

add_link "$H1" h1-r1 02:00:00:00:11:01 "$R1" r1-h1 02:00:00:00:01:11
add_link "$R1" r1-r2 02:00:00:00:01:02 "$R2" r2-r1 02:00:00:00:02:01
add_link "$R2" r2-r3 02:00:00:00:02:03 "$R3" r3-r2 02:00:00:00:03:02
add_link "$R3" r3-h2 02:00:00:00:03:22 "$H2" h2-r3 02:00:00:00:22:03

# Interfaces inherit default.*; set seg6_enabled on every interface explicitly anyway (the
# kernel uses min(all, interface)).
for ns in "${NAMESPACES[@]}"; do
    nsx "$ns" sh -c 'for f in /proc/sys/net/ipv6/conf/*/seg6_enabled; do echo 1 >"$f"; done'
done

add_addr "$H1" 2001:db8:1::10/64 h1-r1
add_addr "$R1" 2001:db8:1::1/64 r1-h1
add_addr "$R1" 2001:db8:12::1/64 r1-r2
add_addr "$R1" fc00:1::1/128 lo
add_addr "$R2" 2001:db8:12::2/64 r2-r1
add_addr "$R2" 2001:db8:23::2/64 r2-r3
add_addr "$R2" fc00:2::1/128 lo
add_addr "$R3" 2001:db8:23::3/64 r3-r2
add_addr "$R3" 2001:db8:2::1/64 r3-h2
add_addr "$R3" fc00:3::1/128 lo
add_addr "$H2" 2001:db8:2::20/64 h2-r3
add_addr "$H2" 2001:db8:2::21/64 h2-r3

# Plain routes (SR policies are added per capture below).
ip -n "$H1" -6 route add default via 2001:db8:1::1 dev h1-r1
ip -n "$R1" -6 route add fc00:2::/32 via 2001:db8:12::2 dev r1-r2
ip -n "$R1" -6 route add fc00:3::/32 via 2001:db8:12::2 dev r1-r2
ip -n "$R1" -6 route add 2001:db8:23::/64 via 2001:db8:12::2 dev r1-r2
ip -n "$R2" -6 route add fc00:1::/32 via 2001:db8:12::1 dev r2-r1
ip -n "$R2" -6 route add fc00:3::/32 via 2001:db8:23::3 dev r2-r3
ip -n "$R2" -6 route add 2001:db8:1::/64 via 2001:db8:12::1 dev r2-r1
ip -n "$R2" -6 route add 2001:db8:2::/64 via 2001:db8:23::3 dev r2-r3
ip -n "$R3" -6 route add fc00:1::/32 via 2001:db8:23::2 dev r3-r2
ip -n "$R3" -6 route add fc00:2::/32 via 2001:db8:23::2 dev r3-r2
ip -n "$R3" -6 route add 2001:db8:1::/64 via 2001:db8:23::2 dev r3-r2
ip -n "$R3" -6 route add 2001:db8:12::/64 via 2001:db8:23::2 dev r3-r2
ip -n "$H2" -6 route add default via 2001:db8:2::1 dev h2-r3

# Headend source address for encapsulation.
ip -n "$R1" sr tunsrc set fc00:1::1

# seg6local SIDs (used by kernel-endpoint-seg6local.pcap only; they answer nothing else).
ip -n "$R2" -6 route add fc00:2::e/128 encap seg6local action End dev r2-r3
ip -n "$R3" -6 route add fc00:3::d6/128 encap seg6local action End.DX6 nh6 2001:db8:2::20 dev r3-h2

# HMAC keys on the headend and on both endpoints (they verify it).
for ns in "$R1" "$R2" "$R3"; do
    hmac_set "$ns" "$KEY1_ID" "$KEY1_ALGO" "$KEY1_SECRET"
    hmac_set "$ns" "$KEY2_ID" "$KEY2_ALGO" "$KEY2_SECRET"
done

echo_from() { # ns dst count
    nsx "$1" "$PYTHON" "$TMP/echo.py" "$2" "$3" 0.2
}

# Warm up: check every hop and fill the neighbour caches, so captures hold no ND.
say "checking links"
echo_from "$H1" 2001:db8:1::1 1
echo_from "$R1" 2001:db8:12::2 1
echo_from "$R2" 2001:db8:23::3 1
echo_from "$R3" 2001:db8:2::20 1
echo_from "$R3" 2001:db8:2::21 1
echo_from "$R2" 2001:db8:12::1 1
echo_from "$R3" 2001:db8:23::2 1
echo_from "$H2" 2001:db8:2::1 1
echo_from "$R1" 2001:db8:1::10 1

# ---------------------------------------------------------------------------------------------
# Captures.

capture_start() { # tag ns iface
    local f="$TMP/$1.$3.pcap" i
    # A plain command (not a function) so that $! is tcpdump's own pid (ip netns exec execs it).
    # --immediate-mode: without it packets wait in the TPACKET_V3 ring for the 1 s block timeout
    # and the last ones are lost when tcpdump is stopped.
    ip netns exec "$2" tcpdump -i "$3" -n -U --immediate-mode -Z root -w "$f" "$CAPTURE_FILTER" 2>"$f.log" &
    TCPDUMP_PIDS+=("$!")
    CAPTURE_FILES+=("$f")
    for i in $(seq 50); do
        grep -q 'listening on' "$f.log" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "tcpdump on $2/$3 did not start:" >&2
    cat "$f.log" >&2
    exit 1
}

capture_stop() { # out
    local pid
    sleep 0.5
    # SIGTERM, not SIGINT: background jobs of a non-interactive shell may ignore SIGINT.
    for pid in "${TCPDUMP_PIDS[@]}"; do
        kill -TERM "$pid"
    done
    for pid in "${TCPDUMP_PIDS[@]}"; do
        wait "$pid" || true
    done
    TCPDUMP_PIDS=()
    "$PYTHON" "$TMP/merge.py" "$1" "${CAPTURE_FILES[@]}"
    CAPTURE_FILES=()
}

capture_links() { # tag
    capture_start "$1" "$R1" r1-h1
    capture_start "$1" "$R1" r1-r2
    capture_start "$1" "$R2" r2-r3
    capture_start "$1" "$R3" r3-h2
}

# $TMP/<file> (added to OUTPUTS): three echoes from host1 to host2 (2001:db8:2::20), captured
# on the four links (tcpdump files named after <tag>), with r1 steering host2's /64 over
# `encap seg6 mode <mode> segs <segs>`; the route is removed afterwards.
capture_route() { # file tag mode segs
    say "capturing $1"
    ip -n "$R1" -6 route add 2001:db8:2::/64 encap seg6 mode "$3" segs "$4" dev r1-r2
    capture_links "$2"
    echo_from "$H1" 2001:db8:2::20 3
    capture_stop "$TMP/$1"
    ip -n "$R1" -6 route del 2001:db8:2::/64
    OUTPUTS+=("$1")
}

install_outputs() { # name... : copy from $TMP into $OUT_DIR, atomically per file
    local f
    for f in "$@"; do
        cp "$TMP/$f" "$OUT_DIR/.srk-$$-$f"
        # The key file is 0600 like crafted-keys.toml (srinspect warns about readable key files).
        if [[ $f == *.toml ]]; then
            chmod 0600 "$OUT_DIR/.srk-$$-$f"
        else
            chmod 0644 "$OUT_DIR/.srk-$$-$f"
        fi
        if [[ -n ${SUDO_UID:-} && -n ${SUDO_GID:-} ]]; then
            chown "$SUDO_UID:$SUDO_GID" "$OUT_DIR/.srk-$$-$f"
        fi
        mv -f "$OUT_DIR/.srk-$$-$f" "$OUT_DIR/$f"
        say "wrote $OUT_DIR/$f"
    done
}

# make_kernel_samples_csid.sh sources this script up to here (topology up, helpers defined,
# cleanup trap set) and makes its own captures.
if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
    return 0
fi

OUTPUTS=()

# 1. encap mode
capture_route kernel-encap.pcap encap encap fc00:2::1,fc00:3::1

# 2. inline mode
capture_route kernel-inline.pcap inline inline fc00:2::1,fc00:3::1

# 3. encap mode with HMAC: key 1 (sha256) towards ::20, key 2 (sha1) towards ::21
say "capturing kernel-hmac.pcap"
ip -n "$R1" -6 route add 2001:db8:2::20/128 encap seg6 mode encap segs fc00:2::1,fc00:3::1 \
    hmac "$KEY1_ID" dev r1-r2
ip -n "$R1" -6 route add 2001:db8:2::21/128 encap seg6 mode encap segs fc00:2::1,fc00:3::1 \
    hmac "$KEY2_ID" dev r1-r2
capture_links hmac
echo_from "$H1" 2001:db8:2::20 3
echo_from "$H1" 2001:db8:2::21 3
capture_stop "$TMP/kernel-hmac.pcap"
ip -n "$R1" -6 route del 2001:db8:2::20/128
ip -n "$R1" -6 route del 2001:db8:2::21/128
OUTPUTS+=(kernel-hmac.pcap)

# 4. seg6local End on r2, End.DX6 on r3
capture_route kernel-endpoint-seg6local.pcap seg6local encap fc00:2::e,fc00:3::d6

cat >"$TMP/kernel-hmac-keys.toml" <<EOF
# Test-only keys used by pcaps/make_kernel_samples.sh (not secret).
[[key]]
id = $KEY1_ID
algo = "$KEY1_ALGO"
secret = "$KEY1_SECRET"

[[key]]
id = $KEY2_ID
algo = "$KEY2_ALGO"
secret = "$KEY2_SECRET"
EOF
OUTPUTS+=(kernel-hmac-keys.toml)

# ---------------------------------------------------------------------------------------------
# Check, then install.

say "checking captures"
"$PYTHON" "$TMP/check.py" \
    "$KEY1_ID:$KEY1_ALGO:$KEY1_SECRET,$KEY2_ID:$KEY2_ALGO:$KEY2_SECRET" \
    "$TMP"/kernel-*.pcap

install_outputs "${OUTPUTS[@]}"
