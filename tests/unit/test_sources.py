"""Capture readers (pcap, pcapng, gzip, stdin) and the pcapng writer.

Every file is built here byte by byte with ``struct`` (not with the writer under test), so a
mistake shared by reader and writer cannot hide. The third-party Wireshark sample and
tshark/editcap (when installed) are the outside ground truth.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import struct
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from srinspect.errors import CaptureFormatError
from srinspect.frame import Frame
from srinspect.sinks.pcapng_writer import PcapngWriter, split_ts, ts_to_ns, write_pcap
from srinspect.sources import (
    CaptureReader,
    InterfaceStats,
    PcapngReader,
    from_stream,
    open_capture,
)
from srinspect.sources.pcap import CHUNK_SIZE, make_frame
from srinspect.sources.pcapng import MAX_BLOCK_LEN

# A minimal IPv6 header (version 6, next header 59 = no next header) and an IPv4 one.
IPV6 = bytes.fromhex("60000000 0000 3b 40") + bytes(32)
IPV4 = bytes.fromhex("4500001400000000 4000 0000") + bytes(8)

# --- builders: classic pcap ----------------------------------------------------------------


def pcap_header(
    order: str = "<", *, nano: bool = False, snaplen: int = 65535, linktype: int = 101
) -> bytes:
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    return struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)


def pcap_record(
    data: bytes, sec: int, frac: int, order: str = "<", *, caplen: int | None = None
) -> bytes:
    caplen = len(data) if caplen is None else caplen
    return struct.pack(order + "IIII", sec, frac, caplen, len(data) + 4) + data


def payloads(n: int) -> list[bytes]:
    """Distinct packets of varying length (including 0 and non-multiples of 4)."""
    return [IPV6 + bytes([i % 256]) * (i % 7) for i in range(n)]


def simple_pcap(n: int = 3, order: str = "<", nano: bool = False) -> tuple[bytes, list[int]]:
    """A pcap of n records and the byte offset where each record starts."""
    out = bytearray(pcap_header(order, nano=nano))
    starts = []
    for i, data in enumerate(payloads(n)):
        starts.append(len(out))
        out += pcap_record(data, 1_700_000_000 + i, 250 * (i + 1), order)
    return bytes(out), starts


# --- builders: pcapng ----------------------------------------------------------------------


def block(order: str, btype: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) & 3)
    total = 12 + len(body)
    return struct.pack(order + "II", btype, total) + body + struct.pack(order + "I", total)


def opt(order: str, code: int, value: bytes) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\x00" * (-len(value) & 3)


def opts(order: str, *items: bytes) -> bytes:
    return b"".join(items) + struct.pack(order + "HH", 0, 0) if items else b""


def shb(order: str = "<") -> bytes:
    return block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(order: str, linktype: int, snaplen: int = 0, *options: bytes) -> bytes:
    return block(order, 1, struct.pack(order + "HHI", linktype, 0, snaplen) + opts(order, *options))


def epb(
    order: str, ifid: int, ticks: int, data: bytes, *options: bytes, orig_len: int | None = None
) -> bytes:
    orig = len(data) if orig_len is None else orig_len
    fixed = struct.pack(order + "IIIII", ifid, ticks >> 32, ticks & 0xFFFFFFFF, len(data), orig)
    return block(order, 6, fixed + data + b"\x00" * (-len(data) & 3) + opts(order, *options))


def spb(order: str, data: bytes, orig_len: int) -> bytes:
    return block(order, 3, struct.pack(order + "I", orig_len) + data)


def isb(order: str, ifid: int, ticks: int, *options: bytes) -> bytes:
    fixed = struct.pack(order + "III", ifid, ticks >> 32, ticks & 0xFFFFFFFF)
    return block(order, 5, fixed + opts(order, *options))


def u64(order: str, value: int) -> bytes:
    return struct.pack(order + "Q", value)


# --- helpers -------------------------------------------------------------------------------


def write(tmp_path: Path, data: bytes, name: str = "cap") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read_all(path: Path | str, **kw: object) -> list[Frame]:
    with open_capture(path, **kw) as cap:  # type: ignore[arg-type]
        return list(cap)


def read_until_error(cap: CaptureReader) -> tuple[list[Frame], CaptureFormatError]:
    """Collect frames until the reader raises; fail the test if it does not."""
    frames: list[Frame] = []
    with pytest.raises(CaptureFormatError) as info:
        for frame in cap:
            frames.append(frame)
    return frames, info.value


class Trickle(io.RawIOBase):
    """A stream that hands out at most ``step`` bytes per read, like a slow pipe."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = data
        self._pos = 0
        self._step = step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        n = self._step if size < 0 else min(size, self._step)
        chunk = self._data[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk

    read1 = read


# --- classic pcap --------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_pcap_both_byte_orders_and_resolutions(tmp_path: Path, order: str, nano: bool) -> None:
    data, _ = simple_pcap(3, order, nano)
    path = write(tmp_path, data)
    scale = 10**9 if nano else 10**6
    with open_capture(path) as cap:
        frames = list(cap)
        assert cap.format == "pcap"
        assert not cap.compressed
        assert cap.linktypes == {101}
        assert cap.interface_stats == {}
        assert cap.bytes_read == len(data)
    expected = [
        Frame(i + 1, ((1_700_000_000 + i) * scale + 250 * (i + 1)) / scale, 101, p, len(p) + 4)
        for i, p in enumerate(payloads(3))
    ]
    assert frames == expected


@pytest.mark.parametrize("nano", [False, True])
def test_pcap_timestamp_is_the_nearest_float(nano: bool) -> None:
    """sec + frac/10**6 rounds twice (1.9999989999999999); one exact division does not."""
    frac = 999_999_000 if nano else 999_999
    data = pcap_header(nano=nano) + pcap_record(IPV6, 1, frac)
    assert [f.ts for f in from_stream(io.BytesIO(data))] == [1.999999]


def test_pcap_linktype_ignores_fcs_bits(tmp_path: Path) -> None:
    # draft-ietf-opsawg-pcap s4: bits 26-31 of LinkType carry the FCS length.
    header = pcap_header(linktype=(4 << 28) | (1 << 26) | 1)
    frames = read_all(write(tmp_path, header + pcap_record(IPV6, 1, 0)))
    assert [f.linktype for f in frames] == [1]


def test_pcap_from_stdin_bytesio() -> None:
    data, _ = simple_pcap(2)
    with open_capture("-", stdin=io.BytesIO(data)) as cap:
        assert cap.name == "<stdin>"
        assert [f.data for f in cap] == payloads(2)


def test_pcap_through_real_pipe_in_tiny_writes() -> None:
    """No seek anywhere: a pipe fed a few bytes at a time reads like a file."""
    data, _ = simple_pcap(50)
    rfd, wfd = os.pipe()

    def feed() -> None:
        with os.fdopen(wfd, "wb", buffering=0) as w:
            for i in range(0, len(data), 3):
                w.write(data[i : i + 3])

    writer = threading.Thread(target=feed)
    writer.start()
    with os.fdopen(rfd, "rb") as r, open_capture("-", stdin=r) as cap:
        frames = list(cap)
    writer.join()
    assert [f.data for f in frames] == payloads(50)


def test_stdin_is_not_closed_but_a_file_is(tmp_path: Path) -> None:
    data, _ = simple_pcap(1)
    stdin = io.BytesIO(data)
    with open_capture("-", stdin=stdin) as cap:
        list(cap)
    assert not stdin.closed
    with open_capture(write(tmp_path, data)) as cap:
        raw = cap._closer
        assert raw is not None and not raw.closed
    assert raw.closed


@pytest.mark.parametrize("step", [1, 7, 4096])
def test_records_split_across_reads_and_chunks(step: int) -> None:
    """Records that straddle read boundaries, and one larger than a 1 MiB chunk."""
    sizes = [0, 1, 1500, 9000, 60, CHUNK_SIZE + 5, 3] if step == 4096 else [0, 1, 70, 5, 3]
    packets = [bytes([i]) * n for i, n in enumerate(sizes)]
    data = pcap_header(snaplen=4 << 20) + b"".join(
        pcap_record(p, i, 0) for i, p in enumerate(packets)
    )
    cap = from_stream(Trickle(data, step))
    assert [f.data for f in cap] == packets
    assert cap.bytes_read == len(data)


def test_pcap_truncated_at_every_length() -> None:
    """Cut anywhere: every whole record comes out, then an error at the cut record's start."""
    data, starts = simple_pcap(3)
    ends = [*starts[1:], len(data)]
    for cut in range(24, len(data) + 1):
        whole = sum(1 for e in ends if e <= cut)
        cap = from_stream(io.BytesIO(data[:cut]))
        if cut in ends or cut == 24:
            assert len(list(cap)) == whole, cut
            continue
        frames, err = read_until_error(cap)
        assert len(frames) == whole, cut
        assert err.frames == whole
        assert err.offset == starts[whole], cut
        assert err.message.startswith("truncated record"), err.message


@pytest.mark.parametrize("cut", [4, 10, 23])
def test_pcap_truncated_file_header(cut: int) -> None:
    data, _ = simple_pcap(1)
    with pytest.raises(CaptureFormatError, match="truncated pcap file header") as info:
        from_stream(io.BytesIO(data[:cut]))
    assert info.value.offset == 0 and info.value.frames == 0


def test_pcap_absurd_caplen_after_good_frames(tmp_path: Path) -> None:
    data, _ = simple_pcap(2)
    bad_at = len(data)
    data += struct.pack("<IIII", 1, 0, 0x7FFFFFF0, 0x7FFFFFF0) + bytes(64)
    with open_capture(write(tmp_path, data)) as cap:
        frames, err = read_until_error(cap)
    assert len(frames) == 2
    assert (err.offset, err.frames) == (bad_at, 2)
    assert "exceeds the limit 262144" in err.message


def test_pcap_caplen_cap_follows_snaplen() -> None:
    """Snaplen 0 ('unknown') still allows 256 KiB; a 1 MiB snaplen allows 1 MiB."""
    big = bytes(300_000)
    ok = pcap_header(snaplen=0) + pcap_record(bytes(70_000), 1, 0)
    assert [len(f.data) for f in from_stream(io.BytesIO(ok))] == [70_000]
    too_big = pcap_header(snaplen=0) + pcap_record(big, 1, 0)
    _, err = read_until_error(from_stream(io.BytesIO(too_big)))
    assert "exceeds the limit 262144" in err.message
    allowed = pcap_header(snaplen=1 << 20) + pcap_record(big, 1, 0)
    assert [len(f.data) for f in from_stream(io.BytesIO(allowed))] == [300_000]


def test_pcap_absolute_caplen_cap_beats_huge_snaplen() -> None:
    data = pcap_header(snaplen=0xFFFFFFFF) + struct.pack("<IIII", 1, 0, 17 << 20, 17 << 20)
    _, err = read_until_error(from_stream(io.BytesIO(data)))
    assert f"exceeds the limit {16 << 20}" in err.message


# --- sniffing ------------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(CaptureFormatError, match="empty file"):
        open_capture(write(tmp_path, b""))


def test_garbage_header(tmp_path: Path) -> None:
    with pytest.raises(CaptureFormatError, match=r"not a pcap or pcapng file \(magic 47455420"):
        open_capture(write(tmp_path, b"GET / HTTP/1.1\r\n\r\n"))


def test_bad_magic_closes_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[io.BufferedReader] = []

    def spy(path: Path, mode: str) -> io.BufferedReader:
        f = open(path, mode)  # noqa: SIM115 - the test checks that open_capture closes it
        opened.append(f)
        return f

    monkeypatch.setattr("srinspect.sources.capture.open", spy, raising=False)
    with pytest.raises(CaptureFormatError):
        open_capture(write(tmp_path, b"garbage!"))
    assert len(opened) == 1 and opened[0].closed


def test_missing_file_is_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        open_capture(tmp_path / "nope.pcap")


# --- gzip ----------------------------------------------------------------------------------


@pytest.mark.parametrize("inner", ["pcap", "pcapng"])
def test_gzip_is_transparent(tmp_path: Path, inner: str) -> None:
    if inner == "pcap":
        raw, _ = simple_pcap(4)
    else:
        raw = shb() + idb("<", 101) + b"".join(epb("<", 0, i, p) for i, p in enumerate(payloads(4)))
    path = write(tmp_path, gzip.compress(raw), "cap.gz")
    with open_capture(path) as cap:
        frames = list(cap)
        assert cap.compressed and cap.format == inner
        assert cap.bytes_read == len(raw)  # counted in the decompressed stream
    assert [f.data for f in frames] == payloads(4)


def test_gzip_from_stdin() -> None:
    raw, _ = simple_pcap(2)
    with open_capture("-", stdin=io.BytesIO(gzip.compress(raw))) as cap:
        assert cap.compressed
        assert len(list(cap)) == 2


def test_gzip_of_empty_file() -> None:
    with pytest.raises(CaptureFormatError, match="empty file"):
        from_stream(io.BytesIO(gzip.compress(b"")))


def test_gzip_of_garbage() -> None:
    with pytest.raises(CaptureFormatError, match="magic 6a756e6b inside gzip"):
        from_stream(io.BytesIO(gzip.compress(b"junk" * 10)))


def test_gzip_cut_short_yields_good_frames_then_error() -> None:
    raw, starts = simple_pcap(200)
    packed = gzip.compress(raw)
    cap = from_stream(io.BytesIO(packed[: len(packed) - 30]))
    frames, err = read_until_error(cap)
    assert "gzip" in err.message
    assert err.frames == len(frames) < 200
    assert err.offset == starts[len(frames)]  # where the incomplete record began
    assert [f.data for f in frames] == payloads(200)[: len(frames)]


def test_gzip_corrupt_body_is_capture_error() -> None:
    raw, _ = simple_pcap(200)
    packed = bytearray(gzip.compress(raw))
    for i in range(20, len(packed) - 20):
        packed[i] ^= 0x55
    with pytest.raises(CaptureFormatError, match="bad gzip stream"):
        for _ in from_stream(io.BytesIO(bytes(packed))):  # may fail at open or while reading
            pass


def test_gzip_bad_crc_is_capture_error() -> None:
    raw, _ = simple_pcap(3)
    packed = bytearray(gzip.compress(raw))
    packed[-8] ^= 0xFF  # CRC32 in the gzip trailer
    frames, err = read_until_error(from_stream(io.BytesIO(bytes(packed))))
    assert "bad gzip stream" in err.message
    assert len(frames) == err.frames


def test_gzip_broken_header_fails_at_open() -> None:
    with pytest.raises(CaptureFormatError, match="bad gzip stream"):
        from_stream(io.BytesIO(b"\x1f\x8b\x09junk"))


# --- pcapng --------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["<", ">"])
def test_pcapng_two_interfaces_with_their_own_linktype_and_resolution(order: str) -> None:
    eth = bytes(12) + b"\x86\xdd" + IPV6
    data = (
        shb(order)
        + idb(order, 1, 65535, opt(order, 2, b"eth0"))  # default resolution: microseconds
        + idb(order, 101, 0, opt(order, 9, b"\x09"), opt(order, 2, b"tun0"))  # nanoseconds
        + idb(order, 229, 0, opt(order, 9, b"\x8a"))  # 2**-10 seconds per tick
        + epb(order, 0, 1_700_000_000_500_000, eth)
        + epb(order, 1, 1_700_000_001_250_000_000, IPV6, orig_len=1000)
        + epb(order, 2, 3 * 1024 + 512, IPV6)
    )
    cap = from_stream(io.BytesIO(data))
    frames = list(cap)
    assert cap.format == "pcapng"
    assert frames == [
        Frame(1, 1_700_000_000.5, 1, eth, len(eth), 0, None),
        Frame(2, 1_700_000_001.25, 101, IPV6, 1000, 1, None),
        Frame(3, 3.5, 229, IPV6, len(IPV6), 2, None),
    ]
    assert cap.linktypes == {1, 101, 229}
    reader = cap._reader
    assert isinstance(reader, PcapngReader)
    assert [i.name for i in reader.interfaces] == ["eth0", "tun0", None]
    assert [i.snaplen for i in reader.interfaces] == [65535, 0, 0]


def test_pcapng_if_tsoffset_is_added() -> None:
    data = shb() + idb("<", 101, 0, opt("<", 14, struct.pack("<q", 1000))) + epb("<", 0, 2, IPV6)
    assert [f.ts for f in from_stream(io.BytesIO(data))] == [1000.000002]


def test_pcapng_new_section_resets_interfaces_and_may_flip_byte_order() -> None:
    data = (
        shb("<")
        + idb("<", 1)
        + idb("<", 1)
        + epb("<", 1, 1, bytes(14))
        + shb(">")
        + idb(">", 101)
        + epb(">", 0, 2, IPV6)
        + epb(">", 1, 3, IPV6)  # interface 1 belonged to the previous section
    )
    reader = PcapngReader(io.BytesIO(data))
    frames = []
    with pytest.raises(CaptureFormatError, match="undeclared interface 1") as info:
        for f in reader:
            frames.append(f)
    assert [(f.linktype, f.interface) for f in frames] == [(1, 1), (101, 0)]
    assert info.value.offset == data.rindex(epb(">", 1, 3, IPV6))
    assert info.value.frames == 2
    assert reader.byteorder == ">" and reader.sections == 2
    assert reader.linktypes == {1, 101}


def test_pcapng_spb_uses_interface_0_snaplen() -> None:
    packet = IPV6 + bytes(20)
    data = (
        shb()
        + idb("<", 101, 48)
        + idb("<", 1, 0)
        + spb("<", packet, len(packet))  # snaplen 48 cuts it
        + spb("<", packet[:32], 500)  # only 32 bytes present: never read past the block
    )
    frames = list(from_stream(io.BytesIO(data)))
    assert frames == [
        Frame(1, 0.0, 101, packet[:48], len(packet), 0, None),
        Frame(2, 0.0, 101, packet[:32], 500, 0, None),
    ]


def test_pcapng_spb_without_snaplen_keeps_whole_packet() -> None:
    data = shb() + idb("<", 101, 0) + spb("<", IPV6, 40)
    assert [f.data for f in from_stream(io.BytesIO(data))] == [IPV6]


def test_pcapng_spb_before_idb_is_error() -> None:
    _, err = read_until_error(from_stream(io.BytesIO(shb() + spb("<", IPV6, 40))))
    assert "before any Interface Description Block" in err.message
    assert err.offset == len(shb())


@pytest.mark.parametrize("order", ["<", ">"])
def test_pcapng_isb_keeps_latest_counters(order: str) -> None:
    data = (
        shb(order)
        + idb(order, 1)
        + idb(order, 101, 0, opt(order, 9, b"\x09"))
        + isb(order, 0, 1_000_000, opt(order, 4, u64(order, 10)), opt(order, 5, u64(order, 1)))
        + epb(order, 1, 5, IPV6)
        + isb(order, 0, 2_000_000, opt(order, 4, u64(order, 20)), opt(order, 7, u64(order, 3)))
        + isb(order, 1, 3_000_000_000, opt(order, 1, b"stats"), opt(order, 8, u64(order, 9)))
    )
    with from_stream(io.BytesIO(data)) as cap:
        assert cap.interface_stats == {}
        assert len(list(cap)) == 1
        stats = cap.interface_stats
    assert stats == {
        0: InterfaceStats(0, 2.0, ifrecv=20, osdrop=3),  # the later ISB replaced the first
        1: InterfaceStats(1, 3.0, usrdeliv=9),
    }


def test_pcapng_isb_for_undeclared_interface_is_error() -> None:
    _, err = read_until_error(from_stream(io.BytesIO(shb() + idb("<", 1) + isb("<", 3, 0))))
    assert "ISB for undeclared interface 3" in err.message


def test_pcapng_first_comment_becomes_frame_comment() -> None:
    data = (
        shb()
        + idb("<", 101)
        + epb("<", 0, 1, IPV6, opt("<", 1, "first ✓".encode()), opt("<", 1, b"second"))
        + epb("<", 0, 2, IPV6, opt("<", 2, struct.pack("<I", 1)))  # epb_flags only
        + epb("<", 0, 3, IPV6, opt("<", 1, b"\xff\xfebad utf-8"))
        + epb("<", 0, 4, IPV6)
    )
    comments = [f.comment for f in from_stream(io.BytesIO(data))]
    assert comments == ["first ✓", None, "\ufffd\ufffdbad utf-8", None]


def test_pcapng_unknown_blocks_are_skipped() -> None:
    nrb = block("<", 4, struct.pack("<HH", 1, 8) + bytes(8) + struct.pack("<HH", 0, 0))
    custom = block("<", 0x00000BAD, b"\x01\x02\x03\x04whatever")
    data = shb() + nrb + idb("<", 101) + custom + epb("<", 0, 1, IPV6) + custom
    assert [f.data for f in from_stream(io.BytesIO(data))] == [IPV6]


def test_pcapng_obsolete_packet_block_is_read() -> None:
    fixed = struct.pack("<HHIIII", 0, 0, 0, 7, len(IPV6), 99)
    data = shb() + idb("<", 101) + block("<", 2, fixed + IPV6)
    assert list(from_stream(io.BytesIO(data))) == [Frame(1, 7e-6, 101, IPV6, 99, 0, None)]


@pytest.mark.parametrize("length", [0xFFFFFFF0, 0x7FFFFFFC, MAX_BLOCK_LEN + 4])
def test_pcapng_absurd_block_length_is_rejected_not_allocated(length: int) -> None:
    good = shb() + idb("<", 101) + epb("<", 0, 1, IPV6)
    data = good + struct.pack("<II", 6, length) + bytes(64)
    frames, err = read_until_error(from_stream(io.BytesIO(data)))
    assert len(frames) == 1
    assert (err.offset, err.frames) == (len(good), 1)
    assert f"bad block length {length}" in err.message


@pytest.mark.parametrize(("btype", "length"), [(6, 8), (6, 30), (6, 33), (0x0BAD, 4), (1, 16)])
def test_pcapng_short_or_unaligned_block_length(btype: int, length: int) -> None:
    good = shb() + idb("<", 101)
    data = good + struct.pack("<II", btype, length) + bytes(40)
    _, err = read_until_error(from_stream(io.BytesIO(data)))
    assert "bad block length" in err.message
    assert err.offset == len(good)


def test_pcapng_trailer_length_mismatch() -> None:
    bad = bytearray(epb("<", 0, 1, IPV6))
    bad[-4:] = struct.pack("<I", len(bad) + 4)
    good = shb() + idb("<", 101)
    _, err = read_until_error(from_stream(io.BytesIO(good + bytes(bad))))
    assert "trailer length" in err.message and err.offset == len(good)


def test_pcapng_caplen_overrunning_block() -> None:
    bad = bytearray(epb("<", 0, 1, IPV6))
    struct.pack_into("<I", bad, 20, 1000)  # caplen
    _, err = read_until_error(from_stream(io.BytesIO(shb() + idb("<", 101) + bytes(bad))))
    assert "caplen 1000 overruns" in err.message


def test_pcapng_option_overrunning_block() -> None:
    bad = epb("<", 0, 1, IPV6, struct.pack("<HH", 1, 200) + b"abcd")
    _, err = read_until_error(from_stream(io.BytesIO(shb() + idb("<", 101) + bad)))
    assert "option 1 length 200 overruns" in err.message


def test_pcapng_epb_before_idb() -> None:
    _, err = read_until_error(from_stream(io.BytesIO(shb() + epb("<", 0, 1, IPV6))))
    assert "undeclared interface 0 (0 declared)" in err.message


def test_pcapng_must_start_with_shb() -> None:
    _, err = read_until_error(PcapngReader(io.BytesIO(idb("<", 1))))
    assert "does not start with a Section Header Block" in err.message


def test_pcapng_bad_byte_order_magic() -> None:
    bad = bytearray(shb())
    bad[8:12] = b"\x00\x11\x22\x33"
    with pytest.raises(CaptureFormatError, match="bad byte-order magic 00112233"):
        list(from_stream(io.BytesIO(bytes(bad))))


def test_pcapng_unsupported_version() -> None:
    bad = block("<", 0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 2, 0, -1))
    with pytest.raises(CaptureFormatError, match="unsupported pcapng version 2.0"):
        list(from_stream(io.BytesIO(bad)))


