"""Audit speed per SRv6 packet shape: srinspect (keys or none, 1 and N workers) vs tshark.

One capture per valid shape (N copies of one packet: plain SRH, encap, HMAC SHA-256 and SHA-1,
SRH behind Hop-by-Hop and Destination Options headers, Node TLVs, Ingress + Padding + HMAC,
and every distinct SRH-bearing frame shape of the kernel samples pcaps/kernel-*.pcap), "many
flows" captures in which no two packets share header bytes (a counter in the source and in
Segment List[0], every field derived from them rebuilt per packet: Node TLVs, HMAC) for the
encap, HMAC SHA-256, Hop-by-Hop + Destination Options, Node TLVs and Ingress + Padding + HMAC
shapes, and an evenly mixed one (every shape, plus 40 % plain IPv6 and IPv4 UDP). Every file
is first audited with the keys and must give 0 findings (a shape that does not is reported
and left out). The "before" numbers for the verdict cache; not a test: nothing here asserts
a time.

A verdict cache wins on repeated header bytes and must not lose where none repeat: the many
flows rows are its worst case. ``--compare-cache`` adds a keys, 1 worker column with
SRINSPECT_VERDICT_CACHE=0 (cache off; ignored by a srinspect without the cache), ``--pure``
one with SRINSPECT_PURE=1 (no compiled pre-filter), to set either against the keys, 1 worker
column.

    python benchmarks/bench_shapes.py --packets 300000 --markdown
    python benchmarks/bench_shapes.py --packets 2000 --repeat 1 --only "many flows" \\
        --compare-cache --pure
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from bench_audit import SRINSPECT, slice_of, srinspect_audit, timed, tshark  # noqa: E402
from make_mixed import IPV4_UDP, write_frames  # noqa: E402

from srinspect.build import (  # noqa: E402
    ETH_IPV4,
    addr,
    ethernet,
    inner_udp,
    ipv6_packet,
    segments_spec,
    srv6_packet,
    udp,
    with_hmac,
)
from srinspect.keys import Key  # noqa: E402
from srinspect.sources import open_capture  # noqa: E402
from srinspect.srh import SrhSpec, node_tlv, padding_tlv, push_srh  # noqa: E402

KEYS = REPO / "pcaps" / "kernel-hmac-keys.toml"  # the crafted HMAC shapes use its secrets
KEY_SHA256 = Key(1, "sha256", b"srinspect-sample-key-1")
KEY_SHA1 = Key(2, "sha1", b"srinspect-sample-key-2")
SRC = "2001:db8:a::1"
SEGS = ["2001:db8:f::1", "2001:db8:3::1", "2001:db8:2::1"]  # wire order: [0] is final
INNER = inner_udp("2001:db8:a::100", "2001:db8:f::100")
PAD_OPTS = b"\x01\x04\x00\x00\x00\x00"  # PadN filling an 8-byte options header
#: An IPv6 packet of one shape, from its (source, Segment List[0]): everything that must agree
#: with them (Ingress/Egress Node TLVs, HMAC) is derived, so one definition serves both the
#: repeated-packet file and the many-flows file of the shape.
ShapeBuilder = Callable[[bytes, bytes], bytes]


def encap(seg0: str | bytes = SEGS[0], tlvs: tuple[bytes, ...] = ()) -> SrhSpec:
    """The encap SRH (SL 1, so the DA is SEGS[1] whatever ``seg0`` is)."""
    return SrhSpec([seg0, *SEGS[1:]], segments_left=1, tlvs=tlvs)


def inline_udp() -> bytes:
    final = "2001:db8:f::100"
    return srv6_packet(SRC, segments_spec([final, *SEGS[1:]], segments_left=2, next_header=17),
                       udp(SRC, final, 1000, 2000, b"inline payload"))


def plain_encap(src: bytes, seg0: bytes) -> bytes:
    return srv6_packet(src, encap(seg0), INNER)


def hmac_encap(key: Key) -> ShapeBuilder:
    """Encap with an HMAC TLV under ``key``, computed over this packet's source and list."""
    def build(src: bytes, seg0: bytes) -> bytes:
        return srv6_packet(src, with_hmac(encap(seg0), src, key), INNER)
    return build


