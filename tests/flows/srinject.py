"""Crafted SRv6 frames written to an interface with an AF_PACKET socket: the traffic of the
live capture tests, with no SRv6 needed in the kernel.

The frames are what a Linux SR ingress (``encap seg6`` route, ``ip sr tunsrc``) sent before
these tests injected them: Ethernet from the interface's own MAC to its peer's, outer IPv6
from the tunnel source with an SRH (flags and tag 0, Segments Left = Last Entry) carrying
the segment list, then the inner IPv6/UDP packet; with ``encap.red`` and a single segment,
no SRH at all (the SID is the Destination Address, Next Header 41). Bytes come from
srinspect's own builders (``srinspect.build``), so the tests exercise no second encoder.

Frames are written on the captured interface itself: a capture there sees them as sent by
the host (outgoing, source MAC = the interface's), as it saw the kernel's encapsulated
packets. Run inside the namespace of that interface, ``ip netns exec NS python srinject.py``:

- without ``--count``/``--duration``: ``ready`` on stdout, then one batch per stdin line
  ``IFACE PEER_MAC COUNT GAP DEST SEGS MODE`` (SEGS comma-separated in travel order, as an
  ``encap seg6 ... segs`` route writes them; MODE ``encap`` or ``encap.red``), answered by
  ``sent COUNT`` or ``error MESSAGE`` on stdout. Each batch opens a new socket, so an
  interface deleted and created again between batches is found by its name;
- with ``--count N`` or ``--duration S``: one batch from the options, ``sending`` printed
  once the socket is open (a readiness signal for the caller), exit status 1 on error.

All datagrams of one process have the same UDP source port (``--sport``), so the packets
to one destination make one flow however many batches carry them.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from collections.abc import Sequence

from srinspect.build import ethernet, ipv6_packet, srv6_packet, udp
from srinspect.srh import SrhSpec

SR_SOURCE = "2001:db8:20::1"  # the tunnel source (what `ip sr tunsrc` set)
SRC_HOST = "2001:db8:10::1"  # the host behind the SR ingress
PAYLOAD = b"srinspect flow test payload"
NH_IPV6 = 41


def mac_bytes(text: str) -> bytes:
    raw = bytes.fromhex(text.replace(":", ""))
    if len(raw) != 6:
        raise ValueError(f"not a MAC address: {text!r}")
    return raw


def srv6_frame(src_mac: bytes, dst_mac: bytes, segs: Sequence[str], dest: str, *,
               mode: str = "encap", source: str = SR_SOURCE, inner_source: str = SRC_HOST,
               sport: int = 40001, dport: int = 9, payload: bytes = PAYLOAD) -> bytes:
    """One Ethernet frame of ``inner_source -> dest`` UDP encapsulated along ``segs``.

    ``segs`` is in travel order (segs[0] is the first segment, the DA on the wire); the SRH
    stores the list reversed, Segment List[0] being the final segment. The inner hop limit
    is the sender's 64, the outer one 63 (the ingress forwarded the packet once).
    """
    if not segs:
        raise ValueError("at least one segment")
    inner = ipv6_packet(inner_source, dest, 17, udp(inner_source, dest, sport, dport, payload))
    if mode == "encap":
        outer = srv6_packet(source, SrhSpec(list(reversed(segs))), inner, hop_limit=63)
    elif mode == "encap.red":
        if len(segs) == 1:  # no SRH: the only SID is the DA
            outer = ipv6_packet(source, segs[0], NH_IPV6, inner, hop_limit=63)
        else:  # the first SID only in the DA; Segments Left one past Last Entry
            spec = SrhSpec(list(reversed(segs[1:])), segments_left=len(segs) - 1,
                           first_segment=len(segs) - 2)
            outer = srv6_packet(source, spec, inner, dst=segs[0], hop_limit=63)
    else:
        raise ValueError(f"unknown mode {mode!r} (encap or encap.red)")
    return ethernet(outer, src=src_mac, dst=dst_mac)


def iface_mac(iface: str) -> bytes:
    with open(f"/sys/class/net/{iface}/address", encoding="ascii") as fh:
        return mac_bytes(fh.read().strip())


def open_socket(iface: str) -> socket.socket:
    """A packet socket that sends on ``iface`` (protocol 0: it receives nothing)."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        sock.bind((iface, 0))
    except OSError:
        sock.close()
        raise
    return sock


def send_batch(sock: socket.socket, frame: bytes, count: int, gap: float) -> None:
    for n in range(count):
        sent = sock.send(frame)
        if sent != len(frame):
            raise OSError(f"short write: {sent} of {len(frame)} bytes")
        if gap and n + 1 < count:
            time.sleep(gap)


def serve(args: argparse.Namespace) -> int:
    """One batch per stdin line (see the module docstring); ``ready`` first."""
    print("ready", flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            iface, peer, count, gap, dest, segs, mode = line.split()
            frame = srv6_frame(iface_mac(iface), mac_bytes(peer), segs.split(","), dest,
                               mode=mode, source=args.source, inner_source=args.inner_source,
                               sport=args.sport)
            with open_socket(iface) as sock:
                send_batch(sock, frame, int(count), float(gap))
        except (OSError, ValueError) as exc:
            print(f"error {type(exc).__name__}: {exc}", flush=True)
            continue
        print(f"sent {count}", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iface", help="one-shot mode: the interface to write to")
    parser.add_argument("--peer-mac", help="one-shot mode: destination MAC of the frames")
    parser.add_argument("--segs", help="one-shot mode: segments in travel order, a,b,...")
    parser.add_argument("--dest", default="2001:db8:d1::1", help="inner destination")
    parser.add_argument("--mode", default="encap", choices=("encap", "encap.red"))
    parser.add_argument("--count", type=int, help="one-shot mode: send COUNT frames")
    parser.add_argument("--duration", type=float, help="one-shot mode: send for S seconds")
    parser.add_argument("--gap", type=float, default=0.01, help="seconds between frames")
    parser.add_argument("--source", default=SR_SOURCE, help="outer source (tunnel source)")
    parser.add_argument("--inner-source", default=SRC_HOST)
    parser.add_argument("--sport", type=int, default=40001, help="inner UDP source port")
    args = parser.parse_args(argv)
    if args.count is None and args.duration is None:
        return serve(args)
    if not (args.iface and args.peer_mac and args.segs):
        parser.error("--count/--duration need --iface, --peer-mac and --segs")
    frame = srv6_frame(iface_mac(args.iface), mac_bytes(args.peer_mac), args.segs.split(","),
                       args.dest, mode=args.mode, source=args.source,
                       inner_source=args.inner_source, sport=args.sport)
    with open_socket(args.iface) as sock:
        print("sending", flush=True)
        if args.count is not None:
            send_batch(sock, frame, args.count, args.gap)
        else:
            end = time.monotonic() + args.duration
            while time.monotonic() < end:
                send_batch(sock, frame, 1, 0)
                time.sleep(args.gap)
    return 0


if __name__ == "__main__":
    sys.exit(main())
