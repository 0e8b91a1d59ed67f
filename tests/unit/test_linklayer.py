"""Link-layer decoding down to the IPv6 header: one offset function per link type."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from srinspect import linklayer as ll
from srinspect.linklayer import ipv6_offset_func, linktype_name
from srinspect.sources import open_capture

IPV6 = bytes.fromhex("60000000 0000 3b 40") + bytes(32)
IPV4 = bytes.fromhex("45000014 00000000 4000 0000") + bytes(8)
MACS = bytes.fromhex("020000000001 020000000002")


def offset(linktype: int, data: bytes) -> int:
    func = ipv6_offset_func(linktype)
    assert func is not None, linktype
    return func(data)


def vlan(tpid: int, vid: int) -> bytes:
    return struct.pack("!HH", tpid, vid)


def test_constants_match_tcpdump_registry() -> None:
    # https://www.tcpdump.org/linktypes.html
    assert (ll.LINKTYPE_NULL, ll.LINKTYPE_ETHERNET, ll.LINKTYPE_RAW, ll.LINKTYPE_LOOP) == (
        0,
        1,
        101,
        108,
    )
    assert (ll.LINKTYPE_LINUX_SLL, ll.LINKTYPE_IPV4, ll.LINKTYPE_IPV6) == (113, 228, 229)
    assert ll.LINKTYPE_LINUX_SLL2 == 276


# --- Ethernet ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (b"", 14),
        (vlan(0x8100, 10), 18),  # 802.1Q
        (vlan(0x88A8, 100) + vlan(0x8100, 10), 22),  # 802.1ad QinQ
        (vlan(0x9100, 1) + vlan(0x9100, 2) + vlan(0x8100, 3), 26),  # any depth
    ],
)
def test_ethernet_ipv6_behind_any_vlan_stack(tags: bytes, expected: int) -> None:
    frame = MACS + tags + b"\x86\xdd" + IPV6
    assert offset(ll.LINKTYPE_ETHERNET, frame) == expected
    assert frame[expected] >> 4 == 6


@pytest.mark.parametrize(
    "frame",
    [
        MACS + b"\x08\x00" + IPV4,  # IPv4
        MACS + b"\x08\x06" + bytes(28),  # ARP
        MACS + vlan(0x8100, 5) + b"\x08\x00" + IPV4,  # IPv4 in a VLAN
        MACS + b"\x00\x2e" + IPV6,  # 802.3 length field, not an EtherType
        MACS + b"\x86",  # cut inside the EtherType
        MACS,
        b"",
        MACS + vlan(0x8100, 5),  # cut after a tag
        MACS + vlan(0x8100, 5) + b"\x86",
    ],
)
def test_ethernet_not_ipv6(frame: bytes) -> None:
    assert offset(ll.LINKTYPE_ETHERNET, frame) == -1


def test_ethernet_truncated_ipv6_still_gets_its_offset() -> None:
    """The link header says IPv6: the cut IPv6 header is the decoder's finding to report."""
    assert offset(ll.LINKTYPE_ETHERNET, MACS + b"\x86\xdd" + IPV6[:10]) == 14
    assert offset(ll.LINKTYPE_ETHERNET, MACS + b"\x86\xdd") == 14


# --- raw IP --------------------------------------------------------------------------------


def test_raw_uses_the_version_nibble() -> None:
    assert offset(ll.LINKTYPE_RAW, IPV6) == 0
    assert offset(ll.LINKTYPE_RAW, IPV4) == -1
    assert offset(ll.LINKTYPE_RAW, b"") == -1
    assert offset(ll.LINKTYPE_RAW, b"\x6f") == 0
    assert offset(ll.LINKTYPE_RAW, b"\x70" + IPV6[1:]) == -1


def test_ipv4_linktype_is_never_ipv6() -> None:
    assert offset(ll.LINKTYPE_IPV4, IPV4) == -1
    assert offset(ll.LINKTYPE_IPV4, IPV6) == -1


def test_ipv6_linktype_is_always_offset_0() -> None:
    assert offset(ll.LINKTYPE_IPV6, IPV6) == 0
    assert offset(ll.LINKTYPE_IPV6, b"") == 0


# --- Linux cooked --------------------------------------------------------------------------


def sll(protocol: int) -> bytes:
    # packet type, ARPHRD type, address length, 8-byte address, protocol
    return struct.pack("!HHH8sH", 0, 1, 6, bytes(8), protocol)


def sll2(protocol: int) -> bytes:
    # protocol, reserved, interface index, ARPHRD type, packet type, address length, address
    return struct.pack("!HHiHBB8s", protocol, 0, 2, 1, 0, 6, bytes(8))


def test_linux_sll() -> None:
    assert len(sll(0)) == 16
    assert offset(ll.LINKTYPE_LINUX_SLL, sll(0x86DD) + IPV6) == 16
    assert offset(ll.LINKTYPE_LINUX_SLL, sll(0x0800) + IPV4) == -1
    assert offset(ll.LINKTYPE_LINUX_SLL, sll(0x86DD)[:15]) == -1