def behind_hbh_dopt(src: bytes, seg0: bytes) -> bytes:
    hbh = bytes((60, 0)) + PAD_OPTS
    dopt = bytes((43, 0)) + PAD_OPTS
    return ipv6_packet(src, SEGS[1], 0, hbh + dopt + push_srh(encap(seg0)) + INNER)


def node_tlvs(src: bytes, seg0: bytes) -> bytes:
    """Ingress Node = the source, Egress Node = Segment List[0] (the audit checks both)."""
    return srv6_packet(src, encap(seg0, (node_tlv(1, src), node_tlv(2, seg0))), INNER)


def ingress_padding_hmac(src: bytes, seg0: bytes) -> bytes:
    """Ingress Node = the source; the Padding TLV puts the HMAC TLV 24 bytes further in."""
    spec = encap(seg0, (node_tlv(1, src), padding_tlv(4)))
    return srv6_packet(src, with_hmac(spec, src, KEY_SHA256), INNER)


HBH_DOPT = "SRH after Hop-by-Hop + Destination Options"
NODE_TLVS = "Ingress + Egress Node TLVs"
INGRESS_PADDING_HMAC = "Ingress + Padding + HMAC TLVs"
#: The crafted shapes after the inline one, in table order.
ENCAP_SHAPES: list[tuple[str, ShapeBuilder]] = [
    ("encap (inner IPv6), 3 segments", plain_encap),
    ("HMAC TLV SHA-256", hmac_encap(KEY_SHA256)),
    ("HMAC TLV SHA-1", hmac_encap(KEY_SHA1)),
    (HBH_DOPT, behind_hbh_dopt),
    (NODE_TLVS, node_tlvs),
    (INGRESS_PADDING_HMAC, ingress_padding_hmac),
]
#: (row name, shape in ENCAP_SHAPES) of the many-flows files. The first two keep the names of
#: the rows in benchmarks/README.md; the slow shapes are there to show whether a verdict cache
#: costs anything when no header repeats.
MANY_FLOWS: list[tuple[str, str]] = [
    ("many flows: distinct source + Segment List[0] per packet", "encap (inner IPv6), 3 segments"),
    ("many flows + HMAC SHA-256 per packet", "HMAC TLV SHA-256"),
    *((f"many flows: {shape}", shape) for shape in (HBH_DOPT, NODE_TLVS, INGRESS_PADDING_HMAC)),
]


def crafted_shapes() -> list[tuple[str, bytes]]:
    src, seg0 = addr(SRC), addr(SEGS[0])
    return [("plain SRH, 3 segments, inline (UDP)", inline_udp()),
            *((name, build(src, seg0)) for name, build in ENCAP_SHAPES)]


def shape_of(ip: bytes) -> str | None:
    """A description of the header chain of an IPv6 packet with an SRH (None without one):
    headers before the SRH, the SRH's SL/First Segment/flags/TLV types, the upper layer."""
    if len(ip) < 40 or ip[0] >> 4 != 6:
        return None
    nh, off, chain, srh = ip[6], 40, [], ""
    while nh in (0, 43, 60) and off + 8 <= len(ip):
        hlen = (ip[off + 1] + 1) * 8
        if nh == 43 and ip[off + 2] == 4:
            tlvs, t = [], off + 8 + 16 * (ip[off + 4] + 1)
            while t < off + hlen:
                tlvs.append(str(ip[t]))
                t += 1 if ip[t] == 0 else 2 + ip[t + 1]
            srh = (f"SRH SL {ip[off + 3]}/{ip[off + 4]}, flags 0x{ip[off + 5]:02x}"
                   + (f", TLVs {'+'.join(tlvs)}" if tlvs else ""))
        else:
            chain.append({0: "HbH", 60: "DestOpt", 43: f"RH{ip[off + 2]}"}[nh])
        nh, off = ip[off], off + hlen
    if not srh:
        return None
    return " + ".join([*chain, srh]) + f", NH {nh}"