def test_pcapng_truncated_at_every_length() -> None:
    """Cut anywhere after the magic: whole blocks are read, the cut one raises at its start."""
    blocks = [shb(), idb("<", 101), *(epb("<", 0, i, p) for i, p in enumerate(payloads(3)))]
    is_frame = [False, False, True, True, True]
    data = b"".join(blocks)
    starts = [sum(len(b) for b in blocks[:i]) for i in range(len(blocks))]
    ends = [*starts[1:], len(data)]
    for cut in range(4, len(data)):
        if cut in ends:
            continue
        done = sum(1 for e in ends if e <= cut)  # whole blocks before the cut
        frames, err = read_until_error(from_stream(io.BytesIO(data[:cut])))
        assert len(frames) == err.frames == sum(is_frame[:done]), cut
        assert err.offset == starts[done], cut
        assert err.message.startswith("truncated block"), err.message


@pytest.mark.parametrize("step", [1, 5, 64])
def test_pcapng_over_a_trickling_stream(step: int) -> None:
    data = shb(">") + idb(">", 101) + b"".join(epb(">", 0, i, p) for i, p in enumerate(payloads(9)))
    assert [f.data for f in from_stream(Trickle(data, step))] == payloads(9)


# --- third-party sample --------------------------------------------------------------------


