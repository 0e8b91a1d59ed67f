"""Hostile inputs stay within bounds: absurd lengths and counts are refused before anything
is allocated, and the worst SRH (thousands of tiny TLVs) costs a bounded amount per packet.
Bounds are asserted on memory (tracemalloc) and on counts, not on wall-clock time."""

from __future__ import annotations

import io
import struct
import tracemalloc
from collections.abc import Callable

import pytest

from srinspect.build import ipv6_packet
from srinspect.errors import CaptureFormatError
from srinspect.frame import Frame
from srinspect.inspector import Inspector, PacketResult
from srinspect.rules import Profile
from srinspect.sources import from_stream
from srinspect.srh import SrhSpec, push_srh

MiB = 1 << 20


def peak(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def read_all(data: bytes) -> tuple[int, CaptureFormatError | None]:
    n = 0
    try:
        for _ in from_stream(io.BytesIO(data)):
            n += 1
    except CaptureFormatError as exc:
        return n, exc
    return n, None


PCAP_HDR = struct.Struct("<IHHiIII")
REC = struct.Struct("<IIII")


@pytest.mark.parametrize("snaplen", [0, 0xFFFFFFFF])
def test_pcap_claims_of_huge_records_are_refused_without_allocating(snaplen: int) -> None:
    data = PCAP_HDR.pack(0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1)
    data += REC.pack(1, 0, 60, 60) + bytes(60)  # one good record
    data += REC.pack(2, 0, 0xFFFFFFF0, 0xFFFFFFF0) + bytes(64)  # claims 4 GB
    result: list[object] = []
    used = peak(lambda: result.append(read_all(data)))
    frames, err = result[0]  # type: ignore[misc]
    assert frames == 1 and err is not None and err.offset == 24 + 16 + 60
    assert used < 8 * MiB


def _block(btype: int, body: bytes, length: int | None = None) -> bytes:
    total = 12 + len(body) if length is None else length
    return struct.pack("<II", btype, total) + body + struct.pack("<I", total)


SHB_HUGE_SECTION = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, 2**62))
IDB = _block(1, struct.pack("<HHI", 1, 0, 0))


@pytest.mark.parametrize("length", [0xFFFFFFF0, 0x7FFFFFFC, 12 << 20 << 4])
def test_pcapng_absurd_block_length_is_refused_without_allocating(length: int) -> None:
    data = SHB_HUGE_SECTION + IDB + struct.pack("<II", 6, length) + bytes(100)
    result: list[object] = []
    used = peak(lambda: result.append(read_all(data)))
    frames, err = result[0]  # type: ignore[misc]
    assert frames == 0 and err is not None
    assert used < 8 * MiB


def test_billions_of_claimed_packets_in_statistics_are_just_numbers() -> None:
    isb = _block(5, struct.pack("<III", 0, 0, 0) + struct.pack("<HHQ", 4, 8, 2**63)
                 + struct.pack("<HH", 0, 0))
    epb_body = struct.pack("<IIIII", 0, 0, 0, 4, 4) + b"\x60\x00\x00\x00"
    data = SHB_HUGE_SECTION + IDB + _block(6, epb_body) + isb
    frames, err = read_all(data)
    assert frames == 1 and err is None


def _srh_packet(tlvs: bytes, profile_pad: bool) -> bytes:
    srh = push_srh(SrhSpec(["2001:db8::2"], segments_left=0, next_header=59,
                           tlvs=(tlvs,), hdr_ext_len=(24 + len(tlvs)) // 8 - 1))
    return ipv6_packet("2001:db8::1", "2001:db8::2", 43, srh)


@pytest.mark.parametrize("profile,tlv", [(Profile.RFC8754, b"\x00"),  # Pad1s: 1 byte each
                                         (Profile.DRAFT04, b"\x99\x00")])  # unknown, empty
def test_thousands_of_tiny_tlvs_cost_a_bounded_amount(profile: Profile, tlv: bytes) -> None:
    area = 2048 - 24  # the largest SRH there is: Hdr Ext Len 255
    data = _srh_packet(tlv * (area // len(tlv)), profile is Profile.RFC8754)
    frame = Frame(1, 0.0, 229, data, len(data))
    insp = Inspector(profile)
    result: list[object] = []
    used = peak(lambda: result.append(insp.feed(frame)))
    res = result[0]
    assert isinstance(res, PacketResult)
    srh = res.ip.srhs[0]
    assert len(srh.tlvs) == area // len(tlv)  # every TLV decoded ...
    assert len(res.findings) <= len(srh.tlvs)  # ... at most one finding each
    assert used < 4 * MiB


def test_long_extension_chains_are_cut_at_a_fixed_depth() -> None:
    hop = bytes([60, 0]) + bytes(6)  # Destination Options, 8 bytes, next = DestOpts
    chain = hop * 500 + bytes([59, 0]) + bytes(6)
    data = ipv6_packet("2001:db8::1", "2001:db8::2", 60, chain)
    frame = Frame(1, 0.0, 229, data, len(data))
    res = Inspector().feed(frame)
    assert res is None  # no SRH reachable within the bound: not SRv6, and no exception


def test_chain_walk_stops_at_max_chain() -> None:
    from srinspect.ipv6 import MAX_CHAIN, pull_ipv6

    hop = bytes([60, 0]) + bytes(6)
    data = ipv6_packet("2001:db8::1", "2001:db8::2", 60, hop * 500)
    ip = pull_ipv6(data, 0, len(data), pad1=False)
    assert ip is not None and len(ip.chain) == MAX_CHAIN and ip.upper == -1
