#!/usr/bin/env bash
# Set up srinspect on a fresh Debian machine (run as root). Idempotent: installs only what is
# missing. System packages: gcc + python3-dev (the audit's compiled pre-filter), tshark
# (Wireshark cross-check), tcpdump and iperf3 (kernel samples, live capture, lab), iproute2
# (namespaces, SRv6 routes), and for kernels in guests (where the host kernel has no SRv6,
# and for the kernel matrix): qemu-system-x86, busybox-static, and a stock Debian kernel
# image (linux-image-amd64) unless /boot already holds one with SRv6.
# Python: a virtualenv in .venv with srinspect installed editable plus its test and vm
# extras (virtme-ng).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v dumpcap >/dev/null 2>&1 || need+=(tshark)
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
command -v iperf3 >/dev/null 2>&1 || need+=(iperf3)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
# The audit's compiled pre-filter (srinspect/_skim.c) needs a C compiler and Python's headers.
command -v gcc >/dev/null 2>&1 || need+=(gcc)
# Guests: QEMU, a static busybox for virtme-ng's initramfs, a kernel image with SRv6.
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
[ -x /bin/busybox ] || [ -x /usr/bin/busybox ] || need+=(busybox-static)
srv6_image=no
for cfg in /boot/config-*; do
    [ -e "$cfg" ] || continue
    rel=${cfg#/boot/config-}
    if [ -f "/boot/vmlinuz-$rel" ] && [ -d "/lib/modules/$rel" ] \
        && grep -q '^CONFIG_IPV6_SEG6_LWTUNNEL=y' "$cfg" \
        && grep -q '^CONFIG_IPV6_SEG6_HMAC=y' "$cfg"; then
        srv6_image=yes
    fi
done
[ "$srv6_image" = yes ] || need+=(linux-image-amd64)
python3 -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(
    sysconfig.get_paths()["include"], "Python.h")))' >/dev/null 2>&1 || need+=(python3-dev)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: need root to install: ${need[*]}" >&2
        exit 2
    fi
    echo "setup: installing ${need[*]} (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
stamp=.venv/.srinspect-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ setup.py -nt "$stamp" ] \
    || [ srinspect/_skim.c -nt "$stamp" ]; then
    echo "setup: installing Python packages into .venv" >&2
    .venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
    .venv/bin/pip install -q -e '.[test,vm]'
    touch "$stamp"
fi
# The bundled test keys are checked out 0644 by git; srinspect (rightly) warns about key
# files others can read, so give them the mode a real key file has.
chmod 600 pcaps/*keys*.toml 2>/dev/null || true
.venv/bin/python -c 'from srinspect import skim; print("setup: audit engine:", skim.describe())' >&2
echo "setup: ready (.venv/bin/srinspect)" >&2