def test_wireshark_sample(wireshark_sample: Path) -> None:
    with open_capture(wireshark_sample) as cap:
        frames = list(cap)
        assert cap.format == "pcap" and cap.linktypes == {101}
    assert len(frames) == 10
    assert [f.number for f in frames] == list(range(1, 11))
    assert all(f.ts == frames[0].ts + i for i, f in enumerate(frames))  # one second apart
    assert all(f.data[0] >> 4 == 6 and f.orig_len == len(f.data) for f in frames)
    # Frames 2, 5, 6 and 9 carry an SRH: IPv6 Next Header 43 (Routing), routing type 4.
    srh = [f.number for f in frames if f.data[6] == 43 and f.data[42] == 4]
    assert srh == [2, 5, 6, 9]


# --- fast Frame construction ---------------------------------------------------------------


def test_make_frame_is_a_real_frame() -> None:
    fast = make_frame(3, 1.5, 1, b"ab", 9, 2, "c")
    slow = Frame(3, 1.5, 1, b"ab", 9, 2, "c")
    assert type(fast) is Frame
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
    assert make_frame(1, 0.0, 1, b"", 0) == Frame(1, 0.0, 1, b"", 0)
    with pytest.raises(AttributeError):
        fast.ts = 2.0  # type: ignore[misc]  # still frozen