def test_linux_sll2() -> None:
    assert len(sll2(0)) == 20
    assert offset(ll.LINKTYPE_LINUX_SLL2, sll2(0x86DD) + IPV6) == 20
    assert offset(ll.LINKTYPE_LINUX_SLL2, sll2(0x0800) + IPV4) == -1
    assert offset(ll.LINKTYPE_LINUX_SLL2, b"\x86") == -1


# --- BSD loopback --------------------------------------------------------------------------


@pytest.mark.parametrize("family", [10, 24, 28, 30])
@pytest.mark.parametrize("order", ["<", ">"])
def test_null_accepts_every_af_inet6_in_either_byte_order(family: int, order: str) -> None:
    assert offset(ll.LINKTYPE_NULL, struct.pack(order + "I", family) + IPV6) == 4


@pytest.mark.parametrize("order", ["<", ">"])
def test_null_rejects_af_inet_and_short_frames(order: str) -> None:
    assert offset(ll.LINKTYPE_NULL, struct.pack(order + "I", 2) + IPV4) == -1
    assert offset(ll.LINKTYPE_NULL, struct.pack(order + "I", 24)[:3]) == -1


@pytest.mark.parametrize("family", [10, 24, 28, 30])
def test_loop_is_network_byte_order_only(family: int) -> None:
    assert offset(ll.LINKTYPE_LOOP, struct.pack(">I", family) + IPV6) == 4
    assert offset(ll.LINKTYPE_LOOP, struct.pack("<I", family) + IPV6) == -1


# --- lookup --------------------------------------------------------------------------------


def test_unsupported_linktype_is_none() -> None:
    assert ipv6_offset_func(147) is None  # USER0
    assert ipv6_offset_func(105) is None  # 802.11


def test_every_supported_linktype_has_a_name() -> None:
    supported = [lt for lt in range(300) if ipv6_offset_func(lt) is not None]
    assert sorted(ll.LINKTYPE_NAMES) == supported
    assert linktype_name(1) == "Ethernet"
    assert linktype_name(147) == "linktype 147"


@given(st.sampled_from(sorted(ll.LINKTYPE_NAMES)), st.binary(max_size=64))
def test_offset_never_raises_and_stays_inside_the_frame(linktype: int, data: bytes) -> None:
    result = offset(linktype, data)
    assert result == -1 or 0 <= result <= len(data)


def test_wireshark_sample_is_all_ipv6_at_offset_0(wireshark_sample: Path) -> None:
    with open_capture(wireshark_sample) as cap:
        frames = list(cap)
    func = ipv6_offset_func(frames[0].linktype)
    assert func is not None
    assert [func(f.data) for f in frames] == [0] * 10


# --- the link layer field by field (decode tree and JSON) --------------------------------


@given(linktype=st.sampled_from(sorted(ll.LINKTYPE_NAMES)), data=st.binary(max_size=40))
def test_pull_link_never_raises_and_shows_only_captured_fields(linktype: int,
                                                               data: bytes) -> None:
    header = ll.pull_link(linktype, data)
    assert header is not None
    for f in header.fields:
        assert f.captured == (f.offset + f.length <= len(data)) or f.key == "address"
        if f.captured:
            assert f.offset + f.length <= len(data)


def test_sll_sll2_and_loopback_fields() -> None:
    sll = bytes.fromhex("0004000100060200000000aa0000") + b"\x86\xdd"
    h = ll.pull_link(ll.LINKTYPE_LINUX_SLL, sll)
    assert h is not None
    assert (h.get("packet_type"), h.get("hatype"), h.get("address"), h.get("protocol")) == (
        4, 1, "02:00:00:00:00:aa", 0x86DD)
    sll2 = b"\x86\xdd" + bytes(2) + (7).to_bytes(4, "big") + bytes.fromhex("00010006") + \
        bytes.fromhex("020000000001") + bytes(2)
    h = ll.pull_link(ll.LINKTYPE_LINUX_SLL2, sll2)
    assert h is not None and (h.get("ifindex"), h.get("packet_type")) == (7, 0)
    for data, linktype in (((30).to_bytes(4, "little"), ll.LINKTYPE_NULL),
                           ((30).to_bytes(4, "big"), ll.LINKTYPE_NULL),
                           ((24).to_bytes(4, "big"), ll.LINKTYPE_LOOP)):
        h = ll.pull_link(linktype, data)
        assert h is not None and h.get("family") in (24, 30)
    raw = ll.pull_link(ll.LINKTYPE_RAW, b"\x60")
    assert raw is not None and raw.fields == () and raw.name == "Raw packet data"
    assert ll.pull_link(147, b"") is None


def test_ethernet_vlan_tags_and_cuts() -> None:
    frame = bytes(12) + bytes.fromhex("88a8006481000005") + b"\x86\xdd" + bytes(40)
    h = ll.pull_ethernet(frame)
    assert [f.value for f in h.fields if f.key == "vlan"] == [
        {"tpid": 0x88A8, "pcp": 0, "dei": 0, "id": 100},
        {"tpid": 0x8100, "pcp": 0, "dei": 0, "id": 5}]
    assert h.offset + h.length == 22 == ipv6_offset_func(1)(frame)
    cut = ll.pull_ethernet(frame[:15])
    assert cut.get("ethertype") is None and [f.key for f in cut.fields] == [
        "dst", "src", "ethertype"]