def kernel_shapes() -> list[tuple[str, bytes]]:
    """One frame per distinct SRH shape in pcaps/kernel-*.pcap (Ethernet frames, first seen)."""
    seen: dict[str, tuple[str, bytes]] = {}
    for path in sorted(REPO.glob("pcaps/kernel-*.pcap")):
        with open_capture(path) as reader:
            for n, frame in enumerate(reader, 1):
                if frame.linktype != 1 or frame.data[12:14] != b"\x86\xdd":
                    continue
                shape = shape_of(bytes(frame.data[14:]))
                if shape and shape not in seen:
                    seen[shape] = (f"kernel {path.stem.removeprefix('kernel-')} #{n}: {shape}",
                                   bytes(frame.data[14:]))
    return list(seen.values())


def repeat(frame: bytes, packets: int) -> Iterable[bytes]:
    for _ in range(packets):
        yield frame


def many_flows(build: ShapeBuilder, packets: int) -> Iterable[bytes]:
    """Ethernet frames of one shape in which no two share header bytes: packet i (from 1) has
    source 2001:db8:a::/96 + i and Segment List[0] 2001:db8:f::/96 + i (the last 32 bits;
    SL 1, so the DA is fixed). Each packet is built whole by ``build`` rather than patched
    in a template, so that whatever depends on those two addresses (Node TLVs, an HMAC over
    the source and the whole list, wherever the TLVs put it) is right for every packet;
    about 30 us a packet with an HMAC, 10 s for 300k."""
    src, seg0 = bytearray(addr(SRC)), bytearray(addr(SEGS[0]))
    for i in range(1, packets + 1):
        tag = struct.pack("!I", i & 0xFFFFFFFF)
        src[12:] = tag
        seg0[12:] = tag
        yield ethernet(build(bytes(src), bytes(seg0)))


def mixed(shapes: list[bytes], packets: int) -> Iterable[bytes]:
    """60 % SRv6 taken round-robin from ``shapes``, 20 % plain IPv6 UDP, 20 % IPv4 UDP,
    interleaved in a period of 10."""
    plain6 = ethernet(inner_udp("2001:db8:1::10", "2001:db8:2::20", b"x" * 32))
    plain4 = ethernet(IPV4_UDP, ethertype=ETH_IPV4)
    pattern = "s6s4ss6s4s"
    k = 0
    for i in range(packets):
        c = pattern[i % 10]
        if c == "s":
            yield shapes[k % len(shapes)]
            k += 1
        else:
            yield plain6 if c == "6" else plain4