# --- writer --------------------------------------------------------------------------------


def writer_frames() -> list[Frame]:
    eth = bytes(12) + b"\x86\xdd" + IPV6
    return [
        Frame(1, 1_700_000_000.123456, 1, eth, len(eth), 0, "first"),
        Frame(2, 1_700_000_000.5, 101, IPV6, 1500, 1, None),
        Frame(3, 1_700_000_001.000001, 1, eth + b"x", len(eth) + 1, 0, "ünïcode"),
    ]


def write_sample(path: Path) -> list[Frame]:
    frames = writer_frames()
    with open(path, "wb") as f:
        w = PcapngWriter(f)
        assert w.add_interface(1, name="eth0") == 0
        assert w.add_interface(101, snaplen=65535) == 1
        w.write(frames[0], comments=["first", "second"])
        w.write(frames[1])
        w.write(frames[2])
    return frames


def test_writer_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out.pcapng"
    frames = write_sample(path)
    with open_capture(path) as cap:
        assert list(cap) == frames
        reader = cap._reader
        assert isinstance(reader, PcapngReader)
        assert [(i.linktype, i.snaplen, i.name, i.ts_divisor) for i in reader.interfaces] == [
            (1, 262144, "eth0", 10**9),
            (101, 65535, None, 10**9),
        ]


def test_writer_raw_bytes_and_overrides() -> None:
    out = io.BytesIO()
    w = PcapngWriter(out, user_appl=None)
    w.add_interface(101)
    w.write(IPV6, ts=2.25, comments=["a"], orig_len=100)
    w.write(Frame(9, 5.0, 101, IPV6, 40, 0, "old"), ts=6.0, comments=["new"])
    assert list(from_stream(io.BytesIO(out.getvalue()))) == [
        Frame(1, 2.25, 101, IPV6, 100, 0, "a"),
        Frame(2, 6.0, 101, IPV6, 40, 0, "new"),
    ]


def test_writer_pads_options_and_data_to_32_bits() -> None:
    out = io.BytesIO()
    w = PcapngWriter(out)
    w.add_interface(101)
    w.write(b"abc", ts=0.0, comments=["xy"])
    blob = out.getvalue()
    epb_start = blob.rindex(struct.pack("<I", 6))
    epb_len = struct.unpack_from("<I", blob, epb_start + 4)[0]
    # 12 framing + 20 fixed + 4 (3 data + 1 pad) + 8 (comment "xy" + 2 pad) + 4 endofopt.
    assert epb_len == 48 and len(blob) - epb_start == 48
    assert blob[epb_start + 28 : epb_start + 32] == b"abc\x00"