def audit_summary(path: Path, keys: bool) -> dict:
    cmd = [*SRINSPECT, "audit", "--workers", "1", "--format", "json", "--fail-on", "never"]
    out = subprocess.run([*cmd, *(["--keys", str(KEYS)] if keys else []), str(path)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)["summary"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packets", type=int, default=300_000, help="packets per file")
    ap.add_argument("--workers", type=int, default=2, help="the N of the N-workers rows")
    ap.add_argument("--repeat", type=int, default=3, help="best of N for srinspect runs")
    ap.add_argument("--tshark-slice", type=int, default=0,
                    help="tshark on the first N packets of each file, rate scaled (0: all)")
    ap.add_argument("--only", default="", help="only shapes whose name contains this")
    ap.add_argument("--compare-cache", "--cache-off-column", action="store_true",
                    help="add a keys, 1 worker column with SRINSPECT_VERDICT_CACHE=0 (cache off)")
    ap.add_argument("--pure", action="store_true",
                    help="add a keys, 1 worker column with SRINSPECT_PURE=1 (no C pre-filter)")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    if not shutil.which("tshark"):
        sys.exit("tshark not found")
    with tempfile.TemporaryDirectory(prefix="srinspect-shapes-") as tmp:
        return run(args, Path(tmp))


#: One srinspect column: heading, workers, with the keys, extra environment.
Column = tuple[str, int, bool, dict[str, str]]


def columns(args: argparse.Namespace) -> list[Column]:
    """The srinspect columns: keys or none, 1 and N workers, then the optional keys,
    1 worker runs with the verdict cache off (--compare-cache) and in pure Python (--pure),
    each next to the same run with everything on."""
    w = args.workers
    cols: list[Column] = [("keys, 1 worker", 1, True, {}), (f"keys, {w} workers", w, True, {}),
                          ("no keys, 1 worker", 1, False, {}),
                          (f"no keys, {w} workers", w, False, {})]
    if args.compare_cache:
        cols.append(("keys, 1 worker, cache off", 1, True, {"SRINSPECT_VERDICT_CACHE": "0"}))
    if args.pure:
        cols.append(("keys, 1 worker, pure Python", 1, True, {"SRINSPECT_PURE": "1"}))
    return cols


def run(args: argparse.Namespace, work: Path) -> int:
    shapes = [(name, ethernet(ip)) for name, ip in [*crafted_shapes(), *kernel_shapes()]]
    # keep only the shapes that audit clean with the keys (checked on a one-packet file)
    valid: list[tuple[str, bytes]] = []
    for i, (name, frame) in enumerate(shapes):
        probe = work / f"probe-{i}.pcap"
        write_frames(probe, [frame])
        summary = audit_summary(probe, keys=True)
        if summary["findings"] or summary["srh_packets"] != 1:
            print(f"  left out, not a clean SRv6 shape: {name}: {summary['by_rule']}",
                  file=sys.stderr)
        else:
            valid.append((name, frame))
        probe.unlink()
    files: list[tuple[str, Path, Iterable[bytes]]] = [
        (name, work / f"shape-{i}.pcap", repeat(frame, args.packets))
        for i, (name, frame) in enumerate(valid)]
    builders = dict(ENCAP_SHAPES)
    valid_names = {name for name, _ in valid}
    for i, (row, shape) in enumerate(MANY_FLOWS):
        if shape in valid_names:  # a shape left out above is left out here too
            files.append((row, work / f"flows-{i}.pcap",
                          many_flows(builders[shape], args.packets)))
    files.append((f"evenly mixed: {len(valid)} shapes 60 %, IPv6/IPv4 UDP 40 %",
                  work / "mixed.pcap", mixed([f for _, f in valid], args.packets)))
    files = [f for f in files if args.only in f[0]]
    keys = ["--keys", str(KEYS)]
    cols = columns(args)
    rows = []
    for name, path, frames in files:
        n = write_frames(path, frames)
        with_keys = audit_summary(path, keys=True)  # also brings the file into the page cache
        without = audit_summary(path, keys=False)
        if with_keys["findings"]:
            print(f"  FINDINGS with keys in {name}: {with_keys['by_rule']}", file=sys.stderr)
        t_in = path
        if args.tshark_slice and args.tshark_slice < n:
            t_in = slice_of(path, args.tshark_slice, work / "tshark-slice.pcap")
        t_n, t_s = timed(tshark(t_in))
        cells = []
        for _, w, with_k, env in cols:
            _, secs = timed(srinspect_audit(path, w, keys if with_k else [], env=env),
                            args.repeat)
            cells.append(n / secs)
        rows.append((name, n, path.stat().st_size, t_n / t_s, t_n < n, cells,
                     with_keys["findings"], without["findings"]))
        print(f"  {name}: tshark {t_n / t_s:,.0f}/s, srinspect "
              + ", ".join(f"{c:,.0f}/s" for c in cells), file=sys.stderr)
        path.unlink()
    print_table(rows, [c[0] for c in cols], args.markdown)
    return 0


def print_table(rows: list, col_heads: list[str], md: bool) -> None:
    heads = ["shape", "packets", "MB", "tshark pkt/s", *col_heads, "findings (keys / none)"]
    if md:
        print("| " + " | ".join(heads) + " |")
        print("|---|" + "---:|" * (len(heads) - 1))
    for name, n, size, t_rate, sliced, cells, fk, fn in rows:
        vals = [name, str(n), f"{size / 1e6:.0f}", f"{t_rate:,.0f}" + (" (slice)" if sliced
                                                                       else "")]
        vals += [f"{c:,.0f} ({c / t_rate:.1f}x)" for c in cells]
        vals.append(f"{fk} / {fn}")
        if md:
            print("| " + " | ".join(vals) + " |")
        else:
            print("  ".join(vals))


if __name__ == "__main__":
    sys.exit(main())