def test_writer_rejects_misuse() -> None:
    w = PcapngWriter(io.BytesIO())
    with pytest.raises(ValueError, match="interface 0 not declared"):
        w.write(IPV6, ts=1.0)
    w.add_interface(101)
    with pytest.raises(ValueError, match="ts is required"):
        w.write(IPV6)
    with pytest.raises(ValueError, match="link type 1 differs"):
        w.write(Frame(1, 1.0, 1, IPV6, 40))
    with pytest.raises(ValueError, match="finite number >= 0"):
        w.write(IPV6, ts=-1.0)
    with pytest.raises(ValueError, match="max 65535"):
        w.write(IPV6, ts=1.0, comments=["x" * 70000])


@pytest.mark.parametrize("usec", [0, 1, 123456, 500000, 999999])
@pytest.mark.parametrize("sec", [0, 1, 1_480_000_001, 1_700_000_000, 4_000_000_000])
def test_ts_to_ns_reads_back_the_same_float(sec: int, usec: int) -> None:
    """A float made by a microsecond reader survives the trip through nanosecond ticks."""
    ts = (sec * 1_000_000 + usec) / 1_000_000
    assert ts_to_ns(ts) / 10**9 == ts
    assert split_ts(ts, 1_000_000) == (sec, usec)


def test_split_ts_carries_rounding_into_seconds() -> None:
    assert split_ts(0.9999999999, 1_000_000) == (1, 0)


@pytest.mark.parametrize("nano", [False, True])
def test_write_pcap_round_trip(tmp_path: Path, nano: bool) -> None:
    frames = [
        Frame(i + 1, 1_700_000_000 + i / 8, 101, p, len(p) + 2) for i, p in enumerate(payloads(5))
    ]
    path = tmp_path / "out.pcap"
    assert write_pcap(path, frames, 101, nanosecond=nano) == 5
    assert read_all(path) == frames
    with pytest.raises(ValueError, match="link type 101"):
        write_pcap(path, frames, 1)


# --- tshark cross-checks -------------------------------------------------------------------

needs_tshark = pytest.mark.skipif(
    shutil.which("tshark") is None or shutil.which("editcap") is None,
    reason="tshark/editcap not installed (apt-get install tshark) - no outside check of pcapng",
)


def tshark_fields(path: Path, *fields: str) -> list[list[str]]:
    args = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "separator=|"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60)
    return [line.split("|") for line in out.stdout.splitlines()]


@pytest.mark.tshark
@needs_tshark
def test_writer_output_reads_in_tshark(tmp_path: Path) -> None:
    path = tmp_path / "out.pcapng"
    frames = write_sample(path)
    rows = tshark_fields(
        path, "frame.number", "frame.interface_id", "frame.time_epoch", "frame.len",
        "frame.cap_len", "frame.comment",
    )  # fmt: skip
    assert [r[0] for r in rows] == ["1", "2", "3"]
    assert [int(r[1]) for r in rows] == [f.interface for f in frames]
    assert [round(float(r[2]), 6) for r in rows] == [round(f.ts, 6) for f in frames]
    assert [int(r[3]) for r in rows] == [f.orig_len for f in frames]
    assert [int(r[4]) for r in rows] == [len(f.data) for f in frames]
    assert [r[5] for r in rows] == ["first,second", "", "ünïcode"]


@pytest.mark.tshark
@needs_tshark
def test_reader_matches_editcap_pcapng(tmp_path: Path, wireshark_sample: Path) -> None:
    """A pcapng written by Wireshark's own editcap reads as the same frames as the pcap."""
    out = tmp_path / "sample.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", str(wireshark_sample), str(out)], check=True,
                   timeout=60)
    with open_capture(out) as cap:
        ng = list(cap)
        assert cap.format == "pcapng"
    classic = read_all(wireshark_sample)
    assert [(f.number, f.ts, f.linktype, f.data, f.orig_len) for f in ng] == [
        (f.number, f.ts, f.linktype, f.data, f.orig_len) for f in classic
    ]


# --- generic invariant ---------------------------------------------------------------------


def _mutations(data: bytes) -> Iterator[bytes]:
    for i in range(0, len(data), 3):
        for xor in (0x01, 0x80, 0xFF):
            yield data[:i] + bytes([data[i] ^ xor]) + data[i + 1 :]


@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_damaged_files_only_ever_raise_capture_format_error(kind: str) -> None:
    """Flip bytes everywhere: the readers yield frames or raise CaptureFormatError, nothing else."""
    if kind == "pcap":
        data, _ = simple_pcap(4)
    else:
        data = (
            shb()
            + idb("<", 101, 0, opt("<", 9, b"\x09"), opt("<", 2, b"if"))
            + epb("<", 0, 1, IPV6, opt("<", 1, b"hi"))
            + isb("<", 0, 1, opt("<", 4, u64("<", 1)))
            + spb("<", IPV6, 40)
        )
    outcomes = {"read": 0, "rejected": 0}
    for damaged in _mutations(data):
        try:
            for _ in from_stream(io.BytesIO(damaged)):
                pass
            outcomes["read"] += 1
        except CaptureFormatError:
            outcomes["rejected"] += 1
    assert outcomes["read"] > 0 and outcomes["rejected"] > 0  # the mutations do bite
